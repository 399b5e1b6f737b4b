"""Which collection a page is of, and links that keep to it.

Every page that belongs to one collection (an LA's dashboard, its uploads, pupils, errors,
checks, return, reports, the national collection) has the collection's id as the first part
of its path: `/phonics-2024/la/938/dashboard`. The id is one of the collections this service
offers (`settings.KEYSTAGE_COLLECTIONS`); any other answers 404. A request's collection is
known for as long as the request is answered (`CollectionMiddleware`), and `reverse` fills it
into every link to a collection's page, so a page's links stay in its collection unless one
names another (`reverse(name, kwargs={..., "collection": "ks1-2023"})`). Outside a request
(commands, tasks, tests) the collection is the service's default (`settings.KEYSTAGE_COLLECTION`).

The paths from before there were several collections (`/la/938/dashboard`) redirect to the
same page of the default collection, so bookmarks and links in old e-mails still work.

Django's own per-language prefix (`i18n_patterns`) is the model, but its reverse cache is kept
per language, not per value of the prefix, so the collection is a path parameter of its own.
"""

from __future__ import annotations

import contextvars
import functools

from django.conf import settings
from django.http import HttpResponsePermanentRedirect, HttpResponseRedirect
from django.urls import URLPattern, URLResolver, get_resolver, get_script_prefix, include, path
from django.urls import reverse as django_reverse

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "keystage_collection", default=None
)


def offered() -> tuple[str, ...]:
    """The collections this service offers, in the order the home page lists them."""
    return tuple(settings.KEYSTAGE_COLLECTIONS)


class CollectionConverter:
    """A collection's id in a path: only those the service offers match."""

    regex = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-[0-9]{4}"

    def to_python(self, value: str) -> str:
        if value not in offered():
            raise ValueError(value)
        return value

    def to_url(self, value: str) -> str:
        return value


def current_collection() -> str:
    """The id of the collection of the request being answered, else the default one."""
    return _current.get() or settings.KEYSTAGE_COLLECTION


@functools.cache
def _names_in_collections(urlconf: str) -> frozenset[str]:
    names = set()

    def walk(patterns, inside: bool) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, inside or "collection" in p.pattern.converters)
            elif isinstance(p, URLPattern) and p.name and inside:
                names.add(p.name)

    walk(get_resolver(urlconf).url_patterns, False)
    return frozenset(names)


def in_collection(name: str) -> bool:
    """Whether the URL named `name` is a page of one collection."""
    return name in _names_in_collections(settings.ROOT_URLCONF)


def reverse(viewname: str, args=None, kwargs=None, **extra) -> str:
    """Django's reverse, with the current collection filled in for a collection's page."""
    if isinstance(viewname, str) and in_collection(viewname):
        if args:  # positional: the collection's id is the path's first parameter
            args = [current_collection(), *args]
        else:
            kwargs = {"collection": current_collection(), **(kwargs or {})}
    return django_reverse(viewname, args=args, kwargs=kwargs, **extra)


class CollectionMiddleware:
    """Takes the collection out of a collection page's path parameters: the view gets the
    parameters it always had, `request.collection_id` says which collection it is, and links
    drawn while answering keep to it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.collection_id = settings.KEYSTAGE_COLLECTION
        token = _current.set(None)
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        code = view_kwargs.pop("collection", None)
        if code is not None:
            request.collection_id = request.collection_in_path = code
            _current.set(code)
        return None


def _to_default_collection(request, **kwargs):
    # Under the service's own path prefix when it has one (SCRIPT_NAME behind a proxy).
    target = f"{get_script_prefix()}{settings.KEYSTAGE_COLLECTION}{request.path_info}"
    query = request.META.get("QUERY_STRING", "")
    target = f"{target}?{query}" if query else target
    # 308 for a form posted to an old address: it is posted again, not turned into a GET.
    return HttpResponsePermanentRedirect(
        target, preserve_request=request.method not in ("GET", "HEAD")
    )


def collection_patterns(patterns: list) -> list:
    """`patterns` under the collection's id, and the same paths without it redirecting to the
    default collection's page (unnamed: nothing links to them)."""

    def old(ps, prefix=""):
        for p in ps:
            if isinstance(p, URLResolver):
                yield from old(p.url_patterns, prefix + str(p.pattern))
            else:
                yield path(prefix + str(p.pattern), _to_default_collection)

    return [path("<collection:collection>/", include(patterns)), *old(patterns)]


def redirect(to: str, *args, **kwargs) -> HttpResponseRedirect:
    """Django's `redirect` for a URL name (filled in as `reverse` does) or a path."""
    if "/" in to:
        return HttpResponseRedirect(to)
    return HttpResponseRedirect(reverse(to, args=args or None, kwargs=kwargs or None))
