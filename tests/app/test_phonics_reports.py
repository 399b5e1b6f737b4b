"""Phonics reports (spec phonics.md §5): a hand-worked cohort imported, counted into facts and
shown on the report pages and downloads: Year 1, the Year 2 re-check and by the end of Year 2
(across 2023 and 2024), the mark distribution, the threshold not yet published, the gap by
pupil group, the published trend and the EES columns.

LA 938, phonics 2023 (threshold 32, published 26 June 2023; odd pupil numbers are girls):
  school 9382001, Year 1: 1 F 35 met, 2 M 32 met, 3 F 31, 4 M 20, 5 F A (absent),
                  6 M L (left: not eligible) -> 5 eligible, 2 met = 40%
                  Year 2 re-check: 7 F 33 met, 8 M 25 -> 1 of 2 = 50%
  school 9382002, Year 1: 11 F 40 met, 12 M 12, 13 F 33 met -> 2 of 3
  LA 938 Year 1: 4 of 8 = 50%; girls 3 of 5 (60%), boys 1 of 3 (33.3%); school 9382001's
  girls 1 of 3 (33.3%): 26.7 points below the LA's.
Phonics 2024 (published 24 June 2024), school 9382001 only:
  Year 1: 21 36 met, 22 10 -> 1 of 2 = 50%
  Year 2 re-check (2023's pupils 3, 4, 5): 34 met, 28, 33 met -> 2 of 3 = 66.7%
  By the end of Year 2 (2024's rule: this year's Year 2 and last year's Year 1 pupils):
  1 met (2023), 2 met (2023), 3 met (2024), 4 working towards, 5 met (2024), 6 left
  -> 5 eligible, 4 met = 80%.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from keystage.reports import queries
from keystage.reports.facts import rebuild_facts
from keystage.reports.models import Fact
from keystage.submissions.actions import get_collection
from keystage.submissions.importing import import_paths
from keystage.web.links import reverse
from tests.app.test_phonics_import import phonics_pupil
from tests.builders import SCHOOLS, pupil, write_ctf, write_register

pytestmark = pytest.mark.django_db

Y1_A = [(1, "35"), (2, "32"), (3, "31"), (4, "20"), (5, "A"), (6, "L")]
Y2_A = [(7, "33"), (8, "25")]
Y1_B = [(11, "40"), (12, "12"), (13, "33")]


def _2024(n: int, mark: str, nc_year: str, **over) -> dict:
    dob = "2016-10-14" if nc_year == "2" else "2017-10-14"
    return phonics_pupil(n, [mark], nc_year=nc_year, year="2024", **over) | {"dob": dob}


@pytest.fixture
def cohort(loaded, tmp_path):
    a = [phonics_pupil(n, [r]) for n, r in Y1_A] + [
        phonics_pupil(n, [r], nc_year="2") for n, r in Y2_A
    ]
    b = [phonics_pupil(n, [r], estab="2002") for n, r in Y1_B]
    this_year = [_2024(21, "36", "1"), _2024(22, "10", "1")] + [
        _2024(30 + n, mark, "2", upn=a[n - 1]["upn"]) for n, mark in ((3, "34"), (4, "28"),
                                                                      (5, "33"))
    ]  # fmt: skip
    (tmp_path / "2024").mkdir()
    files = [
        (write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", a), "phonics-2023"),
        (write_ctf(tmp_path / "9382002_CTF_938LLLL_001.xml", b, estab="2002"), "phonics-2023"),
        (write_ctf(tmp_path / "2024" / "9382001_CTF_938LLLL_001.xml", this_year), "phonics-2024"),
        # KS1 2023 (the 2023 Year 2 cohort): the re-checked pupils' KS1 results
        (write_ctf(tmp_path / "ks1.xml", [pupil(n, dob="2015-10-14") for n, _ in Y2_A]),
         "ks1-2023"),
    ]  # fmt: skip
    for path, code in files:
        [r] = import_paths([str(path)], collection_code=code, jobs=1)
        assert r.outcome == "accepted", (code, r.reason)
    for code in ("phonics-2023", "phonics-2024"):
        rebuild_facts(get_collection(code))
    return get_collection("phonics-2023"), get_collection("phonics-2024")


def on(monkeypatch, day: dt.date) -> None:
    monkeypatch.setattr(queries, "today", lambda: day)


def page(client, name, collection, query="", **kw) -> str:
    response = client.get(reverse(name, kwargs={"collection": collection.code, **kw}) + query)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def _figure(collection, level, code, group="all"):
    area = queries.Area(level, code, "")
    found = queries.figures(collection, [area], [group])[(level, code)][group]
    return {k: (v["met"].count, v["met"].eligible) for k, v in found.subjects.items()}


def test_phonics_facts_and_summary_page(cohort, members, signed_in, monkeypatch):
    p2023, p2024 = cohort
    on(monkeypatch, dt.date(2023, 7, 3))
    # Facts counted through the phonics measures, added up to the LA (region and England).
    assert _figure(p2023, "school", "9382001") == {"y1": (2, 5), "y2": (1, 2),
                                                   "by_end_y2": (None, 0)}  # fmt: skip
    assert _figure(p2023, "la", "938") == {"y1": (4, 8), "y2": (1, 2), "by_end_y2": (None, 0)}
    assert _figure(p2023, "national", "970")["y1"] == (4, 8)
    assert _figure(p2023, "la", "938", "sex:F")["y1"] == (3, 5)
    assert Fact.objects.filter(collection=p2023, level="region").exists()

    client = signed_in(members["admin938"])
    body = page(client, "report-summary", p2023, level="school", code="9382001")
    assert "Phonics summary: " in body
    assert "Year 1" in body and "40.0%" in body and "2 of 5" in body  # the school
    assert "50.0%" in body and "4 of 8" in body  # its LA (and the re-check, 1 of 2)
    assert "1 of 2" in body
    # 2023's by the end of Year 2 reads 2022's Year 1 results, for which Keystage has no
    # collection: the page does not ask the LA to load what it cannot. KS1 2023 (the Year 2
    # cohort) is loaded, so it is not named.
    assert "cannot be worked out: Keystage holds no collection of last year&#39;s results " \
        "(phonics-2022)." in body  # fmt: skip
    assert "load them" not in body
    assert "Key stage 1 teacher assessment 2023, which is not loaded" not in body
    # The mark distribution, with the threshold drawn, and its table.
    assert "with the threshold of 32 drawn" in body
    assert 'id="distribution-table-y1"' in body and "5 pupils with a mark" not in body
    assert "4 pupils with a mark" in body  # 35, 32, 31, 20 (A and L have none)
    svg = client.get(reverse("report-distribution-chart", kwargs={
        "collection": p2023.code, "level": "school", "code": "9382001", "fmt": "svg"}) + "?group=y1")  # fmt: skip
    assert svg.status_code == 200 and b"Threshold: 32" in svg.content
    assert b"31: 1, 32: 1, 35: 1" in svg.content
    # The published trend from the reference file, 2015 to 2025 (2020 and 2021: none).
    assert "Trend against DfE's published figures, 2015 to 2025" in body
    assert "2023 provisional" in body

    # 2024: by the end of Year 2 across both years.
    on(monkeypatch, dt.date(2024, 7, 1))
    assert _figure(p2024, "school", "9382001") == {"y1": (1, 2), "y2": (2, 3),
                                                   "by_end_y2": (4, 5)}  # fmt: skip
    body = page(client, "report-summary", p2024, level="school", code="9382001")
    assert "80.0%" in body and "4 of 5" in body and "66.7%" in body
    assert "cannot be worked out" not in body


def test_before_the_threshold_is_published_marks_show_and_met_figures_wait(
    cohort, members, signed_in, monkeypatch
):
    p2023, _ = cohort
    on(monkeypatch, dt.date(2023, 6, 20))
    client = signed_in(members["admin938"])
    body = page(client, "report-summary", p2023, level="school", code="9382001")
    assert "The threshold is not yet published; it will be on 26 June 2023." in body
    assert "40.0%" not in body and "2 of 5" not in body
    assert "No threshold is drawn until it is published." in body
    assert "4 pupils with a mark" in body
    svg = client.get(reverse("report-distribution-chart", kwargs={
        "collection": p2023.code, "level": "school", "code": "9382001", "fmt": "svg"}) + "?group=y1")  # fmt: skip
    assert svg.status_code == 200 and b"Threshold" not in svg.content
    # The open data: the eligible pupils are there, the met columns "x" (not yet known) until
    # the day.
    rows = list(csv.DictReader(io.StringIO(page(client, "report-open-data", p2023))))
    la = next(r for r in rows if r["old_la_code"] == "938")
    assert (la["t_phonics_y1_eligible_pupils"], la["t_phonics_y1_met_expected_standard"],
            la["pt_phonics_y1_met_expected_standard"]) == ("8", "x", "x")  # fmt: skip
    on(monkeypatch, dt.date(2023, 6, 26))
    rows = list(csv.DictReader(io.StringIO(page(client, "report-open-data", p2023))))
    la = next(r for r in rows if r["old_la_code"] == "938")
    assert (la["t_phonics_y1_eligible_pupils"], la["t_phonics_y1_met_expected_standard"],
            la["pt_phonics_y1_met_expected_standard"], la["t_phonics_y1_absent"],
            la["t_phonics_y2_met_expected_standard"]) == ("8", "4", "50", "1", "1")  # fmt: skip
    assert "t_phonics_y1_maladministration" not in la  # Keystage's own column: not in EES's


def test_gap_analysis_and_downloads(cohort, members, signed_in, monkeypatch):
    p2023, _ = cohort
    on(monkeypatch, dt.date(2023, 7, 3))
    client = signed_in(members["admin938"])
    body = page(client, "report-gap", p2023, level="school", code="9382001")
    assert "Girls" in body and "33.3" in body and "-26.7" in body
    words = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    # Year 1 girls 1 of 3 (absent counts), boys 1 of 2 (left does not): -16.7 points; LA 938
    # girls 3 of 5, boys 1 of 3: +26.7.
    assert "Girls (n = 3) Fewer than 10 pupils: treat with caution 33.3%" in words
    table = words[words.index("Gaps between groups: Year 1") :]
    assert re.search(r"Girls minus boys -16\.7 percentage points 33\.3% \(n = 3\) against "
                     r"50\.0% \(n = 2\) .*? \+26\.7 percentage points", table)  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(
        page(client, "report-gap-export", p2023, level="school", code="9382001", fmt="csv"))))  # fmt: skip
    girls = next(r for r in rows if (r["group"], r["subject"]) == ("sex:F", "y1"))
    assert (girls["area_percent"], girls["la_percent"], girls["la_gap"]) == ("33.3", "60.0",
                                                                           "-26.7")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(
        page(client, "report-summary-export", p2023, level="school", code="9382001", fmt="csv"))))  # fmt: skip
    assert [(r["level"], r["subject"], r["eligible"], r["met"]) for r in rows
            if r["subject"] == "y1"] == [("school", "y1", "5", "2"), ("la", "y1", "8", "4"),
                                         ("region", "y1", "8", "4"), ("national", "y1", "8", "4")]  # fmt: skip
    response = client.get(reverse("report-summary-export", kwargs={
        "collection": p2023.code, "level": "school", "code": "9382001", "fmt": "xlsx"}))  # fmt: skip
    assert response.status_code == 200 and "phonics-summary-school-9382001" in response[
        "Content-Disposition"]  # fmt: skip
    # The pupil list names the check's items, not KS1's subjects.
    body = page(client, "report-pupils", p2023, code="9382001")
    assert "Phonics mark" in body and "Outcome code" in body
    assert '<option value="">Any result</option>' in body and ">Subject<" not in body


def test_the_national_coverage_counts_each_collections_own_expected_schools(
    cohort, members, signed_in, tmp_path
):
    """Beside the register's three primary schools, an infant school (4-7) is expected for
    phonics and KS1, a school of reception and year 1 only (4-6) for phonics alone, and a
    junior school (7-11) for neither: England's coverage for phonics 2023 is 2 of 5 schools
    (9382001 and 9382002 sent files), for KS1 2023 of 4."""
    from keystage.orgs.actions import do_load_register

    extra = [(urn, "938", "West Sussex", estab, name, "Community school", "Primary", "Open",
              low, high)
             for urn, estab, name, low, high in (("125010", "2010", "Infant", "4", "7"),
                                                 ("125011", "2011", "Junior", "7", "11"),
                                                 ("125012", "2012", "New Primary", "4", "6"))]  # fmt: skip
    do_load_register(write_register(tmp_path / "schools.csv", [*SCHOOLS, *extra]))
    p2023, _ = cohort
    body = " ".join(page(signed_in(members["national"]), "report-national", p2023).split())
    assert "Files from 2 of 5 schools expected to submit" in body
    assert queries.coverage(get_collection("ks1-2023"))["970"]["schools_expected"] == 4
