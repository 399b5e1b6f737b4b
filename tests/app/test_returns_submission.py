"""Submitting the statutory return as an LA approver does it: check your answers (schools,
pupils, open errors, unexplained queries, with links), the declaration (an error summary when
it is not ticked), the confirmation page with a reference, and a repeat of the same submission
refused on the server, also when two requests of the same form arrive at once."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from django.db import connection, connections
from django.test import Client
from lxml import etree

from keystage.audit.models import AuditEvent
from keystage.returns import actions
from keystage.returns.models import (
    CollectedReturn,
    CollectedReturnVersion,
    ReturnGeneration,
    ReturnSubmission,
)
from keystage.web.links import reverse
from tests.app.conftest import verify_two_factor

pytestmark = pytest.mark.django_db

SUBMIT = "la-return-submit"


def _built(la938, loaded, members) -> ReturnGeneration:
    # 9382002 keeps its query unexplained: the check page must show it.
    return actions.do_build_return(la938, loaded, user=members["officer938"], confirm=True)


def _url(name=SUBMIT, **kw):
    return reverse(name, kwargs={"code": "938", **kw})


def _form(client, serial=1) -> dict:
    """The check-your-answers page's form as a browser would post it, declaration ticked."""
    html = etree.HTML(client.get(_url(serial=serial)).content)
    token = html.xpath('//form//input[@name="token"]/@value')[0]
    return {"token": token, "declaration": "confirmed"}


def test_check_your_answers_shows_what_is_sent_and_asks_for_the_declaration(
    la938, loaded, members, signed_in
):
    g = _built(la938, loaded, members)
    client = signed_in(members["officer938"])
    returns_page = client.get(_url("la-returns")).content.decode()
    assert f'href="{_url(serial=g.serial)}"' in returns_page  # a link, not a one-click POST
    page = client.get(_url(serial=g.serial))
    assert page.status_code == 200
    html = etree.HTML(page.content)
    assert html.xpath("//h1")[0].text == "Check your answers before submitting the return"
    rows = {
        "".join(row.xpath('./dt[contains(@class, "key")]')[0].itertext()).strip(): " ".join(
            "".join(row.xpath('./dd[contains(@class, "value")]')[0].itertext()).split()
        )
        for row in html.xpath('//dl[contains(@class, "govuk-summary-list")]/div')
    }
    assert rows["Schools"] == "2 schools"
    assert rows["Pupils"] == "5 pupils"
    assert rows["Open errors"] == "0 errors in West Sussex's data when the return was built"
    assert rows["Queries without an explanation"] == "1 query when the return was built"
    # The return's figures, hand-worked from the five pupils: reading EXS but one Q (not a
    # result: eligible, not met), writing WTS, maths GDS, science EXS.
    assert (
        rows["English reading"]
        == "5 eligible, 4 expected standard or above (80%), 0 greater depth (0%)"
    )
    assert (
        rows["English writing"]
        == "5 eligible, 0 expected standard or above (0%), 0 greater depth (0%)"
    )
    assert rows["Mathematics"] == (
        "5 eligible, 5 expected standard or above (100%), 5 greater depth (100%)"
    )
    assert rows["Science"] == "5 eligible, 5 expected standard or above (100%)"
    assert rows["Reading, writing and maths combined"] == (
        "5 eligible, 0 expected standard or above (0%), 0 greater depth (0%)"
    )
    links = html.xpath('//dd[contains(@class, "actions")]//a/@href')
    assert f"{reverse('la-errors', kwargs={'code': '938'})}?severity=query" in links
    button = html.xpath('//form//button[contains(@class, "govuk-button")]')[0]
    assert button.get("data-prevent-double-click") == "true"
    assert html.xpath('//input[@name="declaration"][@value="confirmed"]')
    assert not CollectedReturn.objects.exists()  # looking changes nothing
    # Another LA's approver, an LA admin who is not an approver, a school user: no way in.
    for who, status in (("officer202", 404), ("admin938", 403), ("school938", 403)):
        assert signed_in(members[who]).get(_url(serial=g.serial)).status_code == status


def test_the_declaration_must_be_ticked(la938, loaded, members, signed_in):
    g = _built(la938, loaded, members)
    client = signed_in(members["officer938"])
    form = _form(client, g.serial)
    response = client.post(_url(serial=g.serial), {"token": form["token"]})
    assert response.status_code == 400
    html = etree.HTML(response.content)
    summary = html.xpath('//div[contains(@class, "govuk-error-summary")]//a')
    assert [a.get("href") for a in summary] == ["#declaration"]
    assert html.xpath('//input[@id="declaration"]')
    message = html.xpath('//p[contains(@class, "govuk-error-message")]')
    assert "Tick the box to confirm the declaration" in "".join(message[0].itertext())
    # the same form (token) is offered again, so ticking and submitting makes one submission
    assert html.xpath('//input[@name="token"]/@value') == [form["token"]]
    assert not ReturnSubmission.objects.exists() and not CollectedReturn.objects.exists()


def test_submitting_shows_a_reference_and_a_repeat_is_refused(la938, loaded, members, signed_in):
    g = _built(la938, loaded, members)
    client = signed_in(members["officer938"])
    form = _form(client, g.serial)
    first = client.post(_url(serial=g.serial), form)
    submission = ReturnSubmission.objects.get()
    assert submission.reference == "KS1-2023-938-001" and submission.generation == g
    assert first["Location"] == _url("la-return-submitted", reference=submission.reference)
    page = etree.HTML(client.get(first["Location"]).content)
    panel = page.xpath('//div[contains(@class, "govuk-panel--confirmation")]')[0]
    assert "Return submitted" in "".join(panel.itertext())
    assert "KS1-2023-938-001" in "".join(panel.itertext())
    event = AuditEvent.objects.get(action="return.submission_made")
    assert event.detail["reference"] == "KS1-2023-938-001" and event.actor == "officer938"
    assert "I am an approver of West Sussex" in event.detail["declaration"]

    # The same form again (a second click, a reload), or a fresh form for the same build:
    # told it was submitted, with the reference; nothing loaded again, nothing "amended".
    again = client.post(_url(serial=g.serial), form, follow=True)
    assert "already submitted" in again.content.decode()
    assert "KS1-2023-938-001" in again.content.decode()
    fresh = client.post(_url(serial=g.serial), {"token": actions.new_submission_token(),
                                                 "declaration": "confirmed"}, follow=True)  # fmt: skip
    assert "already submitted" in fresh.content.decode()
    assert ReturnSubmission.objects.count() == 1
    assert CollectedReturnVersion.objects.count() == 2  # one per school, version 1
    assert set(CollectedReturn.objects.values_list("status", flat=True)) == {"submitted"}
    # a token that is not one of ours is refused, not stored
    response = client.post(_url(serial=g.serial), {"token": "<x>", "declaration": "confirmed"})
    assert response.status_code == 302 and ReturnSubmission.objects.count() == 1


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    from keystage.accounts.two_factor import needs_two_factor

    if needs_two_factor(user):
        verify_two_factor(client, user)
    return client


@pytest.fixture
def own_connections(transactional_db, la938, tmp_path):
    """Threads with database connections of their own. PostgreSQL (and a deployment's SQLite
    file) give each thread its own connection as it is; the suite's in-memory SQLite cannot
    have two writers at once (its shared-cache table locks refuse at once instead of waiting
    as a file's locks do), so the test runs on a file copy of it, then puts the memory one
    back for pytest-django to empty."""
    if connection.vendor != "sqlite" or not connection.is_in_memory_db():
        yield
        return
    settings = connections.settings["default"]
    memory_name = settings["NAME"]
    path = tmp_path / "concurrent.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(path)
    connection.connection.backup(target)
    target.close()
    memory = connection.connection  # kept open: closing it would drop the memory database
    connection.connection = None
    settings["NAME"] = connection.settings_dict["NAME"] = str(path)
    try:
        yield
    finally:
        connection.close()
        settings["NAME"] = connection.settings_dict["NAME"] = memory_name
        connection.connection = memory


@pytest.mark.django_db(transaction=True)
def test_two_posts_of_the_same_form_at_once_make_one_submission(
    la938, loaded, members, own_connections
):
    g = _built(la938, loaded, members)
    officer = members["officer938"]
    clients = [_client_for(officer), _client_for(officer)]
    form = _form(clients[0], g.serial)
    start = threading.Barrier(2)
    responses: list = [None, None]
    errors: list = []

    def post(i: int) -> None:
        try:
            start.wait(timeout=10)
            responses[i] = clients[i].post(_url(serial=g.serial), form, follow=True)
        except BaseException as e:  # noqa: BLE001 - reported by the test below
            errors.append(e)
        finally:
            connection.close()  # each thread had a database connection of its own

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert ReturnSubmission.objects.count() == 1
    reference = ReturnSubmission.objects.get().reference
    bodies = [r.content.decode() for r in responses]
    assert all(r.status_code == 200 and reference in b for r, b in zip(responses, bodies))
    assert sum("already submitted" in b for b in bodies) == 1
    assert CollectedReturnVersion.objects.count() == 2
    assert set(CollectedReturn.objects.values_list("status", flat=True)) == {"submitted"}
    assert AuditEvent.objects.filter(action="return.submitted").count() == 2  # 2 schools, once


def test_uploaded_returns_are_submitted_through_the_same_check_and_once(
    la938, loaded, members, signed_in
):
    g = _built(la938, loaded, members)
    files = [(f["name"], actions.generation_path(g, f["name"]).read_bytes()) for f in g.files]
    actions.do_upload_returns(la938, loaded, files, user=members["officer938"])
    client = signed_in(members["officer938"])
    url = _url("la-return-submit-loaded")
    assert f'href="{url}"' in client.get(_url("la-returns")).content.decode()
    html = etree.HTML(client.get(url).content)
    assert "School returns loaded from uploaded files" in "".join(html.xpath("//dl")[0].itertext())
    token = html.xpath('//form//input[@name="token"]/@value')[0]
    # not ticked, or ticked with a value that is not the declaration's: refused, nothing sent
    for declaration in ({}, {"declaration": "yes"}):
        response = client.post(url, {"token": token, **declaration})
        assert response.status_code == 400
    assert set(CollectedReturn.objects.values_list("status", flat=True)) == {"loaded"}
    form = {"token": token, "declaration": "confirmed"}
    first = client.post(url, form)
    submission = ReturnSubmission.objects.get()
    assert submission.generation is None and submission.schools == 2
    assert first["Location"] == _url("la-return-submitted", reference=submission.reference)
    again = client.post(url, form, follow=True).content.decode()
    assert "already submitted" in again and submission.reference in again
    assert ReturnSubmission.objects.count() == 1
    assert set(CollectedReturn.objects.values_list("status", flat=True)) == {"submitted"}
    # another LA's officer cannot read the confirmation page
    other = signed_in(members["officer202"])
    confirmation = _url("la-return-submitted", reference=submission.reference)
    assert other.get(confirmation).status_code == 404
    assert (
        other.get(
            reverse(
                "la-return-submitted", kwargs={"code": "202", "reference": submission.reference}
            )
        ).status_code
        == 404
    )
