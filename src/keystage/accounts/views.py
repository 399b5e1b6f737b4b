"""Sign-in, sign-out and two-factor pages, and user management for LA and national admins.
Views parse, check, call an action and respond."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from keystage.accounts import actions, two_factor, waits
from keystage.accounts.forms import (
    ApproverForm,
    CodeForm,
    MemberForm,
    NewPasswordForm,
    SignInForm,
    TwoFactorForForm,
)
from keystage.accounts.middleware import SIGNED_OUT_BECAUSE
from keystage.accounts.models import (
    LA_ROLES,
    LaSignInPolicy,
    Membership,
    Role,
    TwoFactorFor,
    two_factor_covers,
)
from keystage.accounts.scope import las_for, membership_of, scoped
from keystage.web.govuk import error_list
from keystage.web.links import redirect, reverse


def _next_url(request) -> str:
    """Where to go after signing in: `next` when it is a page of ours, else the home page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def _with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


@login_not_required
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request):
    next_url = _next_url(request)
    if request.method in ("GET", "HEAD") and request.user.is_authenticated:
        return redirect(next_url)
    form = SignInForm(request, data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.user
        auth_login(request, user)  # a new session: nothing of the signed-out one carries over
        actions.do_record_sign_in(user)
        if two_factor.needs_two_factor(user):
            step = (
                "two-factor-verify" if two_factor.has_confirmed_device(user) else "two-factor-setup"
            )
            return redirect(_with_next(step, next_url))
        return redirect(next_url)
    # Why Keystage signed this browser out, said once (the session ended, not the user).
    signed_out_because = None
    if request.method in ("GET", "HEAD"):
        signed_out_because = request.session.pop(SIGNED_OUT_BECAUSE, None)
    return render(
        request,
        "accounts/sign_in.html",
        {
            "form": form,
            "error_list": error_list(form),
            "next": next_url,
            "signed_out_because": signed_out_because,
            "idle_minutes": settings.KEYSTAGE_SESSION_IDLE_MINUTES,
            "limit_hours": settings.SESSION_COOKIE_AGE // 3600,
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
def sign_out(request):
    """GET asks, POST signs out: a link from another site cannot sign anyone out."""
    if request.method == "POST":
        actions.do_record_sign_out(request.user)
        auth_logout(request)
        messages.success(request, "You have signed out.")
        return redirect("sign-in")
    return render(request, "accounts/sign_out.html")


@require_http_methods(["GET", "HEAD", "POST"])
def two_factor_setup(request):
    user = request.user
    next_url = _next_url(request)
    if not two_factor.needs_two_factor(user):
        return redirect(next_url)
    if two_factor.has_confirmed_device(user):
        # Replacing the authenticator needs the current one first, so a stolen password alone
        # can never add a device.
        return redirect(
            next_url if user.is_verified() else _with_next("two-factor-verify", next_url)
        )
    device = two_factor.pending_device(user)
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if _check_code(form, device):
            actions.do_confirm_two_factor(user, device)
            _finish_two_factor(request, device)
            messages.success(request, "Two-factor sign-in is set up.")
            return redirect(next_url)
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "error_list": error_list(form),
            "next": next_url,
            "qr_code": two_factor.qr_code_svg(device),
            "is_admin": _is_admin(user),
            "secret": two_factor.secret_for_people(device),
        },
    )


@require_http_methods(["GET", "HEAD", "POST"])
def two_factor_verify(request):
    user = request.user
    next_url = _next_url(request)
    if user.is_verified() or not two_factor.needs_two_factor(user):
        return redirect(next_url)
    device = two_factor.confirmed_device(user)
    if device is None:
        return redirect(_with_next("two-factor-setup", next_url))
    form = CodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and _check_code(form, device):
        _finish_two_factor(request, device)
        return redirect(next_url)
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "error_list": error_list(form), "next": next_url},
    )


def _is_admin(user) -> bool:
    """Asked for a code as an admin (or staff), not because their LA asks it of everyone."""
    membership = membership_of(user)
    return (
        user.is_staff
        or user.is_superuser
        or (membership is not None and membership.role in (Role.NATIONAL_ADMIN, Role.LA_ADMIN))
    )


def _finish_two_factor(request, device) -> None:
    otp_login(request, device)
    # A new session key: a cookie copied between the password and the code is worth nothing.
    request.session.cycle_key()


def _check_code(form: CodeForm, device) -> bool:
    """True when the code is right; otherwise the form gets the reason. django-otp makes each
    wrong code double the wait before the next try, so guessing codes is hopeless."""
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        left = waits.code_wait(device)
        wait = f"Wait {waits.in_words(left)}, then enter" if left else "Enter"
        form.add_error("code", f"You have entered too many wrong codes. {wait} the newest code "
                       "from your authenticator app")  # fmt: skip
        return False
    if device.verify_token(form.cleaned_data["code"]):
        return True
    # Each wrong code makes the next one wait longer (1, 2, 4, 8 seconds...): say how long.
    left = waits.code_wait(device)
    wait = f"Wait {waits.in_words(left)}, then enter" if left else "Enter"
    form.add_error(
        "code", f"The code is not right. {wait} the newest code from your authenticator app"
    )
    return False


def locked_out(request, response=None, credentials=None):
    """django-axes calls this when a sign-in is refused because of too many wrong passwords."""
    ends = waits.sign_in_lock_ends(request, credentials)
    now = timezone.now()
    left = (ends - now) if ends is not None and ends > now else None
    if left is None and settings.AXES_COOLOFF_TIME is not None:
        left = settings.AXES_COOLOFF_TIME  # only just locked: the whole cool-off
    # The clock time rounded up to the minute, so that trying then always works.
    until = None
    if left is not None:
        at = timezone.localtime(now + left)
        until = (at + dt.timedelta(seconds=59)).replace(second=0, microsecond=0)
    return render(
        request,
        "accounts/locked_out.html",
        {
            "wait": waits.in_words(left) if left is not None else None,
            "until": until,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        },
        status=429,
    )


# --- User management -------------------------------------------------------------------------
# An LA admin manages every user of their LA; a national admin manages national admins and
# every LA's admins. Which rows exist for the admin comes from `scope`; another tenant's
# membership answers 404, and a role that manages nobody gets 403.


def _managed(request):
    """(the admin's membership, the memberships they manage), or 403."""
    admin = membership_of(request.user)
    if admin is None or admin.role not in (Role.NATIONAL_ADMIN, Role.LA_ADMIN):
        raise PermissionDenied("Only LA admins and national admins manage users")
    found = scoped(request.user, Membership).select_related("user", "la", "school")
    if admin.role == Role.NATIONAL_ADMIN:
        found = found.filter(role__in=(Role.NATIONAL_ADMIN, Role.LA_ADMIN))
    return admin, found


def _member(request, membership_id: int):
    """One membership the admin manages: 404 when scope hides it, 403 for other roles."""
    get_object_or_404(scoped(request.user, Membership), pk=membership_id)
    admin, found = _managed(request)
    return admin, get_object_or_404(found, pk=membership_id)


@require_safe
def users(request):
    admin, found = _managed(request)
    found = found.order_by("-user__is_active", "la__code", "role", "user__username")
    return render(request, "accounts/users.html", {"admin": admin, "members": found})


@require_http_methods(["GET", "HEAD", "POST"])
def user_create(request):
    admin, _ = _managed(request)
    form = MemberForm(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Shown once on the next page and never stored in clear: the user must change it at
        # their first sign-in.
        password = actions.one_time_password()
        try:
            created = actions.do_create_member(
                data["username"], role=data["role"], la=data["la"], school=data["school"],
                is_approver=data["is_approver"], schools=data["schools"], email=data["email"],
                password=password, must_change_password=True, by=request.user,
            )  # fmt: skip
        except ValidationError as problem:
            for field, problems in problem.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
        else:
            return render(
                request,
                "accounts/user_created.html",
                {"member": created, "password": password},
            )
    return render(
        request,
        "accounts/user_create.html",
        {"admin": admin, "form": form, "error_list": error_list(form)},
    )


@require_safe
def user_detail(request, membership_id: int):
    admin, member = _member(request, membership_id)
    return render(
        request,
        "accounts/user_detail.html",
        {
            "admin": admin,
            "member": member,
            "may_approve": member.role in LA_ROLES,
            "is_self": member.user_id == request.user.pk,
            "schools": list(member.schools.order_by("laestab")),
            "two_factor": member.needs_two_factor,
            "has_device": two_factor.has_confirmed_device(member.user),
        },
    )


@require_POST
def user_reset_password(request, membership_id: int):
    """A new one-time password for the user, shown once on the page this answers."""
    _, member = _member(request, membership_id)
    try:
        password = actions.do_reset_password(member, by=request.user)
    except ValidationError as problem:
        messages.error(request, problem.messages[0])
        return redirect("user-detail", membership_id=member.pk)
    return render(request, "accounts/password_reset.html", {"member": member, "password": password})


@require_POST
def user_approver(request, membership_id: int):
    _, member = _member(request, membership_id)
    form = ApproverForm(request.POST)
    if not form.is_valid() or member.role not in LA_ROLES:
        messages.error(request, "Choose whether this LA user approves the LA's return")
        return redirect("user-detail", membership_id=member.pk)
    actions.do_set_approver(member, form.cleaned_data["is_approver"], by=request.user)
    name = member.user.get_username()
    if member.is_approver:
        messages.success(request, f"{name} now approves the LA's return.")
    else:
        messages.success(request, f"{name} no longer approves the LA's return.")
    return redirect("user-detail", membership_id=member.pk)


@require_POST
def user_deactivate(request, membership_id: int):
    _, member = _member(request, membership_id)
    try:
        actions.do_deactivate_member(member, by=request.user)
    except ValidationError as problem:
        messages.error(request, problem.messages[0])
        return redirect("user-detail", membership_id=member.pk)
    messages.success(request, f"{member.user.get_username()} can no longer sign in.")
    return redirect("users")


# --- Passwords and the LA's two-factor rule --------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def password_change(request):
    """Change your password. A user with a one-time password is sent here by the middleware
    until they have chosen their own; they have just typed the one-time password, so only the
    new one is asked for."""
    user = request.user
    membership = membership_of(user)
    forced = membership is not None and membership.must_change_password
    next_url = _next_url(request)
    form = NewPasswordForm(
        user, request.POST if request.method == "POST" else None, current=not forced
    )
    if request.method == "POST" and form.is_valid():
        actions.do_change_password(user, form.cleaned_data["new_password"])
        update_session_auth_hash(request, user)  # this session goes on; the others end
        return render(
            request, "accounts/password_changed.html", {"next": next_url, "forced": forced}
        )
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "error_list": error_list(form), "next": next_url, "forced": forced},
    )


@require_http_methods(["GET", "HEAD", "POST"])
def la_two_factor(request, code: str):
    """Which of an LA's users must use two-factor sign-in: its LA admins or a national admin
    choose (admins always must). 404 for an LA the user cannot see, 403 for other roles."""
    la = get_object_or_404(las_for(request.user), code=code)
    admin = membership_of(request.user)
    if admin is None or admin.role not in (Role.NATIONAL_ADMIN, Role.LA_ADMIN):
        raise PermissionDenied("Only LA admins and national admins choose this")
    policy = scoped(request.user, LaSignInPolicy).filter(la=la).first()
    current = policy.two_factor_for if policy is not None else TwoFactorFor.ADMINS
    form = TwoFactorForForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["two_factor_for"]
        actions.do_set_two_factor_for(la, chosen, by=request.user)
        messages.success(
            request, f"Two-factor sign-in is now required of: {TwoFactorFor(chosen).label}."
        )
        return redirect("la-two-factor", code=la.code)
    members = scoped(request.user, Membership).filter(la=la, user__is_active=True)
    covered = [r for r in Role.values if two_factor_covers(current, r)]
    without_device = (
        members.filter(role__in=covered)
        .exclude(Exists(TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True)))
        .count()
    )
    return render(
        request,
        "accounts/la_two_factor.html",
        {
            "la": la,
            "form": form,
            "error_list": error_list(form),
            "current": current,
            "choices": TwoFactorFor.choices,
            "without_device": without_device,
            "national": admin.role == Role.NATIONAL_ADMIN,
        },
    )
