"""Synthetic schools any collection can use: how many an LA has and of which kinds, their
names, establishment numbers and URNs, the GIAS-style register that lists them (with the
establishments that send no file), and the habits of the MIS that writes a school's CTF."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from keystage.engine.synthetic.draws import la_rng, weighted
from keystage.engine.synthetic.pupils import names
from keystage.reference import LocalAuthorityRef

# ---------------------------------------------------------------------------------------------
# Size of each LA: roughly how many state-funded schools with a year 2 it had in 2023. These
# are rounded estimates, good enough to make LA and regional totals look like England's.
_LA_SCHOOLS = {
    "201": 1, "202": 41, "203": 63, "204": 55, "205": 37, "206": 45, "207": 27, "208": 60,
    "209": 67, "210": 72, "211": 70, "212": 62, "213": 40, "301": 47, "302": 90, "303": 58,
    "304": 60, "305": 75, "306": 85, "307": 70, "308": 70, "309": 62, "310": 44, "311": 60,
    "312": 70, "313": 60, "314": 35, "315": 45, "316": 66, "317": 55, "318": 45, "319": 40,
    "320": 53, "330": 310, "331": 90, "332": 80, "333": 95, "334": 65, "335": 90, "336": 75,
    "340": 50, "341": 125, "342": 55, "343": 80, "344": 95, "350": 100, "351": 65, "352": 140,
    "353": 90, "354": 70, "355": 80, "356": 95, "357": 75, "358": 70, "359": 105, "370": 80,
    "371": 100, "372": 100, "373": 135, "380": 155, "381": 85, "382": 150, "383": 225,
    "384": 120, "390": 65, "391": 70, "392": 55, "393": 45, "394": 80, "420": 1, "800": 60,
    "801": 115, "802": 65, "803": 90, "805": 30, "806": 40, "807": 45, "808": 60, "810": 70,
    "811": 125, "812": 50, "813": 60, "815": 300, "816": 50, "821": 55, "822": 60, "823": 110,
    "825": 190, "826": 85, "830": 350, "831": 70, "838": 130, "839": 75, "840": 210, "841": 30,
    "845": 150, "846": 55, "850": 420, "851": 50, "852": 60, "855": 230, "856": 85, "857": 17,
    "860": 300, "861": 65, "865": 200, "866": 65, "867": 30, "868": 50, "869": 65, "870": 40,
    "871": 35, "872": 50, "873": 200, "874": 60, "876": 50, "877": 75, "878": 310, "879": 70,
    "880": 32, "881": 450, "882": 40, "883": 45, "884": 80, "885": 180, "886": 460, "887": 75,
    "888": 480, "889": 50, "890": 32, "891": 280, "892": 75, "893": 125, "894": 60, "895": 125,
    "896": 115, "908": 235, "916": 240, "919": 410, "921": 45, "925": 275, "926": 360,
    "929": 130, "931": 250, "933": 200, "935": 265, "936": 310, "937": 200, "938": 240,
    "940": 125, "941": 160, "942": 140, "943": 120,
}  # fmt: skip
_NATIONAL_SCHOOLS = 16_500
_SCALE = _NATIONAL_SCHOOLS / sum(_LA_SCHOOLS.values())


def schools_in(la_code: str) -> int:
    """Schools with key stage 1 pupils to generate for an LA, scaled so that England has about
    16,500."""
    return max(1, round(_LA_SCHOOLS.get(la_code, 60) * _SCALE))


# Counties with many small village schools.
_RURAL = frozenset(
    "420 838 857 878 884 893 908 916 921 925 926 929 931 933 935 942 943 815 865 811 885 873"
    .split()
)  # fmt: skip
# Two-tier shire counties that are neither very rural nor urban.
_COUNTY = frozenset("825 830 845 850 855 860 881 886 888 891 919 936 937 938 940 941".split())
# First schools (ages 4-9 or 5-9) instead of infant/primary in much of these LAs.
_FIRST_SCHOOLS = frozenset("822 823 929 885 933 868".split())

# School names.
_PLACE_START = names(
    "Oak Ash Elm Beech Birch Willow Holly Brook Mill Church Castle Green Hill Meadow Park River "
    "Wood Fern Heath Kings Queens Priory Abbey Manor Grange Long High Broad West East North South "
    "Stone Red Black White Fair Bright Cherry Lark Sand Marsh Moor Thorn Hazel Rose Bram Cole "
    "Ald Bar Whit Hart Stan Ather Ring Wel Chal"
)
_PLACE_END = names(
    "field wood side lands brook hill dale ley ton bury ford well mead croft gate view bank "
    "worth wick combe haven stead thorpe by ham minster"
)
_SAINTS = names(
    "Mary Joseph John Peter Paul Michael Anne Margaret Thomas Andrew George Patrick Teresa "
    "Bernadette Francis Augustine Catherine Mark Luke Matthew James Stephen Nicholas Edmund "
    "Alban Chad Bede Cuthbert Hilda Wilfrid Barnabas"
)
_ROADS = names("Station_Road Church_Lane Mill_Lane Park_Road Victoria_Road London_Road High_Street")
SUPPLIERS = (
    ("SIMS", 0.40), ("Arbor", 0.20), ("Bromcom", 0.12), ("ScholarPack", 0.10),
    ("RM Integris", 0.07), ("Pupil Asset", 0.06), ("Advanced Progresso", 0.05),
)  # fmt: skip


@dataclass(slots=True)
class School:
    urn: str
    la: str
    estab: str
    name: str
    type_name: str
    phase_name: str
    low_age: int
    high_age: int
    open_date: dt.date | None = None
    close_date: dt.date | None = None
    status: str = "Open"
    town: str = ""
    sends: bool = True  # sends the collection a file (else only in the register)
    special: bool = False
    cohort: int = 0
    kind: str = "ctf"
    encoding: str = "utf-8"
    style: dict = field(default_factory=dict)
    pupils: list = field(default_factory=list)
    file_name: str = ""
    fault: str = ""


def la_profile(la: LocalAuthorityRef) -> str:
    if la.region == "London":
        return "london"
    if la.code in _RURAL:
        return "rural"
    if la.code in _COUNTY:
        return "county"
    return "urban"


# ---------------------------------------------------------------------------------------------
# Schools


class _EstabPool:
    """Unused DfE establishment numbers of one LA, by the range a school type draws from."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[int] = set()

    def take(self, lo: int, hi: int) -> str:
        for _ in range(200):
            n = self.rng.randint(lo, hi)
            if n not in self.used:
                self.used.add(n)
                return f"{n:04d}"
        n = next(n for n in range(1000, 10000) if n not in self.used)
        self.used.add(n)
        return f"{n:04d}"


def place_name(rng: random.Random) -> str:
    return rng.choice(_PLACE_START) + rng.choice(_PLACE_END)


def _school_name(rng: random.Random, type_name: str, stage: str) -> str:
    """A plausible name; `stage` is "Primary", "Infant", "First", "Junior", "Special"..."""
    apostrophe = "’" if rng.random() < 0.1 else "'"
    saint = rng.choice(_SAINTS)
    place = place_name(rng) if rng.random() < 0.9 else rng.choice(_ROADS)
    if stage == "Special":
        return rng.choice([f"{place} School", f"{place} Special School", f"{place} Academy"])
    if type_name == "Voluntary aided school":
        if rng.random() < 0.55:
            if rng.random() < 0.08:
                return f"St Peter & St Paul Catholic {stage} School"
            if rng.random() < 0.03:
                return f"St Thérèse of Lisieux Catholic {stage} School"
            return f"St {saint}{apostrophe}s Catholic {stage} School"
        return f"St {saint}{apostrophe}s Church of England {stage} School"
    if type_name == "Voluntary controlled school":
        return rng.choice([f"{place} CofE {stage} School", f"{place} Church of England {stage} School",
                           f"St {saint}{apostrophe}s CofE (VC) {stage} School"])  # fmt: skip
    if type_name.startswith("Academy") or type_name.startswith("Free"):
        return rng.choice([f"{place} {stage} Academy", f"{place} Academy", f"{place} {stage} School",
                           f"{place} {stage} School"])  # fmt: skip
    return rng.choice([f"{place} {stage} School", f"{place} Community {stage} School",
                       f"{place} {stage} School"])  # fmt: skip


def _cohort_size(rng: random.Random, profile: str) -> int:
    """Year 2 pupils in one mainstream school: a mixture of village schools, one-, two- and
    three-form entry, with the shares set by how urban the LA is."""
    shares = {
        "rural": (0.34, 0.14, 0.25, 0.11, 0.12, 0.035, 0.005),
        "county": (0.16, 0.11, 0.29, 0.12, 0.24, 0.07, 0.01),
        "urban": (0.04, 0.08, 0.27, 0.14, 0.32, 0.13, 0.02),
        "london": (0.03, 0.08, 0.29, 0.12, 0.31, 0.14, 0.03),
    }[profile]
    band = weighted(rng, zip("abcdefg", shares, strict=True))
    gap = min(int(rng.expovariate(0.45)), 8)  # unfilled places below a full form
    if band == "a":
        return rng.randint(4, 19)
    if band == "b":
        return rng.randint(19, 27)
    if band == "c":
        return 30 - gap
    if band == "d":
        return rng.randint(31, 50)
    if band == "e":
        return 60 - gap
    if band == "f":
        return 90 - gap
    return rng.randint(91, 120)


_MAINSTREAM_TYPES = (
    ("Community school", 0.36), ("Voluntary aided school", 0.12),
    ("Voluntary controlled school", 0.09), ("Foundation school", 0.04),
    ("Academy converter", 0.28), ("Academy sponsor led", 0.08), ("Free schools", 0.03),
)  # fmt: skip
_SPECIAL_TYPES = (
    ("Community special school", 0.45), ("Foundation special school", 0.05),
    ("Academy special converter", 0.35), ("Academy special sponsor led", 0.08),
    ("Free schools special", 0.07),
)  # fmt: skip
_TYPE_GROUP = {
    "Community school": "Local authority maintained schools",
    "Voluntary aided school": "Local authority maintained schools",
    "Voluntary controlled school": "Local authority maintained schools",
    "Foundation school": "Local authority maintained schools",
    "Local authority nursery school": "Local authority maintained schools",
    "Academy converter": "Academies",
    "Academy sponsor led": "Academies",
    "Free schools": "Free Schools",
    "Community special school": "Special schools",
    "Foundation special school": "Special schools",
    "Academy special converter": "Academies",
    "Academy special sponsor led": "Academies",
    "Free schools special": "Free Schools",
    "Other independent school": "Independent schools",
}
_STATUS_CODE = {"Open": "1", "Closed": "2", "Open, but proposed to close": "3",
                "Proposed to open": "4"}  # fmt: skip
_PHASE_CODE = {"Not applicable": "0", "Nursery": "1", "Primary": "2",
               "Middle deemed primary": "3", "Secondary": "4", "Middle deemed secondary": "5",
               "16 plus": "6", "All-through": "7"}  # fmt: skip


def _estab_range(type_name: str, stage: str) -> tuple[int, int]:
    if stage == "Special":
        return 7000, 7199
    if type_name in ("Voluntary aided school", "Voluntary controlled school"):
        return 3000, 3699
    if type_name == "Foundation school":
        return 5200, 5299
    if type_name.startswith("Free"):
        return 2200, 2399
    return 2000, 2999


def plan_schools(la: LocalAuthorityRef, la_index: int, seed: int) -> list[School]:
    """Every establishment of the LA in the register: the schools with key stage 1 pupils
    (infant, first, primary, special), which send a file, then the others a real extract also
    lists (secondaries, junior, nursery, closed, independent). The same for every collection
    and year with the same seed, so that a pupil's school is the same in each."""
    rng = la_rng(seed, la.code, "schools")
    profile = la_profile(la)
    estabs = _EstabPool(rng)
    urn_pool = rng.sample(range(100000 + la_index * 1000, 100000 + (la_index + 1) * 1000), 1000)
    urns = iter(f"{u:06d}" for u in urn_pool)
    n_sending = schools_in(la.code)
    schools: list[School] = []

    def add(**kw) -> School:
        school = School(urn=next(urns), la=la.code, town=place_name(rng), **kw)
        schools.append(school)
        return school

    if la.code == "201":
        add(estab=estabs.take(3614, 3614), name="Sir John Cass's Foundation Primary School",
            type_name="Voluntary aided school", phase_name="Primary", low_age=3, high_age=11,
            cohort=rng.randint(24, 30))  # fmt: skip
    elif la.code == "420":
        add(estab=estabs.take(4000, 4000), name="Five Islands School", type_name="Community school",
            phase_name="All-through", low_age=3, high_age=16, cohort=rng.randint(14, 22))  # fmt: skip
    else:
        n_special = max(1, round(n_sending * 0.045)) if n_sending >= 15 else 0
        for i in range(n_sending):
            if i < n_special:
                type_name = weighted(rng, _SPECIAL_TYPES)
                low, high = rng.choice([(2, 19), (3, 11), (4, 19), (3, 19), (4, 11)])
                add(estab=estabs.take(*_estab_range(type_name, "Special")), special=True,
                    name=_school_name(rng, type_name, "Special"), type_name=type_name,
                    phase_name="Not applicable", low_age=low, high_age=high,
                    cohort=rng.randint(2, 12))  # fmt: skip
                continue
            type_name = weighted(rng, _MAINSTREAM_TYPES)
            r = rng.random()
            if la.code in _FIRST_SCHOOLS and r < 0.45:
                stage, phase, (low, high) = "First", "Primary", rng.choice([(4, 9), (5, 9), (3, 9)])
            elif r < 0.10:
                stage, phase, (low, high) = "Infant", "Primary", rng.choice([(4, 7), (3, 7)])
            elif r < 0.11:
                stage, phase, (low, high) = "Primary", "All-through", rng.choice([(4, 16), (3, 18)])
            else:
                stage, phase, (low, high) = "Primary", "Primary", rng.choice([(4, 11), (3, 11)])
            # Excel strips the leading zero from a few low establishment numbers (spec §4.3).
            if rng.random() < 0.015:
                estab = estabs.take(100, 999)
            else:
                estab = estabs.take(*_estab_range(type_name, stage))
            open_date = None
            if type_name.startswith("Academy") or type_name.startswith("Free"):
                open_date = dt.date(rng.randint(2011, 2022), rng.choice([1, 4, 9]), 1)
            elif rng.random() < 0.7:
                open_date = dt.date(
                    rng.choice([1974, 1989, 1995, 1999, 2005]), rng.choice([1, 4, 9]), 1
                )
            name = _school_name(rng, type_name, stage)
            if phase == "All-through":
                name = name.replace(f" {stage} ", " ").replace("  ", " ")
            add(
                estab=estab,
                name=name,
                type_name=type_name,
                phase_name=phase,
                low_age=low,
                high_age=high,
                open_date=open_date,
                cohort=_cohort_size(rng, profile),
            )

        # Establishments a real extract lists but that send no file.
        for _ in range(round(n_sending / 5.5)):
            type_name = rng.choice(
                [
                    "Academy converter",
                    "Academy converter",
                    "Academy sponsor led",
                    "Community school",
                    "Voluntary aided school",
                    "Free schools",
                ]
            )
            add(estab=estabs.take(4000, 4999), name=_school_name(rng, type_name, "Secondary")
                .replace("Secondary School", rng.choice(["High School", "Academy", "School"])),
                type_name=type_name, phase_name="Secondary", low_age=11,
                high_age=rng.choice([16, 18]), sends=False)  # fmt: skip
        for _ in range(round(n_sending * 0.04)):
            type_name = weighted(rng, _MAINSTREAM_TYPES)
            add(
                estab=estabs.take(2000, 2999),
                name=_school_name(rng, type_name, "Junior"),
                type_name=type_name,
                phase_name="Primary",
                low_age=7,
                high_age=11,
                sends=False,
            )
        if n_sending >= 20:
            add(estab=estabs.take(1000, 1099), name=f"{place_name(rng)} Nursery School",
                type_name="Local authority nursery school", phase_name="Nursery", low_age=2,
                high_age=5, sends=False)  # fmt: skip
        if n_sending >= 10:
            add(estab=estabs.take(2000, 2999), name=_school_name(rng, "Community school", "Primary"),
                type_name="Community school", phase_name="Primary", low_age=4, high_age=11,
                status="Closed", open_date=dt.date(1974, 4, 1),
                close_date=dt.date(rng.randint(2015, 2022), 8, 31), sends=False)  # fmt: skip
        for _ in range(max(1, round(n_sending / 25))):
            add(estab=estabs.take(6000, 6399), name=f"{place_name(rng)} {rng.choice(['Preparatory School', 'School', 'House School'])}",
                type_name="Other independent school", phase_name="All-through",
                low_age=rng.choice([3, 4]), high_age=rng.choice([11, 13, 18]), sends=False)  # fmt: skip
        if rng.random() < 0.15:
            add(estab=estabs.take(2000, 2999), name=_school_name(rng, "Free schools", "Primary"),
                type_name="Free schools", phase_name="Primary", low_age=4, high_age=11,
                status="Proposed to open", open_date=dt.date(2023, 9, 1), sends=False)  # fmt: skip
    return schools


def register_row(s: School, la_name: str) -> list[str]:
    def fmt(d: dt.date | None) -> str:
        return d.strftime("%d-%m-%Y") if d else ""

    pupils_on_roll = s.cohort * (s.high_age - max(s.low_age, 4) + 1) if s.sends else ""
    return [
        s.urn, s.la, la_name, s.estab, s.name, _TYPE_GROUP.get(s.type_name, ""), s.type_name,
        _STATUS_CODE.get(s.status, ""), s.status, fmt(s.open_date), fmt(s.close_date),
        _PHASE_CODE.get(s.phase_name, ""), s.phase_name, str(s.low_age), str(s.high_age),
        s.town, str(pupils_on_roll),
    ]  # fmt: skip


REGISTER_COLUMNS = (
    "URN", "LA (code)", "LA (name)", "EstablishmentNumber", "EstablishmentName",
    "EstablishmentTypeGroup (name)", "TypeOfEstablishment (name)", "EstablishmentStatus (code)",
    "EstablishmentStatus (name)", "OpenDate", "CloseDate", "PhaseOfEducation (code)",
    "PhaseOfEducation (name)", "StatutoryLowAge", "StatutoryHighAge", "Town", "NumberOfPupils",
)  # fmt: skip


def ctf_style(school: School, rng: random.Random, year: int, *,
              habits: tuple[tuple[str, float], ...] = (), other_name: str = "CTF") -> None:  # fmt: skip
    """How this school's MIS writes its CTF: encoding, declaration, element habits and the file
    name (`nnnDDDD_CTF_nnnLLLL_001.xml`; a few write `other_name` instead of CTF). `habits` are the
    collection's own (name, share) pairs, drawn in order into `school.style`."""
    style: dict = {}
    school.kind = "ctf"
    r = rng.random()
    school.encoding = "latin-1" if r < 0.06 else "cp1252" if r < 0.10 else "utf-8"
    style["declared"] = {"latin-1": "ISO-8859-1", "cp1252": "windows-1252"}.get(
        school.encoding, "UTF-8"
    )
    style["bom"] = school.encoding == "utf-8" and rng.random() < 0.1
    style["gender_tag"] = rng.random() < 0.15
    for name, share in habits:
        style[name] = rng.random() < share
    style["characteristics"] = rng.random() < 0.4
    style["upper_names"] = rng.random() < 0.6
    style["compact"] = rng.random() < 0.15
    style["qualifier"] = rng.random() < 0.8
    style["result_date"] = rng.random() < 0.85
    style["urn"] = rng.random() < 0.8
    style["partial"] = rng.random() < 0.85
    style["supplier"] = weighted(rng, SUPPLIERS)
    style["created"] = dt.datetime(year, 6, rng.randint(5, 27), rng.randint(8, 17),
                                   rng.randint(0, 59), rng.randint(0, 59))  # fmt: skip
    written = other_name if rng.random() < 0.03 else "CTF"
    serial = "002" if rng.random() < 0.05 else "001"
    school.file_name = f"{school.la}{school.estab}_{written}_{school.la}LLLL_{serial}.xml"
    school.style = style
