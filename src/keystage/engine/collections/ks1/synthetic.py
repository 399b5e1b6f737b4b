"""Synthetic but realistic KS1 2023 school files and a GIAS-style register, for some LAs or all.

Outcomes follow DfE's published 2023 LA percentages; errors are injected at a chosen rate, and
a log of every injected error is written so that validators can be measured against it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import os
import random
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape as _xml_escape

from keystage.engine import definition as definition_mod
from keystage.engine import upn as upn_mod
from keystage.engine.definition import Definition
from keystage.reference import REGION_CODES, LocalAuthorityRef, local_authorities, published_ks1

MEASURES = ("read_exs", "read_gds", "writ_exs", "writ_gds", "mat_exs", "mat_gds", "sci_exs")
# Published column prefix -> subject key of the definition.
_MEASURE_SUBJECT = {"read": "reading", "writ": "writing", "mat": "maths", "sci": "science"}
_SUBJECT_MEASURE = {v: k for k, v in _MEASURE_SUBJECT.items()}
SUPPRESSED_LAS = ("201", "420")  # too few pupils for DfE to publish

REGISTER_NAME = "schools.csv"
MANIFEST_NAME = "manifest.csv"
INJECTED_NAME = "injected_errors.csv"

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
FILE_FAULT_KINDS = (
    "pdf_as_csv",
    "xlsx_as_csv",
    "utf16_csv",
    "truncated_xml",
    "word_document",
    "duplicate_file",
)
_PUPIL_ERROR_WEIGHTS = {
    "wrong_check_letter": 3, "duplicate_upn_in_school": 1, "duplicate_upn_across_schools": 1,
    "temporary_upn": 2, "dob_outside_cohort": 2, "dob_implausible": 1, "dob_bad_format": 2,
    "invalid_sex": 2, "missing_surname": 2, "legacy_code": 3, "misspelt_code": 3,
    "missing_subject": 2, "duplicate_subject_row": 1, "q_code": 1, "pupil_in_two_schools": 1,
}  # fmt: skip
_FILE_FAULT_WEIGHTS = {
    "pdf_as_csv": 2, "xlsx_as_csv": 2, "utf16_csv": 2, "truncated_xml": 3, "word_document": 2,
    "duplicate_file": 1,
}  # fmt: skip

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


def _schools_in(la_code: str) -> int:
    """KS1 schools to generate for an LA, scaled so that England has about 16,500."""
    return max(1, round(_LA_SCHOOLS.get(la_code, 60) * _SCALE))


# Counties with many small village schools.
_RURAL = frozenset(
    "420 838 857 878 884 893 908 916 921 925 926 929 931 933 935 942 943 815 865 811 885 873"
    .split()
)  # fmt: skip
# Two-tier shire counties that are neither very rural nor urban.
_COUNTY = frozenset("825 830 845 850 855 860 881 886 888 891 919 936 937 938 940 941".split())
# LAs where many families have South Asian heritage.
_SOUTH_ASIAN = frozenset(
    "330 380 856 821 871 889 352 333 353 382 350 336 331 892 831 354 874 870 335 316 211"
    .split()
)  # fmt: skip
# First schools (ages 4-9 or 5-9) instead of infant/primary in much of these LAs.
_FIRST_SCHOOLS = frozenset("822 823 929 885 933 868".split())

_FSM_BY_REGION = {
    "North East": 0.33, "North West": 0.30, "Yorkshire and The Humber": 0.28,
    "East Midlands": 0.24, "West Midlands": 0.29, "East of England": 0.21, "London": 0.27,
    "South East": 0.19, "South West": 0.21,
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Names. An underscore stands for a space inside one name.


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.replace("_", " ") for n in text.split())


_POOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "english": {
        "M": _names(
            "Oliver George Harry Noah Jack Leo Arthur Oscar Charlie Jacob Thomas Henry William "
            "Freddie Alfie Theo Archie Joshua James Isaac Teddy Logan Alexander Max Edward Lucas "
            "Finley Joseph Ethan Mason Samuel Reggie Daniel Harrison Jude Toby Arlo Albie Riley "
            "Sebastian Rory Louie Tommy Frankie Elliot Dylan Jaxon Ronnie Benjamin Hugo Jenson "
            "Finn Callum Lewis Kai Ryan Owen Ollie Stanley Harvey Bobby Liam Connor Jayden Tyler "
            "Alfie-James Tommy-Lee Billy Jamie Kian Nathan Matthew Luke Carter Blake Bailey Zachary"
        ),
        "F": _names(
            "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Willow Freya "
            "Florence Emily Ella Poppy Evie Elsie Charlotte Evelyn Sienna Daisy Phoebe Sophie "
            "Harper Millie Ruby Matilda Alice Isabelle Esme Bonnie Scarlett Lucy Chloe Erin Eva "
            "Jessica Holly Maisie Emma Lola Imogen Hannah Ellie Megan Molly Zara Zoë Chloë Renée "
            "Lily-Mae Lacey-Mae Mary-Jane Darcie Orla Thea Harriet Eliza Mila Aria Robyn Katie "
            "Amber Leah Summer Paige Abigail Georgia Niamh"
        ),
        "S": _names(
            "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson "
            "Evans Walker White Roberts Green Hall Wood Jackson Clarke Harris Lewis Turner Hill "
            "Cooper Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott "
            "Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter "
            "Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Marshall Anderson "
            "Simpson Ellis Adams Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Hunt "
            "Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker "
            "Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Fletcher Walsh Gibson "
            "Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks "
            "West Lawrence Cole Atkinson Bradley Spencer Dawson Ball Burton O'Brien Watts Rose "
            "Booth Perry Grant Wells Armstrong Francis Rees Hayes Hudson Newman Barrett Webster "
            "Hunter Gregory Carr Lowe Page Marsh Riley Dunn Woods Parsons Berry Stone Reid "
            "Holland Hawkins Harding Porter Robertson Newton Reed Kennedy Williamson Bird Gardner "
            "Dean Lane Cooke Bates Henderson Parry Burgess Bishop Walton Burns Nicholson Shepherd "
            "Ross Cross Long Freeman Warren Nicholls Hamilton Sutton McDonald Yates Hodgson "
            "Robson Curtis Hopkins Harper Coleman Watkins Moss Chambers Griffin Sharp Hardy "
            "Wheeler Potter Osborne Johnston Gordon Wallace Hutchinson Rowe Pritchard Gilbert "
            "Willis Higgins Miles Stephenson Hammond Arnold Buckley Walters Hewitt Barber Nelson "
            "Slater Austin Whitehead Mann Frost Lambert Blake Goodwin Barton Woodward Cunningham "
            "Baxter Clayton Nash Greenwood Jennings Holt Kemp Poole Bond Stokes Tucker Fowler "
            "Heath Norman Middleton Lawson Banks Jarvis Gibbs Hayward Hughes Edwards Smith-Jones "
            "Lloyd-Davies Ashworth-Hall St._John D'Arcy"
        ),
    },
    "irish": {
        "M": _names("Seán Oisín Cian Darragh Eoin Patrick Conor Ronan Cillian Tadhg Fionn"),
        "F": _names("Niamh Aoife Saoirse Siobhán Ciara Róisín Caoimhe Orla Aisling Clodagh"),
        "S": _names(
            "Murphy O'Sullivan Walsh O'Brien Byrne Ryan O'Connor O'Neill McCarthy Kavanagh "
            "Doherty Gallagher Kelly Quinn Lynch Brennan Ó_Súilleabháin Mac_Giolla Nic_Aodha"
        ),
    },
    "white_other": {
        "M": _names(
            "Jakub Szymon Filip Kacper Antoni Mateusz Łukasz Wiktor Andrei Luca Matei Ionuț "
            "Tomás João Mateo Marco Nikola Dominik Oskar Emil Ştefan Jonas Lukas Rafael Gonçalo"
        ),
        "F": _names(
            "Zofia Julia Maja Hanna Lena Alicja Zuzanna Ioana Maria Sofia Ana Elena Gabriela "
            "Natalia Małgorzata Anaïs Inês Beatriz Léa Amélie Daria Emilia Wiktoria Agnieszka"
        ),
        "S": _names(
            "Nowak Kowalski Kowalska Wiśniewski Wójcik Kamiński Lewandowski Zieliński Woźniak "
            "Dąbrowski Popescu Ionescu Popa Rusu Dumitru Constantin Silva Santos Ferreira Pereira "
            "Gonçalves Rodrigues Núñez García Fernández Rossi Russo Bianchi Horváth Novák Dvořák "
            "Müller Schäfer Kovačević Petrović Jankauskas Kazlauskas Bērziņš Ozols Kowalczyk "
            "Nagy Szabó Tóth Ivanov Petrov Ferrari Esposito"
        ),
    },
    "south_asian": {
        "M": _names(
            "Muhammad Mohammed Ibrahim Yusuf Ayaan Zain Arjun Aarav Rayyan Hamza Ali Musa Zayn "
            "Eesa Aryan Vihaan Krish Rohan Harjot Gurveer Abdullah Omar Ahmed Idris Zakariya "
            "Haris Adam Ishaan Dev Sahil"
        ),
        "F": _names(
            "Aisha Maryam Fatima Zainab Hafsa Inaya Anaya Aaliyah Amira Sara Priya Anika Diya "
            "Simran Jasleen Hana Khadija Safa Myra Aleena Ayesha Zoya Sana Riya Navya Manahil"
        ),
        "S": _names(
            "Khan Ahmed Ali Hussain Patel Begum Singh Kaur Shah Akhtar Mahmood Iqbal Rahman Uddin "
            "Islam Chowdhury Miah Mistry Sharma Kumar Gill Sandhu Bains Parmar Rana Malik Qureshi "
            "Bibi Chaudhry Javed Rashid Sidhu Dhillon Joshi Nair Pillai Desai Mehta Ali-Khan"
        ),
    },
    "black": {
        "M": _names(
            "Daniel Samuel David Joshua Emmanuel Elijah Jayden Tobi Kofi Kwame Ayo Tunde Chidi "
            "Obinna Malachi Isaiah Nathaniel Tyrese Abdi Mohamed Ezekiel Jeremiah Josiah Micah"
        ),
        "F": _names(
            "Precious Favour Blessing Amara Zara Adaeze Chioma Tiana Nia Imani Ayomide Esther "
            "Grace Naomi Deborah Hodan Ifrah Abigail Janelle Kemi Nala Adanna"
        ),
        "S": _names(
            "Okafor Adeyemi Mensah Owusu Boateng Okonkwo Adebayo Ogunleye Asante Osei Williams "
            "Campbell Brown Thomas Johnson Francis Clarke Grant Mohamed Abdi Hassan Nwosu Eze "
            "Bakare Kamara Sesay Afolabi Balogun Akinola Danso Appiah Agyeman Oduya Mensah-Bonsu"
        ),
    },
    "chinese": {
        "M": _names("Ethan Lucas Ryan Jayden Hao Jun Wei Yuxuan Zihan Aiden Kai Minh"),
        "F": _names("Chloe Emily Jasmine Mei Xinyi Yutong Ling Grace Anh Vivian"),
        "S": _names(
            "Wang Li Zhang Chen Liu Yang Huang Zhao Wu Zhou Lin Wong Chan Cheung Lau Ng Ho Tang "
            "Nguyen Tran Pham Nguyễn"
        ),
    },
    "other": {
        "M": _names("Omar Yusuf Ahmad Mustafa Hassan Karim Emir Mehmet Arda Elias Adam Amir"),
        "F": _names("Layla Maryam Noor Sara Yasmin Rania Elif Zeynep Ayşe Hiba Malak Lina"),
        "S": _names(
            "Ali Hassan Hussein Ahmadi Mohammadi Karimi Yılmaz Kaya Demir Şahin Çelik Aydın "
            "Öztürk Al-Sayed El-Amin Abdullah Haddad Nasser Rahimi Noori"
        ),
    },
}
_POOLS["mixed"] = {k: _POOLS["english"][k] + _POOLS["black"][k] for k in ("M", "F", "S")}

# Name pool -> ethnicity codes (DfE main codes) with weights.
_ETHNICITY = {
    "english": (("WBRI", 1.0),),
    "irish": (("WIRI", 1.0),),
    "white_other": (("WOTH", 0.93), ("WROM", 0.04), ("WIRT", 0.03)),
    "south_asian": (("APKN", 0.45), ("AIND", 0.33), ("ABAN", 0.15), ("AOTH", 0.07)),
    "black": (("BAFR", 0.70), ("BCRB", 0.20), ("BOTH", 0.10)),
    "chinese": (("CHNE", 0.8), ("AOTH", 0.2)),
    "mixed": (("MWBC", 0.35), ("MWBA", 0.15), ("MWAS", 0.20), ("MOTH", 0.30)),
    "other": (("OOTH", 0.75), ("AOTH", 0.25)),
}
_EAL_BY_POOL = {
    "english": 0.01, "irish": 0.02, "white_other": 0.75, "south_asian": 0.75, "black": 0.45,
    "chinese": 0.6, "mixed": 0.12, "other": 0.85,
}  # fmt: skip
_POOL_MIX = {
    "london": {"english": 0.28, "irish": 0.01, "white_other": 0.17, "south_asian": 0.17,
               "black": 0.17, "chinese": 0.02, "mixed": 0.11, "other": 0.07},
    "south_asian": {"english": 0.46, "irish": 0.005, "white_other": 0.07, "south_asian": 0.30,
                    "black": 0.06, "chinese": 0.01, "mixed": 0.06, "other": 0.035},
    "urban": {"english": 0.70, "irish": 0.005, "white_other": 0.08, "south_asian": 0.07,
              "black": 0.04, "chinese": 0.01, "mixed": 0.06, "other": 0.035},
    "county": {"english": 0.80, "irish": 0.005, "white_other": 0.07, "south_asian": 0.04,
               "black": 0.02, "chinese": 0.01, "mixed": 0.045, "other": 0.01},
    "rural": {"english": 0.88, "irish": 0.005, "white_other": 0.05, "south_asian": 0.01,
              "black": 0.01, "chinese": 0.005, "mixed": 0.035, "other": 0.005},
}  # fmt: skip


def _encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _filtered_pools(encoding: str) -> dict[str, dict[str, tuple[str, ...]]]:
    # Upper case too: "Müller".upper() must still fit the file's encoding.
    return {
        pool: {
            k: tuple(
                n for n in names if _encodable(n, encoding) and _encodable(n.upper(), encoding)
            )
            for k, names in parts.items()
        }
        for pool, parts in _POOLS.items()
    }


_POOLS_BY_ENCODING = {
    "utf-8": _POOLS,
    "cp1252": _filtered_pools("cp1252"),
    "latin-1": _filtered_pools("latin-1"),
}

# School names.
_PLACE_START = _names(
    "Oak Ash Elm Beech Birch Willow Holly Brook Mill Church Castle Green Hill Meadow Park River "
    "Wood Fern Heath Kings Queens Priory Abbey Manor Grange Long High Broad West East North South "
    "Stone Red Black White Fair Bright Cherry Lark Sand Marsh Moor Thorn Hazel Rose Bram Cole "
    "Ald Bar Whit Hart Stan Ather Ring Wel Chal"
)
_PLACE_END = _names(
    "field wood side lands brook hill dale ley ton bury ford well mead croft gate view bank "
    "worth wick combe haven stead thorpe by ham minster"
)
_SAINTS = _names(
    "Mary Joseph John Peter Paul Michael Anne Margaret Thomas Andrew George Patrick Teresa "
    "Bernadette Francis Augustine Catherine Mark Luke Matthew James Stephen Nicholas Edmund "
    "Alban Chad Bede Cuthbert Hilda Wilfrid Barnabas"
)
_ROADS = _names(
    "Station_Road Church_Lane Mill_Lane Park_Road Victoria_Road London_Road High_Street"
)
_SUPPLIERS = (
    ("SIMS", 0.40), ("Arbor", 0.20), ("Bromcom", 0.12), ("ScholarPack", 0.10),
    ("RM Integris", 0.07), ("Pupil Asset", 0.06), ("Advanced Progresso", 0.05),
)  # fmt: skip

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
@dataclass
class GenerateSummary:
    """What `generate` wrote. `files` counts files by kind ("ctf", "csv" and the fault kinds);
    `errors` counts injected errors by kind (pupil errors and file faults alike)."""

    out_dir: Path
    register: Path
    manifest: Path
    injected_log: Path
    las: int = 0
    schools: int = 0  # schools that sent a KS1 file
    register_rows: int = 0  # every establishment in the register, KS1 or not
    pupils: int = 0  # distinct pupils in the cohort
    # Pupil records in the schools' files: a pupil written into two schools counts twice;
    # duplicate files, and pupils lost with a file replaced by a PDF or truncated, do not count.
    pupil_records: int = 0
    files: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    exact: bool = False
    seconds: float = 0.0
    bytes_written: int = 0

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True)
class _Settings:
    error_rate: float
    seed: int
    csv_share: float
    exact: bool
    definition: Definition


@dataclass(slots=True)
class _School:
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
    ks1: bool = True
    special: bool = False
    cohort: int = 0
    kind: str = "ctf"
    encoding: str = "utf-8"
    style: dict = field(default_factory=dict)
    pupils: list = field(default_factory=list)
    file_name: str = ""
    fault: str = ""


@dataclass(slots=True)
class _Pupil:
    upn: str
    surname: str
    forename: str
    dob: dt.date
    sex: str
    pool: str
    ethnicity: str
    eal: bool
    fsm: dt.date | None
    general: float
    scores: list
    school: _School
    outcomes: dict = field(default_factory=dict)
    sen: str = "N"
    # As written: set only when an error changes what the file says.
    dob_text: str | None = None
    sex_text: str | None = None
    rows: list | None = None  # [(subject key, code)] in file order, when not the usual four
    errors: list = field(default_factory=list)
    omit_surname: bool = False  # a missing surname: no element at all rather than an empty one


# ---------------------------------------------------------------------------------------------
def _la_rng(seed: int, la: str, stream: str) -> random.Random:
    # A string seed is hashed with SHA-512, so this is stable across runs and processes.
    return random.Random(f"keystage-synthetic:{seed}:{la}:{stream}")


def _weighted(rng: random.Random, pairs: Iterable[tuple[str, float]]) -> str:
    pairs = tuple(pairs)
    total = sum(w for _, w in pairs)
    r = rng.random() * total
    for item, w in pairs:
        r -= w
        if r < 0:
            return item
    return pairs[-1][0]


def _la_profile(la: LocalAuthorityRef) -> str:
    if la.region == "London":
        return "london"
    if la.code in _RURAL:
        return "rural"
    if la.code in _COUNTY:
        return "county"
    return "urban"


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


def _exact_count(target: int, n: int) -> int:
    """A count c with 100*c/n strictly inside (target - 0.5, target + 0.5), so that it rounds
    to `target` under either half-up or half-even rounding; the nearest one if none does."""
    if n <= 0:
        return 0
    ideal = target * n / 100
    candidates = sorted(range(max(0, int(ideal) - 2), min(n, int(ideal) + 3) + 1),
                        key=lambda c: (abs(c - ideal), c))  # fmt: skip
    for c in candidates:
        if (2 * target - 1) * n < 200 * c < (2 * target + 1) * n:
            return c
    return min(n, max(0, round(ideal)))


def _noisy_count(rng: random.Random, p: float, n: int) -> int:
    # Normal approximation to a binomial draw (random.binomialvariate is Python 3.12+).
    c = round(n * p + math.sqrt(max(n * p * (1 - p), 0.0)) * rng.gauss(0.0, 1.0))
    return min(n, max(0, c))


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


def _place(rng: random.Random) -> str:
    return rng.choice(_PLACE_START) + rng.choice(_PLACE_END)


def _school_name(rng: random.Random, type_name: str, stage: str) -> str:
    """A plausible name; `stage` is "Primary", "Infant", "First", "Junior", "Special"..."""
    apostrophe = "’" if rng.random() < 0.1 else "'"
    saint = rng.choice(_SAINTS)
    place = _place(rng) if rng.random() < 0.9 else rng.choice(_ROADS)
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
    band = _weighted(rng, zip("abcdefg", shares, strict=True))
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


_KS1_TYPES = (
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


def _plan_schools(la: LocalAuthorityRef, la_index: int, settings: _Settings) -> list[_School]:
    """Every establishment of the LA in the register: KS1 schools first, then the others a
    real extract also lists (secondaries, junior, nursery, closed, independent)."""
    rng = _la_rng(settings.seed, la.code, "schools")
    profile = _la_profile(la)
    estabs = _EstabPool(rng)
    urn_pool = rng.sample(range(100000 + la_index * 1000, 100000 + (la_index + 1) * 1000), 1000)
    urns = iter(f"{u:06d}" for u in urn_pool)
    n_ks1 = _schools_in(la.code)
    schools: list[_School] = []

    def add(**kw) -> _School:
        school = _School(urn=next(urns), la=la.code, town=_place(rng), **kw)
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
        n_special = max(1, round(n_ks1 * 0.045)) if n_ks1 >= 15 else 0
        for i in range(n_ks1):
            if i < n_special:
                type_name = _weighted(rng, _SPECIAL_TYPES)
                low, high = rng.choice([(2, 19), (3, 11), (4, 19), (3, 19), (4, 11)])
                add(estab=estabs.take(*_estab_range(type_name, "Special")), special=True,
                    name=_school_name(rng, type_name, "Special"), type_name=type_name,
                    phase_name="Not applicable", low_age=low, high_age=high,
                    cohort=rng.randint(2, 12))  # fmt: skip
                continue
            type_name = _weighted(rng, _KS1_TYPES)
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

        # Establishments a real extract lists but that send no KS1 file.
        for _ in range(round(n_ks1 / 5.5)):
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
                high_age=rng.choice([16, 18]), ks1=False)  # fmt: skip
        for _ in range(round(n_ks1 * 0.04)):
            type_name = _weighted(rng, _KS1_TYPES)
            add(
                estab=estabs.take(2000, 2999),
                name=_school_name(rng, type_name, "Junior"),
                type_name=type_name,
                phase_name="Primary",
                low_age=7,
                high_age=11,
                ks1=False,
            )
        if n_ks1 >= 20:
            add(estab=estabs.take(1000, 1099), name=f"{_place(rng)} Nursery School",
                type_name="Local authority nursery school", phase_name="Nursery", low_age=2,
                high_age=5, ks1=False)  # fmt: skip
        if n_ks1 >= 10:
            add(estab=estabs.take(2000, 2999), name=_school_name(rng, "Community school", "Primary"),
                type_name="Community school", phase_name="Primary", low_age=4, high_age=11,
                status="Closed", open_date=dt.date(1974, 4, 1),
                close_date=dt.date(rng.randint(2015, 2022), 8, 31), ks1=False)  # fmt: skip
        for _ in range(max(1, round(n_ks1 / 25))):
            add(estab=estabs.take(6000, 6399), name=f"{_place(rng)} {rng.choice(['Preparatory School', 'School', 'House School'])}",
                type_name="Other independent school", phase_name="All-through",
                low_age=rng.choice([3, 4]), high_age=rng.choice([11, 13, 18]), ks1=False)  # fmt: skip
        if rng.random() < 0.15:
            add(estab=estabs.take(2000, 2999), name=_school_name(rng, "Free schools", "Primary"),
                type_name="Free schools", phase_name="Primary", low_age=4, high_age=11,
                status="Proposed to open", open_date=dt.date(2023, 9, 1), ks1=False)  # fmt: skip
    return schools


def _choose_style(school: _School, rng: random.Random, settings: _Settings) -> None:
    """How this school's MIS writes its file: CTF or CSV, encoding and other habits."""
    csv_share = settings.csv_share
    if school.estab < "1000" and csv_share > 0:
        csv_share = max(csv_share, 0.5)  # so the Excel-stripped estab case actually occurs
    style: dict = {}
    if rng.random() < csv_share:
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
    else:
        school.kind = "ctf"
        r = rng.random()
        school.encoding = "latin-1" if r < 0.06 else "cp1252" if r < 0.10 else "utf-8"
        style["declared"] = {"latin-1": "ISO-8859-1", "cp1252": "windows-1252"}.get(
            school.encoding, "UTF-8"
        )
        style["bom"] = school.encoding == "utf-8" and rng.random() < 0.1
        style["gender_tag"] = rng.random() < 0.15
        style["tests"] = rng.random() < 0.25
        style["phonics"] = rng.random() < 0.2
        style["foundation"] = rng.random() < 0.1
        style["ks1_last_year"] = rng.random() < 0.03
        style["characteristics"] = rng.random() < 0.4
        style["upper_names"] = rng.random() < 0.6
        style["compact"] = rng.random() < 0.15
        style["qualifier"] = rng.random() < 0.8
        style["result_date"] = rng.random() < 0.85
        style["urn"] = rng.random() < 0.8
        style["partial"] = rng.random() < 0.85
        style["supplier"] = _weighted(rng, _SUPPLIERS)
        style["created"] = dt.datetime(2023, 6, rng.randint(5, 27), rng.randint(8, 17),
                                       rng.randint(0, 59), rng.randint(0, 59))  # fmt: skip
        token = "KS1" if rng.random() < 0.03 else "CTF"
        serial = "002" if rng.random() < 0.05 else "001"
        school.file_name = f"{school.la}{school.estab}_{token}_{school.la}LLLL_{serial}.xml"
    school.style = style


# ---------------------------------------------------------------------------------------------
# Pupils and outcomes


def _make_pupils(la: LocalAuthorityRef, schools: list[_School], settings: _Settings) -> None:
    rng = _la_rng(settings.seed, la.code, "pupils")
    d = settings.definition
    profile = _la_profile(la)
    mix = _POOL_MIX["south_asian" if la.code in _SOUTH_ASIAN and profile != "london" else profile]
    mix_pairs = tuple(mix.items())
    fsm_rate = _FSM_BY_REGION.get(la.region, 0.24)
    cohort_from, cohort_days = d.dob_usual_from, (d.dob_usual_to - d.dob_usual_from).days + 1
    subjects = d.subject_keys
    sex_effects = [_SEX_EFFECT.get(s, 0.0) for s in subjects]
    fsm_from = dt.date(d.ctf_academic_year - 4, 9, 1)
    for school in schools:
        if not school.ks1:
            continue
        pools = _POOLS_BY_ENCODING[
            "utf-8" if school.encoding.startswith("utf") else school.encoding
        ]
        school_fsm = min(0.85, fsm_rate * rng.lognormvariate(0.0, 0.55))
        school_effect = rng.gauss(0.0, _SCHOOL_SD) - 0.6 * (school_fsm - fsm_rate)
        serials = {yy: rng.sample(range(1, 1000), min(999, school.cohort)) for yy in ("19", "20")}
        for i in range(school.cohort):
            sex = "M" if rng.random() < 0.51 else "F"
            pool = _weighted(rng, mix_pairs)
            names = pools[pool]
            surname = rng.choice(names["S"])
            if pool == "mixed" and rng.random() < 0.5:
                surname = rng.choice(pools["english"]["S"])
            forename = rng.choice(names[sex])
            day = rng.randrange(cohort_days)
            dob = cohort_from + dt.timedelta(days=day)
            fsm = rng.random() < school_fsm
            age_position = 1.0 - day / cohort_days  # 1 = oldest (September-born)
            general = (school_effect + rng.gauss(0.0, 1.0) + _AGE_EFFECT * (age_position - 0.5)
                       + (_FSM_EFFECT if fsm else 0.0) + (_SPECIAL_EFFECT if school.special else 0.0))  # fmt: skip
            girl = sex == "F"
            scores = [general + rng.gauss(0.0, _SUBJECT_NOISE_SD) + (e if girl else 0.0)
                      for e in sex_effects]  # fmt: skip
            yy = "19" if rng.random() < 0.3 else "20"
            upn = upn_mod.make(school.la, school.estab, yy, f"{serials[yy][i]:03d}")
            fsm_start = (fsm_from + dt.timedelta(days=rng.randrange(4 * 365))) if fsm else None
            school.pupils.append(_Pupil(
                upn=upn, surname=surname, forename=forename, dob=dob, sex=sex, pool=pool,
                ethnicity=_weighted(rng, _ETHNICITY[pool]) if rng.random() > 0.02 else "REFU",
                eal=rng.random() < _EAL_BY_POOL[pool], fsm=fsm_start, general=general,
                scores=scores, school=school,
            ))  # fmt: skip
        # MIS exports list pupils alphabetically.
        school.pupils.sort(key=lambda p: (p.surname.lower(), p.forename.lower()))


def _assign_outcomes(la: LocalAuthorityRef, pupils: list[_Pupil], targets: dict[str, int],
                     settings: _Settings) -> None:  # fmt: skip
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
# Injected errors


def _inject_pupil_errors(la: LocalAuthorityRef, schools: list[_School], settings: _Settings,
                         log: list[tuple]) -> dict[str, int]:  # fmt: skip
    rng = _la_rng(settings.seed, la.code, "errors")
    d = settings.definition
    counts: dict[str, int] = {}
    intact = [s for s in schools if s.ks1 and s.pupils and not s.fault]
    if settings.error_rate <= 0 or not intact:
        return counts
    subjects = d.subject_keys
    science = subjects[-1]
    reading = subjects[0]
    copies: list[tuple[_School, _Pupil]] = []
    original_upns = {id(p): p.upn for s in intact for p in s.pupils}
    # A pupil whose UPN another record copies keeps its record as it is, so the logged
    # duplicate stays a duplicate (a later mistake on it would hide the first).
    protected: set[int] = set()

    for school in intact:
        for p in school.pupils:
            if rng.random() >= settings.error_rate or id(p) in protected:
                continue
            kinds = [k for k in PUPIL_ERROR_KINDS
                     if _error_applies(k, school, len(intact))]  # fmt: skip
            kind = _weighted(rng, ((k, _PUPIL_ERROR_WEIGHTS[k]) for k in kinds))
            detail = _apply_error(kind, p, school, intact, original_upns, rng, d, copies,
                                  subjects, science, reading, protected)  # fmt: skip
            counts[kind] = counts.get(kind, 0) + 1
            p.errors.append((kind, detail))
    for target, p in copies:
        target.pupils.append(p)
    for school in intact:
        for p in school.pupils:
            for kind, detail in p.errors:
                log.append((school.la, school.estab, school.file_name, p.upn, kind, detail))
    return counts


def _error_applies(kind: str, school: _School, n_schools: int) -> bool:
    if kind in ("duplicate_upn_across_schools", "pupil_in_two_schools"):
        return n_schools > 1
    if kind == "duplicate_upn_in_school":
        return len(school.pupils) > 1
    if kind == "duplicate_subject_row":
        return school.kind == "ctf"
    return True


def _rows(p: _Pupil, subjects: tuple[str, ...]) -> list[tuple[str, str]]:
    if p.rows is None:
        p.rows = [(k, p.outcomes[k]) for k in subjects]
    return p.rows


def _set_code(p: _Pupil, subjects: tuple[str, ...], key: str, code: str) -> None:
    p.rows = [(k, code if k == key else c) for k, c in _rows(p, subjects)]


def _apply_error(kind, p, school, intact, original_upns, rng, d, copies, subjects, science,
                 reading, protected) -> str:  # fmt: skip
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
        p.upn = upn_mod.make(school.la, school.estab, "23", f"{rng.randint(0, 99):02d}{letter}")
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
    if kind == "legacy_code":
        key = rng.choice(subjects)
        if key == science:
            code = "U"
        elif key == reading:
            code = rng.choice(["BLW", "D", "PKF", "L", "HNM"])
        else:
            code = rng.choice(["BLW", "D", "PKF", "L"])
        _set_code(p, subjects, key, code)
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
        _set_code(p, subjects, key, code)
        return f"{key}={code!r}"
    if kind == "missing_subject":
        key = rng.choice(subjects)
        p.rows = [(k, c) for k, c in _rows(p, subjects) if k != key]
        return f"{key} missing"
    if kind == "duplicate_subject_row":
        key = rng.choice(subjects)
        rows = _rows(p, subjects)
        at = next(i for i, (k, _) in enumerate(rows) if k == key)
        valid = d.subject(key).order
        code = rng.choice(valid) if rng.random() < 0.7 else rows[at][1]
        p.rows = rows[: at + 1] + [(key, code)] + rows[at + 1 :]
        return f"{key} twice ({rows[at][1]}, {code})"
    if kind == "q_code":
        key = rng.choice(subjects)
        _set_code(p, subjects, key, "Q")
        return f"{key}=Q"
    if kind == "pupil_in_two_schools":
        other_school = rng.choice([s for s in intact if s is not school])
        twin = _Pupil(
            upn=original_upns.get(id(p), p.upn), surname=p.surname, forename=p.forename,
            dob=p.dob, sex=p.sex, pool=p.pool, ethnicity=p.ethnicity, eal=p.eal, fsm=p.fsm,
            general=p.general, scores=p.scores, school=other_school,
            outcomes=dict(p.outcomes), sen=p.sen,
        )  # fmt: skip
        copies.append((other_school, twin))
        return f"also in {other_school.la}{other_school.estab}"
    raise ValueError(kind)


def _choose_file_faults(la: LocalAuthorityRef, schools: list[_School],
                        settings: _Settings) -> dict[str, int]:  # fmt: skip
    rng = _la_rng(settings.seed, la.code, "faults")
    ks1 = [s for s in schools if s.ks1]
    counts: dict[str, int] = {}
    if settings.error_rate <= 0 or not ks1:
        return counts
    expected = settings.error_rate * len(ks1)
    n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
    for school in rng.sample(ks1, min(n, len(ks1))):
        kinds = [k for k in FILE_FAULT_KINDS if k != "truncated_xml" or school.kind == "ctf"]
        kind = _weighted(rng, ((k, _FILE_FAULT_WEIGHTS[k]) for k in kinds))
        school.fault = kind
        if kind in ("pdf_as_csv", "xlsx_as_csv", "utf16_csv"):
            school.file_name = f"KS1_{school.estab}_{str(settings.definition.year)[2:]}.csv"
            if kind == "utf16_csv" and school.kind != "csv":
                school.kind = "csv"
                school.style = {"upper_names": True}
        counts[kind] = counts.get(kind, 0) + 1
    return counts


# ---------------------------------------------------------------------------------------------
# Writers


def _xml_text(text: str) -> str:
    return _xml_escape(text, {'"': "&quot;", "'": "&apos;"})


def _fit(text: str, encoding: str) -> str:
    """Text that the file's encoding can hold: MIS exports fold what they cannot write."""
    if _encodable(text, encoding):
        return text
    text = text.replace("’", "'")
    if _encodable(text, encoding):
        return text
    folded = unicodedata.normalize("NFKD", text)
    return "".join(
        ch for ch in folded if _encodable(ch, encoding) and not unicodedata.combining(ch)
    )


def _ctf_bytes(school: _School, d: Definition) -> tuple[bytes, int]:
    st = school.style
    enc = school.encoding
    year = d.year
    compact = st.get("compact", False)
    sex_tag = "Gender" if st.get("gender_tag") else "Sex"
    upper = st.get("upper_names", False)
    created = st["created"]
    result_date = f"{year}-06-{min(created.day, 27):02d}"
    qualifier = st.get("qualifier", True)
    with_date = st.get("result_date", True)
    characteristics = st.get("characteristics", False)
    subjects = {s.key: s for s in d.subjects}
    ch_paths = d.characteristics_ctf

    def row(subject: str, component: str, result: str, method: str = d.method,
            yr: int = year, rdate: str = result_date, rq: str = "TA") -> str:  # fmt: skip
        q = f"<ResultQualifier>{rq}</ResultQualifier>" if qualifier else ""
        rd = f"<ResultDate>{rdate}</ResultDate>" if with_date else ""
        res = _xml_text(result)
        if compact:
            return (f"          <StageAssessment><Locale>{d.locale}</Locale><Year>{yr}</Year>"
                    f"<Subject>{subject}</Subject><Method>{method}</Method>"
                    f"<Component>{component}</Component><ResultStatus>R</ResultStatus>{q}"
                    f"<Result>{res}</Result>{rd}</StageAssessment>\n")  # fmt: skip
        q_line = f"<ResultStatus>R</ResultStatus>{q}"
        return (
            "          <StageAssessment>\n"
            f"            <Locale>{d.locale}</Locale><Year>{yr}</Year>\n"
            f"            <Subject>{subject}</Subject><Method>{method}</Method>"
            f"<Component>{component}</Component>\n"
            f"            {q_line}\n"
            f"            <Result>{res}</Result>{rd}\n"
            "          </StageAssessment>\n"
        )

    head = [
        f'<?xml version="1.0" encoding="{st["declared"]}"?>\n',
        "<CTfile>\n",
        "  <Header>\n",
        "    <DocumentName>Common Transfer File</DocumentName>\n",
        f"    <CTFversion>{d.raw['collection'].get('ctf_version', '22.0')}</CTFversion>\n",
        f"    <DateTime>{created.isoformat()}</DateTime>\n",
        f"    <DocumentQualifier>{'partial' if st.get('partial') else 'full'}</DocumentQualifier>\n",
        f"    <SupplierID>{_xml_text(st['supplier'])}</SupplierID>\n",
        "    <SourceSchool>\n",
        f"      <LEA>{school.la}</LEA>\n",
        f"      <Estab>{school.estab}</Estab>\n",
        f"      <URN>{school.urn}</URN>\n" if st.get("urn") else "",
        f"      <SchoolName>{_xml_text(_fit(school.name, enc))}</SchoolName>\n",
        f"      <AcademicYear>{d.ctf_academic_year}</AcademicYear>\n",
        "    </SourceSchool>\n",
        "    <DestSchool>\n",
        f"      <LEA>{school.la}</LEA>\n",
        "      <Estab>LLLL</Estab>\n",
        "    </DestSchool>\n",
        "  </Header>\n",
        "  <CTFpupilData>\n",
    ]
    parts = head
    records = 0
    for p in school.pupils:
        records += 1
        surname = p.surname.upper() if upper else p.surname
        forename = p.forename.upper() if upper else p.forename
        sex = p.sex if p.sex_text is None else p.sex_text
        dob = p.dob_text if p.dob_text is not None else p.dob.isoformat()
        if surname:
            surname_xml = f"      <Surname>{_xml_text(_fit(surname, enc))}</Surname>\n"
        else:
            surname_xml = "" if p.omit_surname else "      <Surname></Surname>\n"
        basic = [f"        <NCyearActual>{d.nc_year}</NCyearActual>\n"]
        if characteristics:
            values = {
                "ethnicity": p.ethnicity,
                "eal": "OTH" if p.eal else "ENG",
                "fsm": p.fsm.isoformat() if p.fsm else None,
                "sen": p.sen,
            }
            basic.append(_nested(ch_paths, values))
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
        parts.append(
            "    <Pupil>\n"
            f"      <UPN>{_xml_text(p.upn)}</UPN>\n"
            f"{surname_xml}"
            f"      <Forename>{_xml_text(_fit(forename, enc))}</Forename>\n"
            f"      <DOB>{_xml_text(dob)}</DOB>\n"
            f"      <{sex_tag}>{_xml_text(sex)}</{sex_tag}>\n"
            "      <BasicDetails>\n"
            f"{''.join(basic)}"
            "      </BasicDetails>\n"
            "      <StageAssessments>\n"
            f"{''.join(stage_rows)}"
            "      </StageAssessments>\n"
            "    </Pupil>\n"
        )
    parts.append("  </CTFpupilData>\n</CTfile>\n")
    body = "".join(parts).encode(enc)
    if st.get("bom"):
        body = b"\xef\xbb\xbf" + body
    return body, records


def _nested(paths: dict[str, str], values: dict[str, str | None]) -> str:
    """BasicDetails children for characteristics, built from the definition's element paths
    (e.g. "BasicDetails/Languages/Type"), so that a renamed element is a definition change."""
    tree: dict = {}
    for name in ("ethnicity", "eal", "fsm", "sen"):
        path, value = paths.get(name), values.get(name)
        if not path or value is None:
            continue
        steps = path.split("/")
        if steps[0] == "BasicDetails":
            steps = steps[1:]
        node = tree
        for step in steps[:-1]:
            node = node.setdefault(step, {})
        node[steps[-1]] = value

    def render(node: dict, depth: int) -> str:
        pad = "  " * depth
        out = []
        for tag, value in node.items():
            if isinstance(value, dict):
                out.append(f"{pad}<{tag}>\n{render(value, depth + 1)}{pad}</{tag}>\n")
            else:
                out.append(f"{pad}<{tag}>{_xml_text(value)}</{tag}>\n")
        return "".join(out)

    return render(tree, 4)


_FSP_AREAS = ("COM", "PSE", "PHY", "LIT", "MAT")


def _foundation_block(p: _Pupil, d: Definition) -> str:
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


def _csv_text(school: _School, d: Definition) -> tuple[str, int]:
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


def _zip_bytes(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(2023, 6, 20, 9, 0, 0))  # fixed: deterministic
            z.writestr(info, text)
    return buf.getvalue()


def _xlsx_bytes(school: _School) -> bytes:
    return _zip_bytes({
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook><sheets><sheet name="KS1 TA"/></sheets></workbook>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet><sheetData><row><c t="inlineStr"><is><t>{school.la}{school.estab}</t></is></c></row></sheetData></worksheet>',
    })  # fmt: skip


def _docx_bytes(school: _School) -> bytes:
    return _zip_bytes({
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "word/document.xml": f'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>KS1 results for {_xml_text(school.name)} are attached.</w:t></w:r></w:p></w:body></w:document>',
    })  # fmt: skip


def _pdf_bytes(school: _School) -> bytes:
    text = f"KS1 teacher assessment {school.la}{school.estab}".encode("ascii", "replace")
    stream = b"BT /F1 12 Tf 72 720 Td (" + text + b") Tj ET"
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
            b"3 0 obj<</Type/Page/Parent 2 0 R/Contents 4 0 R>>endobj\n"
            b"4 0 obj<</Length " + str(len(stream)).encode() + b">>stream\n" + stream
            + b"\nendstream endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")  # fmt: skip


def _write_school(school: _School, la_dir: Path, d: Definition,
                  rng: random.Random) -> list[tuple[str, str, int, str]]:  # fmt: skip
    """Write the school's file(s); returns (file name, kind, pupil records, encoding) each."""
    out = []
    fault = school.fault
    if fault == "pdf_as_csv":
        (la_dir / school.file_name).write_bytes(_pdf_bytes(school))
        return [(school.file_name, "pdf", 0, "")]
    if fault == "xlsx_as_csv":
        (la_dir / school.file_name).write_bytes(_xlsx_bytes(school))
        return [(school.file_name, "xlsx", 0, "")]
    if school.kind == "csv":
        text, records = _csv_text(school, d)
        if fault == "utf16_csv":
            data, kind, enc = text.encode("utf-16"), "csv_utf16", "utf-16"
        else:
            enc = school.encoding
            data, kind = text.encode(enc), "csv"
    else:
        data, records = _ctf_bytes(school, d)
        kind, enc = "ctf", school.encoding
        if fault == "truncated_xml":
            data = data[: int(len(data) * rng.uniform(0.3, 0.9))]
            kind = "ctf_truncated"
            records = data.count(b"</Pupil>")  # the pupils that survive whole
    (la_dir / school.file_name).write_bytes(data)
    out.append((school.file_name, kind, records, enc))
    if fault == "word_document":
        name = f"KS1 covering letter {school.estab}.docx"
        (la_dir / name).write_bytes(_docx_bytes(school))
        out.append((name, "docx", 0, ""))
    if fault == "duplicate_file":
        stem, dot, ext = school.file_name.rpartition(".")
        name = f"{stem} (1){dot}{ext}"
        (la_dir / name).write_bytes(data)
        out.append((name, f"{kind}_copy", records, enc))
    return out


# ---------------------------------------------------------------------------------------------
# One LA


@dataclass
class _LaResult:
    la: str
    register_rows: list[list[str]]
    manifest_rows: list[list[str]]
    injected: list[tuple]
    schools: int
    pupils: int
    records: int
    files: dict[str, int]
    errors: dict[str, int]
    bytes_written: int


def _register_row(s: _School, la_name: str) -> list[str]:
    def fmt(d: dt.date | None) -> str:
        return d.strftime("%d-%m-%Y") if d else ""

    pupils_on_roll = s.cohort * (s.high_age - max(s.low_age, 4) + 1) if s.ks1 else ""
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


def _generate_la(la: LocalAuthorityRef, la_index: int, targets: dict[str, int],
                 settings: _Settings, out_dir: Path) -> _LaResult:  # fmt: skip
    d = settings.definition
    schools = _plan_schools(la, la_index, settings)
    style_rng = _la_rng(settings.seed, la.code, "style")
    for s in schools:
        if s.ks1:
            _choose_style(s, style_rng, settings)
    _make_pupils(la, schools, settings)
    cohort = [p for s in schools for p in s.pupils]
    _assign_outcomes(la, cohort, targets, settings)
    errors = _choose_file_faults(la, schools, settings)
    injected: list[tuple] = []
    for kind, n in _inject_pupil_errors(la, schools, settings, injected).items():
        errors[kind] = errors.get(kind, 0) + n
    la_dir = out_dir / la.code
    la_dir.mkdir(parents=True, exist_ok=True)
    write_rng = _la_rng(settings.seed, la.code, "write")
    files: dict[str, int] = {}
    manifest: list[list[str]] = []
    size = 0
    records = 0
    for s in schools:
        if not s.ks1:
            continue
        for name, kind, n, enc in _write_school(s, la_dir, d, write_rng):
            files[kind] = files.get(kind, 0) + 1
            size += (la_dir / name).stat().st_size
            records += n if not kind.endswith("_copy") else 0
            manifest.append([s.la, s.estab, s.urn, f"{la.code}/{name}", kind, str(n), enc,
                             s.fault])  # fmt: skip
        if s.fault:
            injected.append((s.la, s.estab, s.file_name, "", s.fault, "file"))
    return _LaResult(
        la=la.code,
        register_rows=[_register_row(s, la.name) for s in schools],
        manifest_rows=manifest,
        injected=injected,
        schools=sum(1 for s in schools if s.ks1),
        pupils=len(cohort),
        records=records,
        files=files,
        errors=errors,
        bytes_written=size,
    )


def _generate_la_job(args: tuple) -> _LaResult:
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
    started = time.perf_counter()
    d = definition or definition_mod.load()
    if not 0 <= error_rate <= 0.5:
        raise ValueError("error_rate must be between 0 and 0.5")
    if not 0 <= csv_share <= 1:
        raise ValueError("csv_share must be between 0 and 1")
    all_las = local_authorities()
    index = {la.code: i for i, la in enumerate(all_las)}
    if national:
        chosen = list(all_las)
    elif las:
        unknown = [c for c in las if c not in index]
        if unknown:
            raise ValueError(f"unknown LA code(s): {', '.join(unknown)}")
        wanted = set(las)
        chosen = [la for la in all_las if la.code in wanted]
    else:
        raise ValueError("give las=[...] or national=True")
    settings = _Settings(error_rate=error_rate, seed=seed, csv_share=csv_share,
                         exact=(error_rate == 0) if exact is None else exact, definition=d)  # fmt: skip
    targets = published_targets(d, include_suppressed=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = GenerateSummary(out_dir=out, register=out / REGISTER_NAME,
                              manifest=out / MANIFEST_NAME, injected_log=out / INJECTED_NAME,
                              exact=settings.exact)  # fmt: skip
    jobs = [(la, index[la.code], targets[la.code], settings, out) for la in chosen]
    results: list[_LaResult] = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done, result in enumerate(pool.map(_generate_la_job, jobs, chunksize=1), 1):
                results.append(result)
                if progress:
                    progress(done, len(jobs), result.la)
    else:
        for done, job in enumerate(jobs, 1):
            results.append(_generate_la(*job))
            if progress:
                progress(done, len(jobs), job[0].code)

    register_rows = 0
    with summary.register.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(REGISTER_COLUMNS)
        for r in results:
            w.writerows(r.register_rows)
            register_rows += len(r.register_rows)
    with summary.manifest.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["la", "estab", "urn", "file", "kind", "pupil_records", "encoding", "fault"])
        for r in results:
            w.writerows(r.manifest_rows)
    with summary.injected_log.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["la", "estab", "file", "upn", "kind", "detail"])
        for r in results:
            w.writerows([row[0], row[1], f"{row[0]}/{row[2]}", *row[3:]] for row in r.injected)

    summary.las = len(results)
    summary.register_rows = register_rows
    for r in results:
        summary.schools += r.schools
        summary.pupils += r.pupils
        summary.pupil_records += r.records
        summary.bytes_written += r.bytes_written
        for k, v in r.files.items():
            summary.files[k] = summary.files.get(k, 0) + v
        for k, v in r.errors.items():
            summary.errors[k] = summary.errors.get(k, 0) + v
    summary.files = dict(sorted(summary.files.items()))
    summary.errors = dict(sorted(summary.errors.items()))
    for p in (summary.register, summary.manifest, summary.injected_log):
        summary.bytes_written += p.stat().st_size
    summary.seconds = time.perf_counter() - started
    return summary


def default_workers() -> int:
    """A sensible process count for a national run."""
    return max(1, min(8, os.cpu_count() or 1))
