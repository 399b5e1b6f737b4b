"""Report pages in a real browser: a school user sees their summary and gap analysis with
charts, and national and LA figures resting on fewer pupils than the threshold are suppressed;
an LA officer sees their LA's summary and the provisional national figures. Each page is scanned
by axe-core and saved to docs/screenshots/."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

OUTCOMES = [
    {"reading": "GDS", "writing": "EXS", "maths": "GDS", "science": "EXS"},
    {"reading": "EXS", "writing": "WTS", "maths": "EXS", "science": "EXS"},
    {"reading": "WTS", "writing": "WTS", "maths": "EXS", "science": "HNM"},
    {"reading": "A", "writing": "A", "maths": "A", "science": "A"},
]


@pytest.fixture
def figures(site):
    """Outcomes for every seeded pupil, the facts counted, and LA 938 letting its schools see
    comparisons."""
    from keystage.collection.models import LaCollectionSettings
    from keystage.orgs.models import LocalAuthority
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.actions import get_collection
    from keystage.submissions.models import PupilRecord

    collection = get_collection()
    for n, record in enumerate(PupilRecord.objects.order_by("pk")):
        record.outcomes = OUTCOMES[n % len(OUTCOMES)]
        record.sex = "MF"[n % 2]
        record.save(update_fields=["outcomes", "sex"])
    rebuild_facts(collection)
    LaCollectionSettings.objects.update_or_create(
        collection=collection, la=LocalAuthority.objects.get(code="938"),
        defaults={"school_sees": "comparisons"},
    )  # fmt: skip
    return collection


def _cell(page, row_label: str, column: int) -> str:
    row = page.locator("#summary tbody tr", has=page.locator("th", has_text=row_label)).first
    return row.locator("td").nth(column).inner_text().strip()


def test_school_user_sees_summary_and_gap_analysis_with_charts(page, site, figures, check_page):
    sign_in(page, site, "school938")
    page.get_by_role("link", name="Your school's reports").click()
    check_page(page, "reports-index-school")
    page.get_by_role("link", name="KS1 summary").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("KS1 summary: Downs Infant School")
    expect(page.locator("main")).to_contain_text("Provisional")
    headers = page.locator("#summary thead th").all_inner_texts()
    assert headers[1:] == [
        "Downs Infant School",
        "West Sussex",
        "South East",
        "England (provisional)",
    ]
    # The school's own 2 pupils are shown; West Sussex (6 pupils, 4 not the school's) and
    # England (7 pupils, 5 not the school's) rest on fewer than 6 other pupils: suppressed.
    assert _cell(page, "Pupils", 0) == "2"
    assert _cell(page, "English reading: expected standard or above", 0).startswith("50.0%")
    assert _cell(page, "English reading: expected standard or above", 3) == "c"
    assert _cell(page, "Pupils", 3) == "c"
    assert _cell(page, "English reading: expected standard or above", 1) == "c"
    expect(page.locator("img.keystage-chart")).to_have_count(1)
    check_page(page, "report-summary-school")

    page.get_by_role("link", name="Gap analysis by pupil group").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Gap analysis: Downs Infant School")
    charts = page.locator("img.keystage-chart")
    assert charts.count() >= 2  # all pupils, and by sex
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        assert "Bar chart" in chart.get_attribute("alt")
        response = page.request.get(site["url"] + chart.get_attribute("src"))
        assert response.status == 200 and "<title" in response.text(), response.status
        chart.evaluate(
            "img => img.complete ? null : new Promise(done => img.addEventListener('load', done))"
        )
        assert chart.evaluate("img => img.naturalWidth > 0"), "chart not drawn"
    expect(page.locator("main")).to_contain_text("Girls")
    page.get_by_label("Subject").select_option("reading")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("h2", has_text="All pupils: English reading")).to_be_visible()
    check_page(page, "report-gap-school")


def test_la_officer_sees_la_summary_and_provisional_national_figures(
    page, site, figures, check_page
):
    sign_in(page, site, "officer938")
    page.goto(f"{site['url']}/ks1-2023/reports/la/938/summary")
    expect(page.get_by_role("heading", level=1)).to_have_text("KS1 summary: West Sussex")
    assert _cell(page, "Pupils", 0) == "6"
    check_page(page, "report-summary-la")
    page.goto(f"{site['url']}/ks1-2023/reports/national")
    expect(page.locator("main")).to_contain_text("95% interval")
    check_page(page, "report-national")
    page.get_by_role("link", name="Compare with DfE's published 2023 figures").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("published 2023 figures")
    check_page(page, "report-official")
    page.goto(f"{site['url']}/ks1-2023/reports/school/9382001/pupils")
    expect(page.locator("#pupils tbody tr")).to_have_count(3)
    page.get_by_label("Outcome code").fill("GDS")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#pupils tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Surname").click()
    check_page(page, "report-pupils")
