"""Synthetic EYFS profile files read back with the product's readers: each LA's assessed
children reproduce its published good level of development to DfE's one decimal place (a
sample of LAs here; bench/synthetic_eyfsp_national.py checks every LA), its areas come near
their published rates, goals are correlated within a child as real profiles are, and the
mistakes put in are the ones the profile's rules find."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from keystage.engine import definition
from keystage.engine.collections.eyfsp import measures, synthetic
from keystage.engine.readers import open_school_file
from keystage.engine.rules import check_pupil

pytestmark = pytest.mark.one_pass

D23 = definition.load("eyfsp-2023")
# City of London (one school: its cohort grows until 84.2% is a share of it), Rutland (small),
# Camden.
LAS = ["201", "857", "202"]


def read_la(root: Path, la: str, d) -> list:
    pupils = []
    for path in sorted((root / la).iterdir()):
        with open_school_file(path, d) as reader:
            pupils.extend(reader.pupils())
    return pupils


def gld(pupils) -> tuple[int, int]:
    """Spec eyfsp.md §4 by hand: (children with 2 in each of ELG 01-12, children assessed)."""
    assessed = [p for p in pupils if "A" not in p.outcomes.values()]
    met = [p for p in assessed if all(p.outcomes[f"elg{n:02d}"] == "2" for n in range(1, 13))]
    return len(met), len(assessed)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("eyfsp23")
    synthetic.generate(root, las=LAS, error_rate=0, seed=5, csv_share=0.1)
    return {la: read_la(root, la, D23) for la in LAS}


def test_every_las_children_have_its_published_good_level_of_development(clean):
    published = {"201": 84.2, "857": 75.5, "202": 68.3}  # DfE 2023 (the reference CSV)
    for la, pupils in clean.items():
        met, assessed = gld(pupils)
        assert published[la] - 0.05 < 100 * met / assessed < published[la] + 0.05, (
            la,
            met,
            assessed,
        )


def test_areas_come_near_their_published_rates_and_a_few_children_are_not_assessed(clean):
    found = measures.measures(measures.count_pupils(clean["202"], D23), D23)
    published = {"comm": 79.6, "pse": 82.3, "phy": 84.7, "lit": 69.7, "maths": 77.6,
                 "world": 80.5, "art": 83.2}  # Camden 2023  # fmt: skip
    for area, rate in published.items():
        assert abs(found["rows"][area]["met_percent"] - rate) < 2.5, area
    assert abs(found["average_goals"]["mean"] - 14.0) < 0.8  # published 14.0
    assert 0 < found["not_assessed"] < 0.02 * found["pupils"]
    assert all(
        set(p.outcomes.values()) == {"A"} for p in clean["202"] if "A" in p.outcomes.values()
    )


def test_goals_are_correlated_within_a_child(clean):
    pupils = [p for ps in clean.values() for p in ps if "A" not in p.outcomes.values()]
    reading = [p.outcomes["elg09"] == "2" for p in pupils]
    number = [p.outcomes["elg11"] == "2" for p in pupils]
    both = sum(a and b for a, b in zip(reading, number, strict=True)) / len(pupils)
    alone = (sum(reading) / len(pupils)) * (sum(number) / len(pupils))
    assert both > alone + 0.05  # far more often both than chance would give
    # Most children emerging in word reading are emerging in another goal too.
    behind = [p for p in pupils if p.outcomes["elg09"] == "1"]
    assert sum(1 for p in behind if list(p.outcomes.values()).count("1") > 1) > 0.7 * len(behind)


def test_clean_files_are_reception_children_with_no_findings(clean):
    pupils = [p for ps in clean.values() for p in ps]
    assert {p.nc_year for p in pupils} == {"R"}
    assert all(D23.dob_usual_from <= p.dob_date <= D23.dob_usual_to for p in pupils)
    assert not [f for p in pupils for f in check_pupil(p, D23)]


# Each of the profile's own mistakes and the rule that finds it (spec eyfsp.md §3).
RULE_OF = {"goal_missing": "EYF-R01", "invalid_judgement": "EYF-R02",
           "partly_not_assessed": "EYF-R03", "wrong_nc_year": "EYF-P15"}  # fmt: skip


def test_injected_mistakes_are_found_by_the_profiles_rules(tmp_path):
    summary = synthetic.generate(tmp_path, las=["857", "202"], error_rate=0.06, seed=4,
                                 csv_share=0.2)  # fmt: skip
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
