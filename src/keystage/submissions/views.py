"""Uploading school files through the web and following their import. Views parse, check,
call an action and respond; what a user may see comes from `keystage.accounts.scope`."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.timezone import localtime
from django.views.decorators.http import require_http_methods, require_safe

from keystage.accounts.scope import membership_of
from keystage.submissions import batches
from keystage.submissions.forms import UploadForm
from keystage.submissions.queries import batches_for
from keystage.web.govuk import error_list

# GOV.UK tag colours for a batch's state and a file's outcome.
STATE_COLOURS = {"queued": "govuk-tag--grey", "running": "govuk-tag--blue",
                 "done": "govuk-tag--green", "failed": "govuk-tag--red"}  # fmt: skip
OUTCOME_COLOURS = {"accepted": "govuk-tag--green", "superseded": "govuk-tag--turquoise",
                   "unchanged": "govuk-tag--grey", "rejected": "govuk-tag--red"}  # fmt: skip


def when(moment) -> str:
    return f"{localtime(moment):%-d %B %Y at %H:%M}"


@require_http_methods(["GET", "HEAD", "POST"])
def upload(request):
    membership = membership_of(request.user)
    may_upload = membership is not None and membership.role in batches.UPLOAD_ROLES
    form = UploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    if request.method == "POST" and may_upload and form.is_valid():
        batch = batches.do_start_batch(request.user, form.cleaned_data["files"])
        return redirect("upload-batch", batch_id=batch.pk)
    recent = list(batches_for(request.user).select_related("uploaded_by")[:10])
    for b in recent:
        b.when = when(b.created_at)
    return render(
        request,
        "submissions/upload.html",
        {
            "form": form,
            "error_list": error_list(form),
            "may_upload": may_upload,
            "membership": membership,
            "recent": recent,
            "max_mb": settings.KEYSTAGE_MAX_UPLOAD_MB,
            "state_colours": STATE_COLOURS,
        },
        status=200 if may_upload or request.method != "POST" else 403,
    )


@require_safe
def batch(request, batch_id: int):
    found = batches_for(request.user).select_related("la", "school", "uploaded_by")
    found = found.filter(pk=batch_id).first()
    if found is None:
        raise Http404("No such upload")
    rows = found.results or []
    tally = {k: sum(r["outcome"] == k for r in rows)
             for k in ("accepted", "superseded", "unchanged", "rejected")}  # fmt: skip
    return render(
        request,
        "submissions/batch.html",
        {
            "batch": found,
            "rows": rows,
            "tally": tally,
            "running": found.state in ("queued", "running"),
            "when": when(found.created_at),
            "state_colours": STATE_COLOURS,
            "outcome_colours": OUTCOME_COLOURS,
        },
    )
