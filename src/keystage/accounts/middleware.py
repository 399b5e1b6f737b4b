"""Sign-in rules every page follows, so that new pages are covered without asking for them:

- sessions end after `KEYSTAGE_SESSION_IDLE_MINUTES` without a request, and in any case
  `SESSION_COOKIE_AGE` (8 hours) after signing in; the sign-in page then says why;
- admins (and the users their LA asks it of) finish two-factor sign-in before any page but the
  two-factor pages and sign-out;
- a user with a one-time password (an invitation or an admin's reset) makes their own before
  any page but the password page, the two-factor pages and sign-out;
- every response to a signed-in user is sent `Cache-Control: no-store`, so no page or export
  with personal data is kept by a browser or a proxy (static files are answered before this).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.utils.deprecation import MiddlewareMixin

from keystage.accounts.scope import membership_of
from keystage.accounts.two_factor import has_confirmed_device, needs_two_factor
from keystage.web.links import redirect

# URL names an admin may reach between their password and their code.
OPEN_BEFORE_TWO_FACTOR = frozenset({"two-factor-setup", "two-factor-verify", "sign-out"})
# URL names a user with a one-time password may reach before choosing their own.
OPEN_BEFORE_OWN_PASSWORD = OPEN_BEFORE_TWO_FACTOR | {"password-change"}

# Session keys: when the user signed in, and when they were last seen (seconds since 1970).
SIGNED_IN_AT = "keystage_signed_in_at"
LAST_SEEN = "keystage_last_seen"
# Why Keystage signed the user out ("idle" or "limit"), for the sign-in page to say.
SIGNED_OUT_BECAUSE = "keystage_signed_out_because"
# The last-seen time is written at most this often (seconds), so that reading pages does not
# write the session on every request; a session may so end up to this much early.
LAST_SEEN_RESOLUTION = 60


def now() -> int:
    """Seconds since 1970: the sessions' clock (tests move it)."""
    return int(time.time())


def start_session_clock(sender, request, user, **kwargs) -> None:
    """`user_logged_in` receiver: the session's sign-in time and first activity."""
    now_ = now()
    request.session[SIGNED_IN_AT] = now_
    request.session[LAST_SEEN] = now_


def _next_to(name: str, request) -> object:
    response = redirect(name)
    if request.method in ("GET", "HEAD"):
        response["Location"] += "?" + urlencode({"next": request.get_full_path()})
    return response


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every response to a signed-in user: pages, downloads and
    redirects alike. It replaces what a view set (a chart's short private caching), as a
    browser may keep nothing of a signed-in user's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if getattr(user, "is_authenticated", False) or getattr(request, "_was_signed_in", False):
            response["Cache-Control"] = "no-store"
        return response


class SessionTimeoutMiddleware:
    """Ends a signed-in session that has been unused for the idle time, or has lasted the
    absolute limit. The request then goes on signed out (so `LoginRequiredMiddleware` sends
    the user to sign in, with `next`), and the new session remembers why for the sign-in page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            request._was_signed_in = True
            reason = self._ended(request.session, now())
            if reason:
                from keystage.accounts.actions import do_record_session_end

                do_record_session_end(user, reason)
                logout(request)
                request.session[SIGNED_OUT_BECAUSE] = reason
        return self.get_response(request)

    @staticmethod
    def _ended(session, now: int) -> str | None:
        signed_in_at = session.get(SIGNED_IN_AT)
        last_seen = session.get(LAST_SEEN)
        if signed_in_at is None:  # a session from before these keys: its clock starts now
            session[SIGNED_IN_AT] = signed_in_at = now
        if now - signed_in_at >= settings.SESSION_COOKIE_AGE:
            return "limit"
        idle = settings.KEYSTAGE_SESSION_IDLE_MINUTES * 60
        if last_seen is not None and now - last_seen >= idle:
            return "idle"
        if last_seen is None or now - last_seen >= LAST_SEEN_RESOLUTION:
            session[LAST_SEEN] = now
        return None


class TwoFactorRequiredMiddleware(MiddlewareMixin):
    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified() or not needs_two_factor(user):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in OPEN_BEFORE_TWO_FACTOR:
            return None
        target = "two-factor-verify" if has_confirmed_device(user) else "two-factor-setup"
        return _next_to(target, request)


class PasswordChangeRequiredMiddleware(MiddlewareMixin):
    """After two-factor sign-in (when needed): a one-time password must be replaced first."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        membership = membership_of(request.user)
        if membership is None or not membership.must_change_password:
            return None
        match = request.resolver_match
        if match is not None and match.url_name in OPEN_BEFORE_OWN_PASSWORD:
            return None
        return _next_to("password-change", request)
