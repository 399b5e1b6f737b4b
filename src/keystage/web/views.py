"""The home page: who is signed in and what they work on. The dashboard replaces it later."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_safe

from keystage.accounts.models import Role
from keystage.accounts.scope import membership_of, schools_for


@require_safe
def home(request):
    membership = membership_of(request.user)
    restricted_schools = None
    if membership is not None and membership.role == Role.LA_RESTRICTED:
        restricted_schools = list(schools_for(request.user))
    return render(
        request,
        "home.html",
        {"membership": membership, "restricted_schools": restricted_schools},
    )
