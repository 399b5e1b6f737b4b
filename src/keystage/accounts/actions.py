"""State changes for accounts: creating members, assigning a restricted officer's schools,
signing in and out, passwords, and two-factor sign-in. Each writes its audit row."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from keystage.accounts.models import LaSignInPolicy, Membership, Role, TwoFactorFor
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
    must_change_password: bool = False,
    by=None,
) -> Membership:
    """Create a user with a role. Without a password the user cannot sign in until one is set.
    `must_change_password`: the password is a one-time one (an invitation), so the user must
    choose their own at first sign-in.
    Raises ValidationError when the role and organisation do not fit, or the password is weak."""
    user = get_user_model()(username=username, email=email)
    if password is None:
        user.set_unusable_password()
    else:
        validate_password(password, user)
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    membership = Membership(
        user=user,
        role=role,
        la=la,
        school=school,
        is_approver=is_approver,
        must_change_password=must_change_password and password is not None,
    )
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


def one_time_password() -> str:
    """A password for an admin to hand over once (16 random URL-safe characters)."""
    return secrets.token_urlsafe(12)


@transaction.atomic
def do_change_password(user, new_password: str) -> None:
    """The user's own new password (already checked by Django's validators in the form). Their
    other sessions stop working: Django checks the password's hash on every request."""
    validate_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    membership = membership_of(user)
    forced = membership is not None and membership.must_change_password
    if forced:
        membership.must_change_password = False
        membership.save(update_fields=["must_change_password"])
    record("account.password_changed", user=user, la=getattr(membership, "la", None),
           school=getattr(membership, "school", None), first_sign_in=forced)  # fmt: skip


@transaction.atomic
def do_reset_password(membership: Membership, *, by=None) -> str:
    """Give a user a new one-time password (returned, to be shown once and never stored in
    clear): they must choose their own at their next sign-in. Their open sessions end, and a
    lock after too many wrong passwords is lifted."""
    from axes.utils import reset as axes_reset

    user = membership.user
    if by is not None and by.pk == user.pk:
        raise ValidationError("You cannot reset your own password here: change it instead")
    if not user.is_active:
        raise ValidationError("This user is deactivated: a new password would not let them in")
    password = one_time_password()
    user.set_password(password)
    user.save(update_fields=["password"])
    membership.must_change_password = True
    membership.save(update_fields=["must_change_password"])
    axes_reset(username=user.get_username())
    record("account.password_reset", user=by, la=membership.la, school=membership.school,
           obj=membership, username=user.get_username())  # fmt: skip
    return password


def do_record_session_end(user, reason: str) -> None:
    """Keystage ended a session: `idle` (not used for the idle time) or `limit` (8 hours)."""
    membership = membership_of(user)
    record("account.session_ended", user=user, la=getattr(membership, "la", None),
           school=getattr(membership, "school", None), reason=reason)  # fmt: skip


@transaction.atomic
def do_set_two_factor_for(la: LocalAuthority, two_factor_for: str, *, by=None) -> LaSignInPolicy:
    """Which of the LA's users must use two-factor sign-in (admins always do). Users it newly
    covers who have no authenticator yet are sent to set one up at their next page."""
    if two_factor_for not in TwoFactorFor.values:
        raise ValidationError({"two_factor_for": "Choose who must use two-factor sign-in"})
    policy, _ = LaSignInPolicy.objects.select_for_update().get_or_create(la=la)
    before = policy.two_factor_for
    policy.two_factor_for = two_factor_for
    policy.save()
    record("account.two_factor_policy_set", user=by, la=la, obj=policy,
           two_factor_for=two_factor_for, before=before)  # fmt: skip
    return policy
