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

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_safe

from keystage.accounts.models import Role
from keystage.accounts.scope import las_for, membership_of, schools_for, scoped
from keystage.checking import actions, queries
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
from keystage.engine import words
from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.actions import get_collection
from keystage.web.govuk import error_list

LA_READERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED)
LA_CHECKERS = actions.LA_CHECKERS
SETTERS = (Role.LA_ADMIN, Role.LA_OFFICER)


def _collection():
    return get_collection(settings.KEYSTAGE_COLLECTION)


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


@require_http_methods(["GET", "HEAD", "POST"])
def la_checking(request, code):
    la = _la(request, code, LA_READERS)
    collection = _collection()
    role = _role(request)
    rows = collection_queries.school_rows(request.user, la, collection)
    statuses = queries.check_statuses(request.user, collection, [r.school_id for r in rows])
    mine = scoped(request.user, School).filter(la=la)
    releasable = actions.schools_with_data(collection, mine)
    may_release = role in LA_CHECKERS
    form = ReleaseForm(request.POST if request.method == "POST" else None, schools=releasable)
    if request.method == "POST":
        if not may_release:
            raise PermissionDenied("Your role cannot release checking reports")
        if form.is_valid():
            data = form.cleaned_data
            chosen = None
            if data["release"] == "selected":
                chosen = [s for s in releasable if s.laestab in data["schools"]]
            released = actions.do_release(request.user, collection, chosen, note=data["note"])
            if released:
                names = ", ".join(r.school.name for r in released[:3])
                more = f" and {len(released) - 3} more" if len(released) > 3 else ""
                messages.success(
                    request,
                    f"Checking reports released to {len(released)} "
                    f"school{'s' if len(released) != 1 else ''}: {names}{more}. "
                    "Their users have been e-mailed.",
                )
            else:
                messages.info(request, "No school has data to release yet")
            return redirect("la-checking", code=la.code)
    return render(
        request,
        "checking/la_checking.html",
        {
            "la": la,
            "collection": collection,
            "rows": [(r, statuses[r.school_id]) for r in rows],
            "releasable": {s.laestab for s in releasable},
            "may_release": may_release,
            "may_set_school_sees": role in SETTERS,
            "to_remind": actions.schools_to_remind(request.user, collection) if may_release else [],
            "school_sees": dict(SchoolSees.choices)[school_sees(collection, la)],
            "form": form,
            "error_list": error_list(form),
            "values": form.data if form.is_bound else {},
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
        generated_at=words.long_datetime(timezone.localtime()),
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
