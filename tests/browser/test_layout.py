"""The layout every page shares, in a real browser: at 320 px wide (WCAG 1.4.10, reflow) no page
of an LA officer's, a school user's or the national admin's walk scrolls sideways (a wide table
scrolls in its own labelled region instead), the service navigation still works, and axe-core
stays clean."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from keystage.submissions.models import PupilRecord

pytestmark = pytest.mark.django_db(transaction=True)

NARROW = {"width": 320, "height": 720}

# What sticks out of the page at the right: elements wider than the viewport that no scrolling
# container of their own holds (so they widen the page), outermost first.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const held = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const x = getComputedStyle(p).overflowX;
      if (x === "auto" || x === "scroll" || x === "hidden") return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > width + 1 && !held(el) && !out.some((o) => o.contains(el)))
      out.push(el);
  }
  return out.slice(0, 5).map((el) => el.outerHTML.slice(0, 160));
}"""


def navigation_links(page) -> list[str]:
    """The hrefs of the service navigation's sections (not sign out)."""
    links = page.locator("nav[aria-label='Keystage'] a.govuk-service-navigation__link")
    return [h for h in links.evaluate_all("els => els.map(a => a.getAttribute('href'))")
            if h != "/sign-out"]  # fmt: skip


def walk(page, site, paths, axe_scan, shots, who):
    """Open each page at 320 px; each must fit the viewport's width and pass axe."""
    problems = []
    for path in paths:
        response = page.goto(f"{site['url']}{path}")
        assert response.status < 400, (who, path, response.status)
        page.wait_for_load_state("load")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        viewport = page.evaluate("() => window.innerWidth")
        name = f"{who}{path.replace('/', '-')}".rstrip("-")
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        if width > viewport:
            problems.append((path, width, page.evaluate(OVERFLOWING)))
        axe_scan(page, f"{name} at 320 px")
    assert not problems, f"{who}: pages wider than {NARROW['width']} px: {problems}"


@pytest.fixture
def narrow_page(browser):
    context = browser.new_context(viewport=NARROW)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def shots(tmp_path):
    """Where the walk's screenshots go: a temporary folder, or LAYOUT_SHOTS to look at them."""
    folder = Path(os.environ.get("LAYOUT_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_la_officer_pages_reflow_at_320px(narrow_page, site, signed_in_as, axe_scan, shots):
    page = narrow_page
    signed_in_as(page, "officer938")
    page.goto(f"{site['url']}/")
    sections = navigation_links(page)
    assert "/ks1-2023/la/938/dashboard" in sections and "/ks1-2023/la/938/returns" in sections
    pupil = PupilRecord.objects.filter(school__laestab="9382002").first()
    extras = [
        "/ks1-2023/la/938/checking/9382001",
        "/ks1-2023/schools/9382001/check",
        f"/ks1-2023/la/938/pupils/{pupil.pk}",
        "/ks1-2023/la/938/pupils/add",
        "/ks1-2023/la/938/expected-pupils",
        "/ks1-2023/reports/la/938/summary",
        "/ks1-2023/reports/la/938/gap",
        "/ks1-2023/reports/school/9382001/pupils",
    ]
    walk(page, site, ["/", *sections, *extras], axe_scan, shots, "officer")


def test_school_user_pages_reflow_at_320px(narrow_page, site, signed_in_as, axe_scan, shots):
    page = narrow_page
    signed_in_as(page, "school938")
    page.goto(f"{site['url']}/")
    sections = navigation_links(page)
    assert sections == [
        "/ks1-2023/schools/9382002/check",
        "/ks1-2023/uploads/",
        "/ks1-2023/reports",
    ]
    extras = [
        "/ks1-2023/la/938/errors",
        "/ks1-2023/la/938/pupils",
        "/ks1-2023/reports/school/9382002/summary",
    ]
    walk(page, site, ["/", *sections, *extras], axe_scan, shots, "school")


def test_national_admin_pages_reflow_at_320px(
    narrow_page, site, national_admin, signed_in_as, axe_scan, shots
):
    page = narrow_page
    signed_in_as(page, "national")
    page.goto(f"{site['url']}/")
    sections = navigation_links(page)
    assert sections == ["/ks1-2023/national", "/ks1-2023/reports"]
    page.goto(f"{site['url']}/ks1-2023/la/938/dashboard")
    la_sections = [s for s in navigation_links(page) if s not in sections]
    assert "/ks1-2023/la/938/errors" in la_sections
    extras = ["/ks1-2023/dashboard", "/ks1-2023/national/la/938", "/ks1-2023/reports/national",
              "/ks1-2023/reports/official", "/users/", "/ks1-2023/la/938/audit", "/ks1-2023/la/938/deadline"]  # fmt: skip
    walk(page, site, ["/", *sections, *la_sections, *extras], axe_scan, shots, "national")


def test_navigation_opens_from_the_menu_button_at_320px(narrow_page, site, signed_in_as):
    page = narrow_page
    signed_in_as(page, "officer938")
    page.goto(f"{site['url']}/ks1-2023/la/938/dashboard")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    menu.click()
    current = page.locator("nav[aria-label='Keystage'] [aria-current='page']")
    expect(current).to_have_text("Dashboard")
    page.get_by_role("link", name="Data Errors", exact=True).click()
    expect(page).to_have_url(f"{site['url']}/ks1-2023/la/938/errors")
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Sign out")).to_be_visible()


def test_wide_tables_scroll_in_a_labelled_region(narrow_page, site, signed_in_as):
    page = narrow_page
    signed_in_as(page, "officer938")
    page.goto(f"{site['url']}/ks1-2023/la/938/dashboard")
    region = page.get_by_role("region", name="Schools expected to submit")
    expect(region).to_have_attribute("tabindex", "0")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")  # it scrolls, the page not
    expect(region.get_by_role("table")).to_be_visible()


def test_national_la_table_shows_every_column_at_1280px(
    page, site, national_admin, signed_in_as, axe_scan, shots
):
    page.set_viewport_size({"width": 1280, "height": 900})
    signed_in_as(page, "national")
    page.goto(f"{site['url']}/ks1-2023/national")
    page.screenshot(path=str(shots / "national-1280.png"), full_page=True)
    axe_scan(page, "national at 1280 px")
    region = page.get_by_role("region", name="Every LA: table")
    assert region.evaluate("el => el.scrollWidth <= el.clientWidth"), "the LA table is clipped"
