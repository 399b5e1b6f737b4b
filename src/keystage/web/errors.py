"""The pages a user sees when a page does not exist for them (404: also another tenant's page,
so that its existence is not given away), when their role may not see it (403), or when the
service fails (500): in the service's layout, GOV.UK's wording, with a way back."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseServerError
from django.shortcuts import render

log = logging.getLogger(__name__)

# Reasons the code gives with PermissionDenied are written for people ("Your role cannot
# release checking reports"); anything longer than this is not one of them, and is not shown.
MAX_REASON = 200


class NotInThisCollection(Http404):
    """A page the collection does not have (the national return of a collection without one).
    Its message is written for people and shown on the page: the page exists in other
    collections, so saying why gives nothing away."""


def page_not_found(request, exception=None) -> HttpResponse:
    if isinstance(exception, NotInThisCollection):
        return render(request, "404.html", {"not_in_collection": str(exception)}, status=404)
    return render(request, "404.html", {}, status=404)


def permission_denied(request, exception=None) -> HttpResponse:
    reason = str(exception or "") if isinstance(exception, PermissionDenied) else ""
    if len(reason) > MAX_REASON or "\n" in reason:
        reason = ""
    reason = reason.rstrip(".")
    return render(request, "403.html", {"reason": reason}, status=403)


def form_refused(request, reason: str = "") -> HttpResponse:
    """A form without a valid CSRF token: most often one left open past the session, or sent
    again after signing out and in."""
    return render(
        request,
        "403.html",
        {
            "heading": "The form could not be sent",
            "reason": "The page was open too long, or you signed out and in again since it "
            "was shown. Go back, reload the page and send the form again",
        },
        status=403,
    )


def server_error(request) -> HttpResponse:
    """The service's layout if it can still be drawn, plain words if not (the database may be
    what failed)."""
    try:
        return render(request, "500.html", {}, status=500)
    except Exception:
        log.exception("The 500 page could not be drawn")
        return HttpResponseServerError(
            "Sorry, there is a problem with the service. Try again later.",
            content_type="text/plain; charset=utf-8",
        )
