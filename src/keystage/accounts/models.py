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
    # Signed in with a password someone else chose (an invitation or an admin's reset): every
    # page sends the user to make their own until they have.
    must_change_password = models.BooleanField(default=False)
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
        """Admins always; other users when their LA asks it of them (`LaSignInPolicy`)."""
        if self.role in ADMIN_ROLES:
            return True
        if self.la_id is None:
            return False
        if not hasattr(self, "_two_factor_for"):  # asked on every page: once per request
            self._two_factor_for = (
                LaSignInPolicy.objects.filter(la_id=self.la_id)
                .values_list("two_factor_for", flat=True)
                .first()
            )
        return two_factor_covers(self._two_factor_for, self.role)

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


class TwoFactorFor(models.TextChoices):
    ADMINS = "admins", "LA admins only"
    LA_STAFF = "la_staff", "Everyone at the LA"
    EVERYONE = "everyone", "Everyone at the LA and its schools"


def two_factor_covers(two_factor_for: str | None, role: str) -> bool:
    """Whether an LA's choice asks users of this role for a code (admins are always asked)."""
    if role in ADMIN_ROLES:
        return True
    if two_factor_for == TwoFactorFor.EVERYONE:
        return role in (*LA_ROLES, Role.SCHOOL_USER)
    if two_factor_for == TwoFactorFor.LA_STAFF:
        return role in LA_ROLES
    return False


class LaSignInPolicy(models.Model):
    """How an LA's users sign in, as its LA admin (or a national admin) chose. An LA without a
    row asks only its admins for a two-factor code."""

    la = models.OneToOneField(
        LocalAuthority, on_delete=models.CASCADE, related_name="sign_in_policy"
    )
    two_factor_for = models.CharField(
        max_length=10, choices=TwoFactorFor.choices, default=TwoFactorFor.ADMINS
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.la}: two-factor sign-in for {self.get_two_factor_for_display()}"
