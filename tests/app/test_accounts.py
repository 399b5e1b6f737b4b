"""Signing in and out through the real pages: messages, throttling, two-factor sign-in for
admins (with real TOTP codes from the device's key) and none for other roles."""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from keystage.audit.models import AuditEvent
from keystage.engine import words
from keystage.web.links import reverse
from tests.app.conftest import STRONG_PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, username, password=STRONG_PASSWORD, **extra):
    return client.post(reverse("sign-in"), {"username": username, "password": password, **extra})


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now (or `steps_ahead` 30-second steps later)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, drift=steps_ahead):06d}"


# -- sign-in and sign-out ---------------------------------------------------------------------


def test_sign_in_page_is_a_govuk_form(client):
    page = client.get(reverse("sign-in")).content.decode()
    assert '<label class="govuk-label" for="id_username">' in page
    assert 'type="password"' in page and 'autocomplete="current-password"' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "govuk-button" in page and "Keystage" in page and "Beta" in page
    assert 'href="#main-content"' in page  # the skip link


def test_empty_sign_in_lists_what_is_missing(client, members):
    response = client.post(reverse("sign-in"), {"username": "", "password": ""})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Error: Sign in - Keystage</title>" in page
    assert "There is a problem" in page
    assert page.count("Enter your username") == 2  # summary and field
    assert '<a href="#id_password">Enter your password</a>' in page


def test_wrong_password_is_refused_with_a_message(client, members):
    page = sign_in(client, "school938", "not-the-password").content.decode()
    assert "Enter a correct username and password" in page
    assert client.get(reverse("home")).status_code == 302  # still signed out


def test_school_user_signs_in_without_a_code(client, members):
    response = sign_in(client, "school938")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    page = client.get(reverse("home")).content.decode()
    assert "You are signed in as <strong>school938</strong>" in page
    assert "School user" in page and "Downs Infant School" in page
    assert AuditEvent.objects.filter(action="account.signed_in", actor="school938").exists()
    assert client.get(reverse("two-factor-setup"))["Location"] == reverse("home")


def test_home_page_shows_each_roles_organisation(signed_in, members):
    page = signed_in(members["restricted938"]).get(reverse("home")).content.decode()
    assert "LA restricted officer" in page and "West Sussex" in page
    assert "Example Primary School" in page and "Downs Infant School" not in page


def test_signed_out_visitors_are_sent_to_sign_in_and_back(client, members):
    response = client.get(reverse("home"))
    assert response["Location"] == f"{reverse('sign-in')}?next=/"
    response = sign_in(client, "officer938", next="/")
    assert response["Location"] == "/"


def test_next_cannot_send_anyone_to_another_site(client, members):
    response = sign_in(client, "officer938", next="https://evil.example/")
    assert response["Location"] == reverse("home")


def test_sign_out_asks_then_signs_out(client, members):
    sign_in(client, "officer938")
    assert b"Sign out of Keystage" in client.get(reverse("sign-out")).content
    assert client.get(reverse("home")).status_code == 200  # a GET signs nobody out
    response = client.post(reverse("sign-out"), follow=True)
    assert b"You have signed out." in response.content
    assert client.get(reverse("home")).status_code == 302


def test_user_without_a_role_sees_nothing(client, members):
    sign_in(client, "nobody")
    assert b"Your account has no role yet" in client.get(reverse("home")).content


def test_passwords_are_hashed_with_argon2(loaded):
    from keystage.accounts.actions import do_create_member

    user = do_create_member("argon", role="national_admin", password=STRONG_PASSWORD).user
    assert user.password.startswith("argon2$argon2id$")


def test_weak_passwords_are_refused(loaded, fast_hashing):
    from django.core.exceptions import ValidationError

    from keystage.accounts.actions import do_create_member

    with pytest.raises(ValidationError, match="too short"):
        do_create_member("weak", role="national_admin", password="abc123")


# -- throttling (django-axes) ------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(client, members, settings):
    assert (settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME) == (5, timedelta(minutes=15))
    for _ in range(4):
        assert sign_in(client, "officer938", "wrong").status_code == 200
    locked = sign_in(client, "officer938", "wrong")
    assert locked.status_code == 429
    assert b"You cannot sign in for 15 minutes" in locked.content
    # Even the right password is refused while locked, and nothing is signed in.
    assert sign_in(client, "officer938").status_code == 429
    assert client.get(reverse("home")).status_code == 302
    # Another account is not affected.
    assert sign_in(client, "officer202")["Location"] == reverse("home")


def test_the_lock_ends_after_the_cool_off(client, members):
    from axes.models import AccessAttempt

    for _ in range(5):
        sign_in(client, "officer938", "wrong")
    assert sign_in(client, "officer938").status_code == 429
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16))  # fmt: skip
    assert sign_in(client, "officer938")["Location"] == reverse("home")


def test_the_lock_says_how_long_is_really_left(client, members):
    from axes.models import AccessAttempt

    for _ in range(5):
        sign_in(client, "officer938", "wrong")
    attempt = AccessAttempt.objects.get()
    failed_at = attempt.attempt_time

    def page_after(minutes_ago: dt.timedelta) -> str:
        AccessAttempt.objects.update(attempt_time=failed_at - minutes_ago)
        response = sign_in(client, "officer938")
        assert response.status_code == 429
        return " ".join(response.content.decode().split())

    page = page_after(dt.timedelta(minutes=10))
    assert "You cannot sign in for 5 minutes" in page and "15 minutes" not in page
    ends = timezone.localtime(failed_at - dt.timedelta(minutes=10) + dt.timedelta(minutes=15))
    shown = (ends + dt.timedelta(seconds=59)).replace(second=0, microsecond=0)
    assert f"you can sign in again from {words.long_datetime(shown)}" in page
    page = page_after(dt.timedelta(minutes=14, seconds=30))
    assert "You cannot sign in for 30 seconds" in page and "Wait 30 seconds" in page
    # Trying while locked does not make the wait longer.
    assert AccessAttempt.objects.get().failures_since_start == 5


def test_a_wrong_code_says_how_long_to_wait(client, members):
    device = TOTPDevice.objects.create(user=members["admin202"], name="app", confirmed=True)
    sign_in(client, "admin202")
    right = code_for(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    page = client.post(reverse("two-factor-verify"), {"code": wrong}).content.decode()
    assert "The code is not right. Wait 1 second, then enter the newest code" in page
    # Five wrong codes, the last 3 seconds ago: django-otp wants 16 seconds, so 13 are left.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=5,
        throttling_failure_timestamp=timezone.now() - dt.timedelta(seconds=3),
    )
    page = client.post(reverse("two-factor-verify"), {"code": right}).content.decode()
    assert "too many wrong codes. Wait 13 seconds, then enter the newest code" in page
    assert "Wait a minute" not in page


def test_the_failure_limit_is_a_setting(client, members, settings):
    settings.AXES_FAILURE_LIMIT = 2
    sign_in(client, "officer938", "wrong")
    assert sign_in(client, "officer938", "wrong").status_code == 429


# -- two-factor sign-in (django-otp TOTP) ------------------------------------------------------


@pytest.mark.parametrize("who", ["national", "admin938"])
def test_admin_sets_up_and_then_uses_two_factor_sign_in(client, members, who):
    response = sign_in(client, who)
    assert response["Location"] == f"{reverse('two-factor-setup')}?next=%2F"
    # Before set-up no other page can be reached.
    assert client.get(reverse("home"))["Location"].startswith(reverse("two-factor-setup"))

    page = client.get(reverse("two-factor-setup")).content.decode()
    assert "<svg" in page and 'aria-label="QR code for your authenticator app"' in page
    device = TOTPDevice.objects.get(user=members[who], confirmed=False)
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1)
    assert len(secret.replace(" ", "")) == 32  # 20-byte key, base32, typed by hand if need be

    wrong = client.post(reverse("two-factor-setup"), {"code": "12345"})
    assert b"The code must be 6 digits" in wrong.content
    response = client.post(reverse("two-factor-setup"), {"code": code_for(device), "next": "/"})
    assert response["Location"] == "/"
    assert b"Two-factor sign-in is set up." in client.get("/").content
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEvent.objects.filter(action="account.two_factor_set_up").count() == 1

    # Next time: password, then a code (a newer one: a code is never accepted twice).
    client.post(reverse("sign-out"))
    assert sign_in(client, who)["Location"] == f"{reverse('two-factor-verify')}?next=%2F"
    assert client.get(reverse("home"))["Location"].startswith(reverse("two-factor-verify"))
    # With a confirmed device, set-up is not a way round the code.
    assert client.get(reverse("two-factor-setup"))["Location"].startswith(
        reverse("two-factor-verify")
    )
    half_signed_in = client.cookies["sessionid"].value
    response = client.post(reverse("two-factor-verify"), {"code": code_for(device, 1)})
    assert response["Location"] == reverse("home")
    assert client.cookies["sessionid"].value != half_signed_in  # a new session after the code
    assert client.get(reverse("home")).status_code == 200


def test_a_wrong_code_is_refused_and_repeated_guesses_are_slowed(client, members):
    device = TOTPDevice.objects.create(user=members["admin202"], name="app", confirmed=True)
    sign_in(client, "admin202")
    right = code_for(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    page = client.post(reverse("two-factor-verify"), {"code": wrong}).content.decode()
    assert "The code is not right" in page and "There is a problem" in page
    page = client.post(reverse("two-factor-verify"), {"code": right}).content.decode()
    assert "too many wrong codes" in page  # even the right code has to wait now
    assert client.get(reverse("home")).status_code == 302


def test_officers_and_school_users_are_not_asked_for_a_code(client, members):
    for who in ("officer938", "restricted938", "school202"):
        client.post(reverse("sign-out"))
        assert sign_in(client, who)["Location"] == reverse("home")
        assert client.get(reverse("home")).status_code == 200
        assert client.get(reverse("two-factor-verify"))["Location"] == reverse("home")


def test_staff_accounts_without_a_role_also_need_two_factor(client, members):
    members["nobody"].is_staff = True
    members["nobody"].save()
    assert sign_in(client, "nobody")["Location"].startswith(reverse("two-factor-setup"))


def test_add_member_command_creates_a_user_with_a_role(loaded, fast_hashing, monkeypatch):
    monkeypatch.setenv("KS_TEST_PASSWORD", STRONG_PASSWORD)
    call_command("add_member", "first", role="la_admin", la="938", password_env="KS_TEST_PASSWORD")
    from keystage.accounts.models import Membership

    membership = Membership.objects.get(user__username="first")
    assert (membership.role, membership.la.code) == ("la_admin", "938")


def test_a_code_in_other_digits_is_refused_as_not_six_digits(client, members):
    """ "²²²²²²" is six characters that str.isdigit() takes for digits: the form says what a
    code looks like instead of failing."""
    TOTPDevice.objects.create(user=members["admin202"], name="app", confirmed=True)
    sign_in(client, "admin202")
    response = client.post(reverse("two-factor-verify"), {"code": "²²²²²²"})
    assert response.status_code == 200
    assert "The code must be 6 digits, like 123456" in response.content.decode()
