"""The EYFS profile in a real browser (issue 19): an LA officer of 938 opens EYFSP 2024 from the
home page, finds a PVI setting beside the schools on the dashboard (one sent its file by its
URN, one is to chase), reads the profile's rule on Data Errors, corrects a child's goal in the
pupil grid (a select of 1, 2 or A per goal) and sees the summary counted again. Every page is
scanned by axe-core, at 1280 px and at 320 px.

School 9382001 (an FSP-named CTF): child 1 all 2, child 2 ELG 01 1, child 3 A in ELG 05 alone
(EYF-R03: counted as not assessed until corrected). Setting 512345 (EYFSP_512345_24.csv):
child 4 all 2. GLD 2 of 3 (66.7%); with child 3's ELG 05 corrected to 2, 3 of 4 (75.0%)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.builders import eyfsp_pupil, write_ctf

pytestmark = pytest.mark.django_db(transaction=True)

EYFSP = "Early years foundation stage profile 2024"
OTHER_WORDS = re.compile(r"\b(KS1|key stage 1|science|greater depth|phonics|marks?)\b", re.I)


@pytest.fixture
def profiles(site, settings):
    from keystage.orgs.actions import do_load_settings
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.actions import get_collection
    from keystage.submissions.importing import import_paths

    settings.KEYSTAGE_COLLECTIONS = ["ks1-2023", "eyfsp-2024"]
    tmp = site["tmp"]
    (tmp / "settings.csv").write_text(
        "URN,LA (code),SettingName\n512345,938,Little Acorns Nursery\n"
        "612346,938,Busy Bees Pre-school\n", encoding="utf-8",
    )  # fmt: skip
    do_load_settings(tmp / "settings.csv")
    one_a = ["2"] * 4 + ["A"] + ["2"] * 12
    school = write_ctf(tmp / "9382001_FSP_938LLLL_001.xml", [
        eyfsp_pupil(1, year=2024), eyfsp_pupil(2, ["1"] + ["2"] * 16, year=2024),
        eyfsp_pupil(3, one_a, year=2024),
    ])  # fmt: skip
    p = eyfsp_pupil(4, year=2024, estab="3001", surname="Jones")
    day = "/".join(reversed(p["dob"].split("-")))
    setting = tmp / "EYFSP_512345_24.csv"
    setting.write_text(
        "UPN,Surname,Forename,DOB,Sex," + ",".join(f"ELG{n:02d}" for n in range(1, 18)) + "\n"
        f"{p['upn']},{p['surname']},{p['forename']},{day},{p['sex']}," + ",".join("2" * 17)
        + "\n", encoding="utf-8",
    )  # fmt: skip
    results = import_paths([str(school), str(setting)], collection_code="eyfsp-2024",
                           only_la="938")  # fmt: skip
    assert [r.outcome for r in results] == ["accepted", "accepted"], [r.reason for r in results]
    rebuild_facts(get_collection("eyfsp-2024"))
    return site


def _main_text(page) -> str:
    return page.locator("main").inner_text()


def _summary_cell(page, label: str) -> str:
    row = page.locator("#summary tbody tr", has=page.locator("th", has_text=label)).first
    return " ".join(row.locator("td").first.inner_text().split())


def test_la_officer_works_on_the_profile_with_a_setting(page, profiles, check_page):
    site = profiles
    sign_in(page, site, "officer938")
    page.locator("[data-collections]").get_by_role("link", name=EYFSP, exact=True).click()
    expect(page).to_have_url(f"{site['url']}/eyfsp-2024/la/938/dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{EYFSP} dashboard")
    main = page.locator("main")
    expect(main).to_contain_text("Schools and settings expected to submit (4 shown)")
    expect(page.locator("tr", has_text="512345")).to_contain_text("Clean")
    expect(page.locator("tr", has_text="612346")).to_contain_text("Not received")
    expect(page.locator("tr", has_text="9382001")).to_contain_text("Received with errors")
    assert not OTHER_WORDS.search(_main_text(page)), OTHER_WORDS.findall(_main_text(page))
    check_page(page, "eyfsp-dashboard")

    page.get_by_role("link", name="Data Errors report").first.click()
    finding = page.locator("table", has_text="Message").locator("tbody tr")
    expect(finding).to_have_count(1)
    expect(finding).to_contain_text("EYF-R03 Not assessed in some goals but not all")
    expect(finding).to_contain_text("Building relationships")
    check_page(page, "eyfsp-data-errors")

    page.get_by_role("link", name="Back to the dashboard").click()
    page.get_by_role("link", name="Pupil records: correct errors and explain queries").click()
    page.get_by_label("Pupils", exact=True).select_option("all")
    page.get_by_role("button", name="Show pupils").click()
    expect(page.locator("#grid-count")).to_have_text("4 pupils.")
    headers = page.locator("table thead th").all_inner_texts()
    assert "Listening, attention and understanding" in headers and "Word reading" in headers
    wrong = page.get_by_label("Building relationships for SMITHD, AVA")
    expect(wrong).to_have_value("A")
    expect(wrong).to_have_accessible_description(re.compile("Not assessed in some goals"))
    check_page(page, "eyfsp-pupil-grid")
    wrong.select_option("2")
    page.get_by_label("Reason for these changes").fill("Judgement checked with the teacher")
    page.get_by_role("button", name=re.compile("^Save changes")).click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Saved 1 change")

    page.get_by_role("link", name="Reports", exact=True).click()
    page.get_by_role("link", name="summary for West Sussex").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("EYFS profile summary: West Sussex")
    assert _summary_cell(page, "Pupils") == "4"
    assert _summary_cell(page, "Good level of development") == "75.0% 3 of 4"
    assert _summary_cell(page, "Average number of goals") == "16.8"
    expect(main).to_contain_text("2015 (not comparable)")
    assert not OTHER_WORDS.search(_main_text(page)), OTHER_WORDS.findall(_main_text(page))
    check_page(page, "eyfsp-report-summary")


CLIPPED = """() => [...document.querySelectorAll('.app-table-scroll')]
  .filter(r => r.scrollWidth > r.clientWidth + 1).map(r => r.getAttribute('aria-label'))"""


@pytest.mark.parametrize("width", [1280, 320])
def test_profile_pages_at_a_desktops_and_a_phones_width(browser, profiles, axe_scan,
                                                        screenshot_dir, width):  # fmt: skip
    """At 1280 px the summary's goal tables and measures are in sight (no table of theirs
    scrolls); at 320 px the pages still pass axe; screenshots of each for a person to read."""
    site = profiles
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, site, "officer938")
    for name, path in [("dashboard", "la/938/dashboard"), ("grid", "la/938/pupils?show=all"),
                       ("summary", "reports/la/938/summary"), ("gap", "reports/la/938/gap"),
                       ("school-summary", "reports/school/512345/summary")]:  # fmt: skip
        page.goto(f"{site['url']}/eyfsp-2024/{path}")
        page.wait_for_load_state("load")
        screenshot_dir.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot_dir / f"eyfsp-{name}-{width}.png"), full_page=True)
        axe_scan(page, f"EYFSP {name} at {width} px")
        if width == 1280 and name in ("summary", "school-summary"):
            clipped = [c for c in page.evaluate(CLIPPED) if "trend" not in (c or "")]
            assert clipped == [], (name, clipped)
    context.close()
