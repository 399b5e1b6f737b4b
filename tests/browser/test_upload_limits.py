"""What a user sees of the upload limits in a real browser: a zip refused for a file that
unpacks over the limit, kept only in part (the result and history pages say so), and the page
for an upload too large to be received."""

from __future__ import annotations

import random
import zipfile

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.builders import ctf, pupil

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_zip_over_the_member_limit_is_refused_and_kept_in_part(page, site, check_page,
                                                                 settings):  # fmt: skip
    settings.KEYSTAGE_MAX_MEMBER_MB = 1
    settings.KEYSTAGE_KEEP_REJECTED_BYTES = 64 * 1024
    path = site["tmp"] / "schools.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("silent.xml", ctf([pupil(n, estab="2005") for n in range(1, 4)], "938", "2005"))
        z.writestr("big.xml", random.Random(1).randbytes(2 * 1024 * 1024))
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/ks1-2023/uploads/")
    page.get_by_label("Upload files").set_input_files([path])
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator(".govuk-summary-list")).to_contain_text("Finished", timeout=20_000)
    row = page.get_by_role("table").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Rejected")
    expect(row).to_contain_text("big.xml unpacks to more than 1 MB, the most one file in a zip")
    expect(row).to_contain_text("Only the first 65.5 KB of this 2.1 MB file is kept.")
    expect(row).to_contain_text("Its SHA-256 fingerprint (of the whole file) is")
    check_page(page, "batch-result-kept-in-part")
    page.get_by_role("link", name="See all uploads").click()
    expect(page.get_by_role("table")).to_contain_text(
        "1 rejected (1 rejected file kept only in part)"
    )


def test_an_upload_over_the_limit_gets_the_too_large_page(page, site, check_page, settings):
    settings.KEYSTAGE_MAX_UPLOAD_MB = 1
    big = site["tmp"] / "big.xml"
    big.write_bytes(b"<CTfile>" + b"x" * (3 * 1024 * 1024))
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/ks1-2023/uploads/")
    page.get_by_label("Upload files").set_input_files([big])
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("The files you sent are too large")
    expect(page.locator("main")).to_contain_text("One upload can hold up to 1MB of files in all")
    check_page(page, "upload-too-large")
