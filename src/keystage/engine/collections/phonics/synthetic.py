"""Synthetic but realistic phonics screening check files (CTF, and a few of DfE's CSV) and a
GIAS-style register, for some LAs or all.

Each LA's Year 1 pupils meet the standard at DfE's published rate for the year (rounded to a
whole percent, as published; an LA DfE did not publish gets its region's), with marks from the
shape of DfE's national distribution: a small bump at 0, few marks just below the threshold, a
peak at the threshold and the mark above it, a long tail to 40. Year 2 pupils are the previous
year's Year 1 pupils who did not meet the standard (that year's cohort, generated again with
the same seed: the same pupils, UPNs and schools), about 60% of whom meet it this time.
Schools, identities, the shared mistakes and file writing are `engine/synthetic/`'s.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import random
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path

from keystage.engine import definition as definition_mod
from keystage.engine import upn as upn_mod
from keystage.engine.definition import Definition
from keystage.engine.synthetic import files as files_mod
from keystage.engine.synthetic import mistakes
from keystage.engine.synthetic.draws import exact_count, la_rng, noisy_count, weighted
from keystage.engine.synthetic.files import FileWriters
from keystage.engine.synthetic.mistakes import SHARED_PUPIL_WEIGHTS
from keystage.engine.synthetic.pupils import FSM_BY_REGION, Pupil, mix_of, new_pupil, pools_for
from keystage.engine.synthetic.run import (
    GenerateSummary,
    LaResult,
    Settings,
    check_settings,
    chosen_las,
    finish_la,
    run,
)
from keystage.engine.synthetic.schools import School, ctf_style, la_profile, plan_schools
from keystage.reference import REGION_CODES, LocalAuthorityRef, local_authorities, published_phonics

MARK, CODE = "mark", "psc_code"  # the definitions' two items

# The check's own mistakes (spec phonics.md §4), beside the shared ones, with their weights.
OWN_MISTAKES = {
    "mark_out_of_range": 2,  # PSC-R02
    "mark_and_code": 2,  # PSC-R03
    "invalid_code": 2,  # PSC-R04
    "working_code_disagrees": 2,  # PSC-R05
    "q_code": 1,  # PSC-R06
    "nothing_given": 2,  # PSC-R01
    "wrong_nc_year": 1,  # PSC-P15
}
PUPIL_ERROR_KINDS = (*SHARED_PUPIL_WEIGHTS, *OWN_MISTAKES)
_WEIGHTS = {**SHARED_PUPIL_WEIGHTS, **OWN_MISTAKES}

# Shares of a Year 1 cohort with a code instead of a mark (DfE 2023: about 1% absent, 2%
# disapplied; a few leave before the check week).
_ABSENT_SHARE = 0.011
_DISAPPLIED_SHARE = 0.017
_LEFT_SHARE = 0.006
_RECHECK_MET_SHARE = 0.60  # Year 2 re-check pupils who meet the standard (DfE: 55-62%)
_RECHECK_STILL_DISAPPLIED = 0.8
_WORKING_CODES_SHARE = 0.15  # schools whose MIS writes Wa/Wt beside the mark
_SCHOOL_SD = 0.35
_FSM_EFFECT = -0.45
_AGE_EFFECT = 0.6  # September-born minus August-born, in SDs
_SPECIAL_EFFECT = -3.0


def _below_weights(threshold: int) -> list[float]:
    """Relative shares of the marks below the threshold: a bump at 0 (pupils who read no
    word), a slow rise, and few just below the threshold (the well-known dip)."""
    out = [5.0]
    rising = threshold - 4
    out += [0.6 + 2.4 * (m - 1) / max(1, rising - 1) for m in range(1, rising + 1)]
    out += [2.0, 1.5, 1.0][: threshold - len(out)]
    return out[:threshold]


def _met_weights(threshold: int, top: int) -> list[float]:
    """Relative shares of the marks from the threshold to the top: a peak at the threshold
    and the mark above it, then a long tail down to the top mark."""
    return [10.0 if m <= threshold + 1 else 10.0 - 0.7 * (m - threshold - 1)
            for m in range(threshold, top + 1)]  # fmt: skip


def _marks_by_rank(n: int, weights: list[float], first: int) -> list[int]:
    """n marks, lowest first, spread over first..first+len(weights)-1 by the weights."""
    cumulative = list(accumulate(weights))
    total = cumulative[-1]
    return [first + min(len(weights) - 1, bisect.bisect_right(cumulative, (r + 0.5) / n * total))
            for r in range(n)]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Published figures


def published_targets(definition: Definition | None = None, *, year: int | None = None,
                      include_suppressed: bool = True) -> dict[str, int]:  # fmt: skip
    """DfE's published % of Year 1 pupils meeting the standard per LA for the year (the
    definition's by default): {la_code: 79}. With `include_suppressed`, every LA of
    `local_authorities()` without a figure gets its region's (else England's)."""
    year = year or (definition or definition_mod.load("phonics-2023")).year
    rows = [r for r in published_phonics() if r["year"] == str(year) and r["y1_met"]]
    by_code = {(r["level"], r["code"]): int(r["y1_met"]) for r in rows}
    out = {code: v for (level, code), v in by_code.items() if level == "la"}
    if include_suppressed:
        national = by_code.get(("national", "970"))
        for la in local_authorities():
            if la.code in out:
                continue
            value = by_code.get(("region", REGION_CODES.get(la.region, ("", ""))[1]), national)
            if value is not None:
                out[la.code] = value
    return out


# ---------------------------------------------------------------------------------------------
# Pupils and their results


@dataclasses.dataclass(frozen=True)
class _Check:
    """What the generator needs of the definition: the items, codes, threshold and marks."""

    threshold: int
    low: int
    high: int
    absent: str
    disapplied: str
    left: str
    maladministration: str
    working_at: str
    working_towards: str
    subject: str  # CTF Subject and Component of the check's rows
    components: tuple[str, ...]

    @classmethod
    def of(cls, d: Definition) -> _Check:
        def code(name: str) -> str:
            return sorted(d.codes[name])[0]

        low, high = d.subject(MARK).marks or (0, 40)
        mapping = next(m for m in d.raw["ctf_mapping"] if m["maps_to"] == MARK)
        return cls(
            threshold=int(d.raw["threshold"]["mark"]), low=low, high=high,
            absent=code("absent"), disapplied=code("disapplied"), left=code("left"),
            maladministration=code("maladministration"), working_at=code("working_at"),
            working_towards=code("working_towards"), subject=mapping["subject"][0],
            components=tuple(c for c in mapping["components"] if c),
        )  # fmt: skip

    def met(self, p: Pupil) -> bool:
        mark = p.outcomes.get(MARK)
        return mark is not None and int(mark) >= self.threshold


def _ability(rng: random.Random, sex: str, age_position: float, fsm: bool, *,
             school_effect: float, special: float) -> tuple[float, list]:  # fmt: skip
    general = (school_effect + rng.gauss(0.0, 1.0) + _AGE_EFFECT * (age_position - 0.5)
               + (_FSM_EFFECT if fsm else 0.0) + (0.15 if sex == "F" else 0.0) + special)  # fmt: skip
    return general, [general]


def _upn_for(rng: random.Random, *, school: School, yy: str, serial: int) -> str:
    return upn_mod.make(school.la, school.estab, yy, f"{serial:03d}")


def year1_cohort(la: LocalAuthorityRef, schools: list[School], *, seed: int, year: int,
                 born: tuple[dt.date, dt.date], target: int, check: _Check) -> list[Pupil]:  # fmt: skip
    """The LA's Year 1 pupils of the check of `year`, born in `born`, with their results: a
    share `target`% of the eligible pupils (marks, absent, disapplied) meets the standard,
    rounded as DfE rounds. The same seed and year give the same pupils, whichever year is
    being generated (this is how the next year finds its Year 2 pupils)."""
    rng = la_rng(seed, la.code, f"year1-{year}")
    fsm_rate = FSM_BY_REGION.get(la.region, 0.24)
    mix_pairs = mix_of(la.code, la_profile(la))
    born_days = (born[1] - born[0]).days + 1
    fsm_from = dt.date(born[0].year + 3, 9, 1)
    # UPNs are given when a pupil starts school: one two-digit year per cohort, so that two
    # years' pupils of one school never share a UPN.
    yy = f"{(year - 2) % 100:02d}"
    cohort: list[Pupil] = []
    for school in schools:
        if not school.sends:
            continue
        pools = pools_for(school.encoding)
        school_fsm = min(0.85, fsm_rate * rng.lognormvariate(0.0, 0.55))
        school_effect = rng.gauss(0.0, _SCHOOL_SD) - 0.6 * (school_fsm - fsm_rate)
        ability = functools.partial(_ability, school_effect=school_effect,
                                    special=_SPECIAL_EFFECT if school.special else 0.0)  # fmt: skip
        serials = rng.sample(range(1, 1000), min(999, school.cohort))
        for serial in serials:
            p = new_pupil(
                rng, school, pools=pools, mix_pairs=mix_pairs, school_fsm=school_fsm,
                born_from=born[0], born_days=born_days, fsm_from=fsm_from, ability=ability,
                upn_for=functools.partial(_upn_for, school=school, yy=yy, serial=serial),
            )  # fmt: skip
            p.nc_year = "1"
            cohort.append(p)
    _year1_results(la, cohort, seed=seed, year=year, target=target, check=check)
    return cohort


def _year1_results(la: LocalAuthorityRef, cohort: list[Pupil], *, seed: int, year: int,
                   target: int, check: _Check) -> None:  # fmt: skip
    rng = la_rng(seed, la.code, f"year1-results-{year}")
    n = len(cohort)
    if n == 0:
        return
    by_ability = sorted(range(n), key=lambda i: cohort[i].general)
    special = sum(1 for p in cohort if p.school.special)
    disapplied_n = min(n // 10, max(noisy_count(rng, _DISAPPLIED_SHARE, n), special // 2))
    coded = dict.fromkeys(by_ability[:disapplied_n], check.disapplied)
    others = [i for i in range(n) if i not in coded]
    absent = rng.sample(others, min(len(others), noisy_count(rng, _ABSENT_SHARE, n)))
    coded.update(dict.fromkeys(absent, check.absent))
    others = [i for i in others if i not in coded]
    left = rng.sample(others, min(len(others), noisy_count(rng, _LEFT_SHARE, n)))
    coded.update(dict.fromkeys(left, check.left))
    for i, code in coded.items():
        cohort[i].outcomes[CODE] = code
    eligible = n - len(left)
    marked = [i for i in by_ability if i not in coded]  # lowest first
    met_n = min(len(marked), exact_count(target, eligible))
    _give_marks(cohort, marked, met_n, check)


def _give_marks(cohort: list[Pupil], marked: list[int], met_n: int, check: _Check) -> None:
    """Marks for the pupils `marked` (lowest attainment first): the top `met_n` at or above
    the threshold, the others below it, each group spread by the national shape."""
    below = len(marked) - met_n
    marks = _marks_by_rank(below, _below_weights(check.threshold), check.low) if below else []
    if met_n:
        marks += _marks_by_rank(met_n, _met_weights(check.threshold, check.high), check.threshold)
    for i, mark in zip(marked, marks, strict=True):
        cohort[i].outcomes[MARK] = str(mark)


def _year2_cohort(la: LocalAuthorityRef, previous: list[Pupil], *, seed: int, year: int,
                  check: _Check) -> list[Pupil]:  # fmt: skip
    """This year's Year 2 pupils: last year's Year 1 pupils who did not meet the standard
    (those who left before last year's check are gone), about 60% of whom meet it now."""
    rng = la_rng(seed, la.code, f"year2-{year}")
    again = [p for p in previous
             if not check.met(p) and p.outcomes.get(CODE) != check.left]  # fmt: skip
    cohort = []
    for p in again:
        code = p.outcomes.get(CODE)
        still = code == check.disapplied and rng.random() < _RECHECK_STILL_DISAPPLIED
        twin = dataclasses.replace(p, outcomes={}, nc_year="2", errors=[])
        twin.general = p.general + rng.gauss(0.0, 0.5)
        if still:
            twin.outcomes[CODE] = check.disapplied
        elif rng.random() < _LEFT_SHARE * 3:
            twin.outcomes[CODE] = check.left
        elif rng.random() < _ABSENT_SHARE * 2:
            twin.outcomes[CODE] = check.absent
        cohort.append(twin)
    marked = sorted((i for i, p in enumerate(cohort) if CODE not in p.outcomes),
                    key=lambda i: cohort[i].general)  # fmt: skip
    met_n = min(len(marked), noisy_count(rng, _RECHECK_MET_SHARE, len(marked)))
    _give_marks(cohort, marked, met_n, check)
    return cohort


def _working_codes(cohort: list[Pupil], check: _Check) -> None:
    """Wa/Wt beside each mark, for the schools whose MIS writes them."""
    for p in cohort:
        if p.school.style.get("working_codes") and MARK in p.outcomes:
            met = check.met(p)
            p.outcomes[CODE] = check.working_at if met else check.working_towards


# ---------------------------------------------------------------------------------------------
# The check's own mistakes (the shared ones are engine/synthetic/mistakes.py's)


def _own_mistake(kind: str, p: Pupil, school: School, rng: random.Random,
                 d: Definition) -> str | None:  # fmt: skip
    check = _Check.of(d)
    items = d.subject_keys
    mark = p.outcomes.get(MARK)
    if kind == "wrong_nc_year":
        p.nc_year = rng.choice(["3", "R", "0"])
        return f"NC year {p.nc_year}"
    if kind == "nothing_given":
        p.rows = []
        return "no mark and no outcome code"
    if kind == "invalid_code":
        code = rng.choice(["X", "N", "Abs", "W", "P"])
        p.rows = [(k, c) for k, c in mistakes.rows(p, items) if k != CODE] + [(CODE, code)]
        return f"{CODE}={code!r}"
    if kind == "q_code":
        p.rows = [(CODE, check.maladministration)]
        return f"{CODE}={check.maladministration}"
    if mark is None:
        return None  # the others change a mark: this pupil has none
    if kind == "mark_out_of_range":
        # A whole number: in a CTF a Result that is not one reads as an outcome code.
        wrong = str(rng.choice([check.high + 1, check.high + 5, 10 * check.high // 4, 99]))
        mistakes.set_result(p, items, MARK, wrong)
        return f"{MARK}={wrong!r}"
    if kind == "mark_and_code":
        code = rng.choice([check.absent, check.disapplied])
        p.rows = [(MARK, mark), (CODE, code)]
        return f"{MARK}={mark} and {CODE}={code}"
    if kind == "working_code_disagrees":
        code = check.working_towards if check.met(p) else check.working_at
        p.rows = [(MARK, mark), (CODE, code)]
        return f"{MARK}={mark} with {code}"
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Writers

_CSV_RESULTS = ("Mark", "Outcome")  # after files.CSV_PUPIL_HEADER


def _csv_name(school: School, d: Definition) -> str:
    return f"PHONICS_{school.estab}_{str(d.year)[2:]}.csv"


def _choose_style(school: School, rng: random.Random, settings: Settings) -> None:
    d = settings.definition
    if rng.random() < settings.csv_share:
        school.kind = "csv"
        school.encoding = weighted(rng, (("cp1252", 0.35), ("utf-8-sig", 0.45), ("utf-8", 0.2)))
        school.style = {"upper_names": rng.random() < 0.5}
        school.file_name = _csv_name(school, d)
    else:
        ctf_style(school, rng, d.year, habits=(("working_codes", _WORKING_CODES_SHARE),),
                  other_name="PHO")  # fmt: skip
        school.style["component"] = rng.choice(_Check.of(d).components)


def _ctf_bytes(school: School, d: Definition) -> tuple[bytes, int]:
    st = school.style
    check = _Check.of(d)
    rdate = files_mod.result_date(school, d.year)
    parts = files_mod.ctf_head(school, d)
    records = 0
    for p in school.pupils:
        records += 1
        stage_rows = [f"        <KeyStage>\n          <Stage>{d.stage}</Stage>\n"]
        for _, result in p.rows if p.rows is not None else mistakes.rows(p, d.subject_keys):
            stage_rows.append(files_mod.stage_assessment(
                d, st, check.subject, st["component"], result, method=d.method, year=d.year,
                rdate=rdate, qualifier="PH",
            ))  # fmt: skip
        stage_rows.append("        </KeyStage>\n")
        basic = files_mod.basic_details(p, st, d, p.nc_year)
        parts.append(files_mod.pupil_element(p, st, school.encoding, basic, stage_rows))
    return files_mod.ctf_end(parts, school), records


def _csv_text(school: School, d: Definition) -> tuple[str, int]:
    def results(given):
        return _CSV_RESULTS if given is None else [given.get(MARK, ""), given.get(CODE, "")]

    return files_mod.csv_rows(school, results)


_WRITERS = FileWriters(ctf=_ctf_bytes, csv=_csv_text, title="Phonics screening check",
                       short="Phonics", sheet="Phonics")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# One LA


def _generate_la(la: LocalAuthorityRef, la_index: int, targets: tuple[int, int],
                 settings: Settings, out_dir: Path) -> LaResult:  # fmt: skip
    d = settings.definition
    check = _Check.of(d)
    schools = plan_schools(la, la_index, settings.seed)
    style_rng = la_rng(settings.seed, la.code, "style")
    for s in schools:
        if s.sends:
            _choose_style(s, style_rng, settings)
    target, previous_target = targets
    year1 = year1_cohort(la, schools, seed=settings.seed, year=d.year,
                         born=d.dob_usual_by_nc_year["1"], target=target, check=check)  # fmt: skip
    previous = year1_cohort(la, schools, seed=settings.seed, year=d.year - 1,
                            born=d.dob_usual_by_nc_year["2"], target=previous_target,
                            check=check)  # fmt: skip
    year2 = _year2_cohort(la, previous, seed=settings.seed, year=d.year, check=check)
    cohort = year1 + year2
    _working_codes(cohort, check)
    for p in cohort:
        p.school.pupils.append(p)
    for s in schools:  # MIS exports list pupils by year group, then alphabetically
        s.pupils.sort(key=lambda p: (p.nc_year, p.surname.lower(), p.forename.lower()))
    return finish_la(
        la,
        schools,
        settings,
        out_dir,
        csv_name=lambda s: _csv_name(s, d),
        weights=_WEIGHTS,
        own=_own_mistake,
        writers=_WRITERS,
        pupils=len(cohort),
    )


def _generate_la_job(args: tuple) -> LaResult:
    return _generate_la(*args)


def generate(
    out_dir: str | Path,
    *,
    las: list[str] | None = None,
    national: bool = False,
    error_rate: float = 0.02,
    seed: int = 0,
    definition: Definition | None = None,
    csv_share: float = 0.05,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int = 1,
) -> GenerateSummary:
    """Write a register and one phonics file per school with Year 1 pupils, for the given LAs
    (or all of England), with the definition's year (phonics-2023 by default).

    `out_dir` gets `schools.csv`, `manifest.csv`, `injected_errors.csv` and a folder per LA, as
    KS1's generator writes them. Every LA's Year 1 pupils reproduce its published figure
    (mistakes, at `error_rate`, change what the files say, not the pupils). The same seed gives
    the same bytes; an LA's files do not depend on which other LAs are generated."""
    d = definition or definition_mod.load("phonics-2023")
    check_settings(error_rate, csv_share)
    chosen = chosen_las(las, national)
    targets = published_targets(d)
    if not targets:
        raise ValueError(
            f"DfE published no phonics figures for {d.year} to aim at ({d.id}); generate a "
            "year it published, e.g. --collection phonics-2023"
        )
    previous = published_targets(d, year=d.year - 1) or targets
    settings = Settings(error_rate=error_rate, seed=seed, csv_share=csv_share, exact=True,
                        definition=d)  # fmt: skip
    out = Path(out_dir)
    jobs = [(la, i, (targets[la.code], previous.get(la.code, targets[la.code])), settings, out)
            for la, i in chosen]  # fmt: skip
    return run(out, jobs, _generate_la_job, exact=True, workers=workers, progress=progress)
