"""Synthetic phonics files read back with the product's phonics readers: each LA's Year 1
pupils meet the standard at its published rate, the marks peak at the threshold, a year's
Year 2 pupils are the previous year's Year 1 pupils who did not meet it, and the mistakes put
in are the ones the phonics rules find."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from keystage.engine import definition
from keystage.engine.collections.phonics import synthetic
from keystage.engine.readers import open_school_file
from keystage.engine.rules import check_pupil

pytestmark = pytest.mark.one_pass

D23 = definition.load("phonics-2023")
D24 = definition.load("phonics-2024")
# Rutland (small), Isles of Scilly (not published: the South West's figure) and Camden.
LAS = ["857", "420", "202"]


def read_la(root: Path, la: str, d) -> list:
    pupils = []
    for path in sorted((root / la).iterdir()):
        with open_school_file(path, d) as reader:
            pupils.extend(reader.pupils())
    return pupils


def y1_met(pupils, threshold: int = 32) -> tuple[int, int]:
    """Spec phonics.md §5 by hand: (met, eligible) of the Year 1 pupils: marks at or above 32,
    over marks, A and D (L not counted)."""
    year1 = [p for p in pupils if p.nc_year == "1"]
    marks = [int(p.outcomes["mark"]) for p in year1 if "mark" in p.outcomes]
    coded = [p.outcomes.get("psc_code") for p in year1 if "mark" not in p.outcomes]
    eligible = len(marks) + sum(1 for c in coded if c in ("A", "D"))
    return sum(1 for m in marks if m >= threshold), eligible


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("phonics23")
    synthetic.generate(root, las=LAS, error_rate=0, seed=5)
    return {la: read_la(root, la, D23) for la in LAS}


def test_every_las_year_1_pupils_meet_the_standard_at_its_published_rate(clean):
    published = {"857": 86, "202": 81}  # DfE 2023, Rutland and Camden (reference CSV)
    published["420"] = 79  # Isles of Scilly not published: the South West's 79
    for la, pupils in clean.items():
        met, eligible = y1_met(pupils)
        rate = 100 * met / eligible
        if eligible >= 50:
            assert published[la] - 0.5 < rate < published[la] + 0.5, (la, rate)
        else:  # a few dozen pupils cannot reach every whole percent: the nearest count
            assert abs(rate - published[la]) <= 50 / eligible, (la, met, eligible)
    assert y1_met(clean["420"])[1] < 50  # the Isles of Scilly's one school


def test_the_marks_peak_at_the_threshold(clean):
    marks = Counter(int(p.outcomes["mark"]) for ps in clean.values() for p in ps
                    if p.nc_year == "1" and "mark" in p.outcomes)  # fmt: skip
    peak = max(marks, key=marks.get)
    assert peak in (32, 33)
    assert marks[32] > 3 * marks[31]  # few just below the threshold
    assert marks[0] > marks[1] and marks[0] > marks[5]  # the small bump at 0
    assert marks[40] > 0 and marks[34] > marks[40]  # a long tail to 40


def test_files_carry_year_2_pupils_codes_and_working_codes(clean):
    pupils = [p for ps in clean.values() for p in ps]
    years = Counter(p.nc_year for p in pupils)
    assert set(years) == {"1", "2"} and 0.1 < years["2"] / years["1"] < 0.35
    codes = Counter(p.outcomes.get("psc_code") for p in pupils)
    assert codes["A"] and codes["D"] and codes["L"] and codes["Wa"] and codes["Wt"]
    assert not [f for p in pupils for f in check_pupil(p, D23)]  # clean files, no findings


def test_a_2024_generations_year_2_pupils_are_2023s_year_1_pupils_who_did_not_meet(tmp_path):
    synthetic.generate(tmp_path / "23", las=["857"], error_rate=0, seed=9)
    synthetic.generate(tmp_path / "24", las=["857"], error_rate=0, seed=9, definition=D24)
    y23 = {p.upn: p for p in read_la(tmp_path / "23", "857", D23) if p.nc_year == "1"}
    y24 = read_la(tmp_path / "24", "857", D24)
    not_met = {u for u, p in y23.items()
               if p.outcomes.get("psc_code") != "L" and int(p.outcomes.get("mark") or 0) < 32}  # fmt: skip
    year2 = [p for p in y24 if p.nc_year == "2"]
    assert {p.upn for p in year2} == not_met
    assert all((p.surname, p.dob) == (y23[p.upn].surname, y23[p.upn].dob) for p in year2)
    marked = [int(p.outcomes["mark"]) for p in year2 if "mark" in p.outcomes]
    assert 0.45 < sum(1 for m in marked if m >= 32) / len(marked) < 0.75  # about 60%
    assert not {p.upn for p in y24 if p.nc_year == "1"} & set(y23)  # a new Year 1


# Each of the check's own mistakes and the rule that finds it (spec phonics.md §4).
RULE_OF = {
    "mark_out_of_range": "PSC-R02", "mark_and_code": "PSC-R03", "invalid_code": "PSC-R04",
    "working_code_disagrees": "PSC-R05", "q_code": "PSC-R06", "nothing_given": "PSC-R01",
    "wrong_nc_year": "PSC-P15",
}  # fmt: skip


def test_injected_mistakes_are_found_by_the_phonics_rules(tmp_path):
    summary = synthetic.generate(tmp_path, las=["886"], error_rate=0.05, seed=4, csv_share=0.2)
    with summary.injected_log.open(encoding="utf-8", newline="") as f:
        logged = [r for r in csv.DictReader(f) if r["kind"] in RULE_OF]
    assert {r["kind"] for r in logged} == set(RULE_OF)
    found: dict[str, set[str]] = {}
    for row in logged:
        path = tmp_path / row["file"]
        if path.name not in found:
            with open_school_file(path, D23) as reader:
                for p in reader.pupils():
                    found.setdefault(path.name, set()).update(
                        f"{p.upn}:{f.rule}" for f in check_pupil(p, D23)
                    )
    missed = [r for r in logged
              if f"{r['upn']}:{RULE_OF[r['kind']]}" not in found[Path(r["file"]).name]]  # fmt: skip
    assert not missed, [(r["kind"], r["detail"]) for r in missed]
