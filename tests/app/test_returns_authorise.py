"""Authorising an LA as the collector does it: a confirmation page says what will and will not
be authorised (with a warning); authorising authorises the school returns that can be and lists
the others in one error summary, with the schools' names and links to their returns."""

from __future__ import annotations

import pytest
from lxml import etree

from keystage.audit.models import AuditEvent
from keystage.returns import actions
from keystage.returns.models import CollectedReturn
from keystage.web.links import reverse

pytestmark = pytest.mark.django_db

URL = reverse("collected-la-authorise", kwargs={"code": "938"})


@pytest.fixture
def submitted(la938, loaded, members):
    """9382001 clean, 9382002 with a query without an explanation, both submitted."""
    g = actions.do_build_return(la938, loaded, user=members["officer938"], confirm=True)
    actions.do_submit_generation(g, user=members["officer938"])
    return g


def _statuses():
    return dict(CollectedReturn.objects.values_list("school__laestab", "status"))


def _school_url(laestab):
    return reverse("collected-return", kwargs={"code": "938", "laestab": laestab})


def test_the_confirmation_page_says_what_will_and_will_not_be_authorised(
    submitted, members, signed_in
):
    client = signed_in(members["national"])
    la_page = client.get(reverse("collected-la", kwargs={"code": "938"})).content.decode()
    assert f'href="{URL}"' in la_page  # a link to the confirmation, not a one-click POST
    page = client.get(URL)
    assert page.status_code == 200
    html = etree.HTML(page.content)
    will = " ".join("".join(html.xpath('//*[@id="will"]')[0].itertext()).split())
    assert will == "1 school return will be authorised"
    will_not = " ".join("".join(html.xpath('//*[@id="will-not"]')[0].itertext()).split())
    assert will_not == "1 school return will not be authorised"
    rows = [" ".join("".join(tr.itertext()).split()) for tr in html.xpath("//tbody/tr")]
    assert rows == [
        "9382001 Example Primary School 3",
        "9382002 " + CollectedReturn.objects.get(school__laestab="9382002").school.name
        + " 2 it has 1 query without an explanation",
    ]  # fmt: skip
    assert _school_url("9382002") in html.xpath("//tbody//a/@href")
    warning = "".join(html.xpath('//div[contains(@class, "govuk-warning-text")]')[0].itertext())
    assert "can be undone only by sending each school return back" in warning
    button = html.xpath('//form//button[contains(@class, "govuk-button")]')[0]
    assert " ".join(button.text.split()) == "Authorise 1 school return"
    assert button.get("data-prevent-double-click") == "true"
    assert set(_statuses().values()) == {"submitted"}  # looking changes nothing
    for who in ("officer938", "admin938"):
        other = signed_in(members[who])
        assert other.get(URL).status_code == 403 and other.post(URL).status_code == 403
    assert set(_statuses().values()) == {"submitted"}


def test_authorising_an_la_authorises_what_can_be_and_lists_the_rest_once(
    submitted, members, signed_in
):
    client = signed_in(members["national"])
    response = client.post(URL)
    assert response.status_code == 200
    assert _statuses() == {"9382001": "authorised", "9382002": "submitted"}
    html = etree.HTML(response.content)
    summaries = html.xpath('//div[@data-module="govuk-error-summary"]')
    assert len(summaries) == 1
    links = summaries[0].xpath(".//a")
    name = CollectedReturn.objects.get(school__laestab="9382002").school.name
    assert [(" ".join(a.text.split()), a.get("href")) for a in links] == [
        (
            f"{name} (9382002) was not authorised: it has 1 query without an explanation",
            _school_url("9382002"),
        )
    ]
    body = " ".join("".join(html.xpath("//main")[0].itertext()).split())
    assert "1 school return of West Sussex authorised." in body
    # no banner per school: the refusals are in the summary only
    assert not html.xpath(
        '//div[contains(@class, "govuk-notification-banner")][contains(., "9382002")]'
    )
    event = AuditEvent.objects.get(action="return.la_authorised")
    assert event.detail == {
        "authorised": ["9382001"],
        "not_authorised": {"9382002": "it has 1 query without an explanation"},
    }
    assert AuditEvent.objects.filter(action="return.authorised").count() == 1
    # Again: nothing more can be authorised; the summary still names the one left.
    again = etree.HTML(client.post(URL).content)
    assert len(again.xpath('//div[@data-module="govuk-error-summary"]//a')) == 1
    assert AuditEvent.objects.filter(action="return.authorised").count() == 1
