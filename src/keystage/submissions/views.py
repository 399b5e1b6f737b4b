"""Uploading school files through the web and following their import. Views parse, check,
call an action and respond; what a user may see comes from `keystage.accounts.scope`."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.timezone import localtime
from django.views.decorators.http import require_http_methods, require_safe

from keystage.accounts.models import Role
from keystage.accounts.scope import las_for, membership_of, schools_for, scoped
from keystage.engine import words
from keystage.orgs.models import LocalAuthority
from keystage.submissions import batches, cleaning, grid
from keystage.submissions.actions import get_collection
from keystage.submissions.forms import UploadForm
from keystage.submissions.models import PupilRecord
from keystage.submissions.queries import batches_for
from keystage.web.govuk import error_list
from keystage.web.paging import link, pagination

# GOV.UK tag colours for a batch's state and a file's outcome.
STATE_COLOURS = {"queued": "govuk-tag--grey", "running": "govuk-tag--blue",
                 "done": "govuk-tag--green", "failed": "govuk-tag--red"}  # fmt: skip
OUTCOME_COLOURS = {"accepted": "govuk-tag--green", "superseded": "govuk-tag--turquoise",
                   "unchanged": "govuk-tag--grey", "rejected": "govuk-tag--red"}  # fmt: skip


def when(moment) -> str:
    return words.long_datetime(localtime(moment))


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


# -- cleaning: the grid of pupil records and a pupil's page ----------------------------------

GRID_READERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED,
                Role.SCHOOL_USER)  # fmt: skip


def _la(request, code: str) -> LocalAuthority:
    """The LA `code` if the user may see it (else 404), after checking the role (403)."""
    membership = membership_of(request.user)
    la = get_object_or_404(las_for(request.user), code=code)
    if membership is None or membership.role not in GRID_READERS:
        raise PermissionDenied("Your role cannot see pupil records")
    return la


def _pupil(request, code: str, pupil_id: int) -> PupilRecord:
    la = _la(request, code)
    return get_object_or_404(
        scoped(request.user, PupilRecord).select_related("school", "la", "collection", "upload"),
        pk=pupil_id,
        la=la,
    )


def _shown(collection, pupil, name: str) -> str:
    """The value a form shows for a field: a code as it counts (trimmed, upper case) when it
    is one of the choices, else exactly as held, so that saving unchanged changes nothing."""
    value = cleaning.value_of(pupil, name)
    options = cleaning.choices(collection, name)
    if options is not None and value.strip().upper() in options:
        return value.strip().upper()
    return value


def _fields(collection, pupil, entered: dict | None = None) -> list[dict]:
    """Each editable field of a pupil for a form: label, value shown, choices."""
    out = []
    for name in cleaning.editable_fields(collection):
        shown = _shown(collection, pupil, name)
        value = entered.get(name, shown) if entered is not None else shown
        options = cleaning.choices(collection, name)
        items = None
        if options is not None:
            items = [{"value": "", "text": "Not entered"}] + [
                {"value": o, "text": o} for o in options
            ]
            for v in {shown, value} - {""} - set(options):
                items.append({"value": v, "text": f"{v} (not valid)"})
            for item in items:
                item["selected"] = item["value"] == value
        out.append({"name": name, "label": cleaning.field_label(collection, name), "value": value,
                    "shown": shown, "select_items": items})  # fmt: skip
    return out


def _grid_params(request) -> dict:
    source = request.GET
    params = {k: source.get(k, "").strip() for k in ("school", "show", "rule")}
    if params["show"] not in grid.SHOW:
        params["show"] = ""
    return params


@require_http_methods(["GET", "HEAD", "POST"])
def pupils(request, code):
    """The cleaning grid: a page of pupils, each row editable, saved in one go; or one field
    set for the selected pupils. Works without JavaScript."""
    la = _la(request, code)
    collection = get_collection(settings.KEYSTAGE_COLLECTION)
    params = _grid_params(request)
    schools = list(schools_for(request.user).filter(la=la).order_by("laestab"))
    school = next((s for s in schools if s.laestab == params["school"]), None)
    if school is None:
        params["school"] = ""
    editor = cleaning.may_edit(request.user)
    names = cleaning.editable_fields(collection)
    entered: dict[int, dict] = {}
    problems: list[dict] = []
    if request.method == "POST":
        if not editor:
            raise PermissionDenied(cleaning.NOT_ALLOWED)
        edits, entered = _grid_edits(request.POST, names)
        reason = request.POST.get("reason", "")
        if request.POST.get("action") == "bulk":
            edits, problem = _bulk_edits(request.POST, names)
            if problem:
                problems.append({"text": problem, "href": "#bulk-field"})
            entered = {}
        done, refused = (
            cleaning.do_edit_pupils(request.user, edits, reason=reason) if edits else ([], [])
        )
        for e in refused:
            problems.append({"text": e.message, "href": "#grid"})
        if not problems:
            n = len(done)
            messages.success(
                request,
                f"Saved {n} {'pupil' if n == 1 else 'pupils'}. Their checks have been run again."
                if n
                else "Nothing was changed.",
            )
            return redirect(
                reverse("la-pupils", kwargs={"code": la.code})
                + link(params, page=request.GET.get("page", ""))
            )
        # Refused rows keep what the user entered (on top of what is held now, so a second
        # save applies it); the rows that were saved show what is held now.
        saved = {r.pupil.pk for r in done}
        tried = {pid for pid, _, _ in edits}
        entered = {pid: v for pid, v in entered.items() if pid in tried - saved}
    qs = grid.grid_pupils(request.user, collection, la, school=school, show=params["show"],
                          rule=params["rule"])  # fmt: skip
    page = Paginator(qs, grid.PER_PAGE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    counts = grid.counts_for([p.pk for p in rows])
    table = []
    for p in rows:
        fields = _fields(collection, p, entered.get(p.pk))
        table.append({
            "pupil": p, "fields": fields, "counts": counts[p.pk],
            "orig": json.dumps({f["name"]: f["shown"] for f in fields}),
        })  # fmt: skip
    return render(
        request,
        "submissions/pupils.html",
        {
            "la": la,
            "collection": collection,
            "params": params,
            "schools": schools,
            "school": school,
            "show_items": [{"value": k, "text": v} for k, v in grid.SHOW.items()],
            "rules": grid.rules_in(request.user, collection, la, school),
            "rows": table,
            "total": page.paginator.count,
            "page": page,
            "pagination": pagination(page, params),
            "editor": editor,
            "field_names": [(n, cleaning.field_label(collection, n)) for n in names],
            "bulk_choices": {n: cleaning.choices(collection, n) for n in names},
            "error_list": problems,
            "reason": request.POST.get("reason", "") if request.method == "POST" else "",
            "action_url": reverse("la-pupils", kwargs={"code": la.code})
            + link(params, page=request.GET.get("page", "")),
        },
        status=409 if problems else 200,
    )


def _version(post, pid: int) -> int:
    try:
        return int(post.get(f"v-{pid}", ""))
    except ValueError:
        return 0


def _grid_edits(post, names) -> tuple[list, dict]:
    """(pupil id, version, changed values) for each row whose values differ from the values
    the page showed, and every row's values as entered."""
    edits, entered = [], {}
    for raw in post.getlist("row"):
        if not raw.isdigit():
            continue
        pid = int(raw)
        try:
            orig = json.loads(post.get(f"o-{pid}", "{}"))
        except ValueError:
            orig = {}
        values = {n: post.get(f"{pid}-{n}") for n in names if post.get(f"{pid}-{n}") is not None}
        entered[pid] = values
        changed = {n: v for n, v in values.items() if v != orig.get(n)}
        if changed:
            edits.append((pid, _version(post, pid), changed))
    return edits, entered


def _bulk_edits(post, names) -> tuple[list, str]:
    name = post.get("bulk_field", "")
    ids = [int(x) for x in post.getlist("selected") if x.isdigit()]
    if name not in names:
        return [], "Choose the field to set for the selected pupils"
    if not ids:
        return [], "Select the pupils to change"
    value = post.get(f"bulk_value_{name}", post.get("bulk_value", ""))
    return [(pid, _version(post, pid), {name: value}) for pid in ids], ""


@require_http_methods(["GET", "HEAD", "POST"])
def pupil(request, code, pupil_id: int):
    """A pupil's page: the record, its errors and queries (explain a query), open conflicts,
    the trail of changes; LA staff edit it or remove the pupil here."""
    record = _pupil(request, code, pupil_id)
    collection = record.collection
    editor = cleaning.may_edit(request.user)
    entered, problems, stale = None, [], None
    reason = ""
    if request.method == "POST":
        if not editor:
            raise PermissionDenied(cleaning.NOT_ALLOWED)
        names = cleaning.editable_fields(collection)
        entered = {n: request.POST.get(n, "") for n in names if request.POST.get(n) is not None}
        reason = request.POST.get("reason", "")
        try:
            orig = json.loads(request.POST.get("orig", "{}"))
        except ValueError:
            orig = {}
        changed = {n: v for n, v in entered.items() if v != orig.get(n)}
        try:
            result = cleaning.do_edit_pupil(request.user, record.pk, _int(request.POST.get("version")),
                                            changed, reason=reason)  # fmt: skip
        except cleaning.StaleEdit as e:
            stale = e
            record = e.pupil
            problems.append({"text": e.message, "href": "#edit"})
        except cleaning.EditRefused as e:
            record.refresh_from_db()
            problems.append({"text": e.message, "href": "#edit"})
        else:
            n = len(result.changed)
            messages.success(
                request,
                f"Saved {n} {'change' if n == 1 else 'changes'}. The pupil's checks have been run again."
                if n
                else "Nothing was changed.",
            )
            return redirect("la-pupil", code=code, pupil_id=record.pk)
    return _pupil_page(request, record, editor=editor, entered=entered, problems=problems,
                       stale=stale, reason=reason)  # fmt: skip


def _int(raw) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return 0


def _pupil_page(request, record, *, editor, entered=None, problems=(), stale=None, reason="",
                status=None):  # fmt: skip
    collection = record.collection
    fields = _fields(collection, record, entered)
    current = None
    if not record.is_current:
        current = (
            scoped(request.user, PupilRecord)
            .filter(school_id=record.school_id, upn=record.upn, is_current=True)
            .first()
        )
    return render(
        request,
        "submissions/pupil.html",
        {
            "la": record.la,
            "pupil": record,
            "collection": collection,
            "fields": fields,
            "orig": json.dumps({f["name"]: f["shown"] for f in fields}),
            "findings": grid.findings_of(record) if record.is_current else [],
            "conflicts": grid.open_conflicts(record) if record.is_current else [],
            "trail": grid.trail(request.user, record),
            "editor": editor and record.is_current,
            "error_list": list(problems),
            "stale": stale,
            "reason": reason,
            "current": current,
            "label": lambda name: cleaning.field_label(collection, name),
            "when": when,
        },
        status=status or (409 if problems else 200),
    )


@require_http_methods(["POST"])
def pupil_explain(request, code, pupil_id: int):
    record = _pupil(request, code, pupil_id)
    if not cleaning.may_edit(request.user):
        raise PermissionDenied(cleaning.NOT_ALLOWED)
    finding_id = _int(request.POST.get("finding"))
    if not record.findings.filter(pk=finding_id).exists():
        raise Http404("No such query for this pupil")
    try:
        finding = cleaning.do_explain_query(
            request.user, finding_id, request.POST.get("explanation", "")
        )
    except cleaning.EditRefused as e:
        return _pupil_page(request, record, editor=True,
                           problems=[{"text": e.message, "href": f"#explanation-{finding_id}"}])  # fmt: skip
    messages.success(
        request,
        f"{finding.rule} confirmed correct. The explanation goes with the pupil into the return.",
    )
    return redirect("la-pupil", code=code, pupil_id=record.pk)


@require_http_methods(["POST"])
def pupil_remove(request, code, pupil_id: int):
    record = _pupil(request, code, pupil_id)
    if not cleaning.may_edit(request.user):
        raise PermissionDenied(cleaning.NOT_ALLOWED)
    try:
        cleaning.do_remove_pupil(request.user, record.pk, _int(request.POST.get("version")),
                                 reason=request.POST.get("remove_reason", ""))  # fmt: skip
    except cleaning.EditRefused as e:
        record.refresh_from_db()
        return _pupil_page(request, record, editor=True,
                           problems=[{"text": e.message, "href": "#remove_reason"}])  # fmt: skip
    messages.success(
        request,
        f"{record.surname}, {record.forename} ({record.upn}) was removed from the collection.",
    )
    return redirect(
        reverse("la-pupils", kwargs={"code": code}) + link({"school": record.school.laestab})
    )


@require_http_methods(["POST"])
def pupil_resolve(request, code, pupil_id: int):
    record = _pupil(request, code, pupil_id)
    if not cleaning.may_edit(request.user):
        raise PermissionDenied(cleaning.NOT_ALLOWED)
    change_id = _int(request.POST.get("conflict"))
    if not record.changes.filter(pk=change_id).exists():
        raise Http404("No such conflict for this pupil")
    try:
        cleaning.do_resolve_conflict(request.user, change_id, request.POST.get("keep", ""))
    except cleaning.EditRefused as e:
        return _pupil_page(
            request, record, editor=True, problems=[{"text": e.message, "href": "#conflicts"}]
        )
    messages.success(request, "Conflict settled.")
    current = scoped(request.user, PupilRecord).filter(pk=record.pk, is_current=True).exists()
    if not current:
        return redirect(
            reverse("la-pupils", kwargs={"code": code}) + link({"school": record.school.laestab})
        )
    return redirect("la-pupil", code=code, pupil_id=record.pk)


@require_http_methods(["GET", "HEAD", "POST"])
def pupil_add(request, code):
    """Add a pupil the school's file left out: exceptional, with a reason; flagged in reports."""
    la = _la(request, code)
    collection = get_collection(settings.KEYSTAGE_COLLECTION)
    if not cleaning.may_edit(request.user):
        raise PermissionDenied(cleaning.NOT_ALLOWED)
    schools = list(schools_for(request.user).filter(la=la).order_by("laestab"))
    names = cleaning.editable_fields(collection)
    values = {n: request.POST.get(n, "") for n in names} if request.method == "POST" else {}
    laestab = (request.POST.get("school") or request.GET.get("school", "")).strip()
    reason = request.POST.get("reason", "")
    problems = []
    if request.method == "POST":
        school = next((s for s in schools if s.laestab == laestab), None)
        if school is None:
            problems.append({"text": "Choose the pupil's school", "href": "#school"})
        else:
            try:
                added = cleaning.do_add_pupil(request.user, school, values, reason=reason)
            except cleaning.EditRefused as e:
                problems.append({"text": e.message, "href": "#upn"})
            else:
                messages.success(
                    request,
                    f"{added.surname}, {added.forename} ({added.upn}) was added to {school.name}. Their checks have been run.",
                )
                return redirect("la-pupil", code=code, pupil_id=added.pk)
    blank = PupilRecord(outcomes={}, upn="", surname="", forename="", dob="", sex="")
    return render(
        request,
        "submissions/pupil_add.html",
        {
            "la": la,
            "schools": schools,
            "laestab": laestab,
            "fields": _fields(collection, blank, values if request.method == "POST" else None),
            "reason": reason,
            "error_list": problems,
        },
        status=400 if problems else 200,
    )
