"""Two collections in a real browser (issue 16): an LA officer of 938, with KS1 2023 and the
phonics screening check 2024 both loaded, picks KS1 on the home page, switches to phonics
through the page's "Change collection" link, works there (dashboard, Data Errors, a mark
corrected in the pupil grid, the summary report with its mark distribution) and switches back
to find KS1's pages as they were, in KS1's words. The phonics pages are scanned by axe-core.

Phonics 2024, school 9382001 (threshold 32): Year 1 marks 36 (met), 31, A (absent) and 41 (out
of range: an error, no usable mark); Year 2 re-check 33 (met). Year 1: 1 of 4 = 25.0%; with 41
corrected to 38 in the grid, 2 of 4 = 50.0%."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, sign_in
from tests.builders import pupil, write_ctf

pytestmark = pytest.mark.django_db(transaction=True)

KS1 = "Key stage 1 teacher assessment 2023"
PHONICS = "Phonics screening check 2024"
# Words that would say a phonics page still speaks KS1, and the other way round.
KS1_WORDS = re.compile(r"\b(KS1|key stage 1|reading|writing|maths|science|greater depth)\b", re.I)
PHONICS_WORDS = re.compile(r"\b(phonics|PSC-R\d+|re-check|Year 2 re-check)\b", re.I)


def _phonics_pupil(n: int, result: str, nc_year: str = "1") -> dict:
    dob = "2017-10-14" if nc_year == "1" else "2016-10-14"  # Year 1 and Year 2 in 2024
    return pupil(n, nc_year=nc_year, phonics=[result], year="2024", dob=dob, reading=None,
                 writing=None, maths=None, science=None)  # fmt: skip


@pytest.fixture
def two_collections(site, settings):
    """The site's KS1 2023 rows, and phonics 2024 offered beside it with 9382001's file
    imported and the figures of both counted."""
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.actions import get_collection
    from keystage.submissions.importing import import_paths

    # The live server is a thread of this process: it offers what these settings say.
    settings.KEYSTAGE_COLLECTIONS = ["ks1-2023", "phonics-2024"]
    marks = [("36", "1"), ("31", "1"), ("A", "1"), ("41", "1"), ("33", "2")]
    path = write_ctf(site["tmp"] / "9382001_CTF_938LLLL_001.xml",
                     [_phonics_pupil(n, r, y) for n, (r, y) in enumerate(marks, start=1)])  # fmt: skip
    [result] = import_paths([str(path)], collection_code="phonics-2024")
    assert (result.outcome, result.pupils, result.errors) == ("accepted", 5, 1)
    for code in ("ks1-2023", "phonics-2024"):
        rebuild_facts(get_collection(code))
    return site


def _main_text(page) -> str:
    return page.locator("main").inner_text()


def _shown_collection(page):
    return page.locator("[data-page-collection] strong")


def _summary_cell(page, label: str) -> str:
    row = page.locator("#summary tbody tr", has=page.locator("th", has_text=label)).first
    return " ".join(row.locator("td").first.inner_text().split())


def _open_from_home(page, name: str) -> None:
    page.locator("[data-collections]").get_by_role("link", name=name, exact=True).click()


def test_la_officer_switches_from_ks1_to_phonics_and_back(page, two_collections, check_page):
    site = two_collections
    sign_in(page, site, "officer938")
    collections = page.locator("[data-collections]")
    expect(collections.get_by_role("link")).to_have_text([KS1, PHONICS])
    expect(collections).to_contain_text("5 pupils held")  # phonics' 5; KS1 holds 6
    expect(collections).to_contain_text("6 pupils held")

    # KS1 first.
    _open_from_home(page, KS1)
    expect(page).to_have_url(f"{site['url']}/ks1-2023/la/938/dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{KS1} dashboard")
    expect(_shown_collection(page)).to_have_text(KS1)
    expect(page.locator("tr", has_text="9382002")).to_contain_text("Received with errors")
    ks1_dashboard = _main_text(page)
    assert "Schools expected to submit (5 shown)" in ks1_dashboard

    # Switched to phonics the way a user would: the page's "Change collection" link.
    page.get_by_role("link", name=re.compile("^Change collection")).click()
    expect(page).to_have_url(f"{site['url']}/")
    _open_from_home(page, PHONICS)
    expect(page).to_have_url(f"{site['url']}/phonics-2024/la/938/dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{PHONICS} dashboard")
    expect(_shown_collection(page)).to_have_text(PHONICS)
    # The register expects LA 938's two primary schools for phonics too: 9382001 sent its
    # file, and 9382002, which has not, is to chase.
    expect(page.locator("main")).to_contain_text("Schools expected to submit (2 shown)")
    expect(page.locator("tr", has_text="9382002")).to_contain_text("Not received")
    school = page.locator("tr", has_text="9382001")
    expect(school.locator("td")).to_have_text(
        ["Example Primary School", "Received with errors", "1", "0", "5", re.compile("Not released")]
    )  # fmt: skip
    assert not KS1_WORDS.search(_main_text(page)), KS1_WORDS.findall(_main_text(page))
    check_page(page, "phonics-dashboard")

    # Data Errors: the phonics rule, on the mark, with what to do.
    page.get_by_role("link", name="Data Errors report").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Data Errors report")
    finding = page.locator("table", has_text="Message").locator("tbody tr")
    expect(finding).to_have_count(1)
    expect(finding).to_contain_text("PSC-R02 Mark not a whole number in range")
    expect(finding).to_contain_text("Phonics mark")
    expect(finding).to_contain_text("is not a whole number from 0 to 40")
    assert not KS1_WORDS.search(_main_text(page)), KS1_WORDS.findall(_main_text(page))
    check_page(page, "phonics-data-errors")

    # The pupil grid: each pupil's mark in a number field; 41 is marked in error, and put right.
    page.get_by_role("link", name="Back to the dashboard").click()
    page.get_by_role("link", name="Pupil records: correct errors and explain queries").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pupil records")
    page.get_by_label("Pupils", exact=True).select_option("all")
    page.get_by_role("button", name="Show pupils").click()
    expect(page.locator("#grid-count")).to_have_text("5 pupils.")
    met = page.get_by_label("Phonics mark for SMITHB, AVA")
    expect(met).to_have_value("36")
    expect(met).to_have_attribute("inputmode", "numeric")
    wrong = page.get_by_label("Phonics mark for SMITHE, AVA")
    expect(wrong).to_have_value("41")
    expect(wrong).to_have_accessible_description(re.compile("Mark not a whole number in range"))
    headers = page.locator("table thead th").all_inner_texts()
    assert "Phonics mark" in headers and "Outcome code" in headers, headers
    assert not KS1_WORDS.search(_main_text(page)), KS1_WORDS.findall(_main_text(page))
    check_page(page, "phonics-pupil-grid")
    wrong.fill("38")
    page.get_by_label("Reason for these changes").fill("Mark checked with the school")
    page.get_by_role("button", name=re.compile("^Save changes")).click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Saved 1 change")
    page.goto(f"{site['url']}/phonics-2024/la/938/dashboard")
    expect(page.locator("tr", has_text="9382001")).to_contain_text("Clean")

    # The summary report: the figures counted again with the corrected mark, and the chart.
    page.get_by_role("link", name="Reports", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    page.get_by_role("link", name="summary for West Sussex").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Phonics summary: West Sussex")
    expect(_shown_collection(page)).to_have_text(PHONICS)
    assert _summary_cell(page, "Pupils") == "5"
    assert _summary_cell(page, "Year 1: meeting the expected standard") == "50.0% 2 of 4"
    assert _summary_cell(page, "Year 2 re-check: meeting the expected standard") == "100.0% 1 of 1"
    chart = page.locator("img.keystage-chart").first
    chart.scroll_into_view_if_needed()
    chart.evaluate(
        "img => img.complete ? null : new Promise(done => img.addEventListener('load', done))"
    )
    assert chart.evaluate("img => img.naturalWidth > 0"), "the mark distribution is not drawn"
    assert "threshold" in chart.get_attribute("alt")
    marks = page.locator("#distribution-table-y1 tbody tr").all_inner_texts()
    assert [" ".join(m.split()) for m in marks] == ["31 1", "36 1", "38 1"]
    assert not KS1_WORDS.search(_main_text(page)), KS1_WORDS.findall(_main_text(page))
    check_page(page, "phonics-report-summary")

    # Back to KS1: its pages again, in its words and with its figures, none of phonics'.
    page.get_by_role("link", name=re.compile("^Change collection")).click()
    _open_from_home(page, KS1)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{KS1} dashboard")
    expect(_shown_collection(page)).to_have_text(KS1)
    assert _main_text(page) == ks1_dashboard
    page.get_by_role("link", name="Data Errors report").first.click()
    main = page.locator("main")
    expect(main).to_contain_text("KS1-T07")
    expect(main).to_contain_text("Reading is not a valid code")
    assert not PHONICS_WORDS.search(_main_text(page)), PHONICS_WORDS.findall(_main_text(page))
    page.get_by_role("link", name="Back to the dashboard").click()
    page.get_by_role("link", name="Pupil records: correct errors and explain queries").click()
    headers = page.locator("table thead th").all_inner_texts()
    assert "English reading" in headers and "Phonics mark" not in headers, headers
    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("link", name="summary for West Sussex").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("KS1 summary: West Sussex")
    assert _summary_cell(page, "Pupils") == "6"
    assert not PHONICS_WORDS.search(_main_text(page)), PHONICS_WORDS.findall(_main_text(page))


# The regions of a page whose table is wider than they are (it scrolls inside them, so some of
# its figures are out of sight until the reader scrolls).
CLIPPED = """() => [...document.querySelectorAll('.app-table-scroll')]
  .filter(r => r.scrollWidth > r.clientWidth + 1).map(r => r.getAttribute('aria-label'))"""


def test_phonics_pages_fit_a_desktop_and_a_phone(browser, two_collections, axe_scan):
    """At 1280 px every figure of the phonics summary's outcome tables and of the school's
    pupil list is in sight (no table of theirs scrolls); at 320 px the charts are the narrow
    drawings, made for that width."""
    from django.contrib.auth import get_user_model

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.checking.actions import do_release
    from keystage.orgs.models import School
    from keystage.submissions.actions import get_collection

    site = two_collections
    school = School.objects.get(laestab="9382001")
    officer = get_user_model().objects.get(username="officer938")
    do_release(officer, get_collection("phonics-2024"), [school])
    do_create_member("school9382001", password=PASSWORD, role=Role.SCHOOL_USER, school=school)
    for width in (1280, 320):
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        sign_in(page, site, "officer938")
        page.goto(f"{site['url']}/phonics-2024/reports/la/938/summary")
        expect(page.get_by_role("heading", level=1)).to_have_text("Phonics summary: West Sussex")
        outcomes = page.locator('.app-table-scroll[aria-label$=": pupils at each outcome"]')
        expect(outcomes).to_have_count(3)  # Year 1, the re-check, by the end of Year 2
        charts = page.locator("img.keystage-chart")
        for i in range(charts.count()):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            chart.evaluate("img => img.complete ? null : "
                           "new Promise(done => img.addEventListener('load', done))")  # fmt: skip
            drawn = chart.evaluate("img => [img.currentSrc, img.naturalWidth]")
            assert drawn[1] > 0, drawn
            assert ("size=narrow" in drawn[0]) == (width == 320), (width, drawn)
        axe_scan(page, f"phonics summary at {width} px")
        if width == 1280:
            assert page.evaluate(CLIPPED) == []
            context.clear_cookies()
            sign_in(page, site, "school9382001")
            page.goto(f"{site['url']}/phonics-2024/schools/9382001/check")
            expect(page.locator("#pupils")).to_have_text("Pupil list")
            headers = page.locator("table", has_text="NC year").locator("thead th")
            expect(headers.last).to_have_text("Changed by LA")
            assert page.evaluate(CLIPPED) == []
        context.close()
