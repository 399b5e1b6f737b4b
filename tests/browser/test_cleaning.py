"""Cleaning in a real browser: an LA officer fixes every error of a school through the grid
until the dashboard shows it clean, and two people saving the same pupil: the second is
refused, sees the other change, and loses nothing."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, VIEWPORT, sign_in
from tests.builders import ctf, pupil

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def school_files(transactional_db, live_server, settings, tmp_path):
    """LA 938 with two schools' files imported: 9382001 has an invalid code, a bad sex code, a
    UPN that 9382002 also uses, and an unusual date of birth (a query)."""
    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.engine import upn as upns
    from keystage.orgs.actions import do_load_reference, do_load_register
    from keystage.orgs.models import LocalAuthority, School
    from keystage.submissions.actions import get_collection
    from keystage.submissions.importing import import_paths
    from tests.builders import expect_to_submit, write_register

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.UPLOAD_STORE = tmp_path / "store"
    settings.DATA_DIR = tmp_path / "data"
    do_load_reference()
    do_load_register(write_register(tmp_path / "schools.csv"))
    expect_to_submit(School.objects.filter(laestab__in=["9382001", "9382002"]), get_collection())
    shared = upns.make("938", "2002", "16", "077")
    files = {
        "2001": [pupil(1, reading="BLW", surname="ADAMS"), pupil(2, dob="2015-01-01", surname="BAKER"),
                 pupil(3, upn=shared, surname="CLARK"), pupil(4, surname="DAVIS"),
                 pupil(5, sex="X", surname="EVANS")],
        "2002": [pupil(1, estab="2002", upn=shared, surname="FOSTER")],
    }  # fmt: skip
    for estab, pupils in files.items():
        path = tmp_path / f"{estab}.xml"
        path.write_text(ctf(pupils, "938", estab), encoding="utf-8")
        import_paths([str(path)], jobs=1)
    la938 = LocalAuthority.objects.get(code="938")
    for name in ("officer938", "colleague938"):
        do_create_member(name, password=PASSWORD, role=Role.LA_OFFICER, la=la938)
    return {"url": live_server.url, "new_upn": upns.make("938", "2001", "16", "099")}


def _row(page, surname):
    return page.locator("tr", has=page.get_by_role("link", name=re.compile(surname)))


def test_officer_fixes_every_error_through_the_grid(page, school_files, check_page):
    site = school_files
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/ks1-2023/la/938/dashboard")
    school_row = page.locator("tr", has_text="9382001")
    expect(school_row).to_contain_text("Received with errors")
    school_row.get_by_role("link", name="Example Primary School", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Pupil records: Example Primary School"
    )
    # The grid opens on the pupils with errors, each bad cell marked with the rule it breaks.
    expect(page.locator("#grid-count")).to_have_text("3 pupils with errors.")
    expect(page.get_by_label("Pupils", exact=True)).to_have_value("errors")
    reading = _row(page, "ADAMS").get_by_label("English reading for ADAMS, AVA")
    expect(reading).to_have_class(re.compile("govuk-select--error"))
    expect(reading).to_have_accessible_description(re.compile(r"Error:\s+Code not used in 2023"))
    check_page(page, "cleaning-grid")

    _row(page, "ADAMS").get_by_label("English reading for ADAMS, AVA").select_option("EXS")
    # With JavaScript the changed row is marked (the grid works the same without it).
    expect(_row(page, "ADAMS")).to_have_class(re.compile("keystage-changed"))
    _row(page, "CLARK").get_by_label("UPN for CLARK, AVA").fill(site["new_upn"])
    _row(page, "EVANS").get_by_label("Sex for EVANS, AVA").select_option("F")
    page.get_by_label("Reason for these changes").fill("Checked with the school by phone")
    expect(page.get_by_role("button", name="Save changes")).to_have_text("Save changes (3 changed)")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text(
        "Saved 3 changes to 3 pupils"
    )
    expect(page.locator("main")).to_contain_text("No pupils match these filters")

    # The query left: confirm it correct with an explanation on the pupil's page.
    page.get_by_label("Pupils", exact=True).select_option("queries")
    page.get_by_role("button", name="Show pupils").click()
    page.get_by_role("link", name="BAKER, AVA").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("BAKER, AVA")
    page.get_by_label("Confirm correct: why is this value right?").fill(
        "Held back a year, agreed with the LA"
    )
    page.get_by_role("button", name="Confirm correct").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("KS1-P11")
    expect(page.locator(".govuk-notification-banner")).to_contain_text("confirmed correct")
    expect(page.locator("main")).to_contain_text("Held back a year, agreed with the LA")
    check_page(page, "pupil-record")

    page.goto(f"{site['url']}/ks1-2023/la/938/dashboard")
    expect(page.locator("tr", has_text="9382001")).to_contain_text("Clean")
    # The duplicate UPN was cleared on the other school's pupil too.
    expect(page.locator("tr", has_text="9382002")).to_contain_text("Clean")

    # The trail shows the edit with its old and new values and the reason.
    page.goto(f"{site['url']}/ks1-2023/la/938/pupils?school=9382001")
    page.get_by_role("link", name="ADAMS, AVA").click()
    trail = page.locator("table", has_text="Who changed what")
    expect(trail).to_contain_text("officer938")
    expect(trail.locator("tr", has_text="Edit")).to_contain_text("BLW")
    expect(trail.locator("tr", has_text="Edit")).to_contain_text("EXS")
    expect(trail.locator("tr", has_text="Edit")).to_contain_text("Checked with the school by phone")


def test_two_people_save_the_same_pupil_and_the_second_is_refused(browser, school_files):
    from keystage.submissions.models import PupilRecord

    site = school_files
    pupil_id = PupilRecord.objects.get(surname="ADAMS", is_current=True).pk
    url = f"{site['url']}/ks1-2023/la/938/pupils/{pupil_id}"
    first_context, second_context = (browser.new_context(viewport=VIEWPORT) for _ in range(2))
    try:
        first, second = first_context.new_page(), second_context.new_page()
        for tab, who in ((first, "officer938"), (second, "colleague938")):
            sign_in(tab, site, who)
            expect(tab.locator("main")).to_contain_text(f"You are signed in as {who}")
            tab.goto(url)
            expect(tab.get_by_label("English reading")).to_have_value(
                "BLW"
            )  # kept, marked not valid
        first.get_by_label("English reading").select_option("EXS")
        first.get_by_role("button", name="Save changes").click()
        expect(first.locator(".govuk-notification-banner")).to_contain_text("Saved 1 change")

        second.get_by_label("English reading").select_option("WTS")
        second.get_by_label("Forename").fill("AVERY")
        second.get_by_role("button", name="Save changes").click()
        summary = second.locator(".govuk-error-summary")
        expect(summary).to_contain_text("changed by someone else")
        expect(summary).to_contain_text("officer938 changed English reading from BLW to EXS")
        # Nothing of theirs is lost: their values are still on the form...
        expect(second.get_by_label("English reading")).to_have_value("WTS")
        expect(second.get_by_label("Forename")).to_have_value("AVERY")
        # ...and nothing of the first person's was overwritten.
        record = PupilRecord.objects.get(pk=pupil_id)
        assert record.outcomes["reading"] == "EXS" and record.forename == "AVA"

        # Having seen the other change, they save again on purpose.
        second.get_by_role("button", name="Save changes").click()
        expect(second.locator(".govuk-notification-banner")).to_contain_text("Saved 2 changes")
        record.refresh_from_db()
        assert record.outcomes["reading"] == "WTS" and record.forename == "AVERY"
        trail = second.locator("table", has_text="Who changed what")
        expect(trail).to_contain_text("officer938")
        expect(trail).to_contain_text("colleague938")
    finally:
        first_context.close()
        second_context.close()


def test_a_bad_cell_beside_a_good_one_saves_nothing_and_the_summary_goes_to_the_cell(
    page, school_files, check_page
):
    from keystage.submissions.models import PupilRecord

    site = school_files
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/ks1-2023/la/938/pupils?school=9382001&show=all")
    _row(page, "DAVIS").get_by_label("Forename for DAVIS, AVA").fill("DAVINA")
    _row(page, "ADAMS").get_by_label("Date of birth for ADAMS, AVA").fill("31/02/2016")
    page.get_by_role("button", name=re.compile("Save changes")).click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Nothing was saved")
    link = summary.get_by_role("link", name=re.compile("Pupil ADAMS, AVA .*Date of birth"))
    link.click()
    cell = _row(page, "ADAMS").get_by_label("Date of birth for ADAMS, AVA")
    expect(cell).to_be_focused()
    expect(cell).to_have_value("31/02/2016")
    expect(cell).to_have_class(re.compile("govuk-input--error"))
    expect(_row(page, "DAVIS").get_by_label("Forename for DAVIS, AVA")).to_have_value("DAVINA")
    check_page(page, "cleaning-grid-errors")
    assert PupilRecord.objects.get(surname="DAVIS", is_current=True).forename == "AVA"


def test_remove_a_pupil_after_confirming_then_put_them_back(page, school_files, check_page):
    site = school_files
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/ks1-2023/la/938/pupils?school=9382001&show=all")
    page.get_by_role("link", name="DAVIS, AVA").click()
    pupil_url = page.url
    page.get_by_role("button", name="Remove this pupil").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Are you sure you want to remove")
    expect(page.locator(".govuk-warning-text")).to_contain_text("put the pupil back")
    page.get_by_role("button", name="Yes, remove this pupil").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter why the LA is removing")
    page.get_by_label("Why is this pupil being removed?").fill("Left before the assessments")
    check_page(page, "pupil-remove")
    page.get_by_role("button", name="Yes, remove this pupil").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("was removed")

    page.goto(f"{site['url']}/ks1-2023/la/938/pupils?school=9382001&show=all")
    expect(page.locator("#grid-count")).to_have_text("4 pupils.")
    page.goto(pupil_url)
    expect(page.locator(".govuk-warning-text")).to_contain_text("Left before the assessments")
    page.get_by_label("Why is this pupil being put back?").fill("Still on roll: the school phoned")
    page.get_by_role("button", name="Put the pupil back").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("is back in the collection")
    trail = page.locator("table", has_text="Who changed what")
    expect(trail).to_contain_text("Pupil put back")
    expect(trail).to_contain_text("Still on roll: the school phoned")
