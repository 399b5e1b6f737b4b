"""The school check loop in a real browser: an LA officer releases the checking reports to a
school, the school's user sees its pupil list and summary and confirms with name and job
title, and the officer's dashboard shows the school as checked."""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, VIEWPORT, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def head(site):
    """A user of Example Primary School (9382001, clean, three pupils with outcomes); the LA
    officer gets an e-mail address."""
    from django.contrib.auth import get_user_model

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.orgs.models import School
    from keystage.submissions.models import PupilRecord

    outcomes = {"reading": "EXS", "writing": "GDS", "maths": "EXS", "science": "EXS"}
    PupilRecord.objects.filter(school__laestab="9382001").update(outcomes=outcomes)
    get_user_model().objects.filter(username="officer938").update(email="officer@example.org")
    return do_create_member("head938", role=Role.SCHOOL_USER, password=PASSWORD,
                            school=School.objects.get(laestab="9382001"),
                            email="head@example.org").user  # fmt: skip


def test_release_confirm_and_the_dashboard_shows_checked(browser, page, site, head, check_page):
    url = site["url"]
    sign_in(page, site, "officer938")
    expect(page.locator("main")).to_contain_text("You are signed in as officer938")
    page.get_by_role("link", name="Schools' checks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Schools' checks")
    # The filter "clean and not yet released" keeps the one clean school; the release to every
    # school it shows goes through a confirmation page naming it.
    page.get_by_label("Check", exact=True).select_option("clean_not_released")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("h2#schools")).to_contain_text("1 school of")
    check_page(page, "checking-la")
    page.get_by_role("button", name="Release to the 1 school with data in this filter").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Release checking reports to 1 school?"
    )
    expect(page.locator("main")).to_contain_text("9382001 Example Primary School")
    expect(page.locator(".govuk-warning-text")).to_contain_text("will be e-mailed")
    assert mail.outbox == []
    page.get_by_label("Message to the schools (optional)").fill("Please reply by 30 June.")
    check_page(page, "checking-release-confirm")
    page.get_by_role("button", name="Release checking reports to 1 school").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Checking reports released to 1 school: Example Primary School"
    )
    page.get_by_role("link", name="Clear filters").click()
    row = page.locator("tr", has_text="Example Primary School")
    expect(row).to_contain_text("Reports released")
    assert [m.to for m in mail.outbox] == [["head@example.org"]]
    # The school has not confirmed yet: the officer reminds it.
    expect(page.locator("main")).to_contain_text("1 school has not confirmed")
    page.get_by_label("Message with the reminder (optional)").fill("Two days left.")
    page.get_by_role("button", name="Send a reminder to 1 school").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Reminder sent to 1 school: Example Primary School"
    )
    expect(row).to_contain_text("reminded")
    check_page(page, "checking-remind")
    assert [m.to for m in mail.outbox] == [["head@example.org"]] * 2
    assert "Two days left." in mail.outbox[1].body

    school = browser.new_context(viewport=VIEWPORT)
    school.set_default_timeout(10_000)
    tab = school.new_page()
    sign_in(tab, site, "head938")
    tab.get_by_role("link", name="Check your data").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Check your data")
    main = tab.locator("main")
    expect(main).to_contain_text("Please reply by 30 June.")
    pupils = tab.locator("table", has_text="Date of birth").locator("tbody tr")
    expect(pupils).to_have_count(3)
    expect(pupils.first).to_contain_text("CLEAN1")
    summary = tab.locator("table", has_text="Pupils at each outcome")
    expect(summary.locator("tr", has_text="Expected standard or above (EXS+)")).to_contain_text(
        "100%"
    )
    for other in ("QUERYSON", "ASKEW", "CAMDENER"):
        assert other not in main.inner_text()
    check_page(tab, "checking-school")

    tab.get_by_role("button", name="Confirm the data is correct").click()
    expect(tab.get_by_role("heading", level=1)).to_have_text("Confirm your data is correct")
    tab.get_by_role("button", name="Confirm").click()  # nothing filled in: told what to do
    expect(tab.locator(".govuk-error-summary")).to_contain_text("Enter your full name")
    tab.get_by_label("Full name").fill("Ann Head")
    tab.get_by_label("Job title").fill("Headteacher")
    tab.get_by_label("I confirm the").check()
    check_page(tab, "checking-confirm")
    tab.get_by_role("button", name="Confirm").click()
    expect(tab.locator(".govuk-notification-banner")).to_contain_text("Thank you")
    expect(tab.locator("main")).to_contain_text("Checked by school")
    expect(tab.locator("main")).to_contain_text("Ann Head, Headteacher")
    school.close()
    assert [m.to for m in mail.outbox[2:]] == [["officer@example.org"]]
    assert "Ann Head (Headteacher)" in mail.outbox[2].body

    page.goto(f"{url}/ks1-2023/la/938/dashboard")
    row = page.locator("tr", has_text="Example Primary School")
    expect(row).to_contain_text("Checked by school")
    expect(row).to_contain_text("Ann Head, Headteacher")
    check_page(page, "dashboard-checked")
    page.get_by_role("link", name="Checked by school Example Primary School").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Example Primary School")
    expect(page.locator("main")).to_contain_text("Ann Head, Headteacher")
    check_page(page, "checking-la-school")


def test_school_queries_a_pupil_and_the_la_answers(browser, page, site, head, check_page):
    from keystage.checking.actions import do_release
    from keystage.orgs.models import School
    from keystage.submissions.actions import get_collection

    officer = School.objects.get(laestab="9382001").la.memberships.get(role="la_officer").user
    do_release(officer, get_collection(), [School.objects.get(laestab="9382001")])
    sign_in(page, site, "head938")
    page.goto(f"{site['url']}/ks1-2023/schools/9382001/check")
    page.get_by_role("button", name="Send a query").click()
    page.get_by_label("CLEAN2").check()
    page.get_by_label("What is wrong, and what should it be?").fill("CLEAN2 is GDS in writing.")
    check_page(page, "checking-query")
    page.get_by_role("button", name="Send query").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Your query has been sent")
    expect(page.locator("main")).to_contain_text("Query from school")

    la = browser.new_context(viewport=VIEWPORT)
    tab = la.new_page()
    sign_in(tab, site, "officer938")
    tab.goto(f"{site['url']}/ks1-2023/la/938/dashboard")
    tab.get_by_role("link", name="Query from school Example Primary School").click()
    main = tab.locator("main")
    expect(main).to_contain_text("CLEAN2 is GDS in writing.")
    tab.get_by_label("Your message to the school").fill("Corrected: please check again.")
    tab.get_by_role("button", name="Send message").click()
    expect(tab.locator(".govuk-notification-banner")).to_contain_text("Your message has been sent")
    expect(main).to_contain_text("Reports released")  # answered: back with the school
    la.close()
    page.reload()
    expect(page.locator("main")).to_contain_text("Corrected: please check again.")


def test_the_checks_page_works_without_javascript(browser, site):
    """Filter, tick, release and confirm with JavaScript off: plain forms and links only."""
    from keystage.checking.models import Release

    context = browser.new_context(viewport=VIEWPORT, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/ks1-2023/la/938/checking")
    page.get_by_label("School name or LAESTAB").fill("downs")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("h2#schools")).to_contain_text("1 school of")
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Release to selected schools").click()  # nothing ticked
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Select the schools to release checking reports to"
    )
    page.get_by_label("9382002 Downs Infant School").check()
    page.get_by_role("button", name="Release to selected schools").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Release checking reports to 1 school?"
    )
    assert not Release.objects.exists()
    page.get_by_role("button", name="Release checking reports to 1 school").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Checking reports released to 1 school: Downs Infant School"
    )
    expect(page.get_by_label("School name or LAESTAB")).to_have_value("downs")  # filter kept
    assert [r.school.laestab for r in Release.objects.all()] == ["9382002"]
    context.close()
