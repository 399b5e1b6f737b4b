"""The Jinja2 environment for every page: our templates, then the GOV.UK Frontend macros
(`govuk_frontend_jinja/...`), with `static()`, `url()` and the messages of the request."""

from __future__ import annotations

import datetime as dt

from django.contrib.messages import get_messages
from django.templatetags.static import static
from django.urls import reverse
from django.utils import timezone
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader

from keystage.engine import words
from keystage.web import govuk


def long_date(d, empty: str = "") -> str:
    """`words.long_date`, also for a date kept as ISO text (a date of birth as stored); text
    that is not a date (a wrong date of birth as sent) is shown as it is."""
    if isinstance(d, str):
        try:
            d = dt.date.fromisoformat(d)
        except ValueError:
            return d
    return words.long_date(d, empty)


def long_datetime(moment, empty: str = "") -> str:
    """`words.long_datetime` in the service's time zone (a stored time is in UTC)."""
    if moment is not None and timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return words.long_datetime(moment, empty)


def url(name: str, *args, **kwargs) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


def environment(**options) -> Environment:
    # Django passes a loader for DIRS and the apps' jinja2/ folders; the GOV.UK macros are found
    # under the prefix their own templates import them by.
    ours = options.pop("loader")
    options["loader"] = ChoiceLoader(
        [ours, PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})]
    )
    options["autoescape"] = True
    env = Environment(**options)  # noqa: S701 - autoescape is on, the line above
    # Dates and counts in words on every page: {{ d|long_date }}, {{ t|long_datetime }} (a
    # stored time is shown in the service's time zone), {{ plural(n, "error") }}.
    env.filters.update(
        {
            "long_date": long_date,
            "mid_sentence": words.mid_sentence,
            "long_datetime": long_datetime,
        }
    )
    env.globals.update(
        {
            "static": static,
            "url": url,
            "get_messages": get_messages,
            "govuk_error_list": govuk.error_list,
            "govuk_field_error": govuk.field_error,
            "plural": words.plural,
        }
    )
    return env


def page_context(request) -> dict:
    """What the base layout needs on every page: the CSP nonce, the user's membership and the
    service navigation. Reading `csp_nonce` is what makes django-csp put the nonce in this
    response's Content-Security-Policy header."""
    from keystage.accounts.scope import membership_of
    from keystage.web.navigation import service_navigation

    nonce = getattr(request, "csp_nonce", None)
    return {
        # str(): the nonce is lazy, and a lazy one is false in an `if` until it is read.
        "cspNonce": str(nonce) if nonce is not None else "",
        "membership": membership_of(getattr(request, "user", None)),
        # The main sections for the user's role, the page's own marked (web/navigation.py);
        # a function, so that a page without the layout (a PDF) does not work them out.
        "service_navigation": lambda: service_navigation(request),
    }
