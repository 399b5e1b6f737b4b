"""The audit log page: an LA's events for its admins (and national admins), newest first,
filtered by action and paged; nobody else sees it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from keystage.audit.models import AuditEvent
from keystage.collection import views
from keystage.orgs.models import LocalAuthority, School

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(loaded, members):
    la938, la202 = LocalAuthority.objects.get(code="938"), LocalAuthority.objects.get(code="202")
    school = School.objects.get(urn="125001")
    now = timezone.now()
    AuditEvent.objects.all().delete()  # the members' own "account.created" rows
    AuditEvent.objects.create(at=now - dt.timedelta(hours=3), actor="first", la=la938,
                              action="upload.accepted", school=school,
                              detail={"file_name": "downs.xml", "pupils": 30})  # fmt: skip
    AuditEvent.objects.create(at=now - dt.timedelta(hours=2), actor="second", la=la938,
                              action="collection.school_deadline_set",
                              detail={"school_deadline": "2023-06-30"})  # fmt: skip
    AuditEvent.objects.create(at=now - dt.timedelta(hours=1), actor="third", la=la938,
                              action="view.data_errors", detail={"filters": {"rule": "KS1-T07"}})  # fmt: skip
    AuditEvent.objects.create(at=now, actor="camden-person", la=la202, action="upload.accepted")
    AuditEvent.objects.create(at=now, actor="national-job", action="national.event")


def audit(client, code="938", **params):
    return client.get(reverse("la-audit", kwargs={"code": code}), params)


def actors(page: str) -> list[str]:
    return re.findall(r">\s*(first|second|third|camden-person|national-job)\s*<", page)


def test_la_admin_sees_their_las_events_newest_first(events, signed_in, members):
    response = audit(signed_in(members["admin938"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Audit log - West Sussex - Keystage</title>" in page
    assert page.count("<h1") == 1 and "<caption" in page and 'for="action"' in page
    assert actors(page) == ["third", "second", "first"]
    assert "9382002 Downs Infant School" in page
    assert "file name: downs.xml; pupils: 30" in page and "filters: rule=KS1-T07" in page


def test_filter_by_action(events, signed_in, members):
    page = audit(signed_in(members["admin938"]), action="upload.accepted").content.decode()
    assert actors(page) == ["first"]
    # an unknown action shows everything rather than failing
    page = audit(signed_in(members["admin938"]), action="nope").content.decode()
    assert actors(page) == ["third", "second", "first"]


def test_the_log_is_paged(events, signed_in, members, monkeypatch):
    monkeypatch.setattr(views, "AUDIT_PER_PAGE", 2)
    client = signed_in(members["admin938"])
    page = audit(client).content.decode()
    assert actors(page) == ["third", "second"] and "page=2" in page
    assert actors(audit(client, page=2).content.decode()) == ["first"]


def test_national_admin_sees_any_las_log(events, signed_in, members):
    client = signed_in(members["national"])
    assert actors(audit(client, "202").content.decode()) == ["camden-person"]
    assert actors(audit(client).content.decode()) == ["third", "second", "first"]


def test_others_cannot_see_the_log(events, signed_in, members):
    for who in ("officer938", "restricted938", "school938"):
        assert audit(signed_in(members[who])).status_code == 403, who
    for who in ("admin202", "officer202", "school202"):
        assert audit(signed_in(members[who])).status_code == 404, who
    assert audit(signed_in(members["nobody"])).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(events, client):
    response = audit(client)
    assert response.status_code == 302 and reverse("sign-in") in response["Location"]
