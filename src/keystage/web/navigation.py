"""The service navigation every page shows: the main sections for the signed-in user's role, in
one place, so that no template works out its own links. The section the page belongs to (by URL
prefix) is marked; sign out is always the last item.

- an LA admin or officer: dashboard, uploads, pupils, Data Errors, schools' checks, return and
  reports for their LA (a restricted officer has no return);
- a school user: their school's check, upload and reports;
- a national admin: the collection and reports, and the LA's sections when the page is about an
  LA (its code in the URL) they may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from keystage.accounts.models import Role
from keystage.accounts.scope import las_for, membership_of
from keystage.engine import definition as definitions
from keystage.web.links import current_collection, reverse

LA_SECTION_ROLES = (Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED)
UPLOADERS = LA_SECTION_ROLES  # (and school users, who have their own list)
RETURN_READERS = (Role.NATIONAL_ADMIN, Role.LA_ADMIN, Role.LA_OFFICER)

# URL names whose `code` argument is an LA's code (the LA the page is about).
_LA_CODE_URL_PREFIXES = ("la-", "collected-la", "collected-return", "report-pack-create")


@dataclass(frozen=True)
class Section:
    text: str
    href: str
    # The paths the section owns: a page is in the section if its path is one of them or goes
    # on from one with "/" or "." (a download such as chase-list.csv).
    prefixes: tuple[str, ...] = ()

    def owns(self, path: str) -> bool:
        return any(_under(path, prefix) for prefix in (self.href, *self.prefixes))


def _under(path: str, prefix: str) -> bool:
    if path == prefix:
        return True
    if prefix.endswith("/"):
        return path.startswith(prefix)
    return path.startswith(prefix) and path[len(prefix)] in "/."


def _la_in_url(request):
    """The LA the page is about (its code in the URL), if the user may see it; else None."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.url_name:
        return None
    code = match.kwargs.get("code")
    if not code:
        return None
    about_la = match.url_name.startswith(_LA_CODE_URL_PREFIXES) or (
        match.url_name.startswith("report-") and match.kwargs.get("level") == "la"
    )
    if not about_la:
        return None
    return las_for(request.user).filter(code=code).first()


def _uploads(la) -> Section:
    # The upload page lists the latest uploads and links to the whole history; every page
    # under /uploads/ (history, a batch) is in the section.
    return Section("Uploads", reverse("upload"), (reverse("upload"),))


def _la_sections(la, role: str) -> list[Section]:
    def at(name: str) -> str:
        return reverse(name, kwargs={"code": la.code})

    dashboard = at("la-dashboard")
    base = dashboard.removesuffix("/dashboard")  # /la/938
    sections = [
        Section(
            "Dashboard",
            dashboard,
            (
                reverse("dashboard"),
                f"{base}/chase-list",
                at("la-school-deadline"),
                at("la-expected-cohorts"),
                at("la-audit"),
            ),
        )
    ]
    if role in UPLOADERS:
        sections.append(_uploads(la))
    sections += [
        Section("Pupils", at("la-pupils")),
        Section("Data Errors", at("la-errors")),
        Section("Schools' checks", at("la-checking"), (at("la-school-sees"),)),
    ]
    if role in RETURN_READERS and _has_national_return():
        sections.append(Section("Return", at("la-returns")))
    return sections


def _has_national_return() -> bool:
    return definitions.load(current_collection()).national_return


def sections_for(request) -> list[Section]:
    """The main sections for the request's user, in the order they are shown (without sign
    out)."""
    membership = membership_of(getattr(request, "user", None))
    if membership is None:
        return []
    reports = Section("Reports", reverse("reports"))
    role = membership.role
    if role == Role.SCHOOL_USER:
        school = membership.school
        return [
            Section("Check", reverse("school-check", kwargs={"laestab": school.laestab})),
            Section("Upload", reverse("upload")),
            reports,
        ]
    if role == Role.NATIONAL_ADMIN:
        collection = (
            Section("Collection", reverse("national-dashboard"), (reverse("dashboard"),))
            if _has_national_return()
            else Section("Collection", reverse("dashboard"))
        )
        la = _la_in_url(request)
        return [collection, *(_la_sections(la, role) if la else []), reports]
    if role in LA_SECTION_ROLES:
        la = _la_in_url(request) or membership.la
        return [*_la_sections(la, role), reports]
    return []


def service_navigation(request) -> list[dict]:
    """The items for govukServiceNavigation: the sections, the page's own marked `current`
    (`aria-current="page"`) or, on a page within it, `active`; then sign out (or sign in)."""
    path = request.path
    if getattr(getattr(request, "user", None), "is_authenticated", False):
        sections = [*sections_for(request), Section("Sign out", reverse("sign-out"))]
    else:
        sections = [Section("Sign in", reverse("sign-in"))]
    items = []
    marked = False
    for section in sections:
        item = {"href": section.href, "text": section.text}
        if not marked and section.owns(path):
            marked = True
            item["current" if path == section.href else "active"] = True
        items.append(item)
    return items
