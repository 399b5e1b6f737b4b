"""State changes for accounts: creating members, assigning a restricted officer's schools,
signing in and out, and setting up two-factor sign-in. Each writes its audit row."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from keystage.accounts.models import Membership, Role
from keystage.accounts.scope import membership_of
from keystage.audit.models import record
from keystage.orgs.models import LocalAuthority, School


@transaction.atomic
def do_create_member(
    username: str,
    *,
    role: str,
    la: LocalAuthority | None = None,
    school: School | None = None,
    is_approver: bool = False,
    schools: Iterable[School] = (),
    password: str | None = None,
    email: str = "",
    by=None,
) -> Membership:
    """Create a user with a role. Without a password the user cannot sign in until one is set.
    Raises ValidationError when the role and organisation do not fit, or the password is weak."""
    user = get_user_model()(username=username, email=email)
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    membership = Membership(user=user, role=role, la=la, school=school, is_approver=is_approver)
    membership.full_clean(exclude=["user"])
    membership.save()
    if schools:
        _set_schools(membership, schools)
    record("account.created", user=by, la=membership.la, school=membership.school,
           obj=membership, username=username, role=role)  # fmt: skip
    return membership


def _set_schools(membership: Membership, schools: Iterable[School]) -> None:
    schools = list(schools)
    if membership.role != Role.LA_RESTRICTED:
        raise ValidationError({"schools": "Only LA restricted officers are given schools"})
    outside = [s for s in schools if s.la_id != membership.la_id]
    if outside:
        raise ValidationError(
            {"schools": f"{outside[0]} is not in {membership.la}: choose schools in the LA"}
        )
    membership.schools.set(schools)


@transaction.atomic
def do_set_restricted_schools(membership: Membership, schools: Iterable[School], *, by=None):
    """Replace the schools an LA restricted officer works on (all must be in their LA)."""
    _set_schools(membership, schools)
    record("account.schools_set", user=by, la=membership.la, obj=membership,
           schools=[s.laestab for s in membership.schools.all()])  # fmt: skip


def do_record_sign_in(user) -> None:
    membership = membership_of(user)
    record("account.signed_in", user=user, la=getattr(membership, "la", None),
           school=getattr(membership, "school", None))  # fmt: skip


def do_record_sign_out(user) -> None:
    record("account.signed_out", user=user)


@transaction.atomic
def do_confirm_two_factor(user, device) -> None:
    """Make a verified device the user's authenticator and drop any other unconfirmed ones."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    type(device).objects.filter(user=user, confirmed=False).exclude(pk=device.pk).delete()
    record("account.two_factor_set_up", user=user, obj=("TOTPDevice", device.pk))


@transaction.atomic
def do_set_approver(membership: Membership, is_approver: bool, *, by=None) -> None:
    """Mark an LA user as one who approves (or no longer approves) the LA's return."""
    membership.is_approver = is_approver
    membership.full_clean(exclude=["user"])
    membership.save(update_fields=["is_approver"])
    record("account.approver_set", user=by, la=membership.la, school=membership.school,
           obj=membership, username=membership.user.get_username(),
           is_approver=is_approver)  # fmt: skip


@transaction.atomic
def do_deactivate_member(membership: Membership, *, by=None) -> None:
    """Stop a user signing in. Their sessions stop working at once: Django's model backend
    refuses inactive users, and `scope` gives an inactive user nothing. Rows stay for the log."""
    user = membership.user
    if by is not None and by.pk == user.pk:
        raise ValidationError("You cannot deactivate your own account: ask another admin")
    user.is_active = False
    user.save(update_fields=["is_active"])
    record("account.deactivated", user=by, la=membership.la, school=membership.school,
           obj=membership, username=user.get_username())  # fmt: skip
