"""Synthetic but realistic KS1 2023 school files and a GIAS-style register, for some LAs or all.

Outcomes follow DfE's published 2023 LA percentages; errors are injected at a chosen rate, and
a log of every injected error is written so that validators can be measured against it. The
schools, pupils' identities, shared mistakes and file writing are `engine/synthetic/`'s; what is
KS1's here is its outcomes, its own mistakes (legacy and misspelt codes) and its rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import random
from collections.abc import Callable
from pathlib import Path

from keystage.engine import definition as definition_mod
from keystage.engine import upn as upn_mod
from keystage.engine.definition import Definition
from keystage.engine.synthetic import files as files_mod
from keystage.engine.synthetic import mistakes
from keystage.engine.synthetic.draws import exact_count as _exact_count
from keystage.engine.synthetic.draws import la_rng as _la_rng
from keystage.engine.synthetic.draws import noisy_count as _noisy_count
from keystage.engine.synthetic.draws import weighted as _weighted
from keystage.engine.synthetic.files import FileWriters
from keystage.engine.synthetic.files import fit as _fit
from keystage.engine.synthetic.files import xml_text as _xml_text
from keystage.engine.synthetic.mistakes import FILE_FAULT_KINDS
from keystage.engine.synthetic.pupils import FSM_BY_REGION, Pupil, mix_of, new_pupil, pools_for
from keystage.engine.synthetic.run import (
    INJECTED_NAME,
    MANIFEST_NAME,
    REGISTER_NAME,
    GenerateSummary,
    LaResult,
    Settings,
    check_settings,
    chosen_las,
    default_workers,
    finish_la,
    run,
)
from keystage.engine.synthetic.schools import School, ctf_style, la_profile, plan_schools
from keystage.engine.synthetic.schools import schools_in as _schools_in
from keystage.reference import REGION_CODES, LocalAuthorityRef, local_authorities, published_ks1

__all__ = [
    "CSV_HEADER_VARIANTS", "FILE_FAULT_KINDS", "INJECTED_NAME", "MANIFEST_NAME", "MEASURES",
    "PUPIL_ERROR_KINDS", "REGISTER_NAME", "GenerateSummary", "default_workers", "generate",
    "published_targets", "_exact_count", "_fit", "_schools_in", "_xml_text",
]  # fmt: skip

MEASURES = ("read_exs", "read_gds", "writ_exs", "writ_gds", "mat_exs", "mat_gds", "sci_exs")
# Published column prefix -> subject key of the definition.
_MEASURE_SUBJECT = {"read": "reading", "writ": "writing", "mat": "maths", "sci": "science"}
_SUBJECT_MEASURE = {v: k for k, v in _MEASURE_SUBJECT.items()}
SUPPRESSED_LAS = ("201", "420")  # too few pupils for DfE to publish

PUPIL_ERROR_KINDS = (
    "wrong_check_letter",
    "duplicate_upn_in_school",
    "duplicate_upn_across_schools",
    "temporary_upn",
    "dob_outside_cohort",
    "dob_implausible",
    "dob_bad_format",
    "invalid_sex",
    "missing_surname",
    "legacy_code",
    "misspelt_code",
    "missing_subject",
    "duplicate_subject_row",
    "q_code",
    "pupil_in_two_schools",
)
_PUPIL_ERROR_WEIGHTS = {
    "wrong_check_letter": 3, "duplicate_upn_in_school": 1, "duplicate_upn_across_schools": 1,
    "temporary_upn": 2, "dob_outside_cohort": 2, "dob_implausible": 1, "dob_bad_format": 2,
    "invalid_sex": 2, "missing_surname": 2, "legacy_code": 3, "misspelt_code": 3,
    "missing_subject": 2, "duplicate_subject_row": 1, "q_code": 1, "pupil_in_two_schools": 1,
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Outcome model. A pupil's attainment in each subject is a latent score: a general ability
# (school effect + pupil + summer-born and disadvantage effects) plus subject-specific noise.
# With the general ability's variance about 1.3, two subjects' latent scores correlate at about
# 0.9: lower values leave too few pupils at EXS+ in all of reading, writing and maths (England's
# 2023 combined figure is about 56% against 60% for writing alone).
_SUBJECT_NOISE_SD = 0.33
_SCHOOL_SD = 0.35
_SEX_EFFECT = {"reading": 0.18, "writing": 0.30, "maths": -0.03, "science": 0.05}  # girls
_FSM_EFFECT = -0.55
_AGE_EFFECT = 0.55  # autumn-born minus summer-born, in SDs
_SPECIAL_EFFECT = -3.5
_ABSENT_SHARE = 0.006
_EM_SHARE = 0.011
_PK_SHARE = {"reading": 0.045, "writing": 0.055, "maths": 0.040}
_PK_SPLIT = (("PK1", 0.12), ("PK2", 0.18), ("PK3", 0.25), ("PK4", 0.45))  # lowest first


# ---------------------------------------------------------------------------------------------
def _region_dfe_code(region: str) -> str:
    return REGION_CODES.get(region, ("", ""))[1]


def published_targets(
    definition: Definition | None = None, *, include_suppressed: bool = False
) -> dict[str, dict[str, int]]:
    """DfE's published whole-number percentages per LA for the definition's year:
    {la_code: {"read_exs": 68, ...}}. With `include_suppressed`, LAs DfE did not publish
    (City of London, Isles of Scilly) get their region's figures, which is what the
    generator aims at for them."""
    definition = definition or definition_mod.load()
    year = str(definition.year)
    rows = [r for r in published_ks1() if r["year"] == year]
    by_code = {(r["level"], r["code"]): r for r in rows}

    def figures(row: dict[str, str]) -> dict[str, int]:
        return {m: int(row[m]) for m in MEASURES}

    out = {code: figures(r) for (level, code), r in by_code.items() if level == "la"}
    if include_suppressed:
        national = next((r for (level, _), r in by_code.items() if level == "national"), None)
        for la in local_authorities():
            if la.code in out:
                continue
            row = by_code.get(("region", _region_dfe_code(la.region))) or national
            if row is not None:
                out[la.code] = figures(row)
    return out


# ---------------------------------------------------------------------------------------------
# Schools' habits

# KS1's own habits of a school's MIS, drawn in this order after the shared ones begin.
_CTF_HABITS = (("tests", 0.25), ("phonics", 0.2), ("foundation", 0.1), ("ks1_last_year", 0.03))


def _choose_style(school: School, rng: random.Random, settings: Settings) -> None:
    """How this school's MIS writes its file: CTF or CSV, encoding and other habits."""
    csv_share = settings.csv_share
    if school.estab < "1000" and csv_share > 0:
        csv_share = max(csv_share, 0.5)  # so the Excel-stripped estab case actually occurs
    if rng.random() >= csv_share:
        ctf_style(school, rng, settings.definition.year, habits=_CTF_HABITS, other_name="KS1")
        return
    style: dict = {}
    school.kind = "csv"
    school.encoding = _weighted(rng, (("cp1252", 0.35), ("utf-8-sig", 0.45), ("utf-8", 0.2)))
    style["lower_codes"] = rng.random() < 0.15
    variant = rng.random() < 0.3
    style["headers"] = {c: rng.choice(names) if variant else names[0]
                        for c, names in _CSV_HEADERS.items()}  # fmt: skip
    style["strip_estab"] = school.estab < "1000" and rng.random() < 0.7
    style["iso_dates"] = rng.random() < 0.1
    style["by_urn"] = rng.random() < 0.1
    style["upper_names"] = rng.random() < 0.5
    prefix = school.urn if style["by_urn"] else school.estab
    school.file_name = f"KS1_{prefix}_{str(settings.definition.year)[2:]}.csv"
    school.style = style


def _csv_name(school: School, d: Definition) -> str:
    return f"KS1_{school.estab}_{str(d.year)[2:]}.csv"


# ---------------------------------------------------------------------------------------------
# Pupils and outcomes


def _ability(rng: random.Random, sex: str, age_position: float, fsm: bool, *,
             school_effect: float, sex_effects: list[float], special: float) -> tuple:  # fmt: skip
    general = (school_effect + rng.gauss(0.0, 1.0) + _AGE_EFFECT * (age_position - 0.5)
               + (_FSM_EFFECT if fsm else 0.0) + special)  # fmt: skip
    girl = sex == "F"
    scores = [general + rng.gauss(0.0, _SUBJECT_NOISE_SD) + (e if girl else 0.0)
              for e in sex_effects]  # fmt: skip
    return general, scores


def _upn_for(rng: random.Random, *, school: School, serials: dict, i: int) -> str:
    yy = "19" if rng.random() < 0.3 else "20"
    return upn_mod.make(school.la, school.estab, yy, f"{serials[yy][i]:03d}")


def _make_pupils(la: LocalAuthorityRef, schools: list[School], settings: Settings) -> None:
    rng = _la_rng(settings.seed, la.code, "pupils")
    d = settings.definition
    profile = la_profile(la)
    mix_pairs = mix_of(la.code, profile)
    fsm_rate = FSM_BY_REGION.get(la.region, 0.24)
    cohort_from, cohort_days = d.dob_usual_from, (d.dob_usual_to - d.dob_usual_from).days + 1
    subjects = d.subject_keys
    sex_effects = [_SEX_EFFECT.get(s, 0.0) for s in subjects]
    fsm_from = dt.date(d.ctf_academic_year - 4, 9, 1)
    for school in schools:
        if not school.sends:
            continue
        pools = pools_for(school.encoding)
        school_fsm = min(0.85, fsm_rate * rng.lognormvariate(0.0, 0.55))
        school_effect = rng.gauss(0.0, _SCHOOL_SD) - 0.6 * (school_fsm - fsm_rate)
        serials = {yy: rng.sample(range(1, 1000), min(999, school.cohort)) for yy in ("19", "20")}
        ability = functools.partial(
            _ability, school_effect=school_effect, sex_effects=sex_effects,
            special=_SPECIAL_EFFECT if school.special else 0.0,
        )  # fmt: skip
        for i in range(school.cohort):
            upn_for = functools.partial(_upn_for, school=school, serials=serials, i=i)
            school.pupils.append(new_pupil(
                rng, school, pools=pools, mix_pairs=mix_pairs, school_fsm=school_fsm,
                born_from=cohort_from, born_days=cohort_days, fsm_from=fsm_from,
                ability=ability, upn_for=upn_for,
            ))  # fmt: skip
        # MIS exports list pupils alphabetically.
        school.pupils.sort(key=lambda p: (p.surname.lower(), p.forename.lower()))


def _assign_outcomes(la: LocalAuthorityRef, pupils: list[Pupil], targets: dict[str, int],
                     settings: Settings) -> None:  # fmt: skip
    """Give every pupil a code per subject so that the LA's EXS+ and GDS percentages follow
    `targets`: exactly (rounded to whole numbers) in exact mode, else with sampling noise."""
    rng = _la_rng(settings.seed, la.code, "outcomes")
    d = settings.definition
    n = len(pupils)
    if n == 0:
        return

    def count(measure: str, share: float | None = None) -> int:
        p = targets[measure] / 100 if share is None else share
        if settings.exact and share is None:
            return _exact_count(targets[measure], n)
        return _noisy_count(rng, p, n)

    absent_n = count("", _ABSENT_SHARE)
    absent = set(rng.sample(range(n), absent_n))
    present = [i for i in range(n) if i not in absent]
    em_n = max(count("", _EM_SHARE), sum(1 for p in pupils if p.school.special) // 2)
    em_n = min(em_n, len(present) // 10)
    by_general = sorted(present, key=lambda i: pupils[i].general)
    em = set(by_general[:em_n])
    ranked = [i for i in present if i not in em]

    subjects = d.subject_keys
    science = subjects[-1]
    pk_any: set[int] = set()
    for si, key in enumerate(subjects):
        if key == science:
            continue
        subject = d.subject(key)
        prefix = _SUBJECT_MEASURE[key]
        met_n = count(f"{prefix}_exs")
        gds_n = min(count(f"{prefix}_gds"), met_n)
        pk_n = count("", _PK_SHARE.get(key, 0.04))
        pk_n = max(0, min(pk_n, len(ranked) - met_n))
        order = sorted(ranked, key=lambda i, si=si: pupils[i].scores[si], reverse=True)
        met_n = min(met_n, len(order))
        for rank, i in enumerate(order):
            if rank < gds_n:
                code = "GDS"
            elif rank < met_n:
                code = "EXS"
            elif rank < len(order) - pk_n:
                code = "WTS"
            else:
                depth = (rank - (len(order) - pk_n)) / pk_n  # 0 = just below WTS
                code, acc = "PK1", 0.0
                for pk_code, share in reversed(_PK_SPLIT):
                    acc += share
                    if depth < acc:
                        code = pk_code
                        break
                pk_any.add(i)
            pupils[i].outcomes[key] = code
        for i in em:
            pupils[i].outcomes[key] = "EM" if "EM" in subject.valid else subject.order[-1]
    # Science: only EXS or HNM (and A). Pupils below WTS anywhere are HNM, as schools do.
    si = subjects.index(science)
    sci_n = count(f"{_SUBJECT_MEASURE[science]}_exs")
    eligible = sorted((i for i in ranked if i not in pk_any),
                      key=lambda i: pupils[i].scores[si], reverse=True)  # fmt: skip
    if sci_n > len(eligible):
        extra = sorted((i for i in ranked if i in pk_any), key=lambda i: pupils[i].scores[si],
                       reverse=True)  # fmt: skip
        eligible += extra
    met = set(eligible[:sci_n])
    for i in present:
        pupils[i].outcomes[science] = "EXS" if i in met else "HNM"
    for i in absent:
        for key in subjects:
            pupils[i].outcomes[key] = "A"
    # SEN provision follows attainment loosely: E = EHC plan, K = SEN support, N = none.
    for i, p in enumerate(pupils):
        codes = p.outcomes.values()
        if i in em or p.school.special:
            p.sen = "E"
        elif any(c.startswith("PK") for c in codes):
            p.sen = "E" if rng.random() < 0.3 else "K"
        elif "WTS" in codes:
            p.sen = "K" if rng.random() < 0.2 else "N"
        else:
            p.sen = "K" if rng.random() < 0.03 else "N"


# ---------------------------------------------------------------------------------------------
# KS1's own mistakes (the shared ones are engine/synthetic/mistakes.py's)


def _own_mistake(kind: str, p: Pupil, school: School, rng: random.Random, d: Definition) -> str:
    subjects = d.subject_keys
    science = subjects[-1]
    reading = subjects[0]
    if kind == "legacy_code":
        key = rng.choice(subjects)
        if key == science:
            code = "U"
        elif key == reading:
            code = rng.choice(["BLW", "D", "PKF", "L", "HNM"])
        else:
            code = rng.choice(["BLW", "D", "PKF", "L"])
        mistakes.set_result(p, subjects, key, code)
        return f"{key}={code}"
    if kind == "misspelt_code":
        key = rng.choice(subjects)
        current = p.outcomes.get(key, "EXS")
        code = {
            "EXS": rng.choice(["EXP", "Exs", " EXS", "ESX"]),
            "GDS": rng.choice(["GDs ", "GSD", "GD"]),
            "WTS": rng.choice(["WTs", "WST", "WT"]),
            "HNM": rng.choice(["HMN", "Hnm"]),
        }.get(current, rng.choice(["EXP", "Exs", "GDs "]))
        mistakes.set_result(p, subjects, key, code)
        return f"{key}={code!r}"
    if kind == "q_code":
        key = rng.choice(subjects)
        mistakes.set_result(p, subjects, key, "Q")
        return f"{key}=Q"
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Writers


def _ctf_bytes(school: School, d: Definition) -> tuple[bytes, int]:
    st = school.style
    enc = school.encoding
    year = d.year
    result_date = files_mod.result_date(school, year)
    subjects = {s.key: s for s in d.subjects}

    def row(subject: str, component: str, result: str, method: str = d.method,
            yr: int = year, rdate: str = result_date, rq: str = "TA") -> str:  # fmt: skip
        return files_mod.stage_assessment(d, st, subject, component, result, method=method,
                                          year=yr, rdate=rdate, qualifier=rq)  # fmt: skip

    parts = files_mod.ctf_head(school, d)
    records = 0
    for p in school.pupils:
        records += 1
        stage_rows = []
        if st.get("foundation"):
            stage_rows.append(_foundation_block(p, d))
        stage_rows.append(f"        <KeyStage>\n          <Stage>{d.stage}</Stage>\n")
        if st.get("ks1_last_year"):
            for key in ("reading", "maths"):
                s = subjects.get(key)
                if s is not None:
                    stage_rows.append(row(s.return_subject, s.return_component, "WTS",
                                          yr=year - 1, rdate=f"{year - 1}-06-20"))  # fmt: skip
        for key, code in p.rows if p.rows is not None else p.outcomes.items():
            s = subjects[key]
            stage_rows.append(row(s.return_subject, s.return_component, code))
        if st.get("tests"):
            # KS1 tests (reading and maths papers) give a scaled score of 85-115.
            for key, si in (("reading", 0), ("maths", 2)):
                s = subjects.get(key)
                if s is None or p.outcomes.get(key) == "A":
                    continue
                score = max(85, min(115, round(100 + 7 * p.scores[si])))
                stage_rows.append(
                    row(s.return_subject, s.return_component, str(score), method="TT", rq="SS")
                )
        if st.get("phonics"):
            mark = max(0, min(40, round(32 + 7 * p.scores[0])))
            stage_rows.append(row("PHO", "PHO", "WA" if mark >= 32 else "WT", method="TT",
                                  yr=year - 1, rdate=f"{year - 1}-06-17", rq="PH"))  # fmt: skip
        stage_rows.append("        </KeyStage>\n")
        basic = files_mod.basic_details(p, st, d, d.nc_year)
        parts.append(files_mod.pupil_element(p, st, enc, basic, stage_rows))
    return files_mod.ctf_end(parts, school), records


_FSP_AREAS = ("COM", "PSE", "PHY", "LIT", "MAT")


def _foundation_block(p: Pupil, d: Definition) -> str:
    # Early years profile results from reception (two years earlier): another stage and year.
    year = d.year - 2
    level = "EXP" if p.general > -0.6 else "EMG"
    rows = "".join(
        f"          <StageAssessment><Locale>{d.locale}</Locale><Year>{year}</Year>"
        f"<Subject>{area}</Subject><Method>TA</Method><Component>ELG</Component>"
        f"<ResultStatus>R</ResultStatus><Result>{level}</Result></StageAssessment>\n"
        for area in _FSP_AREAS
    )
    return f"        <KeyStage>\n          <Stage>FSP</Stage>\n{rows}        </KeyStage>\n"


_CSV_HEADERS = {
    "la": ("LA", "LEA", "LA Number"),
    "estab": ("Estab", "DfE Number", "Estab"),
    "urn": ("URN",),
    "upn": ("UPN",),
    "surname": ("Surname", "Legal Surname"),
    "forename": ("Forename", "Legal Forename"),
    "dob": ("DOB", "Date of Birth"),
    "sex": ("Sex", "Gender"),
    "reading": ("Reading", "English Reading"),
    "writing": ("Writing", "English Writing"),
    "maths": ("Maths", "Mathematics"),
    "science": ("Science", "Science"),
}
CSV_HEADER_VARIANTS = _CSV_HEADERS  # for tests: every heading the generator may write


def _csv_text(school: School, d: Definition) -> tuple[str, int]:
    st = school.style
    headers = st.get("headers", {})
    subjects = d.subject_keys
    columns = ["la", "estab", "urn", "upn", "surname", "forename", "dob", "sex", *subjects]
    header = [headers.get(c) or _CSV_HEADERS.get(c, (c.title(),))[0] for c in columns]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    estab = school.estab.lstrip("0") if st.get("strip_estab") else school.estab
    enc = "utf-8" if school.encoding.startswith("utf") else school.encoding
    records = 0
    for p in school.pupils:
        records += 1
        if p.dob_text is not None:
            dob = p.dob_text
        elif st.get("iso_dates"):
            dob = p.dob.isoformat()
        else:
            dob = p.dob.strftime("%d/%m/%Y")
        codes = dict(p.rows if p.rows is not None else p.outcomes.items())
        if st.get("lower_codes"):
            codes = {k: v.lower() for k, v in codes.items()}
        surname = p.surname.upper() if st.get("upper_names") else p.surname
        forename = p.forename.upper() if st.get("upper_names") else p.forename
        w.writerow([
            school.la, estab, school.urn, p.upn, _fit(surname, enc), _fit(forename, enc), dob,
            p.sex if p.sex_text is None else p.sex_text, *(codes.get(k, "") for k in subjects),
        ])  # fmt: skip
    return buf.getvalue(), records


_WRITERS = FileWriters(ctf=_ctf_bytes, csv=_csv_text, title="KS1 teacher assessment",
                       short="KS1", sheet="KS1 TA")  # fmt: skip

# ---------------------------------------------------------------------------------------------
# One LA


def _generate_la(la: LocalAuthorityRef, la_index: int, targets: dict[str, int],
                 settings: Settings, out_dir: Path) -> LaResult:  # fmt: skip
    d = settings.definition
    schools = plan_schools(la, la_index, settings.seed)
    style_rng = _la_rng(settings.seed, la.code, "style")
    for s in schools:
        if s.sends:
            _choose_style(s, style_rng, settings)
    _make_pupils(la, schools, settings)
    cohort = [p for s in schools for p in s.pupils]
    _assign_outcomes(la, cohort, targets, settings)
    return finish_la(
        la,
        schools,
        settings,
        out_dir,
        csv_name=lambda s: _csv_name(s, d),
        weights=_PUPIL_ERROR_WEIGHTS,
        own=_own_mistake,
        writers=_WRITERS,
        pupils=len(cohort),
    )


def _generate_la_job(args: tuple) -> LaResult:
    return _generate_la(*args)


# ---------------------------------------------------------------------------------------------


def generate(
    out_dir: str | Path,
    *,
    las: list[str] | None = None,
    national: bool = False,
    error_rate: float = 0.02,
    seed: int = 0,
    definition: Definition | None = None,
    csv_share: float = 0.1,
    progress: Callable[[int, int, str], None] | None = None,
    exact: bool | None = None,
    workers: int = 1,
) -> GenerateSummary:
    """Write a register and one file per KS1 school for the given LAs (or all of England).

    `out_dir` gets `schools.csv` (GIAS layout, UTF-8 with BOM), `manifest.csv` (one row per
    file written), `injected_errors.csv` (one row per injected error) and a folder per LA.
    `exact` (default: when error_rate is 0) makes every LA's EXS+ and GDS percentages round to
    DfE's published figures. The same seed gives the same bytes, and an LA's files do not
    depend on which other LAs are generated. `progress(done, total, la_code)` is called after
    each LA. `workers` > 1 generates LAs in parallel processes with identical output.
    """
    d = definition or definition_mod.load()
    check_settings(error_rate, csv_share)
    chosen = chosen_las(las, national)
    settings = Settings(error_rate=error_rate, seed=seed, csv_share=csv_share,
                        exact=(error_rate == 0) if exact is None else exact, definition=d)  # fmt: skip
    targets = published_targets(d, include_suppressed=True)
    if not targets:
        raise ValueError(
            f"DfE published no KS1 figures for {d.year} to aim at ({d.id}); generate a year "
            "it published, e.g. --collection ks1-2023"
        )
    out = Path(out_dir)
    jobs = [(la, i, targets[la.code], settings, out) for la, i in chosen]
    return run(out, jobs, _generate_la_job, exact=settings.exact, workers=workers,
               progress=progress)  # fmt: skip
