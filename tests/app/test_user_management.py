"""User management pages: an LA admin manages their own LA's users, a national admin manages
LA admins and national admins, and nobody reaches another LA's users."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from keystage.accounts.models import Membership, Role
from keystage.audit.models import AuditEvent
from keystage.orgs.models import LocalAuthority, School
from keystage.web.links import reverse

pytestmark = pytest.mark.django_db


def _password(response) -> str:
    [password] = re.findall(r'id="one-time-password"[^>]*>([^<]+)<', response.content.decode())
    return password


def _invite(client, **form):
    return client.post(reverse("user-create"), form)


@pytest.mark.parametrize(
    "role, extra",
    [
        (Role.LA_OFFICER, {"is_approver": "on"}),
        (Role.LA_RESTRICTED, {"schools": ["125000", "125002"]}),
        (Role.SCHOOL_USER, {"school": "125001"}),
        (Role.LA_ADMIN, {}),
    ],
)
def test_la_admin_invites_each_kind_of_user_in_their_la(members, signed_in, role, extra):
    client = signed_in(members["admin938"])
    by_urn = {s.urn: str(s.pk) for s in School.objects.all()}
    for key in ("school", "schools"):
        if key in extra:
            value = extra[key]
            extra[key] = [by_urn[v] for v in value] if isinstance(value, list) else by_urn[value]
    response = _invite(client, username="new.user", email="new@example.org", role=role, **extra)
    assert response.status_code == 200, response.content.decode()
    body = response.content.decode()
    assert "User invited" in body and "does not send emails yet" in body
    member = Membership.objects.select_related("user", "la").get(user__username="new.user")
    assert member.role == role and member.la.code == "938"
    if role == Role.LA_RESTRICTED:
        assert sorted(s.urn for s in member.schools.all()) == ["125000", "125002"]
    if role == Role.SCHOOL_USER:
        assert member.school.urn == "125001"
    assert member.is_approver == (role == Role.LA_OFFICER)
    # The password shown works, once given to the user.
    assert member.user.check_password(_password(response))
    assert AuditEvent.objects.filter(action="account.created", la=member.la).exists()


def test_la_admin_cannot_invite_into_another_la(members, signed_in):
    client = signed_in(members["admin938"])
    camden = School.objects.get(urn="100000")
    response = _invite(client, username="sneaky", role=Role.SCHOOL_USER, school=camden.pk)
    assert response.status_code == 200
    assert "Choose a school of your LA from the list" in response.content.decode()
    response = _invite(client, username="sneaky", role=Role.LA_RESTRICTED, schools=[camden.pk])
    assert "Choose schools of your LA from the list" in response.content.decode()
    # An LA field sent by hand is ignored: an LA admin only ever creates in their own LA.
    response = _invite(client, username="sneaky", role=Role.LA_OFFICER, la="202")
    assert Membership.objects.get(user__username="sneaky").la.code == "938"
    # Nor can an LA admin make a national admin.
    response = _invite(client, username="boss", role=Role.NATIONAL_ADMIN)
    assert not get_user_model().objects.filter(username="boss").exists()


def test_la_admin_sees_only_their_las_users(members, signed_in):
    client = signed_in(members["admin938"])
    body = client.get(reverse("users")).content.decode()
    assert "officer938" in body and "school938" in body and "restricted938" in body
    assert "admin202" not in body and "officer202" not in body and ">national<" not in body
    other = members["officer202"].membership.pk
    for name in ("user-detail", "user-approver", "user-deactivate"):
        method = client.get if name == "user-detail" else client.post
        assert method(reverse(name, args=[other])).status_code == 404, name
    assert members["officer202"].is_active


@pytest.mark.parametrize("who", ["officer938", "restricted938", "school938"])
def test_other_roles_get_403(members, signed_in, who):
    client = signed_in(members[who])
    own = members["admin938"].membership.pk
    assert client.get(reverse("users")).status_code == 403
    assert client.get(reverse("user-create")).status_code == 403
    assert client.post(reverse("user-deactivate", args=[own])).status_code in (403, 404)
    assert members["admin938"].is_active


def test_national_admin_invites_la_admins_and_national_admins(members, signed_in):
    client = signed_in(members["national"])
    body = client.get(reverse("users")).content.decode()
    assert "admin938" in body and "admin202" in body and "officer938" not in body
    response = _invite(client, username="camden.admin", role=Role.LA_ADMIN, la="202")
    assert response.status_code == 200 and "User invited" in response.content.decode()
    member = Membership.objects.get(user__username="camden.admin")
    assert member.role == Role.LA_ADMIN and member.la == LocalAuthority.objects.get(code="202")
    response = _invite(client, username="second.national", role=Role.NATIONAL_ADMIN, la="202")
    member = Membership.objects.get(user__username="second.national")
    assert member.role == Role.NATIONAL_ADMIN and member.la is None
    response = _invite(client, username="no.la", role=Role.LA_ADMIN)
    assert "Choose the local authority this admin works for" in response.content.decode()
    # A national admin manages admins only, not an LA's officers.
    officer = members["officer938"].membership.pk
    assert client.get(reverse("user-detail", args=[officer])).status_code == 404
    admin = members["admin202"].membership.pk
    assert client.post(reverse("user-deactivate", args=[admin])).status_code == 302
    members["admin202"].refresh_from_db()
    assert not members["admin202"].is_active


def test_deactivated_user_cannot_sign_in(members, signed_in, client):
    from tests.app.conftest import STRONG_PASSWORD

    officer = members["officer938"]
    signed_in(members["admin938"])
    response = client.post(reverse("user-deactivate", args=[officer.membership.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("users")
    assert AuditEvent.objects.filter(action="account.deactivated").count() == 1
    client.logout()
    response = client.post(
        reverse("sign-in"), {"username": "officer938", "password": STRONG_PASSWORD}
    )
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    # An admin cannot lock themselves out.
    admin = signed_in(members["admin938"])
    admin.post(reverse("user-deactivate", args=[members["admin938"].membership.pk]))
    members["admin938"].refresh_from_db()
    assert members["admin938"].is_active


def test_a_session_open_when_deactivated_stops_working(members, signed_in, client):
    from keystage.accounts.actions import do_deactivate_member

    signed_in(members["officer938"])
    assert client.get(reverse("home")).status_code == 200
    do_deactivate_member(members["officer938"].membership, by=members["admin938"])
    assert client.get(reverse("home")).status_code == 302


def test_approver_change_is_audited(members, signed_in):
    client = signed_in(members["admin938"])
    restricted = members["restricted938"].membership
    url = reverse("user-approver", args=[restricted.pk])
    assert client.post(url, {"is_approver": "yes"}).status_code == 302
    restricted.refresh_from_db()
    assert restricted.is_approver
    assert client.post(url, {"is_approver": "no"}).status_code == 302
    restricted.refresh_from_db()
    assert not restricted.is_approver
    events = AuditEvent.objects.filter(action="account.approver_set").order_by("pk")
    assert [e.detail["is_approver"] for e in events] == [True, False]
    assert {e.la.code for e in events} == {"938"}
    # A school user is never an approver.
    school = members["school938"].membership
    client.post(reverse("user-approver", args=[school.pk]), {"is_approver": "yes"})
    school.refresh_from_db()
    assert not school.is_approver


def test_pages_render_for_admins(members, signed_in):
    client = signed_in(members["admin938"])
    home = client.get(reverse("home")).content.decode()
    assert reverse("users") in home
    for url in (reverse("users"), reverse("user-create"),
                reverse("user-detail", args=[members["restricted938"].membership.pk])):  # fmt: skip
        body = client.get(url).content.decode()
        assert "<h1" in body and "<title>" in body, url
