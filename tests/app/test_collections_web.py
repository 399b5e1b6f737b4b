"""Collections side by side in the web: a collection's pages are under its id
(`/ks1-2024/la/938/dashboard`), every link on them keeps to it, an upload there goes into it,
the paths from before there were several collections redirect to the default collection's page,
an id the service does not offer answers 404, and the home page lists the collections with
where each stands and its dates."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from keystage.collection.queries import phase
from keystage.web import links
from keystage.web.links import reverse
from tests.builders import ctf, pupil

pytestmark = pytest.mark.django_db


def ctf_2024(pupils) -> str:
    """A CTF of 2023/24 (KS1 2024): the builders write 2022/23's."""
    text = ctf(pupils)
    return text.replace("<AcademicYear>2022</AcademicYear>", "<AcademicYear>2023</AcademicYear>")


def hrefs(page: str) -> list[str]:
    return re.findall(r'href="(/[^"]*)"', page)


def test_a_collections_pages_are_under_its_id_and_their_links_keep_to_it(
    la938, members, signed_in, client
):
    signed_in(members["officer938"])
    page = client.get("/ks1-2024/la/938/dashboard")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Key stage 1 teacher assessment 2024" in body  # which collection the page is of
    links_here = [h for h in hrefs(body) if not h.startswith(("/static/", "/sign-out"))]
    in_collection = [h for h in links_here if h != "/" and not h.startswith("/account/")]
    assert in_collection and all(h.startswith("/ks1-2024/") for h in in_collection), [
        h for h in in_collection if not h.startswith("/ks1-2024/")
    ]
    # 2023's pupils are 2023's: the 2024 dashboard holds none of them.
    assert (
        client.get(reverse("la-pupils", kwargs={"code": "938"})).content.decode().count("SMITH") > 0
    )
    grid_2024 = client.get("/ks1-2024/la/938/pupils").content.decode()
    assert "SMITH" not in grid_2024


def test_an_upload_in_a_collection_goes_into_that_collection(la938, members, signed_in, client):
    from keystage.submissions.models import ImportBatch

    signed_in(members["officer938"])
    file = SimpleUploadedFile("y2024.xml", ctf_2024([pupil(n) for n in (1, 2)]).encode(),
                              "text/xml")  # fmt: skip
    response = client.post("/ks1-2024/uploads/", {"files": [file]})
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.collection.code == "ks1-2024"
    assert response["Location"] == f"/ks1-2024/uploads/{batch.pk}/"


def _collection_names() -> set[str]:
    return {n for n in links._names_in_collections("keystage.web.urls")}


def test_every_path_from_before_collections_redirects_to_the_default_collections_page(
    la938, members, signed_in, client
):
    signed_in(members["officer938"])
    response = client.get("/la/938/errors?school=9382001")
    assert response.status_code == 301
    assert response["Location"] == "/ks1-2023/la/938/errors?school=9382001"
    assert client.get(response["Location"]).status_code == 200
    # Behind a proxy that serves Keystage under a path of its own (the WSGI handler sets the
    # script prefix from SCRIPT_NAME; the test client does not), the redirect keeps it.
    from django.urls import set_script_prefix

    set_script_prefix("/keystage/")
    try:
        prefixed = client.get("/la/938/errors")
    finally:
        set_script_prefix("/")
    assert prefixed["Location"] == "/keystage/ks1-2023/la/938/errors"
    # A form posted to an old path is posted again (308), not turned into a GET.
    posted = client.post("/la/938/deadline", {"deadline-day": "1"})
    assert posted.status_code == 308 and posted["Location"] == "/ks1-2023/la/938/deadline"
    # Every page of a collection has its old path, and nothing else is unnamed.
    old = []

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name is None:
                assert p.callback is links._to_default_collection, prefix + str(p.pattern)
                old.append(prefix + str(p.pattern))

    walk(get_resolver().url_patterns)
    assert len(old) == len(_collection_names()) > 50


def test_a_collection_the_service_does_not_offer_is_not_found(la938, members, signed_in, client,
                                                              settings):  # fmt: skip
    signed_in(members["officer938"])
    assert client.get("/ks9-2031/la/938/dashboard").status_code == 404
    assert client.get("/phonics-2024/la/938/dashboard").status_code == 200  # offered by default
    # A service that offers KS1 alone: phonics-2024 has a definition, but is not offered.
    settings.KEYSTAGE_COLLECTIONS = ["ks1-2023", "ks1-2024", "ks1-2025"]
    assert client.get("/phonics-2024/la/938/dashboard").status_code == 404
    assert client.get("/ks1-2025/la/938/dashboard").status_code == 200


def test_outside_a_request_links_are_the_default_collections():
    assert reverse("la-dashboard", kwargs={"code": "938"}) == "/ks1-2023/la/938/dashboard"
    assert reverse("home") == "/" and reverse("users") == "/users/"
    assert reverse("la-dashboard", kwargs={"code": "938", "collection": "ks1-2025"}) == (
        "/ks1-2025/la/938/dashboard"
    )


def test_the_home_page_lists_the_collections_with_their_state_and_dates(
    la938, members, signed_in, client
):
    signed_in(members["officer938"])
    page = client.get(reverse("home")).content.decode()
    listed = page[page.index("data-collections") :]
    listed = listed[: listed.index("</dl>")]
    rows = listed.split('<div class="govuk-summary-list__row')[1:]
    # The service's default collections: the statutory ones first, then KS1's optional years.
    assert [re.search(r'href="([^"]+)"', r).group(1) for r in rows] == [
        "/ks1-2023/la/938/dashboard", "/phonics-2023/la/938/dashboard",
        "/phonics-2024/la/938/dashboard", "/phonics-2025/la/938/dashboard",
        "/eyfsp-2023/la/938/dashboard", "/eyfsp-2024/la/938/dashboard",
        "/eyfsp-2025/la/938/dashboard",
        "/ks1-2024/la/938/dashboard", "/ks1-2025/la/938/dashboard",
    ]  # fmt: skip
    ks1, _, phonics, _, _, eyfsp, _, optional, _ = (
        " ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in rows
    )
    assert "Key stage 1 teacher assessment 2023" in ks1
    assert "Closed" in ks1 and "National deadline 21 July 2023" in ks1
    assert ks1.endswith("5 pupils held")  # LA 938's in 2023 (la938: 3 + 2)
    assert "Phonics screening check 2024" in phonics and "Optional" not in phonics
    assert "National deadline 19 July 2024" in phonics
    assert "Schools' deadline 25 June 2024" in phonics and phonics.endswith("0 pupils held")
    assert "Early years foundation stage profile 2024" in eyfsp and "Optional" not in eyfsp
    assert "National deadline 12 July 2024" in eyfsp, eyfsp
    assert "Optional: no national return" in optional and "National deadline" not in optional
    assert "Schools' deadline 25 June 2024" in optional and optional.endswith("0 pupils held")


def test_a_collections_phase_follows_its_dates():
    dates = {"opens": dt.date(2024, 6, 10), "closes": dt.date(2024, 10, 12)}
    assert phase(dates, dt.date(2024, 6, 9)) == "not yet open"
    assert phase(dates, dt.date(2024, 6, 10)) == "open"
    assert phase(dates, dt.date(2024, 10, 12)) == "open"
    assert phase(dates, dt.date(2024, 10, 13)) == "closed"


def test_a_collection_without_a_national_return_says_so_instead_of_its_return_pages(
    la938, members, signed_in, client
):
    signed_in(members["officer938"])
    response = client.get("/ks1-2024/la/938/returns")
    assert response.status_code == 404
    assert "Key stage 1 teacher assessment 2024 has no national return" in (
        response.content.decode()
    )
    dashboard = client.get("/ks1-2024/la/938/dashboard").content.decode()
    assert "/ks1-2024/la/938/returns" not in dashboard
    assert "None: this collection has no national return" in dashboard
    assert "/ks1-2023/la/938/returns" in client.get("/ks1-2023/la/938/dashboard").content.decode()
    signed_in(members["national"])
    assert client.get("/ks1-2024/national").status_code == 404
    home = client.get(reverse("home")).content.decode()
    assert 'href="/ks1-2023/national"' in home and 'href="/ks1-2024/dashboard"' in home
