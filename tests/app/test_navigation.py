"""The service navigation on every page: the main sections for the user's role, each opening a
page that user may see, the section of the page marked, and sign out always there."""

from __future__ import annotations

import re
from html import unescape

import pytest

pytestmark = pytest.mark.django_db

NAV = re.compile(r'<nav aria-label="Keystage".*?</nav>', re.S)
ITEM = re.compile(
    r'<a class="govuk-service-navigation__link" href="([^"]*)"(?: aria-current="(page|true)")?>'
    r"\s*(?:<strong[^>]*>)?([^<]*)",
)
LA_SECTIONS = ["Dashboard", "Uploads", "Pupils", "Data Errors", "Schools' checks", "Return"]


def navigation(client, path: str) -> list[tuple[str, str, str]]:
    """(text, href, aria-current or "") of each item of the page's service navigation."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    block = NAV.search(response.content.decode())
    assert block, f"{path} has no service navigation"
    return [(unescape(t).strip(), h, c or "") for h, c, t in ITEM.findall(block.group(0))]


def texts(items) -> list[str]:
    return [t for t, _, _ in items]


def marked(items) -> list[tuple[str, str]]:
    return [(t, c) for t, _, c in items if c]


def test_la_officer_sees_the_la_sections_and_sign_out(signed_in, members, la938):
    client = signed_in(members["officer938"])
    items = navigation(client, "/")
    assert [(t, h) for t, h, _ in items] == [
        ("Dashboard", "/ks1-2023/la/938/dashboard"),
        ("Uploads", "/ks1-2023/uploads/"),
        ("Pupils", "/ks1-2023/la/938/pupils"),
        ("Data Errors", "/ks1-2023/la/938/errors"),
        ("Schools' checks", "/ks1-2023/la/938/checking"),
        ("Return", "/ks1-2023/la/938/returns"),
        ("Reports", "/ks1-2023/reports"),
        ("Sign out", "/sign-out"),
    ]
    assert marked(items) == []  # the home page is in no section


def test_the_section_of_the_page_is_marked(signed_in, members, la938):
    client = signed_in(members["admin938"])
    assert marked(navigation(client, "/ks1-2023/la/938/errors")) == [("Data Errors", "page")]
    assert marked(navigation(client, "/ks1-2023/la/938/dashboard")) == [("Dashboard", "page")]
    # A page within a section marks the section you are in, not "this page".
    assert marked(navigation(client, "/ks1-2023/la/938/deadline")) == [("Dashboard", "true")]
    assert marked(navigation(client, "/ks1-2023/la/938/expected-pupils")) == [("Dashboard", "true")]
    assert marked(navigation(client, "/ks1-2023/la/938/school-sees")) == [
        ("Schools' checks", "true")
    ]
    assert marked(navigation(client, "/ks1-2023/la/938/pupils/add")) == [("Pupils", "true")]
    assert marked(navigation(client, "/ks1-2023/reports/la/938/summary")) == [("Reports", "true")]
    assert marked(navigation(client, "/ks1-2023/uploads/")) == [("Uploads", "page")]
    assert marked(navigation(client, "/sign-out")) == [("Sign out", "page")]


def test_every_item_opens_a_page_the_user_may_see(signed_in, members, la938):
    for who in ("admin938", "officer938", "restricted938", "school938", "national"):
        client = signed_in(members[who])
        for text, href, _ in navigation(client, "/"):
            if text != "Sign out":
                response = client.get(href, follow=True)
                assert response.status_code == 200, (who, text, href, response.status_code)
        client.logout()


def test_a_restricted_officer_has_no_return(signed_in, members, la938):
    items = navigation(signed_in(members["restricted938"]), "/")
    assert texts(items) == [s for s in LA_SECTIONS if s != "Return"] + ["Reports", "Sign out"]


def test_school_user_sees_check_upload_and_reports(signed_in, members, la938):
    client = signed_in(members["school938"])
    laestab = members["school938"].membership.school.laestab
    assert [(t, h) for t, h, _ in navigation(client, "/")] == [
        ("Check", f"/ks1-2023/schools/{laestab}/check"),
        ("Upload", "/ks1-2023/uploads/"),
        ("Reports", "/ks1-2023/reports"),
        ("Sign out", "/sign-out"),
    ]
    assert marked(navigation(client, "/ks1-2023/reports")) == [("Reports", "page")]


def test_national_admin_sees_the_collection_and_the_la_of_the_page(signed_in, members, la938):
    client = signed_in(members["national"])
    assert texts(navigation(client, "/")) == ["Collection", "Reports", "Sign out"]
    assert marked(navigation(client, "/ks1-2023/national")) == [("Collection", "page")]
    assert marked(navigation(client, "/ks1-2023/dashboard")) == [("Collection", "true")]
    # On a page about an LA, that LA's sections (no uploads: a national admin does not upload).
    items = navigation(client, "/ks1-2023/la/938/errors")
    assert texts(items) == ["Collection", *[s for s in LA_SECTIONS if s != "Uploads"]] + [
        "Reports",
        "Sign out",
    ]
    assert ("Dashboard", "/ks1-2023/la/938/dashboard", "") in items
    assert marked(items) == [("Data Errors", "page")]
    collected = navigation(client, "/ks1-2023/national/la/202")
    assert ("Pupils", "/ks1-2023/la/202/pupils", "") in collected
    assert marked(collected) == [("Collection", "true")]


def test_an_la_code_in_the_url_never_names_another_la_for_an_officer(signed_in, members, la938):
    # The officer of 938 on a report page about 202 (refused or not) is offered only 938's.
    client = signed_in(members["officer938"])
    response = client.get("/ks1-2023/reports/la/202/summary")
    items = (
        navigation(client, "/ks1-2023/reports/la/202/summary")
        if response.status_code == 200
        else []
    )
    items += navigation(client, "/ks1-2023/reports")
    assert items and not [h for _, h, _ in items if "/202" in h]


def test_signed_out_pages_offer_sign_in(client, members):
    assert marked(navigation(client, "/sign-in")) == [("Sign in", "page")]
    assert texts(navigation(client, "/sign-in")) == ["Sign in"]


def test_the_uploads_section_holds_the_history_and_batch_pages(signed_in, members, la938):
    client = signed_in(members["officer938"])
    assert ("Uploads", "/ks1-2023/uploads/", "") in navigation(client, "/")
    assert ("Uploads", "/ks1-2023/uploads/", "true") in navigation(
        client, "/ks1-2023/uploads/history"
    )
