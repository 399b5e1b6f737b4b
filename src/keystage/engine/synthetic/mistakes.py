"""Mistakes real school files carry, put into synthetic ones on purpose and logged, so that the
rules can be measured against them: the pupil mistakes every collection shares (identity, dates
of birth, items missing or given twice, a pupil in two schools) and whole files that are not
what they should be. A collection adds its own pupil mistakes (its codes) through `own`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable

from keystage.engine import upn as upn_mod
from keystage.engine.definition import Definition
from keystage.engine.synthetic.draws import la_rng, weighted
from keystage.engine.synthetic.pupils import Pupil
from keystage.engine.synthetic.schools import School
from keystage.reference import LocalAuthorityRef

# The pupil mistakes every collection shares, with how often each is made (a collection lists
# them in its own weights, with its own mistakes, in the order they are drawn).
SHARED_PUPIL_WEIGHTS = {
    "wrong_check_letter": 3, "duplicate_upn_in_school": 1, "duplicate_upn_across_schools": 1,
    "temporary_upn": 2, "dob_outside_cohort": 2, "dob_implausible": 1, "dob_bad_format": 2,
    "invalid_sex": 2, "missing_surname": 2, "missing_subject": 2, "duplicate_subject_row": 1,
    "pupil_in_two_schools": 1,
}  # fmt: skip
FILE_FAULT_KINDS = (
    "pdf_as_csv",
    "xlsx_as_csv",
    "utf16_csv",
    "truncated_xml",
    "word_document",
    "duplicate_file",
)
_FILE_FAULT_WEIGHTS = {
    "pdf_as_csv": 2, "xlsx_as_csv": 2, "utf16_csv": 2, "truncated_xml": 3, "word_document": 2,
    "duplicate_file": 1,
}  # fmt: skip

# A collection's own pupil mistake: (kind, pupil, school, rng, definition) -> what was done, in
# words for the log, or None when it does not fit this pupil (nothing is changed then).
OwnMistake = Callable[[str, Pupil, School, random.Random, Definition], "str | None"]


def inject_pupil_errors(la: LocalAuthorityRef, schools: list[School], *, seed: int,
                        error_rate: float, d: Definition, log: list[tuple],
                        weights: dict[str, float], own: OwnMistake | None = None,
                        ) -> dict[str, int]:  # fmt: skip
    """Give about `error_rate` of the pupils of the LA's intact files one mistake each, drawn
    by `weights` (kinds of SHARED_PUPIL_WEIGHTS are made here, others by `own`); append a row
    per mistake to `log` and return the count of each kind."""
    rng = la_rng(seed, la.code, "errors")
    counts: dict[str, int] = {}
    intact = [s for s in schools if s.sends and s.pupils and not s.fault]
    if error_rate <= 0 or not intact:
        return counts
    copies: list[tuple[School, Pupil]] = []
    original_upns = {id(p): p.upn for s in intact for p in s.pupils}
    # A pupil whose UPN another record copies keeps its record as it is, so the logged
    # duplicate stays a duplicate (a later mistake on it would hide the first).
    protected: set[int] = set()
    ctx = _Mistakes(intact, original_upns, copies, protected, d)

    for school in intact:
        for p in school.pupils:
            if rng.random() >= error_rate or id(p) in protected:
                continue
            kinds = [k for k in weights if _error_applies(k, school, len(intact))]
            kind = weighted(rng, ((k, weights[k]) for k in kinds))
            if kind in SHARED_PUPIL_WEIGHTS:
                detail = _apply_shared(kind, p, school, rng, ctx)
            else:
                detail = own(kind, p, school, rng, d) if own else None
            if detail is None:
                continue
            counts[kind] = counts.get(kind, 0) + 1
            p.errors.append((kind, detail))
    for target, p in copies:
        target.pupils.append(p)
    for school in intact:
        for p in school.pupils:
            for kind, detail in p.errors:
                log.append((school.la, school.estab, school.file_name, p.upn, kind, detail))
    return counts


@dataclasses.dataclass
class _Mistakes:
    intact: list[School]
    original_upns: dict[int, str]
    copies: list[tuple[School, Pupil]]
    protected: set[int]
    d: Definition


def _error_applies(kind: str, school: School, n_schools: int) -> bool:
    if kind in ("duplicate_upn_across_schools", "pupil_in_two_schools"):
        return n_schools > 1
    if kind == "duplicate_upn_in_school":
        return len(school.pupils) > 1
    if kind == "duplicate_subject_row":
        return school.kind == "ctf"
    return True


def rows(p: Pupil, items: tuple[str, ...]) -> list[tuple[str, str]]:
    """The pupil's (item, result) rows as the file will give them, in the definition's order."""
    if p.rows is None:
        p.rows = [(k, p.outcomes[k]) for k in items if k in p.outcomes]
    return p.rows


def set_result(p: Pupil, items: tuple[str, ...], key: str, result: str) -> None:
    """Write `result` for item `key` in the pupil's rows instead of what they held."""
    p.rows = [(k, result if k == key else c) for k, c in rows(p, items)]


def _apply_shared(kind: str, p: Pupil, school: School, rng: random.Random,
                  ctx: _Mistakes) -> str | None:  # fmt: skip
    d, intact, original_upns, protected = ctx.d, ctx.intact, ctx.original_upns, ctx.protected
    items = d.subject_keys
    if kind == "wrong_check_letter":
        wrong = rng.choice([ch for ch in upn_mod.LETTERS if ch != p.upn[0]])
        p.upn = wrong + p.upn[1:]
        return f"check letter {wrong}"
    if kind == "duplicate_upn_in_school":
        others = [q for q in school.pupils if q is not p]
        other = rng.choice([q for q in others if not q.errors] or others)
        protected.add(id(other))
        p.upn = original_upns.get(id(other), other.upn)
        return f"same UPN as {other.forename} {other.surname}"
    if kind == "duplicate_upn_across_schools":
        other_school = rng.choice([s for s in intact if s is not school])
        other = rng.choice([q for q in other_school.pupils if not q.errors] or other_school.pupils)
        protected.add(id(other))
        p.upn = original_upns.get(id(other), other.upn)
        return f"same UPN as a pupil of {other_school.la}{other_school.estab}"
    if kind == "temporary_upn":
        letter = rng.choice(upn_mod.LETTERS)
        yy = str(d.year)[2:]
        p.upn = upn_mod.make(school.la, school.estab, yy, f"{rng.randint(0, 99):02d}{letter}")
        return "temporary UPN"
    if kind == "dob_outside_cohort":
        if rng.random() < 0.7:
            p.dob = d.dob_usual_from - dt.timedelta(days=rng.randint(1, 365))
        else:
            p.dob = d.dob_usual_to + dt.timedelta(days=rng.randint(1, 364))
        p.dob_text = None
        return p.dob.isoformat()
    if kind == "dob_implausible":
        r = rng.random()
        if r < 0.4:
            p.dob = d.dob_plausible_from - dt.timedelta(days=rng.randint(30, 1500))
        elif r < 0.8:
            p.dob = d.dob_plausible_to + dt.timedelta(days=rng.randint(30, 1500))
        else:
            p.dob = p.dob.replace(year=p.dob.year + 45)  # a mistyped century
        return p.dob.isoformat()
    if kind == "dob_bad_format":
        if school.kind == "csv":
            fmt = rng.choice(["%d.%m.%Y", "%m/%d/%Y", "%d-%b-%y", "%Y%m%d", "bad-day"])
        else:
            fmt = rng.choice(["%d/%m/%Y", "%Y%m%d", "bad-day"])
        if fmt == "bad-day":
            text = f"31/02/{p.dob.year}" if school.kind == "csv" else f"{p.dob.year}-02-30"
        else:
            text = p.dob.strftime(fmt)
        p.dob_text = text
        return text
    if kind == "invalid_sex":
        p.sex_text = rng.choice(["U", "X", "", "Male", "Female", "1", "2"])
        return repr(p.sex_text)
    if kind == "missing_surname":
        p.surname = ""
        p.omit_surname = school.kind == "ctf" and rng.random() < 0.5
        return "no Surname element" if p.omit_surname else "surname empty"
    if kind in ("missing_subject", "duplicate_subject_row"):
        given = rows(p, items)
        if not given:
            return None
        key = rng.choice([k for k, _ in given])
        if kind == "missing_subject":
            p.rows = [(k, c) for k, c in given if k != key]
            return f"{key} missing"
        at = next(i for i, (k, _) in enumerate(given) if k == key)
        valid = d.subject(key).order
        code = rng.choice(valid) if valid and rng.random() < 0.7 else given[at][1]
        p.rows = given[: at + 1] + [(key, code)] + given[at + 1 :]
        return f"{key} twice ({given[at][1]}, {code})"
    if kind == "pupil_in_two_schools":
        other_school = rng.choice([s for s in intact if s is not school])
        twin = dataclasses.replace(
            p, upn=original_upns.get(id(p), p.upn), school=other_school,
            outcomes=dict(p.outcomes), dob_text=None, sex_text=None, rows=None, errors=[],
            omit_surname=False,
        )  # fmt: skip
        ctx.copies.append((other_school, twin))
        return f"also in {other_school.la}{other_school.estab}"
    raise ValueError(kind)


def choose_file_faults(la: LocalAuthorityRef, schools: list[School], *, seed: int,
                       error_rate: float, csv_name: Callable[[School], str]) -> dict[str, int]:  # fmt: skip
    """Replace about `error_rate` of the LA's files with what schools wrongly send (a PDF or a
    workbook named as the CSV, UTF-16, a cut-off CTF, a covering letter, the same file twice);
    `csv_name(school)` is the name the collection's CSV would have."""
    rng = la_rng(seed, la.code, "faults")
    sending = [s for s in schools if s.sends]
    counts: dict[str, int] = {}
    if error_rate <= 0 or not sending:
        return counts
    expected = error_rate * len(sending)
    n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
    for school in rng.sample(sending, min(n, len(sending))):
        kinds = [k for k in FILE_FAULT_KINDS if k != "truncated_xml" or school.kind == "ctf"]
        kind = weighted(rng, ((k, _FILE_FAULT_WEIGHTS[k]) for k in kinds))
        school.fault = kind
        if kind in ("pdf_as_csv", "xlsx_as_csv", "utf16_csv"):
            school.file_name = csv_name(school)
            if kind == "utf16_csv" and school.kind != "csv":
                school.kind = "csv"
                school.style = {"upper_names": True}
        counts[kind] = counts.get(kind, 0) + 1
    return counts
