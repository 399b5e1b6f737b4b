"""The provisional national figures through the facts (issue 17): England's and the regions'
estimates worked by hand from LAs loaded with known counts, their expected cohorts and last
year's figures DfE published (the reference series, as the KS1 2023 definition's
[provisional] table reads them); the page, its download and `keystage report national` give
the same figures; a region with fewer than 3 LAs loaded says so; a partly loaded LA is shown
apart and left out of the estimate; suppression as on the other report pages."""

from __future__ import annotations

import csv
import html
import io
import json
import math
import re

import pytest

from keystage import reference
from keystage.cli import main
from keystage.collection.actions import do_store_expected_cohorts
from keystage.engine import provisional
from keystage.engine.measures import rounded, wilson_interval
from keystage.engine.student_t import t_quantile
from keystage.orgs.actions import do_load_register
from keystage.orgs.models import LocalAuthority, School
from keystage.reports.facts import rebuild_facts
from keystage.submissions.importing import import_paths
from keystage.web.links import reverse
from tests.app import pdf_text
from tests.app.test_facts import SCHOOL_A, SCHOOL_B
from tests.builders import SCHOOLS, pupil, write_ctf, write_register

pytestmark = pytest.mark.django_db

# Five North East LAs with a school each, beside West Sussex's schools of the usual register.
NORTH_EAST = {"390": "Gateshead", "391": "Newcastle upon Tyne", "392": "North Tyneside",
              "393": "South Tyneside", "394": "Sunderland", "806": "Middlesbrough"}  # fmt: skip
# Last year's (2022) published reading EXS+ of each LA, as the reference series has them.
LAST_YEAR = {"390": 64, "391": 64, "392": 68, "393": 66, "394": 67, "806": 61, "938": 66}
# (pupils loaded, reading met, expected cohort) per LA:
#   390  10 pupils, 7 met: 70%, d = +6     expected 10: loaded
#   391  20 pupils, 13 met: 65%, d = +1    expected 20: loaded
#   392  10 pupils, 7 met: 70%, d = +2     expected 10: loaded
#   393   5 pupils, 3 met                  expected 40: 12.5%, partly loaded
#   394   not loaded                       expected 30
#   938   5 pupils (SCHOOL_A, SCHOOL_B), 3 met: 60%, d = -6; no expected cohort: loaded
LOADED = {"390": (10, 7, 10), "391": (20, 13, 20), "392": (10, 7, 10), "393": (5, 3, 40),
          "394": (0, 0, 30)}  # fmt: skip


def _school(code):
    return (f"1{code}00", code, NORTH_EAST[code], "2100", f"{NORTH_EAST[code]} Primary",
            "Community school", "Primary", "Open")  # fmt: skip


def load(collection, tmp_path, las: dict, *, west_sussex: bool = True) -> None:
    """Load each LA's school with (pupils, reading met, expected cohort), and West Sussex's
    SCHOOL_A and SCHOOL_B (no expected cohort), then count the facts."""
    register = write_register(tmp_path / "more.csv", [*SCHOOLS, *map(_school, NORTH_EAST)])
    do_load_register(register)
    files = []
    if west_sussex:
        files += [write_ctf(tmp_path / "a.xml", SCHOOL_A),
                  write_ctf(tmp_path / "b.xml", SCHOOL_B, estab="2002")]  # fmt: skip
    for code, (pupils, met, expected) in las.items():
        if pupils:
            rows = [pupil(n, la=code, estab="2100", reading="EXS" if n < met else "WTS")
                    for n in range(pupils)]  # fmt: skip
            files.append(write_ctf(tmp_path / f"{code}.xml", rows, la=code, estab="2100"))
        la = LocalAuthority.objects.get(code=code)
        school = School.objects.get(la=la, estab="2100")
        do_store_expected_cohorts(la, collection, [(school, expected)], user=None)
    results = import_paths([str(f) for f in files], jobs=1)
    assert [r.outcome for r in results] == ["accepted"] * len(files)
    rebuild_facts(collection)


@pytest.fixture
def loading(loaded, tmp_path):
    """KS1 2023 with the LAs of LOADED and West Sussex loaded."""
    load(loaded, tmp_path, LOADED)
    return loaded


def by_area(rows, subject="reading"):
    return {r["code"]: r for r in rows if r["subject"] == subject}


def cli_json(capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["report", "national", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def words(response) -> str:
    """The text of the page's <main>, tags and spacing taken away and entities read."""
    body = response.content.decode()
    body = re.sub(r"<script.*?</script>", "", body[body.index("<main") : body.index("</main>")],
                  flags=re.S)  # fmt: skip
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", body).split()))


def test_last_years_figures_are_the_reference_series():
    got = reference.la_percentages("ks1_published", 2022, "read_exs")
    assert {code: got[code] for code in LAST_YEAR} == LAST_YEAR


def test_england_and_a_region_worked_by_hand(loading, capsys):
    rows = cli_json(capsys)
    england, north_east = by_area(rows)["970"], by_area(rows)["980"]
    # England: 390, 391, 392 and 938 loaded (m = 4, 45 pupils, 30 met); 393 partly loaded
    # and 394 not loaded, 70 expected pupils between them, last year 66 and 67; the other
    # 147 LAs have no expected pupils in Keystage and are left out.
    assert (england["las"], england["las_loaded"], england["las_partly"]) == (153, 4, 1)
    assert england["las_without_expected"] == 147
    assert england["coverage_percent"] == rounded(100 * 45 / (45 + 70), 1)  # 39.1
    # Mean change μ = (10·6 + 20·1 + 10·2 + 5·(−6)) / 45 = 70 / 45.
    mu = 70 / 45
    assert england["met_mean_change"] == rounded(mu, 1) == 1.6
    # Estimate: the loaded LAs as they are (100 · 30 met), 393 and 394 at last year + μ:
    # (3000 + 40·66 + 30·67 + 70·μ) / (45 + 70).
    est = (3000 + 40 * 66 + 30 * 67 + 70 * mu) / 115
    # The interval is the engine's (tests/engine/test_provisional.py works it by hand): these
    # LAs of 10-20 pupils leave the 70 pupils still to come uncertain by their pupils' own
    # variation far more than by the spread of the changes (the quasi-binomial part,
    # Σn(d − μ)² / (m − 1) · (70² / 45 + 70) / 115², t with 3 df, which alone is ±4.8).
    figures = [
        provisional.LaFigures("390", "980", 10, 10, 10, 7, 64.0),
        provisional.LaFigures("391", "980", 20, 20, 20, 13, 64.0),
        provisional.LaFigures("392", "980", 10, 10, 10, 7, 68.0),
        provisional.LaFigures("393", "980", 5, 40, 5, 3, 66.0),
        provisional.LaFigures("394", "980", 0, 30, 0, 0, 67.0),
        provisional.LaFigures("938", "989", 5, None, 5, 3, 66.0),
    ]  # fmt: skip
    found = provisional.estimate(figures, loaded_share=0.9)
    phi = sum(n * (d - mu) ** 2 for n, d in ((10, 6), (20, 1), (10, 2), (5, -6))) / 3
    spread_half = t_quantile(0.975, 3) * math.sqrt(phi * (70**2 / 45 + 70) / 115**2)
    assert found.england.spread_half_width == pytest.approx(spread_half)
    half = found.england.half_width
    assert half > spread_half
    assert (england["met_percent"], england["met_low"], england["met_high"]) == (
        rounded(est, 1), rounded(est - half, 1), rounded(est + half, 1),
    ) == (67.5, 38.4, 96.5)  # fmt: skip
    # Beside it, every pupil loaded (the partly loaded LA's 5, 3 met, too): 33 of 50 = 66.0%.
    low, high = wilson_interval(33, 50)
    assert (england["met_pooled"], england["met_pooled_low"], england["met_pooled_high"]) == (
        66.0, rounded(low, 1), rounded(high, 1),
    )  # fmt: skip
    assert england["eligible"] == 50
    assert england["met_not_like_the_rest"] is False and england["met_reason"] is None

    # The North East: its own mean change (10·6 + 20·1 + 10·2) / 40 = 2.5 and LAs still to
    # come; the spread pooled over every loaded LA around its region's mean, m − regions = 2 df
    # (938 alone in the South East adds nothing).
    assert (north_east["las"], north_east["las_loaded"], north_east["las_partly"]) == (12, 3, 1)
    assert north_east["las_without_expected"] == 7
    ne_est = (2700 + 40 * 66 + 30 * 67 + 70 * 2.5) / 110
    ne_phi = (10 * 3.5**2 + 20 * 1.5**2 + 10 * 0.5**2) / 2
    ne_spread = t_quantile(0.975, 2) * math.sqrt(ne_phi * (70**2 / 40 + 70) / 110**2)
    assert found.regions["980"].spread_half_width == pytest.approx(ne_spread)
    ne_half = found.regions["980"].half_width
    assert (north_east["met_percent"], north_east["met_low"], north_east["met_high"]) == (
        rounded(ne_est, 1), rounded(ne_est - ne_half, 1), 100.0,  # cut at 100%
    )  # fmt: skip
    assert (north_east["met_pooled"], north_east["met_mean_change"]) == (66.7, 2.5)  # 30 of 45

    # The same estimates from the engine on the LaFigures made by hand above.
    assert found.england.estimate == pytest.approx(est)
    assert found.regions["980"].estimate == pytest.approx(ne_est)


def test_a_region_with_fewer_than_three_las_loaded_says_so(loading, members, signed_in, capsys):
    south_east = by_area(cli_json(capsys))["989"]
    assert south_east["las_loaded"] == 1 and south_east["met_percent"] is None
    # None of the 18 others has expected pupils in Keystage: no share of them to give.
    assert south_east["coverage_percent"] is None and south_east["las_without_expected"] == 18
    assert south_east["met_low"] is None and south_east["met_high"] is None
    assert south_east["met_reason"] == (
        "Only 1 of the region's 19 LAs is loaded; a figure needs at least 3."
    )
    assert south_east["met_pooled"] == 60.0  # 938's own figure, 3 of 5
    body = words(signed_in(members["national"]).get(reverse("report-national")))
    region = body[body.index("South East Provisional") :]
    assert region.startswith("South East Provisional Based on 1 of 19 LAs. Files from"), region[
        :300
    ]
    assert "Only 1 of the region's 19 LAs is loaded; a figure needs at least 3. The figures " \
        "of the LAs loaded so far, together, are below." in region  # fmt: skip


def test_a_partly_loaded_la_is_shown_apart_and_left_out_of_the_estimate(
    loading, members, signed_in, capsys, tmp_path
):
    body = words(signed_in(members["national"]).get(reverse("report-national")))
    partly = body[body.index("LAs partly loaded These LAs") :]
    assert "fewer than 90%" in partly
    # The one LA partly loaded, and nothing after it before the page's footer.
    assert partly.endswith("LA Region Expected pupils loaded 393 South Tyneside North East 13%")
    assert "1 LA partly loaded (listed below) is left out of the estimate." in body
    # Its pupils count in the pooled figure, not in the estimate: a new file of 393's school
    # with 8 pupils, 3 met (20% of its 40 expected, still partly loaded), moves England's
    # pooled figure from 33 of 50 to 33 of 53 and leaves the estimate where it was.
    before = by_area(cli_json(capsys))["970"]
    rows = [pupil(n, la="393", estab="2100", reading="EXS" if n < 3 else "WTS") for n in range(8)]
    again = write_ctf(tmp_path / "393-again.xml", rows, la="393", estab="2100")
    assert [r.outcome for r in import_paths([str(again)], jobs=1)] == ["superseded"]
    rebuild_facts(loading)
    after = by_area(cli_json(capsys))["970"]
    assert (before["met_pooled"], after["met_pooled"]) == (66.0, rounded(100 * 33 / 53, 1))
    assert before["met_percent"] == after["met_percent"] == 67.5
    assert (before["met_low"], before["met_high"]) == (after["met_low"], after["met_high"])
    assert after["las_partly"] == 1 and after["las_loaded"] == 4


def test_the_page_its_download_and_the_command_give_the_same_figures(
    loading, members, signed_in, capsys
):
    client = signed_in(members["national"])
    download = list(csv.DictReader(io.StringIO(
        client.get(reverse("report-national-export", kwargs={"fmt": "csv"})).content.decode()
    )))  # fmt: skip
    assert main(["report", "national", "--format", "csv"]) == 0
    assert list(csv.DictReader(io.StringIO(capsys.readouterr().out))) == download
    rows = cli_json(capsys)
    england = by_area(rows)["970"]
    body = words(client.get(reverse("report-national")))
    # The sentence: the LAs, the share of expected pupils, the headline row's estimate.
    combined = by_area(rows, "combined")["970"]
    assert (
        f"England Provisional Based on 4 of 153 LAs (39.1% of the expected pupils Keystage knows "
        f"of). England, "
        f"Reading, writing and maths combined: {combined['met_percent']}% at the expected "
        f"standard or above (95% interval {combined['met_low']}–{combined['met_high']}%). The "
        f"LAs loaded so far together: {combined['met_pooled']}%."
    ) in body
    # DfE publishes no combined figure: no mean change, the estimate stands on the pooled one.
    assert combined["met_mean_change"] is None
    # The table: estimate, interval, pooled figure and its interval, mean change.
    assert (
        f"English reading 50 {england['met_percent']}% {england['met_low']} to "
        f"{england['met_high']} {england['met_pooled']}% {england['met_pooled_low']} to "
        f"{england['met_pooled_high']} +{england['met_mean_change']}"
    ) in body
    assert "147 LAs not yet loaded have no expected pupils in Keystage" in body
    # The PDF: the estimate, its interval, the pooled figure and the mean change fit the page
    # across, and why the South East has no estimate is said.
    pdf = client.get(reverse("report-national-export", kwargs={"fmt": "pdf"})).content
    assert pdf_text.outside(pdf) == []
    printed = " ".join(" ".join(pdf_text.pages(pdf)).split())
    assert "South East: Only 1 of the region's 19 LAs is loaded; a figure needs at least 3." \
        in printed  # fmt: skip
    assert (
        f"England English reading 4 153 39.1 50 {england['met_percent']} {england['met_low']} "
        f"{england['met_high']} {england['met_pooled']} {england['met_mean_change']}"
    ) in printed
    # The mean change as LAs loaded: four LAs, one step, England's mean change.
    moved = body[body.index("How the mean change has moved as LAs loaded") :]
    assert "English reading: expected standard or above" in moved
    assert re.search(r"First 4 \(100%\) \+1\.6 ", moved), moved[:800]


def test_a_figure_hidden_from_a_viewer_stays_c_with_everything_worked_out_from_it(
    loading, members, signed_in, settings
):
    settings.KEYSTAGE_REPORT_MIN_PUPILS = 60  # England rests on 50 pupils
    client = signed_in(members["admin938"])
    rows = list(csv.DictReader(io.StringIO(
        client.get(reverse("report-national-export", kwargs={"fmt": "csv"})).content.decode()
    )))  # fmt: skip
    england = by_area(rows)["970"]
    for field in ("met_percent", "met_low", "met_high", "met_pooled", "met_pooled_low",
                  "met_pooled_high", "met_mean_change", "met_not_like_the_rest"):  # fmt: skip
        assert england[field] == "c", field
    assert england["las_loaded"] == "4" and england["coverage_percent"] == "39.1"
    body = words(client.get(reverse("report-national")))
    assert "England, Reading, writing and maths combined: c (suppressed)." in body
    assert "First 4 (100%) c " in body  # the mean change as LAs loaded too
    assert "67.5" not in body


def test_loaded_las_unlike_the_rest_are_said_to_be(loaded, tmp_path, members, signed_in, capsys):
    # Three LAs loaded with the same change or nearly (+6, +6, +4; 50 pupils each) and
    # Middlesbrough, low last year (61), still to come with 600 expected pupils: the LAs loaded
    # (70.7% together) are far above what England will be.
    load(loaded, tmp_path, {"390": (50, 35, 50), "391": (50, 35, 50), "392": (50, 36, 50),
                            "806": (0, 0, 600)}, west_sussex=False)  # fmt: skip
    england = by_area(cli_json(capsys))["970"]
    mu = (50 * 6 + 50 * 6 + 50 * 4) / 150
    est = (100 * 106 + 600 * (61 + mu)) / 750
    phi = (50 * (6 - mu) ** 2 * 2 + 50 * (4 - mu) ** 2) / 2
    half = t_quantile(0.975, 2) * math.sqrt(phi * (600**2 / 150 + 600) / 750**2)
    # 3.5 points apart, more than the spread of their changes explains (±2.6): not like the
    # rest (the interval itself is wider: 50 pupils an LA vary a good deal by themselves).
    assert abs(100 * 106 / 150 - est) > half
    assert (england["met_percent"], england["met_pooled"]) == (rounded(est, 1), 70.7)
    assert england["met_not_like_the_rest"] is True
    body = words(signed_in(members["national"]).get(reverse("report-national")))
    assert f"Warning {provisional.NOT_LIKE_THE_REST} (English reading, expected standard or " \
        "above" in body  # fmt: skip
    assert f"English reading 150 {england['met_percent']}% Unlike the rest" in body


def test_an_interval_resting_on_three_las_is_shown_only_to_the_national_admin(
    loading, members, signed_in
):
    """The North East has 390, 391 and 392 loaded: its interval rests on the spread of their
    three changes, which with their pooled figure and one LA's own would give the other two
    LAs' figures. Anyone but a national admin sees the estimate, and "c" for the interval,
    until 4 LAs are loaded; England (4 LAs) keeps its interval."""

    def north_east_and_england(member):
        client = signed_in(members[member])
        rows = by_area(list(csv.DictReader(io.StringIO(
            client.get(reverse("report-national-export", kwargs={"fmt": "csv"})).content.decode()
        ))))  # fmt: skip
        return rows["980"], rows["970"], words(client.get(reverse("report-national")))

    ne, england, body = north_east_and_england("admin938")
    assert ne["met_percent"] == "68.4" and ne["met_pooled"] == "66.7"
    assert (ne["met_low"], ne["met_high"], ne["met_not_like_the_rest"]) == ("c", "c", "c")
    assert england["met_low"] not in ("c", "") and england["met_high"] not in ("c", "")
    headline = body[body.index("North East, Reading, writing and maths combined: ") :]
    assert headline.index("(its interval is not shown until 4 LAs are loaded)") < 120, headline
    ne, _, body = north_east_and_england("national")
    assert ne["met_low"] not in ("c", "") and ne["met_not_like_the_rest"] == "False"
    assert "its interval is not shown" not in body
