"""Synthetic but realistic EYFS profile files (CTF, and a few of DfE's CSV) and a GIAS-style
register, for some LAs or all.

Each child has an overall development (a latent score: the school, the child's age in the
year, free school meals, sex) and one score per goal around it, so that goals are correlated
within a child as real profiles are: a child at expected in one goal is likely to be in the
others, most of all within an area. Each area's goals are at expected above a threshold set so
that the LA's children reach each area at about DfE's published rate; then every score is
shifted a little so that exactly the published share of the assessed children has a good level
of development (to DfE's one decimal place; an LA DfE did not publish takes its region's).
A few children are not assessed (A in every goal). Schools, identities, the shared mistakes and
file writing are `engine/synthetic/`'s.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import random
from collections.abc import Callable
from pathlib import Path

from keystage.engine import definition as definition_mod
from keystage.engine import upn as upn_mod
from keystage.engine.collections.eyfsp.measures import GLD, ProfileSettings, settings
from keystage.engine.definition import Definition
from keystage.engine.synthetic import files as files_mod
from keystage.engine.synthetic import mistakes
from keystage.engine.synthetic.draws import la_rng, noisy_count, weighted
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
from keystage.reference import REGION_CODES, LocalAuthorityRef, local_authorities, published_eyfsp

# The profile's own mistakes (spec eyfsp.md §3), beside the shared ones, with their weights.
OWN_MISTAKES = {
    "goal_missing": 2,  # EYF-R01
    "invalid_judgement": 2,  # EYF-R02
    "partly_not_assessed": 2,  # EYF-R03
    "wrong_nc_year": 1,  # EYF-P15
}
PUPIL_ERROR_KINDS = (*SHARED_PUPIL_WEIGHTS, *OWN_MISTAKES)
_WEIGHTS = {**SHARED_PUPIL_WEIGHTS, **OWN_MISTAKES}

_NOT_ASSESSED_SHARE = 0.004  # children with A in every goal (long absence, recent arrival)
_SCHOOL_SD = 0.30
_GOAL_SD = 0.26  # a goal's score around the child's development: goals agree closely
_AREA_SD = 0.18  # an area's own part, shared by its goals (goals agree most within an area)
_FSM_EFFECT = -0.45
_AGE_EFFECT = 1.0  # September-born minus August-born, in SDs: the profile's largest gap
_GIRLS_EFFECT = 0.30
_SPECIAL_EFFECT = -3.0
_FSP_NAMES_SHARE = 0.15  # MIS writing Subject FSP with the NPD name as the component
# The published columns of each area's rate, by area key (reference/eyfsp_published_2015_2025).
_COLUMN = "area_{key}"


# ---------------------------------------------------------------------------------------------
# Published figures


def published_targets(definition: Definition | None = None, *, year: int | None = None,
                      column: str = "gld", include_suppressed: bool = True,
                      ) -> dict[str, float]:  # fmt: skip
    """DfE's published LA figures of one column for the year (the definition's by default):
    {la_code: 67.2}. With `include_suppressed`, every LA of `local_authorities()` without a
    figure gets its region's (else England's)."""
    year = year or (definition or definition_mod.load("eyfsp-2023")).year
    rows = [
        r for r in published_eyfsp() if r["year"] == str(year) and (r.get(column) or "").strip()
    ]
    by_code = {(r["level"], r["code"]): float(r[column]) for r in rows}
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


def exact_tenths(target: float, n: int) -> int | None:
    """A count c of n whose percentage is `target` to one decimal place whichever way a half
    is rounded (100*c/n strictly inside target +- 0.05), or None when no count of n is."""
    if n <= 0:
        return None
    tenths = round(target * 10)
    ideal = tenths * n / 1000
    for c in sorted(range(max(0, int(ideal) - 2), min(n, int(ideal) + 3) + 1),
                    key=lambda c: abs(c - ideal)):  # fmt: skip
        if (2 * tenths - 1) * n < 2000 * c < (2 * tenths + 1) * n:
            return c
    return None


# ---------------------------------------------------------------------------------------------
# Children and their profiles


@dataclasses.dataclass(frozen=True)
class _Profile:
    """What the generator needs of the definition: the goals, areas, codes and CTF layout."""

    s: ProfileSettings
    expected: str
    emerging: str
    not_assessed: str
    rows: dict[str, tuple[str, str]]  # goal -> (area code, component) as the return writes them
    gld_goals: tuple[str, ...]

    @classmethod
    def of(cls, d: Definition) -> _Profile:
        s = settings(d)

        def code(name: str) -> str:
            return sorted(d.codes[name])[0]

        return cls(
            s=s, expected=code("expected"), emerging=code("emerging"),
            not_assessed=code("not_assessed"),
            rows={x.key: (x.return_subject, x.return_component) for x in d.subjects},
            gld_goals=s.row(GLD).goals,
        )  # fmt: skip


def _ability(rng: random.Random, sex: str, age_position: float, fsm: bool, *,
             school_effect: float, special: float, profile: _Profile) -> tuple[float, list]:  # fmt: skip
    general = (school_effect + rng.gauss(0.0, 1.0) + _AGE_EFFECT * (age_position - 0.5)
               + (_FSM_EFFECT if fsm else 0.0) + (_GIRLS_EFFECT if sex == "F" else 0.0)
               + special)  # fmt: skip
    scores = []
    for area in profile.s.areas:
        area_part = rng.gauss(0.0, _AREA_SD)
        scores.extend((g, general + area_part + rng.gauss(0.0, _GOAL_SD)) for g in area.goals)
    return general, scores


def _upn_for(rng: random.Random, *, school: School, yy: str, serial: int) -> str:
    return upn_mod.make(school.la, school.estab, yy, f"{serial:03d}")


def reception_cohort(la: LocalAuthorityRef, schools: list[School], *, seed: int, year: int,
                     born: tuple[dt.date, dt.date], profile: _Profile) -> list[Pupil]:  # fmt: skip
    """The LA's reception children of `year`, born in `born`, with their goal scores (no
    judgements yet). The same seed and year give the same children."""
    rng = la_rng(seed, la.code, f"reception-{year}")
    fsm_rate = FSM_BY_REGION.get(la.region, 0.24) * 0.8  # fewer in reception (FSM is claimed later)
    mix_pairs = mix_of(la.code, la_profile(la))
    born_days = (born[1] - born[0]).days + 1
    fsm_from = dt.date(born[0].year + 3, 9, 1)
    yy = f"{(year - 1) % 100:02d}"  # UPNs are given when a child starts school
    cohort: list[Pupil] = []
    for school in schools:
        if not school.sends:
            continue
        pools = pools_for(school.encoding)
        school_fsm = min(0.85, fsm_rate * rng.lognormvariate(0.0, 0.55))
        school_effect = rng.gauss(0.0, _SCHOOL_SD) - 0.6 * (school_fsm - fsm_rate)
        ability = functools.partial(_ability, school_effect=school_effect, profile=profile,
                                    special=_SPECIAL_EFFECT if school.special else 0.0)  # fmt: skip
        for serial in rng.sample(range(1, 1000), min(999, school.cohort)):
            p = new_pupil(
                rng, school, pools=pools, mix_pairs=mix_pairs, school_fsm=school_fsm,
                born_from=born[0], born_days=born_days, fsm_from=fsm_from, ability=ability,
                upn_for=functools.partial(_upn_for, school=school, yy=yy, serial=serial),
            )  # fmt: skip
            p.nc_year = "R"
            cohort.append(p)
    return cohort


def _judge(la: LocalAuthorityRef, cohort: list[Pupil], *, seed: int, year: int,
           targets: dict[str, float], profile: _Profile) -> None:  # fmt: skip
    """Every child's judgements: A in every goal for a few; for the others each goal at
    expected when its score passes its area's threshold, the thresholds set at the LA's
    published area rates, then every score shifted so that exactly the published share of the
    assessed children has a good level of development. The number of children not assessed
    is chosen (near its usual share) so that such a share exists; `cohort` must be big enough
    for one (see `_fit_cohort`)."""
    rng = la_rng(seed, la.code, f"judgements-{year}")
    n = len(cohort)
    if n == 0:
        return
    gld_target = targets[GLD]
    drawn = noisy_count(rng, _NOT_ASSESSED_SHARE, n)
    k = _not_assessed_count(gld_target, n, drawn)
    if k is None:
        raise ValueError(f"LA {la.code}: {n} children cannot give a GLD of {gld_target}%")
    absent = set(rng.sample(range(n), k))
    assessed = [p for i, p in enumerate(cohort) if i not in absent]
    for i in absent:
        cohort[i].outcomes = dict.fromkeys(profile.rows, profile.not_assessed)
    scores = [dict(p.scores) for p in assessed]
    threshold: dict[str, float] = {}
    for area in profile.s.areas:
        rate = targets.get(area.key)
        lows = sorted((min(sc[g] for g in area.goals) for sc in scores), reverse=True)
        reach = round(len(lows) * rate / 100) if rate is not None else len(lows) * 3 // 4
        reach = min(max(reach, 0), len(lows))
        if reach == 0:
            cut = lows[0] + 1.0
        elif reach == len(lows):
            cut = lows[-1] - 1.0
        else:
            cut = (lows[reach - 1] + lows[reach]) / 2
        for g in area.goals:
            threshold[g] = cut
    c = exact_tenths(gld_target, len(assessed))
    margins = sorted((min(sc[g] - threshold[g] for g in profile.gld_goals) for sc in scores),
                     reverse=True)  # fmt: skip
    if c == 0:
        shift = -margins[0] - 1e-6
    elif c == len(margins):
        shift = -margins[-1] + 1e-6
    else:
        shift = -(margins[c - 1] + margins[c]) / 2
    for p, sc in zip(assessed, scores, strict=True):
        p.outcomes = {
            g: profile.expected if sc[g] - threshold[g] + shift > 0 else profile.emerging
            for g in profile.rows
        }


def _not_assessed_count(target: float, n: int, drawn: int) -> int | None:
    """The number of children not assessed nearest `drawn` (at most twice it, and three) that
    leaves a count of assessed children whose GLD share can be `target`."""
    for k in sorted(range(0, min(n, max(3, 2 * drawn)) + 1), key=lambda k: (abs(k - drawn), k)):
        if exact_tenths(target, n - k) is not None:
            return k
    return None


def _fit_cohort(la: LocalAuthorityRef, cohort: list[Pupil], schools: list[School], *,
                seed: int, year: int, born: tuple[dt.date, dt.date], target: float,
                profile: _Profile) -> list[Pupil]:  # fmt: skip
    """The cohort, with children added to its schools when no number of them not assessed
    makes the published GLD share possible (a small LA: 30 children give percentages 3.3
    points apart, and DfE publishes one decimal place)."""
    rng = la_rng(seed, la.code, f"more-children-{year}")
    sending = [s for s in schools if s.sends]
    yy = f"{(year - 1) % 100:02d}"
    taken = {p.upn for p in cohort}
    born_days = (born[1] - born[0]).days + 1
    while (
        _not_assessed_count(target, len(cohort), round(len(cohort) * _NOT_ASSESSED_SHARE)) is None
    ):
        school = rng.choice(sending)
        serial = next(n for n in range(999, 0, -1)
                      if upn_mod.make(school.la, school.estab, yy, f"{n:03d}") not in taken)  # fmt: skip
        ability = functools.partial(_ability, school_effect=0.0, profile=profile,
                                    special=_SPECIAL_EFFECT if school.special else 0.0)  # fmt: skip
        p = new_pupil(
            rng, school, pools=pools_for(school.encoding), mix_pairs=mix_of(la.code, la_profile(la)),
            school_fsm=FSM_BY_REGION.get(la.region, 0.24) * 0.8, born_from=born[0],
            born_days=born_days, fsm_from=dt.date(born[0].year + 3, 9, 1), ability=ability,
            upn_for=functools.partial(_upn_for, school=school, yy=yy, serial=serial),
        )  # fmt: skip
        taken.add(p.upn)
        p.nc_year = "R"
        cohort.append(p)
    return cohort


# ---------------------------------------------------------------------------------------------
# The profile's own mistakes (the shared ones are engine/synthetic/mistakes.py's)


def _own_mistake(kind: str, p: Pupil, school: School, rng: random.Random,
                 d: Definition) -> str | None:  # fmt: skip
    profile = _Profile.of(d)
    items = d.subject_keys
    if kind == "wrong_nc_year":
        p.nc_year = rng.choice(["1", "N2", "2"])
        return f"NC year {p.nc_year}"
    rows = mistakes.rows(p, items)
    if any(c == profile.not_assessed for _, c in rows):
        return None  # the others change a judgement: this child has none
    if kind == "goal_missing":
        gone = rng.choice(items)
        p.rows = [(k, c) for k, c in rows if k != gone]
        return f"no {gone}"
    if kind == "invalid_judgement":
        goal, wrong = rng.choice(items), rng.choice(["3", "E", "X", "0", "Exp", "Y"])
        mistakes.set_result(p, items, goal, wrong)
        return f"{goal}={wrong!r}"
    if kind == "partly_not_assessed":
        goals = rng.sample(items, rng.randint(1, 3))
        for goal in goals:
            mistakes.set_result(p, items, goal, profile.not_assessed)
        return f"{profile.not_assessed} in {', '.join(sorted(goals))} only"
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Writers


def _csv_name(school: School, d: Definition) -> str:
    return f"EYFSP_{school.estab}_{str(d.year)[2:]}.csv"


def _choose_style(school: School, rng: random.Random, settings_: Settings) -> None:
    d = settings_.definition
    if rng.random() < settings_.csv_share:
        school.kind = "csv"
        school.encoding = weighted(rng, (("cp1252", 0.35), ("utf-8-sig", 0.45), ("utf-8", 0.2)))
        school.style = {"upper_names": rng.random() < 0.5}
        school.file_name = _csv_name(school, d)
    else:
        ctf_style(school, rng, d.year, habits=(("fsp_names", _FSP_NAMES_SHARE),),
                  other_name="FSP")  # fmt: skip


def _ctf_bytes(school: School, d: Definition) -> tuple[bytes, int]:
    st = school.style
    profile = _Profile.of(d)
    rdate = files_mod.result_date(school, d.year)
    parts = files_mod.ctf_head(school, d)
    records = 0
    for p in school.pupils:
        records += 1
        stage_rows = [f"        <KeyStage>\n          <Stage>{d.stage}</Stage>\n"]
        for goal, result in p.rows if p.rows is not None else mistakes.rows(p, d.subject_keys):
            area, component = profile.rows[goal]
            subject = area
            if st.get("fsp_names"):  # Subject FSP, Component the NPD name FSP_COM_E01
                subject, component = "FSP", f"FSP_{area}_{component}"
            stage_rows.append(files_mod.stage_assessment(
                d, st, subject, component, result, method=d.method, year=d.year, rdate=rdate,
                qualifier="EY",
            ))  # fmt: skip
        stage_rows.append("        </KeyStage>\n")
        basic = files_mod.basic_details(p, st, d, p.nc_year)
        parts.append(files_mod.pupil_element(p, st, school.encoding, basic, stage_rows))
    return files_mod.ctf_end(parts, school), records


def _csv_text(school: School, d: Definition) -> tuple[str, int]:
    profile = _Profile.of(d)
    goals = d.subject_keys

    def results(given):
        if given is None:
            return [f"ELG{profile.rows[g][1][-2:]}" for g in goals]
        return [given.get(g, "") for g in goals]

    return files_mod.csv_rows(school, results)


_WRITERS = FileWriters(ctf=_ctf_bytes, csv=_csv_text, title="Early years foundation stage profile",
                       short="EYFSP", sheet="EYFSP")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# One LA


def _generate_la(la: LocalAuthorityRef, la_index: int, targets: dict[str, float],
                 settings_: Settings, out_dir: Path) -> LaResult:  # fmt: skip
    d = settings_.definition
    profile = _Profile.of(d)
    schools = plan_schools(la, la_index, settings_.seed)
    start_age = d.ctf_academic_year - d.dob_usual_to.year  # reception: 4 when the year starts
    style_rng = la_rng(settings_.seed, la.code, "style")
    for s in schools:
        if s.sends and s.low_age > start_age:
            s.sends = False  # a first school from 5: no reception class
        if s.sends:
            _choose_style(s, style_rng, settings_)
    born = (d.dob_usual_from, d.dob_usual_to)
    cohort = reception_cohort(la, schools, seed=settings_.seed, year=d.year, born=born,
                              profile=profile)  # fmt: skip
    cohort = _fit_cohort(la, cohort, schools, seed=settings_.seed, year=d.year, born=born,
                         target=targets[GLD], profile=profile)  # fmt: skip
    _judge(la, cohort, seed=settings_.seed, year=d.year, targets=targets, profile=profile)
    for p in cohort:
        p.school.pupils.append(p)
    for s in schools:  # MIS exports list children alphabetically
        s.pupils.sort(key=lambda p: (p.surname.lower(), p.forename.lower()))
    return finish_la(
        la,
        schools,
        settings_,
        out_dir,
        csv_name=lambda s: _csv_name(s, d),
        weights=_WEIGHTS,
        own=_own_mistake,
        writers=_WRITERS,
        pupils=len(cohort),
    )


def _generate_la_job(args: tuple) -> LaResult:
    return _generate_la(*args)


def la_targets(definition: Definition) -> dict[str, dict[str, float]]:
    """{la_code: {"gld": 67.2, "comm": 79.7, ...}}: DfE's published GLD and area rates of the
    definition's year per LA (an LA not published takes its region's)."""
    s = settings(definition)
    gld = published_targets(definition)
    areas = {a.key: published_targets(definition, column=_COLUMN.format(key=a.key))
             for a in s.areas}  # fmt: skip
    return {la: {GLD: v, **{k: t[la] for k, t in areas.items() if la in t}}
            for la, v in gld.items()}  # fmt: skip


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
    """Write a register and one EYFS profile file per school with reception children, for the
    given LAs (or all of England), with the definition's year (eyfsp-2023 by default).

    `out_dir` gets `schools.csv`, `manifest.csv`, `injected_errors.csv` and a folder per LA, as
    the other collections' generators write them. Every LA's assessed children reproduce its
    published GLD to one decimal place (mistakes, at `error_rate`, change what the files say,
    not the children). The same seed gives the same bytes; an LA's files do not depend on which
    other LAs are generated."""
    d = definition or definition_mod.load("eyfsp-2023")
    check_settings(error_rate, csv_share)
    chosen = chosen_las(las, national)
    targets = la_targets(d)
    if not targets:
        raise ValueError(
            f"DfE published no EYFS profile figures for {d.year} to aim at ({d.id}); generate a "
            "year it published, e.g. --collection eyfsp-2023"
        )
    settings_ = Settings(error_rate=error_rate, seed=seed, csv_share=csv_share, exact=True,
                         definition=d)  # fmt: skip
    out = Path(out_dir)
    jobs = [(la, i, targets[la.code], settings_, out) for la, i in chosen]
    return run(out, jobs, _generate_la_job, exact=True, workers=workers, progress=progress)
