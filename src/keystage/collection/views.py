"""The LA dashboard, the Data Errors report and the audit log. Views parse the request, find the
LA among those the user may see (`scope`), check the role, call a query or action, respond.

Another LA's pages answer 404 (whether it exists is not the user's business); a role that may
not see a page of its own LA gets 403."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils.timezone import localtime
from django.views.decorators.http import require_http_methods, require_safe

from keystage.accounts.models import Role
from keystage.accounts.scope import las_for, membership_of, scoped
from keystage.audit.events import in_words
from keystage.audit.models import AuditEvent
from keystage.collection import actions, exports, queries
from keystage.collection.forms import ExpectedCohortForm, SchoolDeadlineForm
from keystage.engine import definition as definitions
from keystage.engine import words
from keystage.engine.words import long_date, long_datetime
from keystage.orgs.models import LocalAuthority, School
from keystage.submissions import cleaning
from keystage.submissions.actions import get_collection
from keystage.submissions.queries import REPORT_FIELDS, data_errors
from keystage.web import readcache
from keystage.web.govuk import error_list
from keystage.web.jinja2 import Row
from keystage.web.links import redirect, reverse
from keystage.web.paging import link, pagination
from keystage.web.readcache import remember

LA_READERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED)
ERROR_READERS = (*LA_READERS, Role.SCHOOL_USER)
LA_ADMINS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN)
COHORT_LOADERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER)

ERRORS_PER_PAGE = 100
# Schools per page of the dashboard's list: the largest LA has hundreds, and a page of them all
# cost about 150 ms of CPU and 250 KB (issue 15). The counts above the list cover every school.
SCHOOLS_PER_PAGE = 50
AUDIT_PER_PAGE = 50
CHASE_FIELDS = ("laestab", "urn", "name", "state", "last_file", "pupils", "errors", "queries",
                "expected_pupils")  # fmt: skip

STATE_TAG_CLASSES = {
    queries.SchoolState.NOT_RECEIVED: "govuk-tag--grey",
    queries.SchoolState.REJECTED: "govuk-tag--pink",
    queries.SchoolState.ERRORS: "govuk-tag--red",
    queries.SchoolState.QUERIES: "govuk-tag--yellow",
    queries.SchoolState.CLEAN: "govuk-tag--green",
    queries.SchoolState.CHECKED: "govuk-tag--turquoise",
}


def _la(request, code: str, roles) -> LocalAuthority:
    """The LA `code` if the user may see it (else 404), after checking the user's role (403)."""
    membership = membership_of(request.user)
    la = get_object_or_404(las_for(request.user), code=code)
    if membership is None or membership.role not in roles:
        raise PermissionDenied("Your role cannot see this page")
    return la


def _role(request) -> str | None:
    membership = membership_of(request.user)
    return membership.role if membership else None


def _collection():
    return get_collection()


def _page(request, items, per_page):
    return Paginator(items, per_page).get_page(request.GET.get("page"))


# -- dashboard --------------------------------------------------------------------------------


@require_safe
def choose_la(request):
    """/dashboard: an LA user goes to their LA's dashboard; a national admin chooses an LA.
    A school user has no LA dashboard and goes to their school's Data Errors report; a user
    without a role goes home, which says so."""
    membership = membership_of(request.user)
    role = membership.role if membership else None
    if role == Role.SCHOOL_USER:
        return redirect("la-errors", code=membership.la.code)
    if role not in LA_READERS:
        return redirect("home")
    las = las_for(request.user)
    if code := request.GET.get("la", "").strip():
        la = get_object_or_404(las, code=code)
        return redirect("la-dashboard", code=la.code)
    if role != Role.NATIONAL_ADMIN:
        return redirect("la-dashboard", code=las.get().code)
    return render(request, "collection/choose_la.html", {"las": list(las)})


def _school_rows(user, la, collection) -> list[queries.SchoolRow]:
    return remember(
        "school_rows", user, la, collection, lambda: queries.school_rows(user, la, collection)
    )


@require_safe
def dashboard(request, code):
    la = _la(request, code, LA_READERS)
    collection = _collection()
    all_rows = _school_rows(request.user, la, collection)
    params = {
        "state": request.GET.get("state", ""),
        "q": request.GET.get("q", "").strip(),
        "sort": request.GET.get("sort", "laestab"),
        "dir": "desc" if request.GET.get("dir") == "desc" else "",
    }
    if params["sort"] not in queries.SORTS:
        params["sort"] = "laestab"
    valid_states = {"", "chase", "shortfall", *queries.SchoolState}
    if params["state"] not in valid_states:
        params["state"] = ""
    rows = queries.filter_and_sort(
        all_rows,
        state=params["state"],
        search=params["q"],
        sort=params["sort"],
        desc=params["dir"] == "desc",
    )
    sort_links = {
        key: link(
            params, sort=key, dir="desc" if params["sort"] == key and not params["dir"] else ""
        )
        for key in queries.SORTS
    }
    role = _role(request)
    page = _page(request, rows, SCHOOLS_PER_PAGE)
    return render(
        request,
        "collection/dashboard.html",
        {
            "la": la,
            "collection": collection,
            "timeline": queries.timeline(request.user, la, collection),
            "counts": queries.counts(all_rows),
            "collection_name": definitions.load(collection.code).name,
            "state_links": {state: link({"state": state}) for state in queries.SchoolState},
            "received_states": queries.RECEIVED_STATES,
            "rows": page.object_list,
            "page": page,
            "matching": len(rows),
            "pagination": pagination(page, params, anchor="schools"),
            "params": params,
            "sort_links": sort_links,
            "state_labels": queries.STATE_LABELS,
            "state_tags": STATE_TAG_CLASSES,
            "shortfall_percent": round(queries.shortfall_share() * 100),
            "may_set_deadline": role in LA_ADMINS,
            "may_load_cohorts": role in COHORT_LOADERS,
            "may_see_audit": role in LA_ADMINS,
            "chase_query": link({k: v for k, v in params.items() if k in ("q",)}),
        },
    )


def _chase_row(r: queries.SchoolRow) -> dict:
    return {
        "laestab": r.laestab,
        "urn": r.urn,
        "name": r.name,
        "state": r.state_label,
        "last_file": r.last_upload.strftime("%Y-%m-%d %H:%M") if r.last_upload else "",
        "pupils": r.pupils,
        "errors": r.errors,
        "queries": r.queries,
        "expected_pupils": "" if r.expected_pupils is None else r.expected_pupils,
    }


@require_safe
def chase_list(request, code, fmt):
    """Schools not received (nothing sent, or every file rejected) or with errors, to chase:
    CSV or Excel."""
    la = _la(request, code, LA_READERS)
    if fmt not in exports.FORMATS:
        raise Http404("Choose csv or xlsx")
    rows = queries.filter_and_sort(
        _school_rows(request.user, la, _collection()),
        state="chase",
        search=request.GET.get("q", ""),
    )
    return exports.download(fmt, f"chase-list-{la.code}", CHASE_FIELDS, map(_chase_row, rows))


@require_http_methods(["GET", "HEAD", "POST"])
def school_deadline(request, code):
    la = _la(request, code, LA_ADMINS)
    collection = _collection()
    timeline = queries.timeline(request.user, la, collection)
    initial = {}
    if timeline.school_deadline_is_own:
        d = timeline.school_deadline
        initial = {"day": d.day, "month": d.month, "year": d.year}
    form = SchoolDeadlineForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        opens=timeline.opens,
        national=timeline.national_deadline,
    )
    if request.method == "POST" and form.is_valid():
        deadline = form.cleaned_data["school_deadline"]
        actions.do_set_school_deadline(la, collection, deadline, user=request.user)
        messages.success(
            request,
            f"Schools' deadline set to {deadline:%-d %B %Y}"
            if deadline
            else "Schools' deadline set back to the suggested date",
        )
        return redirect("la-dashboard", code=la.code)
    errors = error_list(form)
    for item in errors:
        item["href"] = "#school-deadline-day"
    values = form.data if form.is_bound else initial
    return render(
        request,
        "collection/school_deadline.html",
        {"la": la, "timeline": timeline, "form": form, "error_list": errors, "values": values},
    )


@require_http_methods(["GET", "HEAD", "POST"])
def expected_cohorts(request, code):
    la = _la(request, code, COHORT_LOADERS)
    collection = _collection()
    schools = list(scoped(request.user, School).filter(la=la))
    form = ExpectedCohortForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
        schools=schools,
        la_name=la.name,
    )
    if request.method == "POST" and form.is_valid():
        n = actions.do_store_expected_cohorts(
            la,
            collection,
            form.cleaned_data["file"],
            user=request.user,
            file_name=request.FILES["file"].name,
        )
        messages.success(request, f"Expected pupils stored for {words.plural(n, 'school')}")
        return redirect("la-dashboard", code=la.code)
    return render(
        request,
        "collection/expected_cohorts.html",
        {"la": la, "form": form, "error_list": error_list(form)},
    )


# -- Data Errors report -----------------------------------------------------------------------


def _pupil_key(row: dict) -> tuple[str, str]:
    # Rows about a school or its file (no UPN) count together as one "pupil" of that school.
    return row["laestab"], row["upn"]


def _errors_rows(user, collection, la, params) -> tuple[list, list, Counter]:
    """(every row of the report for the school chosen, the rows the filters keep, the rows per
    (rule, severity, who corrects) before the rule filter)."""
    all_rows = list(
        data_errors(collection, la=la.code, school=params["school"] or None, for_user=user)
    )
    with_errors = {_pupil_key(r) for r in all_rows if r["severity"] == "error"}
    with_queries = {_pupil_key(r) for r in all_rows if r["severity"] == "query"}
    rows = all_rows
    if params["pupils"] == "errors":
        rows = [r for r in rows if _pupil_key(r) in with_errors]
    elif params["pupils"] == "queries":
        rows = [r for r in rows if _pupil_key(r) in with_queries]
    if params["severity"]:
        rows = [r for r in rows if r["severity"] == params["severity"]]
    rule_counts = Counter((r["rule"], r["severity"], r["who_corrects"]) for r in rows)
    if params["rule"]:
        rows = [r for r in rows if r["rule"] == params["rule"]]
    return all_rows, rows, rule_counts


@require_safe
def errors_report(request, code):
    la = _la(request, code, ERROR_READERS)
    collection = _collection()
    params = {
        "school": request.GET.get("school", "").strip(),
        "rule": request.GET.get("rule", "").strip(),
        "severity": request.GET.get("severity", ""),
        "pupils": request.GET.get("pupils", ""),
    }
    if params["severity"] not in ("", "error", "query"):
        params["severity"] = ""
    if params["pupils"] not in ("", "errors", "queries"):
        params["pupils"] = ""
    fmt = request.GET.get("format", "")
    if fmt and fmt not in exports.FORMATS:
        raise Http404("Choose csv or xlsx")
    user = request.user
    schools = readcache.schools(user, la, collection)
    school = next((s for s in schools if s.laestab == params["school"]), None)
    if params["school"] and school is None:
        params["school"] = ""
    # Kept until the LA's data changes, shared with other requests (web/readcache.py): read,
    # never changed.
    all_rows, rows, rule_counts = remember(
        "data_errors", user, la, collection,
        lambda: _errors_rows(user, collection, la, params),
        *params.values(),
    )  # fmt: skip

    actions.do_record_view(
        "view.data_errors" if not fmt else "export.data_errors",
        user=request.user,
        la=la,
        school=school,
        collection=collection.code,
        filters={k: v for k, v in params.items() if v},
        rows=len(rows),
        **({"format": fmt} if fmt else {"page": request.GET.get("page", "1")}),
    )
    if fmt:
        stem = f"data-errors-{la.code}" + (f"-{school.laestab}" if school else "")
        return exports.download(fmt, stem, REPORT_FIELDS, rows)

    page = _page(request, rows, ERRORS_PER_PAGE)
    names = {s.laestab: s.name for s in schools}
    groups: dict[str, list] = defaultdict(list)  # laestab -> [(pupil label, [rows])]
    shown = [Row(r, _field_label=cleaning.field_label(collection, r["field"]))
             for r in page.object_list]  # fmt: skip
    for r in shown:
        pupils = groups[r["laestab"]]
        label = f"{r['surname']}, {r['forename']} ({r['upn']})" if r["upn"] else "School and file"
        if not pupils or pupils[-1][0] != label:
            pupils.append((label, []))
        pupils[-1][1].append(r)
    rules = sorted({r["rule"] for r in all_rows} | ({params["rule"]} - {""}))
    return render(
        request,
        "collection/errors.html",
        {
            "la": la,
            "params": params,
            "schools": schools,
            "rules": rules,
            "rule_titles": {r: cleaning.rule_title(r) for r in rules},
            "rule_counts": [
                {
                    "rule": rule,
                    "title": cleaning.rule_title(rule),
                    "severity": severity,
                    "who": who,
                    "rows": n,
                }
                for (rule, severity, who), n in sorted(rule_counts.items())
            ],
            "who_hint": cleaning.WHO_CORRECTS_HINT,
            "total": len(rows),
            "groups": [
                {"laestab": k, "name": names.get(k) or _school_name(v), "pupils": v}
                for k, v in groups.items()
            ],
            "pagination": pagination(page, params),
            "page": page,
            "export_csv": link(params, format="csv"),
            "export_xlsx": link(params, format="xlsx"),
            "may_see_dashboard": _role(request) in LA_READERS,
        },
    )


def _school_name(pupils) -> str:
    """A school's name from its report rows (a school outside the register list shown)."""
    for _, rows in pupils:
        for r in rows:
            if r.get("_school"):
                return r["_school"]
    return ""


# -- audit log --------------------------------------------------------------------------------


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _detail_value(v) -> str:
    if isinstance(v, str) and _ISO_DATE.match(v):
        try:
            return long_date(dt.date.fromisoformat(v))
        except ValueError:
            return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _detail_text(detail: dict) -> str:
    """An event's detail for people: dates in words, roles by name, empty values left out."""
    if not isinstance(detail, dict):
        return str(detail)
    roles = dict(Role.choices)
    parts = []
    for k, v in sorted(detail.items()):
        if v in ("", None, [], {}):
            continue
        if k == "role" and v in roles:
            v = roles[v]
        if isinstance(v, dict):
            v = ", ".join(f"{a}={_detail_value(b)}" for a, b in sorted(v.items())) or "none"
        parts.append(f"{k.replace('_', ' ')}: {_detail_value(v)}")
    return "; ".join(parts)


AUDIT_FIELDS = ("when", "who", "event", "event_name", "laestab", "school", "detail")


def _audit_row(e) -> dict:
    return {
        "when": long_datetime(localtime(e.at)),
        "who": e.actor,
        "event": in_words(e.action),
        "event_name": e.action,
        "laestab": e.school.laestab if e.school else "",
        "school": e.school.name if e.school else "",
        "detail": _detail_text(e.detail),
    }


@require_safe
def audit_log(request, code):
    """The LA's audit log, newest first, events in words; filtered by event and paged, or
    (`format=csv` or `xlsx`) every event the filter keeps as a download."""
    la = _la(request, code, LA_ADMINS)
    events = scoped(request.user, AuditEvent).filter(la=la)
    action_names = sorted(
        set(events.values_list("action", flat=True).distinct()), key=lambda a: in_words(a)
    )
    params = {"action": request.GET.get("action", "")}
    if params["action"] not in action_names:
        params["action"] = ""
    if params["action"]:
        events = events.filter(action=params["action"])
    events = events.select_related("school").order_by("-at", "-id")
    fmt = request.GET.get("format", "")
    if fmt:
        if fmt not in exports.FORMATS:
            raise Http404("Choose csv or xlsx")
        return exports.download(
            fmt, f"audit-log-{la.code}", AUDIT_FIELDS, map(_audit_row, events.iterator())
        )
    page = _page(request, events, AUDIT_PER_PAGE)
    return render(
        request,
        "collection/audit.html",
        {
            "la": la,
            "params": params,
            "actions": [(name, in_words(name)) for name in action_names],
            "events": [_audit_row(e) for e in page.object_list],
            "page": page,
            "pagination": pagination(page, params),
            "export_csv": link(params, format="csv"),
            "export_xlsx": link(params, format="xlsx"),
            "dashboard_url": reverse("la-dashboard", kwargs={"code": la.code}),
        },
    )
