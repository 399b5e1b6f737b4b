"""Small builders for test files: a CTF or CSV for a school, and a GIAS register extract; and
`expect_to_submit`, which says a school is expected to submit a collection."""

from __future__ import annotations

import csv
from pathlib import Path
from xml.sax.saxutils import escape

from keystage.engine import upn as upns

GIAS_COLUMNS = [
    "URN",
    "LA (code)",
    "LA (name)",
    "EstablishmentNumber",
    "EstablishmentName",
    "TypeOfEstablishment (name)",
    "PhaseOfEducation (name)",
    "EstablishmentStatus (name)",
    "OpenDate",
    "CloseDate",
    "StatutoryLowAge",
    "StatutoryHighAge",
    "Postcode",
]

SCHOOLS = [
    # urn, la, la name, estab, name, type, phase, status
    (
        "125000",
        "938",
        "West Sussex",
        "2001",
        "Example Primary School",
        "Community school",
        "Primary",
        "Open",
    ),
    (
        "125001",
        "938",
        "West Sussex",
        "2002",
        "Downs Infant School",
        "Academy converter",
        "Primary",
        "Open",
    ),
    (
        "125002",
        "938",
        "West Sussex",
        "4001",
        "Weald Secondary School",
        "Academy converter",
        "Secondary",
        "Open",
    ),
    ("100000", "202", "Camden", "2003", "Camden Primary", "Community school", "Primary", "Open"),
]


def write_register(path: Path, schools=SCHOOLS, encoding: str = "utf-8-sig") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(GIAS_COLUMNS)
        # A school may end with its (low, high) ages; else 11-16 for a secondary, 4-11 else.
        for urn, la, la_name, estab, name, type_name, phase, status, *ages in schools:
            low, high = ages or (("11", "16") if phase == "Secondary" else ("4", "11"))
            w.writerow(
                [
                    urn,
                    la,
                    la_name,
                    estab,
                    name,
                    type_name,
                    phase,
                    status,
                    "01-09-2000",
                    "",
                    low,
                    high,
                    "RH1 1AA",
                ]
            )
    return path


def expect_to_submit(schools, collection, *, expected: bool = True) -> None:
    """Say that `schools` (a School, or several) are expected to submit `collection` (a
    Collection or its code), or with `expected=False` that they are not, as loading a register
    would have worked out from their phases and ages."""
    from keystage.orgs.models import ExpectedSchool, School

    code = getattr(collection, "code", collection)
    ids = [schools.pk] if isinstance(schools, School) else [s.pk for s in schools]
    if expected:
        ExpectedSchool.objects.bulk_create(
            [ExpectedSchool(school_id=pk, collection=code) for pk in ids], ignore_conflicts=True
        )
    else:
        ExpectedSchool.objects.filter(school_id__in=ids, collection=code).delete()


def pupil(n: int, la: str = "938", estab: str = "2001", **over) -> dict:
    p = {
        "upn": upns.make(la, estab, "16", f"{n:03d}"),
        "surname": f"SMITH{chr(65 + n % 26)}",
        "forename": "AVA",
        "dob": "2016-01-14",
        "sex": "F" if n % 2 else "M",
        "reading": "EXS",
        "writing": "WTS",
        "maths": "GDS",
        "science": "EXS",
    }
    p.update(over)
    return p


_COMPONENT = {
    "reading": ("ENG", "READ"),
    "writing": ("ENG", "WRIT"),
    "maths": ("MAT", "MAT"),
    "science": ("SCI", "SCI"),
}


def ctf(pupils: list[dict], la: str = "938", estab: str = "2001", encoding: str = "UTF-8") -> str:
    out = [
        f'<?xml version="1.0" encoding="{encoding}"?>',
        "<CTfile><Header>",
        "<DocumentName>Common Transfer File</DocumentName><CTFversion>22.0</CTFversion>",
        "<DateTime>2023-06-20T14:05:31</DateTime><DocumentQualifier>partial</DocumentQualifier>",
        f"<SupplierID>TestMIS</SupplierID><SourceSchool><LEA>{la}</LEA><Estab>{estab}</Estab>",
        "<SchoolName>Example</SchoolName><AcademicYear>2022</AcademicYear></SourceSchool>",
        f"<DestSchool><LEA>{la}</LEA><Estab>LLLL</Estab></DestSchool></Header><CTFpupilData>",
    ]
    for p in pupils:
        out.append("<Pupil>")
        for tag in ("upn", "surname", "forename", "dob", "sex"):
            if p.get(tag) is not None:
                name = {"upn": "UPN", "dob": "DOB"}.get(tag, tag.capitalize())
                out.append(f"<{name}>{escape(p[tag])}</{name}>")
        basic = ""
        if p.get("former_upn"):
            basic += f"<FormerUPN>{escape(p['former_upn'])}</FormerUPN>"
        if p.get("nc_year"):
            basic += f"<NCyearActual>{escape(p['nc_year'])}</NCyearActual>"
        # Characteristics where the definitions' [characteristics] ctf paths put them: `fsm`
        # is the date FSM started, `eal` the first language's code.
        if p.get("fsm"):
            basic += f"<FSMhistory><FSMstartDate>{escape(p['fsm'])}</FSMstartDate></FSMhistory>"
        for key, tag in (("sen", "SENprovision"), ("ethnicity", "Ethnicity")):
            if p.get(key):
                basic += f"<{tag}>{escape(p[key])}</{tag}>"
        if p.get("eal"):
            basic += f"<Languages><Type>{escape(p['eal'])}</Type></Languages>"
        if basic:
            out.append(f"<BasicDetails>{basic}</BasicDetails>")
        out.append("<StageAssessments><KeyStage><Stage>KS1</Stage>")
        # The phonics check's rows (spec phonics.md §3.1): each Result a mark or an outcome code.
        for result in p.get("phonics", ()):
            out.append(
                f"<StageAssessment><Locale>ENG</Locale><Year>{p.get('year', '2023')}</Year>"
                "<Subject>PHO</Subject><Method>TT</Method><Component>PHO</Component>"
                f"<ResultStatus>R</ResultStatus><Result>{escape(result)}</Result></StageAssessment>"
            )
        for subject, (subj, comp) in _COMPONENT.items():
            if p.get(subject) is not None:
                out.append(
                    f"<StageAssessment><Locale>ENG</Locale><Year>{p.get('year', '2023')}</Year>"
                    f"<Subject>{subj}</Subject>"
                    f"<Method>TA</Method><Component>{comp}</Component><ResultStatus>R</ResultStatus>"
                    f"<Result>{escape(p[subject])}</Result></StageAssessment>"
                )
        if p.get("eyfsp") is not None:
            out.append("</KeyStage><KeyStage><Stage>EYF</Stage>")
            out.extend(eyfsp_rows(p["eyfsp"], p.get("year", "2023")))
        out.append("</KeyStage></StageAssessments></Pupil>")
    out.append("</CTFpupilData></CTfile>")
    return "\n".join(out)


# The EYFS profile's goals' areas (spec eyfsp.md §2): goal n is Subject EYFSP_AREAS[n - 1],
# Component En (E01...E17).
EYFSP_AREAS = ("COM", "COM", "PSE", "PSE", "PSE", "PHY", "PHY", "LIT", "LIT", "LIT", "MAT",
               "MAT", "UTW", "UTW", "UTW", "EXP", "EXP")  # fmt: skip


def eyfsp_rows(judgements, year: str = "2023", method: str = "FA") -> list[str]:
    """StageAssessment rows of the EYFS profile: `judgements` one per goal (None: no row for
    that goal), or one judgement for all 17."""
    if isinstance(judgements, str):
        judgements = [judgements] * len(EYFSP_AREAS)
    return [
        f"<StageAssessment><Locale>ENG</Locale><Year>{year}</Year><Subject>{area}</Subject>"
        f"<Method>{method}</Method><Component>E{n:02d}</Component><ResultStatus>R</ResultStatus>"
        f"<Result>{escape(j)}</Result></StageAssessment>"
        for n, (area, j) in enumerate(zip(EYFSP_AREAS, judgements, strict=True), 1)
        if j is not None
    ]


def eyfsp_pupil(n: int, judgements="2", year: int = 2023, **over) -> dict:
    """A reception child with EYFS profile rows and no KS1 teacher assessment, for `ctf`."""
    base = {"nc_year": "R", "year": str(year), "dob": f"{year - 6}-10-14", "eyfsp": judgements,
            "reading": None, "writing": None, "maths": None, "science": None}  # fmt: skip
    return pupil(n, **{**base, **over})


def pupils_of(collection: str, numbers, **over) -> list[dict]:
    """Pupils with a result of the collection `collection` (ks1-2023, phonics-2023...) for `ctf`."""
    if collection.startswith("ks1"):
        return [pupil(n, **over) for n in numbers]
    year = int(collection[-4:])
    only_phonics = {"reading": None, "writing": None, "maths": None, "science": None}
    base = {"nc_year": "1", "phonics": ["34"], "year": str(year), "dob": f"{year - 7}-10-14"}
    return [pupil(n, **{**only_phonics, **base, **over}) for n in numbers]


def csv_of(collection: str, rows: list[dict] | None = None) -> tuple[str, bytes]:
    """(file name, content) of the collection's CSV template for these pupils."""
    rows = pupils_of(collection, [1]) if rows is None else rows
    year = int(collection[-4:])
    if collection.startswith("ks1"):
        head = "UPN,Surname,Forename,DOB,Sex,Reading,Writing,Maths,Science"
        cells = ["reading", "writing", "maths", "science"]
        name = f"KS1_2001_{year % 100}.csv"
    else:
        head = "UPN,Surname,Forename,DOB,Sex,NCyear,Mark,Outcome"
        cells = ["nc_year", "mark", "code"]
        name = f"PHONICS_2001_{year % 100}.csv"
    lines = [head]
    for r in rows:
        r = {"mark": (r.get("phonics") or [""])[0], "code": "", **r}
        lines.append(",".join(_cell(r.get(c) or "") for c in
                              ["upn", "surname", "forename", "dob", "sex", *cells]))  # fmt: skip
    return name, ("\n".join(lines) + "\n").encode()


def _cell(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in '",') else value


def write_ctf(path: Path, pupils: list[dict], la: str = "938", estab: str = "2001") -> Path:
    path.write_text(ctf(pupils, la, estab), encoding="utf-8")
    return path
