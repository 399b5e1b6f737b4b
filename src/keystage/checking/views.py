"""Pages of the school check loop. Views parse the request, find the LA or school among those
the user may see (`scope`: another tenant's answers 404), check the role (403), call a query or
an action, respond.

- LA side: `/la/<code>/checking` (each school's check state; release reports to some or all
  schools; remind those that have not confirmed), `/la/<code>/checking/<laestab>` (one school: confirmations and the query thread,
  with the LA's answer), `/la/<code>/school-sees` (what the LA's schools may see).
- School side: `/schools/<laestab>/check` ("Check your data": the released pupil list and
  school summary, on screen and as PDF), with the confirmation and query forms. LA users see
  the same page as a preview; only the school's own users confirm or query."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_safe

from keystage.accounts.models import Role
from keystage.accounts.scope import las_for, membership_of, schools_for, scoped
from keystage.checking import actions, filters, queries
from keystage.checking.forms import (
    ConfirmForm,
    QueryForm,
    ReleaseForm,
    RemindForm,
    SchoolSeesForm,
)
from keystage.checking.pdf import render_pdf
from keystage.collection import actions as collection_actions
from keystage.collection import queries as collection_queries
from keystage.collection.visibility import SchoolSees, school_may_see, school_sees
from keystage.engine.words import long_datetime, plural
from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.actions import get_collection
from keystage.web.govuk import error_list
from keystage.web.links import redirect, reverse
from keystage.web.paging import link, pagination

LA_READERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED)
LA_CHECKERS = actions.LA_CHECKERS
SETTERS = (Role.LA_ADMIN, Role.LA_OFFICER)


def _collection():
    return get_collection()


def _role(request) -> str | None:
    membership = membership_of(request.user)
    return membership.role if membership else None


def _la(request, code: str, roles) -> LocalAuthority:
    la = get_object_or_404(las_for(request.user), code=code)
    if _role(request) not in roles:
        raise PermissionDenied("Your role cannot see this page")
    return la


def _school(request, laestab: str, *, la: LocalAuthority | None = None) -> School:
    schools = schools_for(request.user)
    if la is not None:
        schools = schools.filter(la=la)
    return get_object_or_404(schools.select_related("la"), laestab=laestab)


# -- LA side ----------------------------------------------------------------------------------


PER_PAGE = 50


def _checking_rows(request, la, collection):
    """Every school of the LA the user may see, with its check, and those with data to
    release."""
    rows = collection_queries.school_rows(request.user, la, collection)
    mine = scoped(request.user, School).filter(la=la)
    releasable = {s.laestab: s for s in actions.schools_with_data(collection, mine)}
    return rows, releasable


def _checking_page(request, la, collection, rows, releasable, chosen, form):
    """The schools' checks page: the filter, the actions on the schools it keeps (at the top),
    and one page of the schools."""
    role = _role(request)
    shown = filters.apply(rows, chosen)
    page = Paginator(shown, PER_PAGE).get_page(request.GET.get("page"))
    counts = filters.counts(rows)
    in_filter = [r for r in shown if r.laestab in releasable]
    picked = set(form.data.getlist("schools")) if form.is_bound else set()
    return render(
        request,
        "checking/la_checking.html",
        {
            "la": la,
            "collection": collection,
            "params": chosen,
            "filtered": bool(chosen["state"] or chosen["q"]),
            "filter": filters.BY_VALUE[chosen["state"]],
            "filter_items": [
                {"value": f.value, "text": f"{f.label} ({counts[f.value]})"}
                for f in filters.FILTERS
            ],
            "total": len(rows),
            "shown": len(shown),
            "page": page,
            "pagination": _here(pagination(page, chosen), la),
            "releasable": set(releasable),
            "releasable_in_filter": len(in_filter),
            "picked": picked,
            "may_release": role in LA_CHECKERS,
            "may_set_school_sees": role in SETTERS,
            "to_remind": actions.schools_to_remind(request.user, collection)
            if role in LA_CHECKERS
            else [],
            "school_sees": dict(SchoolSees.choices)[school_sees(collection, la)],
            "form": form,
            "error_list": error_list(form),
        },
    )


def _here(links: dict | None, la) -> dict | None:
    """Pagination links to the checks page itself, also when a release form is shown again
    with its errors at the release address."""
    if links is None:
        return None
    base = reverse("la-checking", kwargs={"code": la.code})
    for item in [links.get("previous"), links.get("next"), *links["items"]]:
        if item and "href" in item:
            item["href"] = base + item["href"]
    return links


def _checks_url(la, chosen: dict) -> str:
    """The schools' checks page with the filter the user had."""
    url = reverse("la-checking", kwargs={"code": la.code})
    return url + link(chosen) if any(chosen.values()) else url


@require_safe
def la_checking(request, code):
    la = _la(request, code, LA_READERS)
    collection = _collection()
    rows, releasable = _checking_rows(request, la, collection)
    form = ReleaseForm(schools=releasable.values())
    return _checking_page(request, la, collection, rows, releasable, filters.params(request.GET),
                          form)  # fmt: skip


@require_http_methods(["POST"])
def la_checking_release(request, code):
    """Release checking reports to the schools ticked on the page, or to every school with data
    that the page's filter keeps: first a confirmation page (how many schools, which), then,
    once confirmed, the release of exactly the schools the confirmation page named."""
    la = _la(request, code, LA_READERS)
    if _role(request) not in LA_CHECKERS:
        raise PermissionDenied("Your role cannot release checking reports")
    collection = _collection()
    rows, releasable = _checking_rows(request, la, collection)
    chosen = filters.params(request.POST)
    form = ReleaseForm(request.POST, schools=releasable.values())
    form.is_valid()
    if form.has_error("schools") or form.has_error("release"):
        return _checking_page(request, la, collection, rows, releasable, chosen, form)
    data = form.cleaned_data
    if data["release"] == "filter":
        targets = [releasable[r.laestab] for r in filters.apply(rows, chosen)
                   if r.laestab in releasable]  # fmt: skip
        if not targets:
            form.add_error("schools", "No school this filter shows has data to release yet")
            return _checking_page(request, la, collection, rows, releasable, chosen, form)
    else:
        targets = [releasable[laestab] for laestab in sorted(set(data["schools"]))]
    if request.POST.get("confirm") == "yes" and form.is_valid():
        check_filter = filters.BY_VALUE[chosen["state"]]
        how = ("schools ticked" if request.POST.get("from") != "filter"
               else f"every school with data in the filter: {check_filter.label}"
               + (f", matching “{chosen['q']}”" if chosen["q"] else ""))  # fmt: skip
        released = actions.do_release(request.user, collection, targets, note=data["note"],
                                      chosen_by=how)  # fmt: skip
        names = ", ".join(r.school.name for r in released[:3])
        more = f" and {len(released) - 3} more" if len(released) > 3 else ""
        messages.success(
            request,
            f"Checking reports released to {plural(len(released), 'school')}: {names}{more}. "
            "Their users have been e-mailed.",
        )
        return redirect(_checks_url(la, chosen))
    statuses = {r.laestab: r.check for r in rows}
    again = [s for s in targets if s.laestab in statuses and statuses[s.laestab].release]
    return render(
        request,
        "checking/release_confirm.html",
        {
            "la": la,
            "collection": collection,
            "schools": targets,
            "again": again,
            "params": chosen,
            "filter": filters.BY_VALUE[chosen["state"]] if data["release"] == "filter" else None,
            "form": form,
            "error_list": error_list(form) if "confirm" in request.POST else [],
            "note": data.get("note", request.POST.get("note", "")),
            "back": _checks_url(la, chosen),
        },
    )


@require_http_methods(["POST"])
def la_checking_remind(request, code):
    """Remind every school that has not confirmed its released data (or whose data changed
    since it confirmed), by e-mail to its users."""
    la = _la(request, code, LA_READERS)
    if _role(request) not in LA_CHECKERS:
        raise PermissionDenied("Your role cannot remind schools")
    form = RemindForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("la-checking", code=la.code)
    reminded = actions.do_remind(request.user, _collection(), note=form.cleaned_data["note"])
    if reminded:
        names = ", ".join(s.name for s in reminded[:3])
        more = f" and {len(reminded) - 3} more" if len(reminded) > 3 else ""
        messages.success(
            request,
            f"Reminder sent to {len(reminded)} school{'s' if len(reminded) != 1 else ''}: "
            f"{names}{more}.",
        )
    else:
        messages.info(request, "Every school you released reports to has confirmed or queried")
    return redirect("la-checking", code=la.code)


@require_http_methods(["GET", "HEAD", "POST"])
def la_checking_school(request, code, laestab):
    la = _la(request, code, LA_READERS)
    school = _school(request, laestab, la=la)
    collection = _collection()
    pupils = queries.pupils(collection, school)
    form = QueryForm(request.POST if request.method == "POST" else None, pupils=pupils)
    may_answer = _role(request) in LA_CHECKERS
    if request.method == "POST":
        if not may_answer:
            raise PermissionDenied("Your role cannot answer queries")
        if form.is_valid():
            try:
                actions.do_reply(request.user, collection, school,
                                 body=form.cleaned_data["body"], upns=form.cleaned_data["upns"])  # fmt: skip
            except ValidationError as e:
                form.add_error("body", e)
            else:
                messages.success(request, f"Your message has been sent to {school.name}")
                return redirect("la-checking-school", code=la.code, laestab=school.laestab)
    status = queries.check_statuses(request.user, collection, [school])[school.pk]
    return render(
        request,
        "checking/la_checking_school.html",
        {
            "la": la,
            "school": school,
            "collection": collection,
            "status": status,
            "when": queries.when,
            "thread": queries.thread(request.user, collection, school),
            "confirmations": queries.confirmations(request.user, collection, school),
            "may_answer": may_answer,
            "may_release": may_answer and bool(pupils),
            "form": form,
            "error_list": error_list(form),
            "values": form.data if form.is_bound else {},
            "pupil_choices": form.fields["upns"].choices,
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
def la_school_sees(request, code):
    la = _la(request, code, LA_READERS)
    collection = _collection()
    may_set = _role(request) in SETTERS
    current = school_sees(collection, la)
    form = SchoolSeesForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not may_set:
            raise PermissionDenied("Your role cannot change what schools may see")
        if form.is_valid():
            value = form.cleaned_data["school_sees"]
            collection_actions.do_set_school_sees(la, collection, value, user=request.user)
            messages.success(
                request, f"Schools in {la.name} may now see: {dict(SchoolSees.choices)[value]}"
            )
            return redirect("la-checking", code=la.code)
    return render(
        request,
        "checking/school_sees.html",
        {
            "la": la,
            "collection": collection,
            "form": form,
            "may_set": may_set,
            "value": form.data.get("school_sees", current) if form.is_bound else current,
            "choices": SchoolSees.choices,
            "error_list": error_list(form),
        },
    )


# -- school side ------------------------------------------------------------------------------


def _report(request, laestab: str) -> dict:
    """What the checking report shows, after checking the user may see it. A school user sees
    nothing before the LA releases the reports (`released` false); LA users always see it, as
    a preview."""
    school = _school(request, laestab)
    collection = _collection()
    role = _role(request)
    status = queries.check_statuses(request.user, collection, [school])[school.pk]
    released = status.release is not None
    context = {
        "school": school,
        "la": school.la,
        "collection": collection,
        "status": status,
        "released": released,
        "when": queries.when,
        "is_school": role == Role.SCHOOL_USER,
        "may_respond": role == Role.SCHOOL_USER and released,
        "preview": role != Role.SCHOOL_USER,
    }
    if role == Role.SCHOOL_USER and not released:
        return context
    comparisons = school_may_see(collection, school.la, SchoolSees.COMPARISONS)
    context.update(
        pupils=queries.pupils(collection, school),
        summary=queries.summary(collection, school, comparisons=comparisons),
        subject_keys=list(_subject_keys(collection)),
        thread=queries.thread(request.user, collection, school),
        generated_at=long_datetime(timezone.localtime()),
    )
    return context


def _subject_keys(collection):
    from keystage.engine import definition as definitions

    return definitions.load(collection.code).subject_keys


@require_safe
def school_check(request, laestab):
    context = _report(request, laestab)
    if "pupils" in context:
        collection_actions.do_record_view(
            "view.checking_report", user=request.user, la=context["la"],
            school=context["school"], collection=context["collection"].code,
        )  # fmt: skip
    return render(request, "checking/school_check.html", context)


@require_safe
def school_check_pdf(request, laestab):
    context = _report(request, laestab)
    if "pupils" not in context:
        raise PermissionDenied("The checking reports for your school have not been released yet")
    school = context["school"]
    collection_actions.do_record_view(
        "export.checking_report", user=request.user, la=context["la"], school=school,
        collection=context["collection"].code, format="pdf",
    )  # fmt: skip
    html = render_to_string("checking/report_pdf.html", context, request=request)
    response = HttpResponse(render_pdf(html), content_type="application/pdf")
    name = f"checking-report-{school.laestab}-{slugify(school.name)}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _school_form_page(request, laestab):
    """The school and collection for a school user's form, or PermissionDenied."""
    school = _school(request, laestab)
    if _role(request) != Role.SCHOOL_USER:
        raise PermissionDenied("Only the school's own users confirm their data or send queries")
    collection = _collection()
    if actions.current_release(collection, school) is None:
        raise PermissionDenied("The checking reports for your school have not been released yet")
    return school, collection


@require_http_methods(["GET", "HEAD", "POST"])
def school_check_confirm(request, laestab):
    school, collection = _school_form_page(request, laestab)
    form = ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.do_confirm(request.user, collection, school, name=data["name"],
                               job_title=data["job_title"])  # fmt: skip
        except ValidationError as e:
            form.add_error(None, e)
        else:
            messages.success(
                request,
                f"Thank you. You confirmed the data of {school.name} is correct; "
                f"{school.la.name} has been told.",
            )
            return redirect("school-check", laestab=school.laestab)
    return render(
        request,
        "checking/confirm.html",
        {"school": school, "collection": collection, "form": form,
         "error_list": error_list(form), "values": form.data if form.is_bound else {}},
    )  # fmt: skip


@require_http_methods(["GET", "HEAD", "POST"])
def school_check_query(request, laestab):
    school, collection = _school_form_page(request, laestab)
    pupils = queries.pupils(collection, school)
    form = QueryForm(request.POST if request.method == "POST" else None, pupils=pupils)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_send_query(request.user, collection, school,
                                  body=form.cleaned_data["body"], upns=form.cleaned_data["upns"])  # fmt: skip
        except ValidationError as e:
            form.add_error("body", e)
        else:
            messages.success(request, f"Your query has been sent to {school.la.name}")
            return redirect("school-check", laestab=school.laestab)
    return render(
        request,
        "checking/query.html",
        {"school": school, "collection": collection, "form": form,
         "error_list": error_list(form), "values": form.data if form.is_bound else {},
         "pupil_choices": form.fields["upns"].choices},
    )  # fmt: skip
