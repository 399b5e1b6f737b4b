"""The home page: who is signed in, the collections they work on, and where each stands."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.views.decorators.http import require_safe

from keystage.accounts.models import Role
from keystage.accounts.scope import membership_of, schools_for
from keystage.collection.queries import collections_for
from keystage.engine import definition as definitions
from keystage.web.links import offered


@require_safe
def home(request):
    membership = membership_of(request.user)
    restricted_schools = None
    if membership is not None and membership.role == Role.LA_RESTRICTED:
        restricted_schools = list(schools_for(request.user))
    return render(
        request,
        "home.html",
        {
            "membership": membership,
            "restricted_schools": restricted_schools,
            "collections": collections_for(request.user, offered()) if membership else [],
            # The links below the list are the default collection's.
            "default_name": definitions.load(settings.KEYSTAGE_COLLECTION).name,
        },
    )
