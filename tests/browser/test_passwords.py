"""Passwords in a real browser: a user changes theirs (with the error summary first), an
invited user must choose their own at first sign-in, and an LA admin resets a user's password,
which the user replaces at their next sign-in. Each new page is scanned by axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, VIEWPORT, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

NEW_PASSWORD = "Purple-Kettle-Orbit-42"


def sign_in_with(page, site, username: str, password: str) -> None:
    page.goto(f"{site['url']}/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page) -> None:
    page.get_by_role("link", name="Sign out").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("main")).to_contain_text("You have signed out.")


def test_user_changes_their_password(page, site, check_page):
    sign_in(page, site, "officer938")
    expect(page.locator("main")).to_contain_text("You are signed in as officer938")
    page.get_by_role("link", name="Change your password").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Change your password")
    check_page(page, "password-change")
    page.get_by_label("Current password", exact=True).fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password", exact=True).fill("something-else-entirely")
    page.get_by_role("button", name="Save password").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("The two new passwords are different")
    expect(page).to_have_title("Error: Change your password - Keystage")
    check_page(page, "password-change-error")
    # The summary's link takes the user to the field.
    summary.get_by_role("link", name="The two new passwords are different").click()
    expect(page.get_by_label("Confirm new password", exact=True)).to_be_focused()
    page.get_by_label("Current password", exact=True).fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    expect(page.locator(".govuk-panel")).to_contain_text("Password changed")
    check_page(page, "password-changed")
    page.get_by_role("link", name="Continue").click()
    expect(page.locator("main")).to_contain_text("You are signed in as officer938")
    sign_out(page)
    sign_in_with(page, site, "officer938", PASSWORD)
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a correct username")
    sign_in_with(page, site, "officer938", NEW_PASSWORD)
    expect(page.locator("main")).to_contain_text("You are signed in as officer938")


def _choose_own_password(page, site, username: str) -> None:
    """On the page a one-time password leads to: choose a password, carry on."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Create your own password")
    expect(page.get_by_label("Current password", exact=True)).to_have_count(0)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save password").click()
    expect(page.locator(".govuk-panel")).to_contain_text("Password changed")
    page.get_by_role("link", name="Continue").click()


def test_an_invited_user_chooses_their_own_password_at_first_sign_in(
    browser, page, site, signed_in_as, check_page
):
    signed_in_as(page, "admin938")
    page.goto(f"{site['url']}/users/new")
    page.get_by_label("Username").fill("new.officer")
    page.get_by_label("LA officer", exact=True).check()
    page.get_by_role("button", name="Invite user").click()
    expect(page.locator(".govuk-panel")).to_contain_text("User invited")
    password = page.locator("#one-time-password").inner_text().strip()

    context = browser.new_context(viewport=VIEWPORT)
    try:
        newcomer = context.new_page()
        sign_in_with(newcomer, site, "new.officer", password)
        check_page(newcomer, "password-first-sign-in")
        # Every other page sends them back here until they have chosen.
        newcomer.goto(f"{site['url']}/ks1-2023/la/938/errors")
        expect(newcomer.get_by_role("heading", level=1)).to_have_text("Create your own password")
        _choose_own_password(newcomer, site, "new.officer")
        expect(newcomer).to_have_url(f"{site['url']}/ks1-2023/la/938/errors")
        expect(newcomer.get_by_role("heading", level=1)).to_contain_text("Data Errors")
    finally:
        context.close()


def test_la_admin_resets_a_password_and_the_user_replaces_it(
    browser, page, site, signed_in_as, check_page
):
    signed_in_as(page, "admin938")
    page.goto(f"{site['url']}/users/")
    page.get_by_role("link", name="officer938").click()
    page.get_by_role("button", name="Reset password for officer938").click()
    expect(page.locator(".govuk-panel")).to_contain_text("Password reset")
    expect(page.locator("main")).to_contain_text("shown only once")
    check_page(page, "password-reset")
    password = page.locator("#one-time-password").inner_text().strip()
    assert password and password != PASSWORD

    context = browser.new_context(viewport=VIEWPORT)
    try:
        officer = context.new_page()
        sign_in_with(officer, site, "officer938", PASSWORD)  # the old password is gone
        expect(officer.locator(".govuk-error-summary")).to_contain_text("Enter a correct username")
        sign_in_with(officer, site, "officer938", password)
        _choose_own_password(officer, site, "officer938")
        expect(officer.locator("main")).to_contain_text("You are signed in as officer938")
    finally:
        context.close()
