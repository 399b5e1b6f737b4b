"""Two-factor sign-in is required for admins before they reach any page but the two-factor
pages and sign-out. New pages are covered without asking for it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.utils.deprecation import MiddlewareMixin

from keystage.accounts.two_factor import has_confirmed_device, needs_two_factor

# URL names an admin may reach between their password and their code.
OPEN_BEFORE_TWO_FACTOR = frozenset({"two-factor-setup", "two-factor-verify", "sign-out"})


class TwoFactorRequiredMiddleware(MiddlewareMixin):
    def process_view(self, request, view_func, view_args, view_kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified() or not needs_two_factor(user):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in OPEN_BEFORE_TWO_FACTOR:
            return None
        target = "two-factor-verify" if has_confirmed_device(user) else "two-factor-setup"
        response = redirect(target)
        if request.method in ("GET", "HEAD"):
            response["Location"] += "?" + urlencode({"next": request.get_full_path()})
        return response
