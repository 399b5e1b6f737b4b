"""Uploading school files through the web and following their import. Views parse, check,
call an action and respond; what a user may see comes from `keystage.accounts.scope`."""

from __future__ import annotations

import functools
import json
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods, require_safe
from markupsafe import Markup, escape

from keystage.accounts.models import Role
from keystage.accounts.scope import las_for, membership_of, schools_for, scoped
from keystage.engine import definition as definitions
from keystage.engine.words import amount, digits_only, plural
from keystage.orgs.models import LocalAuthority
from keystage.submissions import batches, cleaning, grid
from keystage.submissions.actions import get_collection, year_group_words
from keystage.submissions.cells import cell as grid_cell
from keystage.submissions.forms import UploadForm
from keystage.submissions.models import PupilRecord
from keystage.submissions.queries import batches_for
from keystage.web import readcache
from keystage.web.govuk import error_list
from keystage.web.jinja2 import Row
from keystage.web.jinja2 import long_datetime as local_long_datetime
from keystage.web.links import redirect, reverse
from keystage.web.paging import link, pagination
from keystage.web.readcache import remember

# GOV.UK tag colours for a batch's state and a file's outcome.
STATE_COLOURS = {"queued": "govuk-tag--grey", "running": "govuk-tag--blue",
                 "done": "govuk-tag--green", "failed": "govuk-tag--red"}  # fmt: skip
OUTCOME_COLOURS = {"accepted": "govuk-tag--green", "superseded": "govuk-tag--turquoise",
                   "unchanged": "govuk-tag--grey", "rejected": "govuk-tag--red"}  # fmt: skip


# A stored moment in words, in the service's time zone ("" for none): the pages' own filter.
when = local_long_datetime


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
    recent = list(batches_for(request.user).select_related("uploaded_by")[:RECENT])
    for b in recent:
        b.when = when(b.created_at)
        b.outcomes = outcomes_text(b.results or [])
    return render(
        request,
        "submissions/upload.html",
        {
            "form": form,
            "error_list": error_list(form),
            "may_upload": may_upload,
            "membership": membership,
            "recent": recent,
            "more_uploads": batches_for(request.user).count() > len(recent),
            "max_mb": settings.KEYSTAGE_MAX_UPLOAD_MB,
            "state_colours": STATE_COLOURS,
        },
        status=200 if may_upload or request.method != "POST" else 403,
    )


def _batch(request, batch_id: int):
    found = batches_for(request.user).select_related("la", "school", "uploaded_by")
    found = found.filter(pk=batch_id).first()
    if found is None:
        raise Http404("No such upload")
    return found


OUTCOMES = ("accepted", "superseded", "unchanged", "rejected")
OUTCOME_WORDS = {"accepted": "accepted", "superseded": "replaced an earlier file",
                 "unchanged": "unchanged", "rejected": "rejected"}  # fmt: skip


def tally_of(rows: list[dict]) -> dict[str, int]:
    return {k: sum(r.get("outcome") == k for r in rows) for k in OUTCOMES}


def outcomes_text(rows: list[dict]) -> str:
    """ "2 accepted, 1 unchanged, 1 rejected": the outcomes a batch had, none left as 0."""
    tally = tally_of(rows)
    return ", ".join(f"{tally[k]:,} {OUTCOME_WORDS[k]}" for k in OUTCOMES if tally[k])


def _live(batch) -> bool:
    """Whether the batch's import is under way, or waiting for a worker that is running. A
    batch waiting with no task worker running would never change: its page says so and stops
    updating itself."""
    from keystage.worker.recovery import worker_running

    return batch.state in ("queued", "running") and worker_running()


def restarts_text(batch) -> list[str]:
    """One sentence for each time the batch's worker died and the batch was started again."""
    out = []
    for i in batch.interruptions or []:
        stored = f"{i.get('stored', 0):,} of {plural(batch.total_files, 'file')}"
        out.append(
            f"The import stopped on {when(datetime.fromisoformat(i['stopped_at']))} when the "
            f"service's task worker stopped, with {stored} stored. It "
            f"was restarted on {when(datetime.fromisoformat(i['restarted_at']))} and went on "
            "with the files not yet stored: nothing was stored twice."
        )
    return out


def progress_text(batch, live: bool = True) -> str:
    """What the batch page's status says, in words; read out by screen readers as it changes."""
    files = plural(batch.total_files, "file")
    done = outcomes_text(batch.results or [])
    if batch.state in ("queued", "running") and not live:
        return (
            f"The import has stopped with {batch.done_files:,} of {files} done, because the "
            "service's task worker is not running. It goes on from where it stopped when the "
            "worker starts again: you do not need to upload the files again."
        )
    if batch.state == "queued":
        return f"{files} {'is' if batch.total_files == 1 else 'are'} waiting to be imported."
    if batch.state == "running":
        return f"Importing your files: {batch.done_files:,} of {files} done" + (
            f" ({done})." if done else "."
        )
    if batch.state == "failed":
        return f"The import stopped after {batch.done_files:,} of {files}."
    return f"Import finished: {plural(len(batch.results or []), 'file')}" + (
        f", {done}." if done else "."
    )


def _next_steps(request, found) -> list[dict]:
    """Where an LA officer or a school goes after an upload: the errors it brought, the
    dashboard (LA roles), the pupil records to correct."""
    membership = membership_of(request.user)
    role = membership.role if membership else None
    code = found.la.code
    schools = sorted({r["laestab"] for r in found.results or [] if len(r.get("laestab", "")) == 7
                      and r.get("outcome") in ("accepted", "superseded", "unchanged")})  # fmt: skip
    steps = []
    la_role = role in GRID_READERS and role != Role.SCHOOL_USER
    if role in GRID_READERS:
        href = reverse("la-errors", kwargs={"code": code})
        if len(schools) == 1:
            steps.append({"href": href + link({"school": schools[0]}),
                          "text": f"See the errors and queries of {found_school(found, schools[0])} "
                                  "in the Data Errors report"})  # fmt: skip
        else:
            steps.append({"href": href, "text": "See the errors and queries of these schools "
                          "in the Data Errors report"})  # fmt: skip
    if la_role and schools:
        steps.append({"href": reverse("la-pupils", kwargs={"code": code})
                      + link({"school": schools[0] if len(schools) == 1 else ""}),
                      "text": "Correct errors and explain queries in the pupil records"})  # fmt: skip
    if la_role:
        steps.append({"href": reverse("la-dashboard", kwargs={"code": code}),
                      "text": f"Go to the {found.la.name} dashboard"})  # fmt: skip
    steps.append({"href": reverse("upload-history"), "text": "See all uploads"})
    return steps


def kept_note(row: dict) -> str:
    """What the result page says of a rejected file kept only in part (see `kept.Keeper`):
    "" for a file kept whole, or one whose copy was made by an earlier upload."""
    size, kept = row.get("size") or 0, row.get("kept_bytes")
    if row.get("outcome") != "rejected" or kept is None or kept >= size:
        return ""
    if kept == 0:
        return f"No copy of this {amount(size)} file is kept."
    return f"Only the first {amount(kept)} of this {amount(size)} file is kept."


def partly_kept(rows: list[dict]) -> int:
    """How many of a batch's rejected files are kept only in part."""
    return sum(bool(kept_note(r)) for r in rows)


def found_school(found, laestab: str) -> str:
    for r in found.results or []:
        if r.get("laestab") == laestab and r.get("school"):
            return r["school"]
    return laestab


@require_safe
def batch(request, batch_id: int):
    found = _batch(request, batch_id)
    rows = [
        r | {"kept_note": kept_note(r), "year_group_words": year_group_words(r)}
        for r in found.results or []
    ]
    running = _live(found)
    return render(
        request,
        "submissions/batch.html",
        {
            "batch": found,
            "rows": rows,
            "tally": tally_of(rows),
            "running": running,
            "progress": progress_text(found, running),
            "restarts": restarts_text(found),
            "stalled": found.state in ("queued", "running") and not running,
            "next_steps": [] if running else _next_steps(request, found),
            "when": when(found.created_at),
            "state_colours": STATE_COLOURS,
            "outcome_colours": OUTCOME_COLOURS,
        },
    )


@require_safe
def batch_status(request, batch_id: int):
    """The batch's progress as JSON, for the page's script to announce without reloading."""
    found = _batch(request, batch_id)
    tally = tally_of(found.results or [])
    live = _live(found)
    response = JsonResponse({
        "state": found.state,
        "state_label": found.get_state_display(),
        "finished": not live,
        "done": found.done_files,
        "total": found.total_files,
        "files_imported": f"{found.done_files:,} of {found.total_files:,}",
        "results": results_text(tally),
        "message": progress_text(found, live),
    })  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response


def results_text(tally: dict[str, int]) -> str:
    return (f"{tally['accepted']:,} accepted, {tally['superseded']:,} replaced an earlier file, "
            f"{tally['unchanged']:,} unchanged, {tally['rejected']:,} rejected")  # fmt: skip


HISTORY_PER_PAGE = 25
RECENT = 10


@require_safe
def upload_history(request):
    """Every batch the user may see (their LA's, or their school's), newest first, paged."""
    found = batches_for(request.user).select_related("uploaded_by", "school")
    page = Paginator(found, HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    for b in items:
        b.when = when(b.created_at)
        b.outcomes = outcomes_text(b.results or [])
        partial = partly_kept(b.results or [])
        b.partly_kept = f"{plural(partial, 'rejected file')} kept only in part" if partial else ""
        names = b.file_names or []
        b.files_text = ", ".join(names[:3]) + (
            f" and {plural(len(names) - 3, 'other file')}" if len(names) > 3 else ""
        )
    membership = membership_of(request.user)
    return render(
        request,
        "submissions/history.html",
        {
            "batches": items,
            "page": page,
            "total": page.paginator.count,
            "pagination": pagination(page, {}),
            "membership": membership,
            "may_upload": membership is not None and membership.role in batches.UPLOAD_ROLES,
            "state_colours": STATE_COLOURS,
        },
    )


# -- cleaning: the grid of pupil records and a pupil's page ----------------------------------

SAVED_NAMED = 10  # pupils named in the message after a grid save; the rest are counted
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


def _who(pupil) -> str:
    return f"{pupil.surname or '(no surname)'}, {pupil.forename or '(no forename)'} ({pupil.upn})"


def _shown(collection, pupil, name: str) -> str:
    """The value a form shows for a field: a code as it counts (trimmed, upper case) when it
    is one of the choices, else exactly as held, so that saving unchanged changes nothing."""
    value = cleaning.value_of(pupil, name)
    options = cleaning.choices(collection, name)
    if options is not None:
        found = {o.upper(): o for o in options}.get(value.strip().upper())
        if found is not None:
            return found
    return value


def _fields(collection, pupil, entered: dict | None = None, errors: dict | None = None,
            findings: dict | None = None) -> list[dict]:  # fmt: skip
    """Each editable field of a pupil for a form: label, value shown, choices, the message of
    a value that could not be saved (`errors`) and the rules the held value breaks
    (`findings`, from `grid.cell_findings`)."""
    out = []
    errors = errors or {}
    findings = findings or {}
    for name in cleaning.editable_fields(collection):
        shown = _shown(collection, pupil, name)
        value = entered.get(name, shown) if entered is not None else shown
        options = cleaning.choices(collection, name)
        items = tags = None
        if options is not None:
            offered = _offered(tuple(options), value, shown)
            items = [{"value": v, "text": t, "selected": v == value} for v, t in offered]
            tags = _option_tags(offered, value)
        found = findings.get(name, [])
        out.append(Row({"name": name, "label": cleaning.field_label(collection, name), "value": value,
                    "shown": shown, "select_items": items, "error": errors.get(name, ""),
                    "option_tags": tags, "numeric": cleaning.marks(collection, name) is not None,
                    "findings": found, "in_error": any(f.severity == "error" for f in found),
                    "changed": value != shown}))  # fmt: skip
    return out


def _offered(options: tuple[str, ...], value: str, shown: str) -> tuple[tuple[str, str], ...]:
    """(value, text) of a code list's choices: none, each code, then any value held or typed
    that is not one of them, marked not valid."""
    extra = sorted({shown, value} - {""} - set(options))
    return (("", "Not entered"), *((o, o) for o in options),
            *((v, f"{v} (not valid)") for v in extra))  # fmt: skip


@functools.lru_cache(maxsize=2048)
def _option_tags(offered: tuple[tuple[str, str], ...], value: str) -> Markup:
    """The grid's <option> tags for `_offered` choices with `value` selected, written once per
    combination: 25 pupils of 12 coded items each made the options most of the grid's cost."""
    return Markup(  # noqa: S704 - every value is escaped
        "".join(
            f'<option value="{escape(v)}"{" selected" if v == value else ""}>{escape(t)}</option>'
            for v, t in offered
        )
    )


def _grid_params(request) -> dict:
    source = request.GET
    params = {k: source.get(k, "").strip() for k in ("school", "show", "rule")}
    if params["show"] not in grid.SHOW:
        params["show"] = ""  # not chosen: the grid decides (pupils with errors, if any)
    return params


def _saved_message(done: list) -> str:
    """What a save of the grid changed, pupil by pupil: "Saved 3 changes to 2 pupils: ADAMS,
    AVA (English reading, Forename); EVANS, AVA (Sex)." (the first ten pupils named)."""
    if not done:
        return "Nothing was saved: no value was different from the one held."
    collection = done[0].pupil.collection
    changes = sum(len(r.changed) for r in done)
    each = [
        f"{r.pupil.surname or '(no surname)'}, {r.pupil.forename or '(no forename)'} "
        f"({', '.join(cleaning.field_label(collection, n) for n in r.changed)})"
        for r in done
    ]
    more = len(each) - SAVED_NAMED
    named = "; ".join(each[:SAVED_NAMED]) + (
        f"; and {plural(more, 'other pupil')}" if more > 0 else ""
    )
    return (
        f"Saved {plural(changes, 'change')} to {plural(len(done), 'pupil')}: "
        f"{named}. Their checks have been run again."
    )


def _refusal_problems(refused, edits, names, collection) -> tuple[list[dict], dict]:
    """The error summary's items for a grid save that was refused, each linking to the cell it
    is about, and pupil id -> field -> the message to show on that cell."""
    problems: list[dict] = []
    cells: dict[int, dict[str, str]] = {}
    tried = {pid: values for pid, _, values in edits}
    for r in refused:
        pupil = r.pupil
        if pupil is None:
            problems.append({"text": r.message, "href": "#grid"})
            continue
        if r.fields:
            for name, text in r.fields.items():
                cells.setdefault(pupil.pk, {})[name] = text
                problems.append({"text": f"Pupil {_who(pupil)}: {text}",
                                 "href": f"#{pupil.pk}-{name}"})  # fmt: skip
            continue
        # Changed by someone else (or no longer current): the row's changed cells say so.
        changed = [n for n in names if n in tried.get(pupil.pk, {})] or [names[0]]
        for name in changed:
            cells.setdefault(pupil.pk, {})[name] = (
                "Changed by someone else since you opened the page: check the value and save again"
            )
        problems.append({"text": r.message, "href": f"#{pupil.pk}-{changed[0]}"})
    return problems, cells


@require_http_methods(["GET", "HEAD", "POST"])
def pupils(request, code):
    """The cleaning grid: a page of pupils, each row editable, saved in one go (nothing is saved
    when any row cannot be: every typed value stays on the form and each bad cell is named);
    or one field set for the selected pupils. Works without JavaScript."""
    la = _la(request, code)
    collection = get_collection()
    params = _grid_params(request)
    user = request.user
    # What a GET of the grid reads is kept until the LA's data changes (web/readcache.py).
    schools = readcache.schools(user, la, collection)
    school = next((s for s in schools if s.laestab == params["school"]), None)
    if school is None:
        params["school"] = ""
    chosen = bool(params["show"])
    if not chosen:
        params["show"] = remember(
            "grid_default_show", user, la, collection,
            lambda: grid.default_show(user, collection, la, school=school, rule=params["rule"]),
            params["school"], params["rule"],
        )  # fmt: skip
    editor = cleaning.may_edit(request.user)
    names = cleaning.editable_fields(collection)
    entered: dict[int, dict] = {}
    problems: list[dict] = []
    cell_errors: dict[int, dict[str, str]] = {}
    bulk_error = ""
    if request.method == "POST":
        if not editor:
            raise PermissionDenied(cleaning.NOT_ALLOWED)
        edits, entered = _grid_edits(request.POST, names)
        reason = request.POST.get("reason", "")
        bulk = request.POST.get("action") == "bulk"
        if bulk:
            edits, problem, where = _bulk_edits(request.POST, names)
            if problem:
                bulk_error = problem
                problems.append({"text": problem, "href": where})
            entered = {}
        done = []
        try:
            done = cleaning.do_edit_pupils(request.user, edits, reason=reason) if edits else []
        except cleaning.EditsRefused as e:
            if bulk:
                texts = sorted({t for r in e.refusals for t in r.fields.values()})
                bulk_error = " ".join(texts) or "The selected pupils could not be changed"
                problems += [{"text": f"New value: {t}", "href": "#bulk-value"} for t in texts]
                problems += [{"text": r.message, "href": "#bulk-value"} for r in e.refusals
                             if not r.fields]  # fmt: skip
            else:
                more, cell_errors = _refusal_problems(e.refusals, edits, names, collection)
                problems += more
        if not problems:
            messages.success(request, _saved_message(done))
            return redirect(
                reverse("la-pupils", kwargs={"code": la.code})
                + link(params, page=request.GET.get("page", ""))
            )
        if problems and not bulk:
            problems.insert(0, {"text": "Nothing was saved: correct the values marked below "
                                "and save again (your values are still on the form)",
                                "href": problems[0]["href"]})  # fmt: skip

    def read():
        return _grid_table(user, collection, la, school, params, request.GET.get("page"), names,
                           entered, cell_errors)  # fmt: skip

    if entered or cell_errors:  # a save refused: the rows show what was typed
        page, table, rules = read()
    else:
        page, table, rules = remember(
            "grid", user, la, collection, read,
            params["school"], params["show"], params["rule"], request.GET.get("page", ""),
        )  # fmt: skip
    return render(
        request,
        "submissions/pupils.html",
        {
            "la": la,
            "collection": collection,
            "params": params,
            "chosen": chosen,
            "schools": schools,
            "school": school,
            "show_items": [{"value": k, "text": v} for k, v in grid.SHOW.items()],
            # "12 pupils with errors": the filter's words after "Pupils"
            "count_words": "" if params["show"] == "all" else grid.SHOW[params["show"]][6:],
            "rules": rules,
            "rule_titles": {r: cleaning.rule_title(r) for r in rules},
            "rows": table,
            "grid_cell": grid_cell,
            "total": page.paginator.count,
            "page": page,
            "pagination": pagination(page, params),
            "editor": editor,
            "la_can_correct": cleaning.LA_CAN_CORRECT,
            "school_to_correct": cleaning.SCHOOL_TO_CORRECT,
            "who_hint": cleaning.WHO_CORRECTS_HINT,
            "field_names": [(n, cleaning.field_label(collection, n)) for n in names],
            # A collection of more than one NC year (phonics: Year 1 and the Year 2 re-check)
            # shows each pupil's.
            "show_nc_year": len(definitions.load(collection.code).nc_years) > 1,
            "bulk_choices": {n: cleaning.choices(collection, n) for n in names},
            "bulk_error": bulk_error,
            "bulk_error_on": "field" if bulk_error.startswith("Choose") else "value",
            "bulk_field": request.POST.get("bulk_field", "") if request.method == "POST" else "",
            "bulk_value": request.POST.get("bulk_value", "") if request.method == "POST" else "",
            "error_list": problems,
            "reason": request.POST.get("reason", "") if request.method == "POST" else "",
            "all_url": reverse("la-pupils", kwargs={"code": la.code})
            + link({**params, "show": "all"}),
            "action_url": reverse("la-pupils", kwargs={"code": la.code})
            + link(params, page=request.GET.get("page", "")),
        },
        status=409 if problems else 200,
    )


def _grid_table(user, collection, la, school, params, page_number, names, entered, cell_errors):
    """(the page of pupils, its rows for the template, the rules the filter offers)."""
    qs = grid.grid_pupils(user, collection, la, school=school, show=params["show"],
                          rule=params["rule"])  # fmt: skip
    page = Paginator(qs, grid.PER_PAGE).get_page(page_number)
    rows = list(page.object_list)
    ids = [p.pk for p in rows]
    counts = grid.counts_for(ids)
    cells = grid.cell_findings(ids, names)
    rules = grid.rules_in(user, collection, la, school)
    table = []
    for p in rows:
        fields = _fields(collection, p, entered.get(p.pk), cell_errors.get(p.pk), cells.get(p.pk))
        table.append(Row({
            "pupil": p, "fields": fields, "counts": counts[p.pk],
            "orig": json.dumps({f["name"]: f["shown"] for f in fields}),
            "other_findings": cells.get(p.pk, {}).get("pupil", []),
            "changed": any(f["changed"] for f in fields),
        }))  # fmt: skip
    return page, table, rules


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
        if not digits_only(raw):
            continue
        pid = int(raw)
        try:
            orig = json.loads(post.get(f"o-{pid}", "{}"))
        except ValueError:
            orig = {}
        if not isinstance(orig, dict):
            orig = {}
        values = {n: post.get(f"{pid}-{n}") for n in names if post.get(f"{pid}-{n}") is not None}
        entered[pid] = values
        changed = {n: v for n, v in values.items() if v != orig.get(n)}
        if changed:
            edits.append((pid, _version(post, pid), changed))
    return edits, entered


def _bulk_edits(post, names) -> tuple[list, str, str]:
    """(pupil id, version, values) for each selected pupil; or a problem and where it is."""
    name = post.get("bulk_field", "")
    ids = [int(x) for x in post.getlist("selected") if digits_only(x)]
    if name not in names:
        return [], "Choose the item to set for the selected pupils", "#bulk-field"
    rows = [x for x in post.getlist("row") if digits_only(x)]
    if not ids:
        return [], "Select the pupils to change", f"#select-{rows[0]}" if rows else "#grid"
    value = post.get(f"bulk_value_{name}", post.get("bulk_value", ""))
    return [(pid, _version(post, pid), {name: value}) for pid in ids], "", ""


@require_http_methods(["GET", "HEAD", "POST"])
def pupil(request, code, pupil_id: int):
    """A pupil's page: the record, its errors and queries (explain a query), open conflicts,
    the trail of changes; LA staff edit it, remove the pupil or put a removed pupil back."""
    record = _pupil(request, code, pupil_id)
    collection = record.collection
    editor = cleaning.may_edit(request.user)
    entered, problems, stale, field_errors = None, [], None, {}
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
        if not isinstance(orig, dict):
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
            field_errors = e.fields
            problems += [{"text": text, "href": f"#{name}"} for name, text in e.fields.items()]
            if not e.fields:
                problems.append({"text": e.message, "href": "#edit"})
        else:
            n = len(result.changed)
            messages.success(
                request,
                f"Saved {plural(n, 'change')}: "
                + ", ".join(cleaning.field_label(collection, k) for k in result.changed)
                + ". The pupil's checks have been run again."
                if n
                else "Nothing was saved: no value was different from the one held.",
            )
            return redirect("la-pupil", code=code, pupil_id=record.pk)
    return _pupil_page(request, record, editor=editor, entered=entered, problems=problems,
                       stale=stale, reason=reason, field_errors=field_errors)  # fmt: skip


def _int(raw) -> int:
    try:
        return int(raw or "")
    except ValueError:
        return 0


def _pupil_page(request, record, *, editor, entered=None, problems=(), stale=None, reason="",
                field_errors=None, explain_error=None, restore_error="", restore_reason="",
                status=None):  # fmt: skip
    collection = record.collection
    names = cleaning.editable_fields(collection)
    cells = grid.cell_findings([record.pk], names).get(record.pk, {}) if record.is_current else {}
    fields = _fields(collection, record, entered, field_errors, cells)
    current = None
    if not record.is_current:
        current = (
            scoped(request.user, PupilRecord)
            .filter(school_id=record.school_id, upn=record.upn, is_current=True)
            .first()
        )
    removal = None
    if record.flag == "removed" and not record.is_current:
        removal = record.changes.filter(source="removed").order_by("-at", "-id").first()
    findings = grid.findings_of(record) if record.is_current else []
    editable = {"", "pupil", *cleaning.editable_fields(record.collection)}
    for f in findings:
        f.title = cleaning.rule_title(f.rule)
        f.editable = f.field in editable  # a value of the form below (not the NC year)
        f.who = cleaning.who_corrects(f.severity, True, f.editable)
    from_school = request.GET.get("school", "") == record.school.laestab
    following = grid.next_with_error(request.user, record,
                                     school=record.school if from_school else None)  # fmt: skip
    return render(
        request,
        "submissions/pupil.html",
        {
            "la": record.la,
            "pupil": record,
            "collection": collection,
            "fields": fields,
            "orig": json.dumps({f["name"]: f["shown"] for f in fields}),
            "findings": findings,
            "conflicts": grid.open_conflicts(record) if record.is_current else [],
            "trail": grid.trail(request.user, record),
            "editor": editor and record.is_current,
            "may_restore": editor and removal is not None and current is None,
            "removal": removal,
            "error_list": list(problems),
            "stale": stale,
            "reason": reason,
            "current": current,
            "next_pupil": following,
            "next_query": f"?school={record.school.laestab}" if from_school else "",
            "explain_error": explain_error or {},
            "restore_error": restore_error,
            "restore_reason": restore_reason,
            "who_hint": cleaning.WHO_CORRECTS_HINT,
            "label": lambda name: cleaning.field_label(collection, name),
            "show_nc_year": len(definitions.load(collection.code).nc_years) > 1,
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
                           explain_error={finding_id: e.fields.get("explanation", e.message)},
                           problems=[{"text": e.message, "href": f"#explanation-{finding_id}"}])  # fmt: skip
    messages.success(
        request,
        f"{finding.rule} {cleaning.rule_title(finding.rule)}: confirmed correct. The explanation "
        "goes with the pupil into the return.",
    )
    return redirect("la-pupil", code=code, pupil_id=record.pk)


@require_http_methods(["GET", "HEAD", "POST"])
def pupil_remove(request, code, pupil_id: int):
    """Remove a pupil from the collection: a confirmation page (the pupil named, a warning,
    the reason asked), then the removal."""
    record = _pupil(request, code, pupil_id)
    if not cleaning.may_edit(request.user):
        raise PermissionDenied(cleaning.NOT_ALLOWED)
    reason = request.POST.get("remove_reason", "") if request.method == "POST" else ""
    problems, error = [], ""
    status = 200
    if request.method == "POST":
        try:
            cleaning.do_remove_pupil(request.user, record.pk, _int(request.POST.get("version")),
                                     reason=reason)  # fmt: skip
        except cleaning.EditRefused as e:
            record.refresh_from_db()
            error = e.fields.get("remove_reason", "")
            problems.append({"text": e.message, "href": "#remove_reason"})
            status = 400 if error else 409
        else:
            messages.success(
                request,
                f"{_who(record)} was removed from the collection. You can put the pupil back "
                "from their page.",
            )
            return redirect(
                reverse("la-pupils", kwargs={"code": code})
                + link({"school": record.school.laestab})
            )
    if not record.is_current and not problems:
        return redirect("la-pupil", code=code, pupil_id=record.pk)
    counts = grid.counts_for([record.pk])[record.pk]
    return render(
        request,
        "submissions/pupil_remove.html",
        {
            "la": record.la,
            "pupil": record,
            "who": _who(record),
            "counts": counts,
            "reason": reason,
            "reason_error": error,
            "error_list": problems,
        },
        status=status,
    )


@require_http_methods(["POST"])
def pupil_restore(request, code, pupil_id: int):
    """Put back a pupil the LA removed, with a reason."""
    record = _pupil(request, code, pupil_id)
    if not cleaning.may_edit(request.user):
        raise PermissionDenied(cleaning.NOT_ALLOWED)
    reason = request.POST.get("restore_reason", "")
    try:
        cleaning.do_restore_pupil(request.user, record.pk, _int(request.POST.get("version")),
                                  reason=reason)  # fmt: skip
    except cleaning.EditRefused as e:
        record.refresh_from_db()
        error = e.fields.get("restore_reason", e.message)
        return _pupil_page(request, record, editor=True, restore_error=error,
                           restore_reason=reason,
                           problems=[{"text": e.message, "href": "#restore_reason"}])  # fmt: skip
    messages.success(
        request,
        f"{_who(record)} is back in the collection. Their checks have been run again.",
    )
    return redirect("la-pupil", code=code, pupil_id=record.pk)


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
    collection = get_collection()
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
