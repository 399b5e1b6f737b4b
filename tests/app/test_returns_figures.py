"""Figures that must agree between pages, or say on the page why they differ: the LA's error
count on its return page against the national collection's, and an LA's state on the national
dashboard against the national report's coverage."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from keystage.cli import main
from keystage.reports.facts import rebuild_facts
from keystage.returns import actions, queries
from keystage.submissions.cleaning import FILE_ONLY_RULES
from keystage.submissions.models import Finding
from keystage.web.links import reverse
from tests.app.returns_data import explain_everything
from tests.builders import ctf, pupil

pytestmark = pytest.mark.django_db


def _text(response, xpath: str) -> str:
    html = etree.HTML(response.content)
    found = html.xpath(xpath)
    assert found, f"nothing at {xpath}"
    return " ".join(" ".join("".join(el.itertext()) for el in found).split())


@pytest.fixture
def reading_twice(la938, tmp_path, capsys):
    """School 9382001's file sent again with pupil 1's reading given twice (KS1-T08): an error
    only the school's file can show, since a return carries one result per subject."""
    content = ctf([pupil(n) for n in range(1, 4)])
    first = re.search(r"<StageAssessment>(?:(?!</StageAssessment>).)*READ.*?</StageAssessment>",
                      content, re.S).group(0)  # fmt: skip
    content = content.replace(first, first + first.replace("EXS", "WTS"), 1)
    folder = tmp_path / "again"
    folder.mkdir()
    (folder / "a2.xml").write_text(content, encoding="utf-8")
    assert main(["import", "--quiet", str(folder)]) == 0
    capsys.readouterr()
    assert Finding.objects.filter(is_current=True, rule="KS1-T08").count() == 1
    explain_everything(la938)
    return la938


def test_the_return_page_names_the_errors_that_cannot_travel(
    reading_twice, loaded, members, signed_in
):
    client = signed_in(members["officer938"])
    url = reverse("la-returns", kwargs={"code": "938"})
    page = client.get(url)
    warning = _text(page, '//div[contains(@class, "govuk-warning-text")]')
    assert "1 error in West Sussex's data is still open" in warning
    why = _text(page, '//*[@id="untravelled"]')
    assert "Of the 1 error, 1 cannot travel in the return" in why
    assert "KS1-T08 More than one result: 1 error" in why
    # Submitted: the collection counts 0 errors, and the LA's page says why it has 1.
    g = actions.do_build_return(reading_twice, loaded, user=members["officer938"], confirm=True)
    actions.do_submit_generation(g, user=members["officer938"])
    page = client.get(url)
    difference = _text(page, '//*[@id="error-difference"]')
    assert (
        "The national collection counts 0 errors in the school returns it holds; West "
        "Sussex's data has 1 error now"
    ) in difference
    assert "KS1-T08 More than one result: 1 in the data, 0 in the returns" in difference
    assert "only the result that was used" in difference
    # The collector's page of the LA says what its counts are of.
    national = signed_in(members["national"]).get(reverse("collected-la", kwargs={"code": "938"}))
    counted = _text(national, '//*[@id="what-is-counted"]')
    assert "KS1-T08 More than one result and KS1-T14 Wrong assessment parameters" in counted


def test_counts_that_agree_say_nothing_more(la938, loaded, members, signed_in):
    explain_everything(la938)
    g = actions.do_build_return(la938, loaded, user=members["officer938"])
    actions.do_submit_generation(g, user=members["officer938"])
    body = signed_in(members["officer938"]).get(reverse("la-returns", kwargs={"code": "938"}))
    assert b'id="error-difference"' not in body.content
    assert b'id="untravelled"' not in body.content


def test_the_rules_that_cannot_travel_are_those_cleaning_keeps_from_the_file():
    # The collections' rules flag them (`Rule.file_only`): a result given twice, the wrong
    # parameters (KS1), a goal judged twice (the EYFS profile).
    assert set(queries.UNTRAVELLED) == set(FILE_ONLY_RULES) == {"KS1-T08", "KS1-T14", "EYF-R05"}
    assert all(queries.UNTRAVELLED.values())


def test_an_la_with_data_but_no_return_says_so_as_the_national_report_counts_it(
    la938, loaded, members, signed_in
):
    rebuild_facts(loaded)
    client = signed_in(members["national"])
    report = _text(client.get(reverse("report-national")), "//main")
    assert "Based on 1 of 153 LAs" in report  # the national report counts West Sussex as loaded
    page = client.get(reverse("national-dashboard"))
    row938 = _text(page, '//table//tr[.//a[text()="938"]]')
    assert "No return yet" in row938 and "5 pupils loaded in Keystage" in row938
    row202 = _text(page, '//table//tr[.//a[text()="202"]]')
    assert "No return yet" in row202 and "loaded in Keystage" not in row202
    assert "No data" not in page.content.decode()
    export = client.get(reverse("national-dashboard-export", kwargs={"fmt": "csv"}))
    line = next(x for x in export.content.decode("utf-8-sig").splitlines() if x.startswith("938,"))
    assert ",No return yet,5," in line
