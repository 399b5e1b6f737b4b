"""The 404, 403 and 500 pages: in the service's layout (its navigation, the user still signed
in), GOV.UK's headings, and a way back home."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from keystage.web.links import reverse

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _h1(response) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", response.content.decode(), re.S)
    return " ".join(found.group(1).split()) if found else ""


def _in_the_service_layout(response) -> None:
    html = response.content.decode()
    assert "govuk-service-navigation" in html and "govuk-header" in html and "govuk-footer" in html
    assert 'href="/"' in html and "Go to the Keystage home page" in _text(response)


def test_a_missing_page_for_a_signed_in_user(members, signed_in):
    client = signed_in(members["officer938"])
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert _h1(response) == "Page not found"
    _in_the_service_layout(response)
    assert "Sign out" in _text(response)  # still signed in: the service's own navigation
    assert "Ask an LA admin of West Sussex" in _text(response)
    assert "Page not found - Keystage" in _text(response)  # the page title


def test_another_las_page_is_not_found_and_says_nothing_of_it(members, signed_in):
    client = signed_in(members["officer938"])
    response = client.get(reverse("la-checking", kwargs={"code": "202"}))
    assert response.status_code == 404 and _h1(response) == "Page not found"
    assert "Camden" not in _text(response)
    _in_the_service_layout(response)


def test_a_page_the_role_may_not_see(members, signed_in):
    client = signed_in(members["officer938"])
    response = client.get(reverse("la-audit", kwargs={"code": "938"}))  # LA admins only
    assert response.status_code == 403
    assert _h1(response) == "You do not have permission to view this page"
    page = _text(response)
    assert "Your role cannot see this page." in page
    assert "You are signed in as officer938 (LA officer, West Sussex)" in page
    assert "ask an LA admin of West Sussex to change your role" in page
    _in_the_service_layout(response)


def test_a_school_user_is_told_to_contact_the_la(members, signed_in):
    client = signed_in(members["school938"])
    response = client.post(reverse("la-checking-release", kwargs={"code": "938"}), {})
    assert response.status_code in (403, 404)
    response = client.get(reverse("la-dashboard", kwargs={"code": "938"}))
    assert response.status_code == 403
    assert "If you need to do this, contact West Sussex." in _text(response)
    response = client.get("/no-such-page")
    assert "Contact West Sussex if you think you should see it" in _text(response)


def test_signed_out_a_missing_page_offers_sign_in(db):
    response = Client().get("/no-such-page")
    assert response.status_code == 404 and _h1(response) == "Page not found"
    assert "Sign in" in _text(response)


def test_a_failure_shows_the_service_problem_page(rf, members, monkeypatch):
    from keystage.web import errors

    request = rf.get("/")
    request.user = members["officer938"]
    response = errors.server_error(request)
    assert response.status_code == 500
    assert _h1(response) == "Sorry, there is a problem with the service"
    assert "govuk-header" in response.content.decode()

    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(errors, "render", broken)
    response = errors.server_error(request)
    assert response.status_code == 500
    assert response.content.decode().startswith("Sorry, there is a problem with the service")


def test_an_old_form_is_refused_in_the_service_layout(members):
    client = Client(enforce_csrf_checks=True)
    client.force_login(members["officer938"], backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("la-checking-release", kwargs={"code": "938"}), {})
    assert response.status_code == 403
    assert _h1(response) == "The form could not be sent"
    assert "reload the page and send the form again" in _text(response)
    _in_the_service_layout(response)
