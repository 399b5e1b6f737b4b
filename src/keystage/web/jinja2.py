"""The Jinja2 environment for every page: our templates, then the GOV.UK Frontend macros
(`govuk_frontend_jinja/...`), with `static()`, `url()` and the messages of the request."""

from __future__ import annotations

import datetime as dt
import functools

import jinja2
from django.contrib.messages import get_messages
from django.templatetags.static import static
from django.utils import timezone
from jinja2 import ChoiceLoader, Environment, PackageLoader, PrefixLoader
from markupsafe import Markup, escape

from keystage.engine import words
from keystage.web import govuk
from keystage.web.links import reverse


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


# Parts of every page that never change: rendered once per process by `fixed(name)` (the GOV.UK
# macros cost a few milliseconds a page each, which under load is a good part of a page).
FIXED = {
    "skip_link": (
        "skip-link/macro.html", "govukSkipLink",
        {"href": "#main-content", "text": "Skip to main content"},
    ),
    "header": ("header/macro.html", "govukHeader", {"homepageUrl": "https://www.gov.uk/"}),
    "phase_banner": (
        "phase-banner/macro.html", "govukPhaseBanner",
        {"tag": {"text": "Beta"}, "text": "This is a new service. Tell your local authority or "
         "the collection team if something is wrong."},
    ),
    "footer": ("footer/macro.html", "govukFooter", {}),
}  # fmt: skip


def _fixed(env: Environment):
    done: dict[str, Markup] = {}

    def fixed(name: str) -> Markup:
        if name not in done:
            path, macro, params = FIXED[name]
            template = env.from_string(
                f'{{% from "govuk_frontend_jinja/components/{path}" import {macro} %}}'
                f"{{{{ {macro}(params) }}}}"
            )
            done[name] = Markup(template.render(params=params))  # noqa: S704 - the macro escapes
        return done[name]

    return fixed


def _navigation(env: Environment):
    """govukServiceNavigation for a list of items, rendered once per distinct list (a handful:
    the sections of each role, one of them marked): the macro cost about 6 ms a page."""
    template = env.from_string(
        '{% from "govuk_frontend_jinja/components/service-navigation/macro.html" '
        "import govukServiceNavigation %}{{ govukServiceNavigation({"
        '"serviceName": "Keystage", "serviceUrl": url("home"), "navigation": items, '
        '"navigationLabel": "Keystage"}) }}'
    )

    @functools.lru_cache(maxsize=512)
    def render(key: tuple) -> Markup:
        return Markup(template.render(items=[dict(item) for item in key]))  # noqa: S704 - the macro escapes

    def navigation(items: list[dict]) -> Markup:
        return render(tuple(tuple(sorted(item.items())) for item in items))

    return navigation


@functools.lru_cache(maxsize=256)
def _school_options(schools: tuple[tuple[str, str], ...], value: str) -> Markup:
    return Markup(  # noqa: S704 - every value is escaped
        "\n".join(
            f'<option value="{escape(laestab)}"{" selected" if value and laestab == value else ""}>'
            f"{escape(laestab)} {escape(name)}</option>"
            for laestab, name in schools
        )
    )


def school_options(schools, value: str = "") -> Markup:
    """The <option>s of a school filter, one per school ("9382005 Church Lane Primary School"),
    `value` (a LAESTAB) selected; written once per list of schools and choice."""
    return _school_options(tuple((s.laestab, s.name) for s in schools), value or "")


def url(name: str, *args, **kwargs) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


class Undefined(jinja2.Undefined):
    """Jinja's Undefined, written out as nothing at once: `{{ "x" if cond }}` gives an
    Undefined when `cond` is false, and markupsafe's escape asks it for `__html__`, which
    Jinja's answers by raising an AttributeError: about a tenth of the pupil grid's time."""

    __slots__ = ()

    def __html__(self) -> str:
        return ""


class Row(dict):
    """A dict whose keys a template reads as attributes without an exception: Jinja's
    `row.name` tries getattr before the key, and for a plain dict the AttributeError raised
    and caught for each cell was a good part of a large table's time. Otherwise a dict (a key
    that is also a dict method's name, `items`, still gives the method, as for a plain dict)."""

    __slots__ = ()

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def environment(**options) -> Environment:
    # Django passes a loader for DIRS and the apps' jinja2/ folders; the GOV.UK macros are found
    # under the prefix their own templates import them by.
    ours = options.pop("loader")
    options["loader"] = ChoiceLoader(
        [ours, PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")})]
    )
    options["autoescape"] = True
    options.setdefault("undefined", Undefined)
    env = Environment(**options)  # noqa: S701 - autoescape is on, the line above
    # Dates and counts in words on every page: {{ d|long_date }}, {{ t|long_datetime }} (a
    # stored time is shown in the service's time zone), {{ plural(n, "error") }},
    # {{ n|number }} (a count with thousands separated).
    env.filters.update(
        {
            "long_date": long_date,
            "mid_sentence": words.mid_sentence,
            "number": words.number,
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
            "school_options": school_options,
        }
    )
    env.globals["fixed"] = _fixed(env)
    env.globals["service_navigation_html"] = _navigation(env)
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
        # Once per page: GOV.UK's template renders the header's contents twice (to see whether
        # there are any), and the sections cost a query and a dozen URLs.
        "service_navigation": functools.cache(lambda: service_navigation(request)),
        # The name of the collection the page is of, when its path names one (web/links.py).
        "page_collection": page_collection(request),
        # How the page speaks of the collection's schools ("Schools and settings" for one that
        # takes early-years settings: collection/queries.establishment_words).
        "places": page_places(request),
    }


def page_places(request) -> dict[str, str]:
    from keystage.collection.queries import establishment_words
    from keystage.engine import definition as definitions
    from keystage.web.links import current_collection

    code = getattr(request, "collection_in_path", None) or current_collection()
    return establishment_words(definitions.load(code))


def page_collection(request) -> str | None:
    from keystage.engine import definition as definitions

    code = getattr(request, "collection_in_path", None)
    return definitions.load(code).name if code else None
