"""Who a user is in the collection: their role and the LA or school they work for.

A user without a membership can sign in but sees nothing. What each role may see is decided in
one place, `keystage.accounts.scope`.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from keystage.orgs.models import LocalAuthority, School


class Role(models.TextChoices):
    NATIONAL_ADMIN = "national_admin", "National admin"
    LA_ADMIN = "la_admin", "LA admin"
    LA_OFFICER = "la_officer", "LA officer"
    LA_RESTRICTED = "la_restricted", "LA restricted officer"
    SCHOOL_USER = "school_user", "School user"


LA_ROLES = (Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED)
# Roles that must use two-factor sign-in: they can see or manage other people's access.
ADMIN_ROLES = (Role.NATIONAL_ADMIN, Role.LA_ADMIN)


class Membership(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    la = models.ForeignKey(
        LocalAuthority, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships"
    )
    school = models.ForeignKey(
        School, null=True, blank=True, on_delete=models.PROTECT, related_name="memberships"
    )
    # May approve the LA's return for the national collection.
    is_approver = models.BooleanField(default=False)
    # The only schools an LA restricted officer works on (all in their LA).
    schools = models.ManyToManyField(School, blank=True, related_name="restricted_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The database refuses a role without the organisation it needs, whatever wrote it.
            models.CheckConstraint(
                name="membership_org_fits_role",
                condition=(
                    Q(role=Role.NATIONAL_ADMIN, la__isnull=True, school__isnull=True)
                    | Q(role__in=LA_ROLES, la__isnull=False, school__isnull=True)
                    | Q(role=Role.SCHOOL_USER, la__isnull=False, school__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="membership_approver_is_la",
                condition=Q(is_approver=False) | Q(role__in=LA_ROLES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.organisation_name})"

    @property
    def organisation_name(self) -> str:
        if self.role == Role.NATIONAL_ADMIN:
            return "National collection"
        if self.role == Role.SCHOOL_USER and self.school is not None:
            return self.school.name
        return self.la.name if self.la is not None else ""

    @property
    def needs_two_factor(self) -> bool:
        return self.role in ADMIN_ROLES

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.role == Role.NATIONAL_ADMIN:
            if self.la_id or self.school_id:
                errors["la"] = "A national admin belongs to no LA or school"
        elif self.role in LA_ROLES:
            if not self.la_id:
                errors["la"] = "Choose the LA this user works for"
            if self.school_id:
                errors["school"] = "An LA user belongs to an LA, not a school"
        elif self.role == Role.SCHOOL_USER:
            if not self.school_id:
                errors["school"] = "Choose the school this user works for"
            elif not self.la_id:
                self.la_id = self.school.la_id
            elif self.la_id != self.school.la_id:
                errors["la"] = "A school user's LA must be their school's LA"
        if self.is_approver and self.role not in LA_ROLES:
            errors["is_approver"] = "Only LA users can approve the LA's return"
        if errors:
            raise ValidationError(errors)
