"""What users see in a real browser: two-factor sign-in, uploading a batch, the dashboard and
Data Errors report, and a school user's narrower view. Each main page is scanned by axe-core
and saved to docs/screenshots/."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.builders import ctf, pupil

pytestmark = pytest.mark.django_db(transaction=True)


def test_admin_signs_in_with_two_factor(page, site, check_page):
    sign_in(page, site, "admin938", check_page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
    check_page(page, "two-factor-setup")
    device = TOTPDevice.objects.get(user__username="admin938", confirmed=False)
    code = f"{totp(device.bin_key, step=device.step, t0=device.t0):06d}"
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{site['url']}/")
    expect(page.locator("main")).to_contain_text("You are signed in as admin938")
    expect(page.locator("main")).to_contain_text("West Sussex")
    check_page(page, "home")
    assert TOTPDevice.objects.get(user__username="admin938").confirmed

    page.goto(f"{site['url']}/ks1-2023/la/938/audit")
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    expect(page.locator("main")).to_contain_text("admin938")
    check_page(page, "audit-log")


def test_officer_uploads_a_batch(page, site, check_page):
    # Silent Primary has sent nothing yet, so its file is simply accepted.
    good = site["tmp"] / "silent.xml"
    pupils = [pupil(n, estab="2005") for n in range(1, 4)]
    good.write_text(ctf(pupils, "938", "2005"), encoding="utf-8")
    bad = site["tmp"] / "broken.xml"
    bad.write_text("<CTfile><Header>", encoding="utf-8")
    sign_in(page, site, "officer938")
    expect(page.locator("main")).to_contain_text("You are signed in as officer938")
    page.goto(f"{site['url']}/ks1-2023/uploads/")
    check_page(page, "upload")
    page.get_by_label("Upload files").set_input_files([good, bad])
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Upload of")
    # The page reloads itself until the import has finished.
    expect(page.locator(".govuk-summary-list")).to_contain_text("Finished", timeout=20_000)
    expect(page.locator(".govuk-summary-list")).to_contain_text("1 accepted")
    expect(page.locator(".govuk-summary-list")).to_contain_text("1 rejected")
    table = page.get_by_role("table")
    expect(table.locator("tbody tr")).to_have_count(2)
    accepted = table.locator("tr", has_text="silent.xml")
    expect(accepted).to_contain_text("Silent Primary (9382005)")
    expect(accepted).to_contain_text("Accepted")
    expect(accepted).to_contain_text("3 pupils")
    expect(table.locator("tr", has_text="broken.xml")).to_contain_text("Rejected")
    assert "/tmp" not in page.locator("main").inner_text()
    check_page(page, "batch-result")
    # What to do next: the dashboard, the Data Errors of the school the file was for.
    steps = page.locator("#next-steps")
    expect(steps.get_by_role("link", name="Go to the West Sussex dashboard")).to_be_visible()
    steps.get_by_role("link", name=re.compile("errors and queries of Silent Primary")).click()
    expect(page).to_have_url(re.compile(r"/ks1-2023/la/938/errors\?school=9382005$"))
    page.go_back()
    page.get_by_role("link", name="See all uploads").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your uploads")
    expect(page.get_by_role("table")).to_contain_text("1 accepted, 1 rejected")
    check_page(page, "upload-history")


def test_upload_progress_is_announced_without_reloading_the_page(page, site, browser):
    """With JavaScript, a running batch's page asks for its status and says it in an aria-live
    status, then shows the results in place; without, it reloads itself until finished."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile

    from keystage.submissions.batches import do_create_batch, run_batch
    from keystage.worker.recovery import beat

    beat("browser-worker")  # a task worker is running (the page says so when none is)
    officer = get_user_model().objects.get(username="officer938")
    files = [
        SimpleUploadedFile("silent.xml", ctf([pupil(1, estab="2005")], "938", "2005").encode())
    ]
    batch = do_create_batch(officer, files)  # queued: no worker runs it yet
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/ks1-2023/uploads/{batch.pk}/")
    status = page.get_by_role("status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_text("1 file is waiting to be imported.")
    page.evaluate("() => { window.keystageSamePage = true; }")
    run_batch(batch.pk)
    expect(status).to_have_text("Import finished: 1 file, 1 accepted.", timeout=10_000)
    expect(page.get_by_role("table")).to_contain_text("Silent Primary (9382005)")
    expect(page.locator("#next-steps")).to_contain_text("Go to the West Sussex dashboard")
    expect(page.locator(".govuk-summary-list")).to_contain_text("Finished")
    assert page.evaluate("() => window.keystageSamePage === true")  # never reloaded

    # Without JavaScript: the meta refresh inside <noscript> reloads the page until finished.
    batch = do_create_batch(officer, [SimpleUploadedFile("again.xml", b"<CTfile>")])
    context = browser.new_context(java_script_enabled=False)
    context.add_cookies(page.context.cookies())
    plain = context.new_page()
    plain.goto(f"{site['url']}/ks1-2023/uploads/{batch.pk}/")
    expect(plain.locator(".govuk-summary-list")).to_contain_text("Queued")
    run_batch(batch.pk)
    expect(plain.locator(".govuk-summary-list")).to_contain_text("Finished", timeout=10_000)
    expect(plain.get_by_role("table")).to_contain_text("Rejected")
    context.close()


def test_dashboard_errors_filter_and_chase_list(page, site, check_page):
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/dashboard")
    expect(page).to_have_url(f"{site['url']}/ks1-2023/la/938/dashboard")
    expect(page.get_by_role("heading", level=1)).to_contain_text("dashboard")
    expect(page.locator("main")).to_contain_text("Silent Primary")
    check_page(page, "dashboard")

    with page.expect_download() as info:
        page.get_by_role("link", name="CSV", exact=True).click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = open(download.path(), encoding="utf-8-sig").read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {"laestab", "state", "errors"} <= set(rows[0])
    assert [r["laestab"] for r in rows] == ["9382002", "9382005", "9382006"]

    page.goto(f"{site['url']}/ks1-2023/la/938/errors")
    main = page.locator("main")
    expect(main).to_contain_text("KS1-T07")
    expect(main).to_contain_text("KS1-P07")
    check_page(page, "data-errors")
    page.get_by_label("Rule").select_option("KS1-T12")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"rule=KS1-T12"))
    findings = page.locator("table", has_text="Message").locator("tbody tr")
    expect(findings).to_have_count(1)
    expect(findings.first).to_contain_text("Explain this spread")
    for row in findings.all_inner_texts():
        assert "KS1-T12" in row
    tables = " ".join(page.locator("table", has_text="Message").all_inner_texts())
    assert "KS1-T07" not in tables and "KS1-P07" not in tables
    assert "Reading is not a valid code" not in main.inner_text()


def test_school_user_sees_only_their_school(page, site, check_page):
    sign_in(page, site, "school938")
    expect(page.locator("main")).to_contain_text("Downs Infant School")
    page.goto(f"{site['url']}/dashboard")  # a school user goes to their Data Errors report
    expect(page).to_have_url(re.compile(r"/ks1-2023/la/938/errors"))
    main = page.locator("main")
    expect(main).to_contain_text("Downs Infant School")
    expect(main).to_contain_text("Explain this spread")
    for other in ("Queries Only Primary", "Example Primary School", "Camden", "ASKEW"):
        assert other not in main.inner_text()
    check_page(page, "data-errors-school")
    response = page.goto(f"{site['url']}/ks1-2023/la/938/dashboard")
    assert response.status in (403, 404)
    assert page.goto(f"{site['url']}/ks1-2023/la/938/chase-list.csv").status in (403, 404)
