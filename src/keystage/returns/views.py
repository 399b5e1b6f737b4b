"""Pages of the statutory return (the LA's side) and the national collection (the collector's
side). Views parse, find the LA or school return among those the user may see (`scope`), check
the role, call an action or a query, respond. Another LA's pages answer 404; a role that may not
use a page of its own LA gets 403."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.utils.timezone import localtime
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from keystage.accounts.models import Role
from keystage.accounts.scope import las_for, membership_of, scoped
from keystage.collection import exports
from keystage.engine import definition as definitions
from keystage.engine import words
from keystage.engine.words import mid_sentence, plural
from keystage.returns import actions, queries
from keystage.returns.forms import BuildForm, ReturnUploadForm, SendBackForm
from keystage.returns.models import CollectedReturn, ReturnGeneration, ReturnSubmission
from keystage.submissions.actions import get_collection
from keystage.web.errors import NotInThisCollection
from keystage.web.govuk import error_list
from keystage.web.jinja2 import long_datetime as local_long_datetime
from keystage.web.links import redirect
from keystage.web.links import reverse as url_for

RETURN_READERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER)
LA_BUILDERS = (Role.LA_ADMIN, Role.LA_OFFICER)
STATUS_TAGS = {
    "loaded": "govuk-tag--blue",
    "submitted": "govuk-tag--yellow",
    "amended": "govuk-tag--orange",
    "authorised": "govuk-tag--green",
    "returned": "govuk-tag--red",
}
NATIONAL_FIELDS = (
    "la",
    "name",
    "region",
    "state",
    "pupils_loaded_in_keystage",
    "schools",
    "submitted",
    "authorised",
    "pupils",
    "errors",
    "queries",
    "unexplained_queries",
    "last_change",
    "deadline",
    "days_to_deadline",
)


def _collection():
    """The page's collection, which must have a national return for any page here."""
    collection = get_collection()
    definition = definitions.load(collection.code)
    if not definition.national_return:
        raise NotInThisCollection(
            f"{definition.name} has no national return: LAs that still collect it keep the "
            "data for themselves, so there is no return to build, send or authorise."
        )
    return collection


def _role(request):
    m = membership_of(request.user)
    return m.role if m else None


def _la(request, code: str, roles):
    la = get_object_or_404(las_for(request.user), code=code)
    if _role(request) not in roles:
        raise PermissionDenied("Your role cannot see this page")
    return la


# A stored moment in words, in the service's time zone ("" for none): the pages' own filter.
when = local_long_datetime


def _refused(request, e: actions.ReturnRefused) -> None:
    for reason in e.reasons[:20]:
        messages.error(request, reason)
    if len(e.reasons) > 20:
        messages.error(request, f"and {len(e.reasons) - 20} more")


# -- the LA's side ----------------------------------------------------------------------------


@require_safe
def la_returns(request, code):
    """/la/<code>/returns: build the return, download earlier ones, submit, see what the
    national collection holds."""
    return _la_returns_page(request, _la(request, code, RETURN_READERS))


CONFIRM_OPEN_ITEMS = (
    "Tick the box to confirm you want to write the return with errors still open or queries "
    "without an explanation, or fix them first"
)


def _la_returns_page(request, la, *, build_error: str | None = None):
    collection = _collection()
    generations = list(scoped(request.user, ReturnGeneration).filter(la=la, collection=collection))
    for g in generations:
        g.when = when(g.created_at)
    items = queries.open_items(la, collection) if actions.may_build(request.user, la) else []
    held = list(
        scoped(request.user, CollectedReturn)
        .filter(la=la, collection=collection)
        .select_related("school")
    )
    for cr in held:
        cr.when = when(cr.updated_at)
    deadline, days = queries.days_to_deadline(collection)
    latest = generations[0] if generations else None
    submission = (
        scoped(request.user, ReturnSubmission).filter(generation=latest).first() if latest else None
    )
    error_count = sum(i["severity"] == "error" for i in items)
    return render(
        request,
        "returns/la_returns.html",
        {
            "la": la,
            "collection": collection,
            "generations": generations,
            "latest": latest,
            "latest_submission": submission,
            "items": items[: queries.OPEN_ITEMS_SHOWN],
            "by_rule": queries.open_items_by_rule(items),
            "item_count": len(items),
            "error_count": error_count,
            "untravelled": queries.untravelled_errors(items),
            "difference": queries.error_difference(la, collection) if held else None,
            "schools_to_return": queries.return_schools(la, collection).count(),
            "held": held,
            "status_tags": STATUS_TAGS,
            "may_build": actions.may_build(request.user, la),
            "may_submit": actions.may_submit(request.user, la),
            "waiting": sum(cr.status in ("loaded", "amended") for cr in held),
            "deadline": deadline,
            "deadline_text": queries.deadline_text(days),
            "build_error": build_error,
            "error_list": [{"text": build_error, "href": "#confirm"}] if build_error else [],
        },
        status=400 if build_error else 200,
    )


@require_POST
def build(request, code):
    la = _la(request, code, LA_BUILDERS)
    form = BuildForm(request.POST)
    confirm = form.is_valid() and form.cleaned_data["confirm"]
    try:
        generation = actions.do_build_return(la, _collection(), user=request.user, confirm=confirm)
    except actions.OpenItems:
        return _la_returns_page(request, la, build_error=CONFIRM_OPEN_ITEMS)
    messages.success(
        request,
        f"Return {generation.serial} written: {plural(generation.school_count, 'school')}, "
        f"{plural(generation.pupil_count, 'pupil')}.",
    )
    return redirect("la-returns", code=la.code)


@require_safe
def download(request, code, serial: int, file: str):
    la = _la(request, code, RETURN_READERS)
    generation = get_object_or_404(
        scoped(request.user, ReturnGeneration), la=la, collection=_collection(), serial=serial
    )
    try:
        path = actions.generation_path(generation, file)
    except FileNotFoundError:
        raise Http404("No such file in this return") from None
    if not path.is_file():
        raise Http404("The file of this return is no longer held")
    return FileResponse(path.open("rb"), as_attachment=True, filename=file)


DECLARATION_MISSING = "Tick the box to confirm the declaration before you submit the return"


def _check_answers(request, la, *, generation=None, error: str | None = None):
    """Check your answers before submitting: what goes to the national collection, what is
    still open, and the approver's declaration (with a one-time token, so a repeat of this
    form is refused on the server)."""
    collection = _collection()
    if generation is not None:
        summary = {
            "schools": generation.school_count,
            "pupils": generation.pupil_count,
            "errors": generation.open_errors,
            "unexplained": generation.unexplained_queries,
        }
        action = url_for("la-return-submit", kwargs={"code": la.code, "serial": generation.serial})
        figures = queries.generation_figures(generation)
    else:
        waiting = list(
            scoped(request.user, CollectedReturn).filter(
                la=la, collection=collection, status__in=("loaded", "amended")
            )
        )
        summary = {
            k: sum(getattr(cr, k) for cr in waiting) for k in ("pupils", "errors", "unexplained")
        }
        summary["schools"] = len(waiting)
        figures = queries.held_figures(waiting, collection)
        action = url_for("la-return-submit-loaded", kwargs={"code": la.code})
    deadline, days = queries.days_to_deadline(collection)
    return render(
        request,
        "returns/check_answers.html",
        {
            "la": la,
            "collection": collection,
            "generation": generation,
            "generation_when": when(generation.created_at) if generation else "",
            "summary": summary,
            "figures": figures,
            "action": action,
            "token": request.POST.get("token") or actions.new_submission_token(),
            "declaration": actions.declaration_for(la, collection),
            "error": error,
            "error_list": [{"text": error, "href": "#declaration"}] if error else [],
            "deadline": deadline,
            "deadline_text": queries.deadline_text(days),
        },
        status=400 if error else 200,
    )


def _declared(request) -> bool:
    return request.POST.get("declaration") == "confirmed"


def _already(request, la, e: actions.AlreadySubmitted):
    messages.warning(request, str(e.reasons[0]))
    return redirect("la-return-submitted", code=la.code, reference=e.submission.reference)


@require_http_methods(["GET", "HEAD", "POST"])
def submit_generation(request, code, serial: int):
    """/la/<code>/returns/<serial>/submit: check your answers and the declaration (GET), then
    submit the build (POST), once."""
    la = _la(request, code, LA_BUILDERS)
    if not actions.may_submit(request.user, la):
        raise PermissionDenied(f"Only an approver of {la.name} can submit its return")
    generation = get_object_or_404(
        scoped(request.user, ReturnGeneration), la=la, collection=_collection(), serial=serial
    )
    done = scoped(request.user, ReturnSubmission).filter(generation=generation).first()
    if request.method != "POST":
        if done:
            return redirect("la-return-submitted", code=la.code, reference=done.reference)
        return _check_answers(request, la, generation=generation)
    if not _declared(request):
        if done:  # a repeat without the tick is still a repeat
            return _already(request, la, actions.AlreadySubmitted(done))
        return _check_answers(request, la, generation=generation, error=DECLARATION_MISSING)
    try:
        result = actions.do_submit_generation(
            generation, user=request.user, token=request.POST.get("token", "")
        )
    except actions.AlreadySubmitted as e:
        return _already(request, la, e)
    except actions.ReturnRefused as e:
        _refused(request, e)
        return redirect("la-returns", code=la.code)
    return redirect("la-return-submitted", code=la.code, reference=result.submission.reference)


@require_http_methods(["GET", "HEAD", "POST"])
def submit_loaded(request, code):
    """/la/<code>/returns/submit: check your answers and the declaration, then submit the
    school returns loaded from uploaded files, once."""
    la = _la(request, code, LA_BUILDERS)
    if not actions.may_submit(request.user, la):
        raise PermissionDenied(f"Only an approver of {la.name} can submit its return")
    if request.method != "POST":
        return _check_answers(request, la)
    if not _declared(request):
        return _check_answers(request, la, error=DECLARATION_MISSING)
    try:
        submission = actions.do_submit_la(
            la, _collection(), user=request.user, token=request.POST.get("token", "")
        )
    except actions.AlreadySubmitted as e:
        return _already(request, la, e)
    except actions.ReturnRefused as e:
        _refused(request, e)
        return redirect("la-returns", code=la.code)
    return redirect("la-return-submitted", code=la.code, reference=submission.reference)


@require_safe
def submitted(request, code, reference):
    """The confirmation page of a submission, with its reference."""
    la = _la(request, code, RETURN_READERS)
    submission = get_object_or_404(
        scoped(request.user, ReturnSubmission).select_related("generation"),
        la=la,
        collection=_collection(),
        reference=reference,
    )
    return render(
        request,
        "returns/submitted.html",
        {
            "la": la,
            "submission": submission,
            "submitted_when": when(submission.submitted_at),
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
def upload(request, code):
    """Upload return files made by any system: loaded, not yet submitted."""
    la = _la(request, code, LA_BUILDERS)
    post = request.method == "POST"
    form = ReturnUploadForm(request.POST if post else None, request.FILES if post else None)
    reasons: list[str] = []
    if post and form.is_valid():
        files = [(f.name, f.read()) for f in form.cleaned_data["files"]]
        try:
            result = actions.do_upload_returns(la, _collection(), files, user=request.user)
        except actions.ReturnRefused as e:
            reasons = e.reasons
        else:
            replaced = (
                f", {len(result.replaced)} replacing an earlier version"
                if (result.replaced)
                else ""
            )
            messages.success(
                request,
                f"{words.plural(len(result.schools), 'school return')} loaded "
                f"({words.plural(result.pupils, 'pupil')}){replaced}. "
                "Check their errors and queries, then submit.",
            )
            return redirect("la-returns", code=la.code)
    return render(
        request,
        "returns/upload.html",
        {
            "la": la,
            "form": form,
            "error_list": error_list(form),
            "reasons": reasons,
            "max_mb": settings.KEYSTAGE_MAX_UPLOAD_MB,
        },
        status=400 if reasons else 200,
    )


# -- the collector's side -----------------------------------------------------------------------


def _national(request) -> None:
    if _role(request) != Role.NATIONAL_ADMIN:
        raise PermissionDenied("Only national admins can see the national collection")


def _national_rows(request):
    collection = _collection()
    rows = queries.la_rows(las_for(request.user), collection)
    sort = request.GET.get("sort", "code")
    sort = sort if sort in queries.LA_SORTS else "code"
    desc = request.GET.get("dir") == "desc"
    return collection, queries.sort_la_rows(rows, sort, desc), sort, desc


def _state_filter(request) -> str:
    """The LA state the dashboard is filtered to ("" for every LA)."""
    state = request.GET.get("state", "")
    return state if state in queries.LA_STATES else ""


@require_safe
def national(request):
    """/national: the collector's dashboard. Anyone else goes to their own LA's return page (LA
    admins and officers) or home, as /dashboard does."""
    membership = membership_of(request.user)
    role = membership.role if membership else None
    if role in LA_BUILDERS:
        return redirect("la-returns", code=membership.la.code)
    if role != Role.NATIONAL_ADMIN:
        return redirect("home")
    collection, rows, sort, desc = _national_rows(request)
    state = _state_filter(request)
    deadline, days = queries.days_to_deadline(collection)
    sort_links = {
        key: "?"
        + urlencode(
            {"sort": key, "dir": "desc" if sort == key and not desc else "", "state": state}
        )
        for key in queries.LA_SORTS
    }
    totals = {s: sum(r.state == s for r in rows) for s in queries.LA_STATES}
    state_links = {
        s: "?" + urlencode({"sort": sort, "dir": "desc" if desc else "", "state": s})
        for s in ("", *queries.LA_STATES)
    }
    rows = [r for r in rows if not state or r.state == state]
    return render(
        request,
        "returns/national.html",
        {
            "collection": collection,
            "rows": rows,
            "sort": sort,
            "desc": desc,
            "sort_links": sort_links,
            "deadline": deadline,
            "deadline_text": queries.deadline_text(days),
            "totals": totals,
            "states": queries.LA_STATES,
            "state_tags": queries.STATE_TAGS,
            "state": state,
            "state_links": state_links,
            "query": urlencode({"sort": sort, "dir": "desc" if desc else "", "state": state}),
        },
    )


@require_safe
def national_export(request, fmt):
    _national(request)
    if fmt not in exports.FORMATS:
        raise Http404("Choose csv or xlsx")
    collection, rows, _, _ = _national_rows(request)
    state = _state_filter(request)
    rows = [r for r in rows if not state or r.state == state]
    deadline, days = queries.days_to_deadline(collection)
    data = (
        {
            "la": r.code,
            "name": r.name,
            "region": r.region,
            "state": r.state_label,
            "pupils_loaded_in_keystage": r.in_keystage,
            "schools": r.schools,
            "submitted": r.submitted,
            "authorised": r.authorised,
            "pupils": r.pupils,
            "errors": r.errors,
            "queries": r.queries,
            "unexplained_queries": r.unexplained,
            "last_change": localtime(r.updated).strftime("%Y-%m-%d %H:%M") if r.updated else "",
            "deadline": deadline.isoformat(),
            "days_to_deadline": days,
        }
        for r in rows
    )
    return exports.download(fmt, f"national-collection-{collection.code}", NATIONAL_FIELDS, data)


@require_safe
def collected_la(request, code):
    """The school returns the national collection holds for one LA."""
    return _collected_la_page(request, _la(request, code, RETURN_READERS))


def _held_of(request, la):
    held = list(
        scoped(request.user, CollectedReturn)
        .filter(la=la, collection=_collection())
        .select_related("school", "current")
    )
    for cr in held:
        cr.when = when(cr.updated_at)
    return held


def _collected_la_page(request, la, *, error_list_=None):
    held = _held_of(request, la)
    statuses: dict[str, int] = {}
    for cr in held:
        statuses[cr.status] = statuses.get(cr.status, 0) + 1
    state = queries.la_state(statuses)
    return render(
        request,
        "returns/collected_la.html",
        {
            "la": la,
            "held": held,
            "state": state,
            "state_label": queries.LA_STATES[state],
            "state_tag": queries.STATE_TAGS[state],
            "status_tags": STATUS_TAGS,
            "may_authorise": actions.may_authorise(request.user),
            "waiting": sum(cr.status != "authorised" for cr in held),
            "untravelled_rules": queries.untravelled_rules_text(
                definitions.load(_collection().code)
            ),
            "totals": {
                k: sum(getattr(cr, k) for cr in held)
                for k in ("pupils", "errors", "queries", "unexplained")
            },
            "error_list": error_list_ or [],
        },
    )


def _not_authorised(la, plan) -> list[dict]:
    """One error summary for the school returns an LA's authorisation left, each linking to
    the school return."""
    return [
        {
            "text": f"{cr.school.name} ({cr.school.laestab}) was not authorised: {why}",
            "href": url_for(
                "collected-return", kwargs={"code": la.code, "laestab": cr.school.laestab}
            ),
        }
        for cr, why in plan.will_not
    ]


@require_http_methods(["GET", "HEAD", "POST"])
def authorise_la(request, code):
    """/national/la/<code>/authorise: what authorising the LA will and will not authorise,
    with a warning (GET); then authorise the school returns that can be (POST) and list the
    others in one error summary, each linking to its school return."""
    la = _la(request, code, RETURN_READERS)
    if not actions.may_authorise(request.user):
        raise PermissionDenied("Only a national admin can authorise a return")
    if request.method != "POST":
        plan = actions.authorise_plan(_held_of(request, la))
        return render(
            request,
            "returns/authorise_la.html",
            {"la": la, "plan": plan, "status_tags": STATUS_TAGS},
        )
    try:
        plan = actions.do_authorise_la(la, _collection(), user=request.user)
    except actions.ReturnRefused as e:
        _refused(request, e)
        return redirect("collected-la", code=la.code)
    if plan.will:
        messages.success(
            request,
            f"{plural(len(plan.will), 'school return')} of {la.name} authorised.",
        )
    if not plan.will_not:
        return redirect("collected-la", code=la.code)
    return _collected_la_page(request, la, error_list_=_not_authorised(la, plan))


def _collected(request, code, laestab) -> CollectedReturn:
    la = _la(request, code, RETURN_READERS)
    return get_object_or_404(
        scoped(request.user, CollectedReturn).select_related("school", "la", "current"),
        la=la,
        collection=_collection(),
        school__laestab=laestab,
    )


@require_safe
def collected_return(request, code, laestab):
    """One school return as the collector holds it: status, messages, versions and history."""
    return _collected_page(request, _collected(request, code, laestab))


def _collected_page(request, cr: CollectedReturn, form: SendBackForm | None = None, status=200):
    findings = list(queries.findings_of(cr))
    versions = list(cr.versions.all())
    for v in versions:
        v.when = when(v.loaded_at)
    history = list(queries.history_of(cr))
    for h in history:
        h.when = when(h.at)
        h.summary = _summary(h)
    form = form or SendBackForm()
    return render(
        request,
        "returns/collected_return.html",
        {
            "cr": cr,
            "la": cr.la,
            "school": cr.school,
            "findings": findings,
            "versions": versions,
            "history": history,
            "status_tag": STATUS_TAGS[cr.status],
            "may_authorise": actions.may_authorise(request.user),
            "pupil_count": cr.pupils,
            "sent_back_when": when(cr.sent_back_at),
            "send_back_form": form,
            "error_list": error_list(form),
        },
        status=status,
    )


def _summary(event) -> str:
    d = event.detail or {}
    if event.action == "return.loaded":
        status = dict(CollectedReturn.Status.choices).get(d.get("status"), d.get("status", ""))
        return (
            f"Version {d.get('version')} loaded from {d.get('file_name', '')} (serial "
            f"{d.get('serial')}, {d.get('pupils')} pupils): {mid_sentence(status)}"
        )
    if event.action == "return.submitted":
        return (
            f"Submitted with {d.get('errors', 0)} errors and {d.get('unexplained', 0)} "
            "unexplained queries"
        )
    if event.action == "return.authorised":
        return f"Authorised ({d.get('pupils', 0)} pupils)"
    if event.action == "return.sent_back":
        return f"Sent back to the LA: {d.get('reason', '')}"
    return event.action


@require_POST
def authorise_return(request, code, laestab):
    cr = _collected(request, code, laestab)
    try:
        actions.do_authorise_return(cr, user=request.user)
    except actions.ReturnRefused as e:
        _refused(request, e)
    else:
        messages.success(request, f"The return of {cr.school.name} is authorised.")
    return redirect("collected-return", code=cr.la.code, laestab=cr.school.laestab)


@require_POST
def send_back_return(request, code, laestab):
    """The collector sends a submitted or authorised school return back to the LA, saying why."""
    cr = _collected(request, code, laestab)
    form = SendBackForm(request.POST)
    if not form.is_valid():
        if not actions.may_authorise(request.user):
            raise PermissionDenied("Only a national admin can send a return back to the LA")
        return _collected_page(request, cr, form, status=400)
    try:
        actions.do_send_back(cr, reason=form.cleaned_data["reason"], user=request.user)
    except actions.ReturnRefused as e:
        _refused(request, e)
    else:
        messages.success(
            request,
            f"The return of {cr.school.name} is sent back to {cr.la.name}; its officers are "
            "e-mailed the reason.",
        )
    return redirect("collected-return", code=cr.la.code, laestab=cr.school.laestab)
