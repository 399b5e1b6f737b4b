"""Passwords and sessions through the real pages: changing your password, replacing an
invitation's one-time password at first sign-in, an admin's reset, sessions that end when
unused or after 8 hours, `Cache-Control: no-store` for signed-in users, and an LA's choice of
who must use two-factor sign-in."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from keystage.accounts import middleware
from keystage.accounts.models import Membership, Role
from keystage.audit.models import AuditEvent
from keystage.web.links import reverse
from tests.app.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Purple-Kettle-Orbit-42"


def sign_in(client, username, password=STRONG_PASSWORD, **extra):
    return client.post(reverse("sign-in"), {"username": username, "password": password, **extra})


def change(client, current=STRONG_PASSWORD, new=NEW_PASSWORD, again=None, **extra):
    data = {"new_password": new, "new_password_again": new if again is None else again, **extra}
    if current is not None:
        data["current_password"] = current
    return client.post(reverse("password-change"), data)


def one_time_password(response) -> str:
    [password] = re.findall(r'id="one-time-password"[^>]*>([^<]+)<', response.content.decode())
    return password


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}"


def can_sign_in(username, password) -> bool:
    client = Client()
    sign_in(client, username, password)
    return "_auth_user_id" in client.session


# -- changing your password -------------------------------------------------------------------


def test_home_page_links_to_change_your_password(signed_in, members):
    page = signed_in(members["officer938"]).get(reverse("home")).content.decode()
    assert f'href="{reverse("password-change")}"' in page and "Change your password" in page


def test_user_changes_their_password(client, members):
    sign_in(client, "officer938")
    page = client.get(reverse("password-change")).content.decode()
    assert "<h1" in page and "Change your password" in page
    assert 'autocomplete="current-password"' in page and 'autocomplete="new-password"' in page
    response = change(client)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Password changed" in body and "govuk-panel" in body
    # This session goes on; the new password works and the old one no longer does.
    assert client.get(reverse("home")).status_code == 200
    assert can_sign_in("officer938", NEW_PASSWORD)
    assert not can_sign_in("officer938", STRONG_PASSWORD)
    event = AuditEvent.objects.get(action="account.password_changed")
    assert event.actor == "officer938" and event.la.code == "938"
    assert event.detail["first_sign_in"] is False


def test_changing_the_password_signs_out_the_users_other_browsers(client, members):
    other = Client()
    sign_in(other, "officer938")
    assert other.get(reverse("home")).status_code == 200
    sign_in(client, "officer938")
    change(client)
    assert other.get(reverse("home")).status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_empty_form_lists_every_missing_field(client, members):
    sign_in(client, "officer938")
    response = client.post(reverse("password-change"), {})
    page = response.content.decode()
    assert "<title>Error: Change your password - Keystage</title>" in page
    assert "There is a problem" in page
    for text, field in (
        ("Enter your current password", "id_current_password"),
        ("Enter a new password", "id_new_password"),
        ("Enter the new password again", "id_new_password_again"),
    ):
        assert f'<a href="#{field}">{text}</a>' in page, text
        assert page.count(text) == 2  # the summary and the field


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"current": "not-my-password"}, "Your current password is not right"),
        ({"again": "Purple-Kettle-Orbit-43"}, "The two new passwords are different"),
        ({"new": "short-pw1"}, "This password is too short. It must contain at least 12"),
        ({"new": "password1234"}, "This password is too common"),
        ({"new": "804712369015"}, "This password is entirely numeric"),
        ({"new": "officer938officer"}, "too similar to the username"),
        ({"new": STRONG_PASSWORD}, "must be different from the one you have now"),
    ],
)
def test_bad_new_passwords_are_refused_with_the_reason(client, members, kwargs, message):
    sign_in(client, "officer938")
    page = change(client, **kwargs).content.decode()
    assert "There is a problem" in page and message in page
    assert can_sign_in("officer938", STRONG_PASSWORD)
    assert not AuditEvent.objects.filter(action="account.password_changed").exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, members):
    response = client.get(reverse("password-change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("sign-in"))


# -- an invitation's one-time password --------------------------------------------------------


def _invite(members, username="new.officer", **form):
    admin = Client()
    admin.force_login(members["admin938"], backend="django.contrib.auth.backends.ModelBackend")
    from tests.app.conftest import verify_two_factor

    verify_two_factor(admin, members["admin938"])
    form = {"username": username, "role": Role.LA_OFFICER, **form}
    response = admin.post(reverse("user-create"), form)
    assert "User invited" in response.content.decode()
    return one_time_password(response)


def test_an_invited_user_must_choose_their_own_password_first(client, members):
    password = _invite(members)
    assert Membership.objects.get(user__username="new.officer").must_change_password
    response = sign_in(client, "new.officer", password, next="/ks1-2023/la/938/dashboard")
    # Every page sends them to the password page, and back to where they were going.
    response = client.get(response["Location"])
    assert response.status_code == 302
    assert response["Location"] == (
        f"{reverse('password-change')}?next=%2Fks1-2023%2Fla%2F938%2Fdashboard"
    )
    for url in (reverse("home"), reverse("la-errors", kwargs={"code": "938"}), reverse("upload")):
        assert client.get(url)["Location"].startswith(reverse("password-change")), url
    page = client.get(response["Location"]).content.decode()
    assert "Create your own password" in page and "one-time password" in page
    assert "Current password" not in page  # they have just typed it
    # Signing out is still possible.
    assert client.get(reverse("sign-out")).status_code == 200
    # The one-time password cannot be kept.
    assert "must be different" in change(client, None, password).content.decode()
    response = change(client, None, next="/ks1-2023/la/938/dashboard")
    body = response.content.decode()
    assert "Password changed" in body and 'href="/ks1-2023/la/938/dashboard"' in body
    assert client.get("/ks1-2023/la/938/dashboard").status_code == 200
    assert not Membership.objects.get(user__username="new.officer").must_change_password
    event = AuditEvent.objects.get(action="account.password_changed")
    assert event.actor == "new.officer" and event.detail["first_sign_in"] is True
    assert can_sign_in("new.officer", NEW_PASSWORD) and not can_sign_in("new.officer", password)


def test_an_invited_admin_sets_up_two_factor_then_their_password(client, members):
    password = _invite(members, username="new.admin", role=Role.LA_ADMIN)
    response = sign_in(client, "new.admin", password)
    assert response["Location"].startswith(reverse("two-factor-setup"))
    client.get(response["Location"])
    device = TOTPDevice.objects.get(user__username="new.admin", confirmed=False)
    response = client.post(response["Location"], {"code": code_for(device)})
    assert client.get(response["Location"])["Location"].startswith(reverse("password-change"))
    change(client, None)
    assert client.get(reverse("users")).status_code == 200


def test_users_made_by_the_cli_or_set_up_keep_their_password(members, signed_in):
    # The fixture's users were given their passwords by an operator, not an invitation.
    client = signed_in(members["officer938"])
    assert client.get(reverse("home")).status_code == 200


# -- an admin resets a password ---------------------------------------------------------------


def test_la_admin_resets_a_users_password(signed_in, members):
    officer = Client()
    sign_in(officer, "officer938")
    admin = signed_in(members["admin938"])
    detail = admin.get(reverse("user-detail", args=[members["officer938"].membership.pk]))
    url = reverse("user-reset-password", args=[members["officer938"].membership.pk])
    assert f'action="{url}"' in detail.content.decode()
    response = admin.post(url)
    body = response.content.decode()
    assert response.status_code == 200 and "Password reset" in body and "shown only once" in body
    password = one_time_password(response)
    # The officer's open session has ended; the old password is gone; the new one works once
    # and must be replaced at once.
    assert officer.get(reverse("home")).status_code == 302
    assert not can_sign_in("officer938", STRONG_PASSWORD)
    again = Client()
    sign_in(again, "officer938", password)
    assert again.get(reverse("home"))["Location"].startswith(reverse("password-change"))
    event = AuditEvent.objects.get(action="account.password_reset")
    assert event.actor == "admin938" and event.la.code == "938"
    assert event.detail["username"] == "officer938"
    assert password not in str(event.detail)
    # The password is not shown again.
    detail = admin.get(reverse("user-detail", args=[members["officer938"].membership.pk]))
    assert password not in detail.content.decode()
    assert "One-time: they must choose their own at their next sign-in" in detail.content.decode()


def test_a_reset_lifts_a_lock_after_wrong_passwords(signed_in, members):
    for _ in range(5):
        sign_in(Client(), "officer938", "wrong")
    assert sign_in(Client(), "officer938").status_code == 429
    admin = signed_in(members["admin938"])
    password = one_time_password(
        admin.post(reverse("user-reset-password", args=[members["officer938"].membership.pk]))
    )
    assert can_sign_in("officer938", password)


def test_resets_follow_the_user_management_scope(signed_in, members, client):
    admin = signed_in(members["admin938"])
    other_la = reverse("user-reset-password", args=[members["officer202"].membership.pk])
    assert admin.post(other_la).status_code == 404
    own = reverse("user-reset-password", args=[members["admin938"].membership.pk])
    page = admin.post(own, follow=True).content.decode()
    assert "You cannot reset your own password here" in page
    assert can_sign_in("officer202", STRONG_PASSWORD) and can_sign_in("admin938", STRONG_PASSWORD)
    client.logout()
    national = signed_in(members["national"])
    # A national admin resets LA admins, and not the officers LA admins manage.
    officer = reverse("user-reset-password", args=[members["officer938"].membership.pk])
    assert national.post(officer).status_code == 404
    response = national.post(
        reverse("user-reset-password", args=[members["admin202"].membership.pk])
    )
    assert can_sign_in("admin202", one_time_password(response))
    client.logout()
    for who in ("officer938", "school938"):
        user = signed_in(members[who])
        assert user.post(own).status_code in (403, 404)
        client.logout()
    assert AuditEvent.objects.filter(action="account.password_reset").count() == 1


def test_a_deactivated_user_gets_no_new_password(signed_in, members):
    from keystage.accounts.actions import do_deactivate_member

    do_deactivate_member(members["officer938"].membership, by=members["admin938"])
    admin = signed_in(members["admin938"])
    url = reverse("user-reset-password", args=[members["officer938"].membership.pk])
    page = admin.post(url, follow=True).content.decode()
    assert "This user is deactivated" in page and "one-time-password" not in page


# -- sessions that end ------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """The sessions' clock, moved by hand: clock.now += 60 is a minute later."""

    class Clock:
        now = 1_800_000_000

    monkeypatch.setattr(middleware, "now", lambda: Clock.now)
    return Clock


def test_a_session_unused_for_30_minutes_ends(client, members, clock, settings):
    assert settings.KEYSTAGE_SESSION_IDLE_MINUTES == 30
    sign_in(client, "officer938")
    clock.now += 29 * 60
    assert client.get(reverse("home")).status_code == 200
    clock.now += 30 * 60
    response = client.get("/ks1-2023/la/938/errors")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('sign-in')}?next=/ks1-2023/la/938/errors"
    page = client.get(response["Location"]).content.decode()
    assert "You were signed out because you had not used Keystage for 30 minutes" in page
    # Said once: a later visit to the sign-in page does not repeat it.
    assert "You were signed out" not in client.get(reverse("sign-in")).content.decode()
    event = AuditEvent.objects.get(action="account.session_ended")
    assert event.actor == "officer938" and event.detail["reason"] == "idle"
    # Signing in again works as ever.
    assert sign_in(client, "officer938")["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200


def test_a_session_in_use_lasts_but_never_past_8_hours(client, members, clock):
    sign_in(client, "officer938")
    for _ in range(7 * 60 // 20):  # a request every 20 minutes for 7 hours
        clock.now += 20 * 60
        assert client.get(reverse("home")).status_code == 200
    clock.now = clock.now + 60 * 60  # 8 hours and a little after signing in
    response = client.get(reverse("home"))
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "You were signed out because you had been signed in for 8 hours" in page
    assert AuditEvent.objects.get(action="account.session_ended").detail["reason"] == "limit"


def test_the_idle_time_is_a_setting(client, members, clock, settings):
    settings.KEYSTAGE_SESSION_IDLE_MINUTES = 5
    sign_in(client, "officer938")
    clock.now += 5 * 60
    assert client.get(reverse("home")).status_code == 302
    assert "for 5 minutes" in client.get(reverse("sign-in")).content.decode()


def test_a_post_after_the_idle_time_changes_nothing(client, members, clock, settings):
    sign_in(client, "officer938")
    clock.now += 31 * 60
    response = change(client)
    assert response.status_code == 302 and response["Location"].startswith(reverse("sign-in"))
    assert can_sign_in("officer938", STRONG_PASSWORD)


# -- no-store ---------------------------------------------------------------------------------


def test_signed_in_pages_and_exports_are_not_stored(signed_in, members, client):
    user = signed_in(members["officer938"])
    for url in (
        reverse("home"),
        reverse("la-errors", kwargs={"code": "938"}),
        reverse("la-chase-list", kwargs={"code": "938", "fmt": "csv"}),
        reverse("la-errors", kwargs={"code": "202"}),  # refused, still not stored
    ):
        response = user.get(url)
        assert response["Cache-Control"] == "no-store", (url, response.status_code)
    # Static files stay cacheable: they hold nothing personal.
    static = client.get("/static/keystage/init.js")
    assert static.status_code == 200 and "no-store" not in static.get("Cache-Control", "")


# -- who must use two-factor sign-in at an LA -------------------------------------------------


def _choose(client, code, choice):
    return client.post(reverse("la-two-factor", kwargs={"code": code}), {"two_factor_for": choice})


def test_la_admin_requires_two_factor_of_every_la_user(signed_in, members, client):
    # Before: an officer signs in with a password alone.
    assert sign_in(Client(), "officer938")["Location"] == reverse("home")
    admin = signed_in(members["admin938"])
    users_page = admin.get(reverse("users")).content.decode()
    url = reverse("la-two-factor", kwargs={"code": "938"})
    assert f'href="{url}"' in users_page
    page = admin.get(url).content.decode()
    assert "Who must use two-factor sign-in at West Sussex" in page
    assert "LA admins only" in page and 'value="admins" checked' in page
    response = _choose(admin, "938", "la_staff")
    assert response.status_code == 302
    page = admin.get(url).content.decode()
    assert "Two-factor sign-in is now required of: Everyone at the LA." in page
    assert "2 users this covers now have not set up two-factor sign-in yet" in page
    event = AuditEvent.objects.get(action="account.two_factor_policy_set")
    assert event.actor == "admin938" and event.la.code == "938"
    assert (event.detail["before"], event.detail["two_factor_for"]) == ("admins", "la_staff")
    # Now an officer without a device is sent to set one up at sign-in, and a school user and
    # another LA's officer are not.
    officer = Client()
    response = sign_in(officer, "officer938")
    assert response["Location"].startswith(reverse("two-factor-setup"))
    assert officer.get(reverse("home"))["Location"].startswith(reverse("two-factor-setup"))
    setup = officer.get(reverse("two-factor-setup")).content.decode()
    assert "Set up two-factor sign-in" in setup
    assert "Your local authority asks that you sign in with" in setup
    device = TOTPDevice.objects.get(user__username="officer938", confirmed=False)
    officer.post(reverse("two-factor-setup"), {"code": code_for(device)})
    assert officer.get(reverse("home")).status_code == 200
    assert sign_in(Client(), "school938")["Location"] == reverse("home")
    assert sign_in(Client(), "officer202")["Location"] == reverse("home")
    # An officer already signed in is asked at their next page, too.
    restricted = Client()
    restricted.force_login(members["restricted938"], backend="django.contrib.auth.backends.ModelBackend")  # fmt: skip
    assert restricted.get(reverse("home"))["Location"].startswith(reverse("two-factor-setup"))


def test_everyone_at_the_la_and_its_schools(signed_in, members):
    admin = signed_in(members["admin938"])
    _choose(admin, "938", "everyone")
    assert sign_in(Client(), "school938")["Location"].startswith(reverse("two-factor-setup"))
    assert sign_in(Client(), "school202")["Location"] == reverse("home")
    _choose(admin, "938", "admins")
    assert sign_in(Client(), "school938")["Location"] == reverse("home")


def test_only_the_las_admins_and_national_admins_choose(signed_in, members, client):
    admin = signed_in(members["admin202"])
    assert admin.get(reverse("la-two-factor", kwargs={"code": "938"})).status_code == 404
    assert _choose(admin, "938", "everyone").status_code == 404
    client.logout()
    for who in ("officer938", "restricted938", "school938"):
        user = signed_in(members[who])
        assert user.get(reverse("la-two-factor", kwargs={"code": "938"})).status_code == 403
        assert _choose(user, "938", "everyone").status_code == 403
        client.logout()
    assert not AuditEvent.objects.filter(action="account.two_factor_policy_set").exists()
    national = signed_in(members["national"])
    detail = national.get(reverse("user-detail", args=[members["admin938"].membership.pk]))
    assert reverse("la-two-factor", kwargs={"code": "938"}) in detail.content.decode()
    assert _choose(national, "938", "la_staff").status_code == 302
    assert sign_in(Client(), "officer938")["Location"].startswith(reverse("two-factor-setup"))


def test_no_choice_is_refused_with_a_message(signed_in, members):
    admin = signed_in(members["admin938"])
    for data in ({}, {"two_factor_for": "nobody"}):
        response = admin.post(reverse("la-two-factor", kwargs={"code": "938"}), data)
        page = response.content.decode()
        assert response.status_code == 200 and "There is a problem" in page
        assert '<a href="#id_two_factor_for">Choose who must use two-factor sign-in</a>' in page
    assert not AuditEvent.objects.filter(action="account.two_factor_policy_set").exists()
