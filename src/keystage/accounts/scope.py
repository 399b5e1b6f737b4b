"""The one place that decides which LA- and school-owned rows a user may see.

Views, reports and exports never filter by LA or school by hand: they call `scoped(user, ...)`,
`las_for(user)` or `schools_for(user)`. A model that belongs to an LA or a school is listed in
`OWNED_BY` with the fields that say which; asking about a model not listed is an error, so a new
model cannot be shown unscoped by accident.

- anonymous users, inactive users and users without a membership see nothing;
- a national admin sees everything;
- an LA admin or LA officer sees their LA's rows;
- an LA restricted officer sees only the rows of the schools assigned to them (in their LA);
- a school user sees only their school's rows (and their LA's own record).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Model, Q, QuerySet

from keystage.accounts.models import LaSignInPolicy, Membership, Role
from keystage.audit.models import AuditEvent
from keystage.checking.models import Confirmation, Message, Release
from keystage.collection.models import ExpectedCohort, LaCollectionSettings
from keystage.orgs.models import ExpectedSchool, LocalAuthority, School
from keystage.reports.models import Fact, FactsDue, ReportPack
from keystage.returns.models import (
    CollectedFinding,
    CollectedPupil,
    CollectedReturn,
    CollectedReturnVersion,
    ReturnGeneration,
    ReturnSubmission,
)
from keystage.submissions.models import Finding, ImportBatch, PupilChange, PupilRecord, Upload


@dataclass(frozen=True)
class Owner:
    """How a model's rows name their LA and school (lookups relative to the model)."""

    la: str
    school: str | None  # None: the model is not owned by a school (an LA itself)
    # Rows of the model that belong to no LA and every member may see (region and England
    # figures); None: there are none.
    shared: Q | None = None


OWNED_BY: dict[type[Model], Owner] = {
    LocalAuthority: Owner(la="pk", school=None),
    School: Owner(la="la", school="pk"),
    # Which collections a school is expected to submit (from the schools register).
    ExpectedSchool: Owner(la="school__la", school="school"),
    Upload: Owner(la="la", school="school"),
    PupilRecord: Owner(la="la", school="school"),
    Finding: Owner(la="la", school="school"),
    PupilChange: Owner(la="la", school="school"),
    AuditEvent: Owner(la="la", school="school"),
    Membership: Owner(la="la", school="school"),
    # How the LA's users sign in (two-factor for everyone or admins only).
    LaSignInPolicy: Owner(la="la", school=None),
    # The LA's own collection settings (its deadline for schools), and expected pupils.
    LaCollectionSettings: Owner(la="la", school=None),
    ExpectedCohort: Owner(la="la", school="school"),
    # An LA user's batch has no school (it may hold any of the LA's schools' files), so only
    # the LA's admins and officers see it; a school user's batch names the school.
    ImportBatch: Owner(la="la", school="school"),
    # Fact tables: school and LA rows belong to the LA (and school); region and England rows
    # are sums over many LAs and every member sees them as comparators. Figures shown outside
    # the owning LA get disclosure control (keystage.reports.disclosure) on the report pages.
    Fact: Owner(la="la", school="school", shared=Q(level__in=("region", "national"))),
    # PDFs of an LA's reports (every school's figures); the report views also require an LA
    # admin's or officer's role.
    ReportPack: Owner(la="la", school=None),
    # Schools whose facts wait for a recount (read by the task worker, shown on no page).
    FactsDue: Owner(la="school__la", school="school"),
    # The statutory return: an LA's builds, and what the national collection holds for it.
    ReturnGeneration: Owner(la="la", school=None),
    ReturnSubmission: Owner(la="la", school=None),
    CollectedReturn: Owner(la="la", school="school"),
    CollectedReturnVersion: Owner(la="la", school="school"),
    CollectedPupil: Owner(la="la", school="school"),
    CollectedFinding: Owner(la="la", school="school"),
    # The school check loop: releases of checking reports, confirmations and query threads.
    Release: Owner(la="la", school="school"),
    Confirmation: Owner(la="la", school="school"),
    Message: Owner(la="la", school="school"),
}


def membership_of(user) -> Membership | None:
    """The user's membership, or None for anonymous, inactive or role-less users."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    try:
        return user.membership
    except Membership.DoesNotExist:
        return None


def scope_key(user) -> str:
    """A name for what `user` may see, the same for everyone who sees the same rows: the
    national admins; an LA's admins and officers; else the one membership (a restricted
    officer's schools, a school user's school). Part of the pages' cache keys."""
    m = membership_of(user)
    if m is None:
        return "none"
    if m.role == Role.NATIONAL_ADMIN:
        return "national"
    if m.role in (Role.LA_ADMIN, Role.LA_OFFICER):
        return f"la{m.la_id}"
    return f"m{m.pk}"


def _restricted_school_ids(membership: Membership) -> QuerySet:
    # Assigned schools outside the officer's LA never count, whoever assigned them.
    return School.objects.filter(restricted_memberships=membership, la_id=membership.la_id).values(
        "pk"
    )


def _condition(membership: Membership | None, owner: Owner) -> Q | None:
    """The filter for this membership, Q() for everything, or None for nothing."""
    if membership is None:
        return None
    role = membership.role
    if role == Role.NATIONAL_ADMIN:
        return Q()
    if role in (Role.LA_ADMIN, Role.LA_OFFICER):
        return Q(**{owner.la: membership.la_id})
    if role == Role.LA_RESTRICTED:
        if owner.school is None:
            return Q(**{owner.la: membership.la_id})
        return Q(**{owner.la: membership.la_id}) & Q(
            **{f"{owner.school}__in": _restricted_school_ids(membership)}
        )
    if role == Role.SCHOOL_USER:
        if owner.school is None:
            return Q(**{owner.la: membership.la_id})
        return Q(**{owner.la: membership.la_id, owner.school: membership.school_id})
    return None  # an unknown role sees nothing


def scoped(user, queryset: QuerySet | type[Model]) -> QuerySet:
    """`queryset` (or the model's rows) narrowed to what `user` may see."""
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    model = queryset.model
    owner = OWNED_BY.get(model)
    if owner is None:
        raise LookupError(
            f"{model.__name__} has no scope rule: add it to OWNED_BY in keystage.accounts.scope"
        )
    condition = _condition(membership_of(user), owner)
    if condition is None:
        return queryset.none()
    if owner.shared is not None and condition:  # Q() (everything) | shared would narrow it
        condition = condition | owner.shared
    return queryset.filter(condition)


def las_for(user) -> QuerySet:
    """The local authorities the user works in (every LA for a national admin)."""
    return scoped(user, LocalAuthority)


def schools_for(user) -> QuerySet:
    """The schools whose data the user may see."""
    return scoped(user, School)
