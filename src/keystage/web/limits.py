"""The limits on what one upload may hold and unpack to, from the settings, and the middleware
that refuses a request body over the upload limit before any of it is read.

Three limits hold an upload: the request body (`KEYSTAGE_MAX_UPLOAD_MB`, checked here against
the Content-Length header, then by the upload form on the files received), each file in a zip
(`KEYSTAGE_MAX_MEMBER_MB`) and all of a zip's files together (`KEYSTAGE_MAX_UNPACKED_MB`), both
counted on the bytes as they are unpacked (engine/readers/archive.py). A rejected file's copy is
kept only up to `KEYSTAGE_KEEP_REJECTED_BYTES` (submissions/kept.py). See docs/limits.md.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import StreamingHttpResponse
from django.template.loader import render_to_string

MB = 1024 * 1024
# What a form adds to the files it carries (multipart boundaries, headers, the CSRF token):
# a body this much over the upload limit may still hold files within it.
FORM_ALLOWANCE = MB


def zip_limits() -> dict[str, int]:
    """Keyword arguments for `extract_zip` / `iter_zip`: the limits per member and per zip."""
    return {
        "max_member_bytes": settings.KEYSTAGE_MAX_MEMBER_MB * MB,
        "max_total_bytes": settings.KEYSTAGE_MAX_UNPACKED_MB * MB,
    }


def keep_rejected_bytes() -> int:
    """How much of a rejected file is kept (its first bytes): enough to see what was sent."""
    return max(settings.KEYSTAGE_KEEP_REJECTED_BYTES, 0)


def body_limit() -> int:
    """The largest request body accepted, in bytes."""
    return settings.KEYSTAGE_MAX_UPLOAD_MB * MB + FORM_ALLOWANCE


def scratch_dir() -> Path:
    """A folder in the data directory for files unpacked from zips while they are imported:
    on the data disk, not in /tmp (often memory) beside other users' files. Owner only."""
    folder = Path(settings.DATA_DIR) / "tmp"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _leave_unread(request) -> None:
    """Django's own server (`keystage serve`, the tests' live server) reads whatever is left
    of a body into memory once the answer is sent, to keep the connection for another
    request: gigabytes, for a client that goes on sending. Its stream is marked read to the
    end instead, so the answer goes out and the connection is closed (the answer has no
    length, which makes that server close it). A WSGI application may not send
    "Connection: close" itself."""
    stream = request.environ.get("wsgi.input")
    if isinstance(stream, LimitedStream) and isinstance(getattr(stream, "_pos", None), int):
        stream._pos = stream.limit


class RequestSizeLimitMiddleware:
    """Answers 413 with the service's page to a request whose Content-Length is over the
    upload limit, before anything reads its body (a body without a length is read by Django
    as empty). The proxy in front should refuse such bodies too (docs/limits.md): this is
    for whatever it lets through."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads a body of unreadable length as empty
        if length > body_limit():
            _leave_unread(request)
            page = render_to_string(
                "413.html", {"max_mb": settings.KEYSTAGE_MAX_UPLOAD_MB}, request=request
            )
            # Sent as a stream, so that no length is added: a server then closes the
            # connection after the answer rather than keep it for a body never read.
            return StreamingHttpResponse(
                [page.encode()], status=413, content_type="text/html; charset=utf-8"
            )
        return self.get_response(request)
