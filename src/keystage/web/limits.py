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
from django.shortcuts import render

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
            # The body is never read. (A WSGI application may not say "Connection: close":
            # the server closes a connection whose body was left unread; Django's does.)
            return render(
                request, "413.html", {"max_mb": settings.KEYSTAGE_MAX_UPLOAD_MB}, status=413
            )
        return self.get_response(request)
