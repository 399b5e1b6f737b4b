"""Synthetic pupils any collection can use: names from the communities of England's LAs (in the
encodings schools' files are written in), ethnicity, first language, free school meals, dates of
birth and UPNs. What a pupil achieved is the collection's own (`engine/collections/<name>/`)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keystage.engine.synthetic.draws import weighted

if TYPE_CHECKING:
    from keystage.engine.synthetic.schools import School

# LAs where many families have South Asian heritage.
SOUTH_ASIAN = frozenset(
    "330 380 856 821 871 889 352 333 353 382 350 336 331 892 831 354 874 870 335 316 211"
    .split()
)  # fmt: skip
FSM_BY_REGION = {
    "North East": 0.33, "North West": 0.30, "Yorkshire and The Humber": 0.28,
    "East Midlands": 0.24, "West Midlands": 0.29, "East of England": 0.21, "London": 0.27,
    "South East": 0.19, "South West": 0.21,
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Names. An underscore stands for a space inside one name.


def names(text: str) -> tuple[str, ...]:
    return tuple(n.replace("_", " ") for n in text.split())


POOLS: dict[str, dict[str, tuple[str, ...]]] = {
    "english": {
        "M": names(
            "Oliver George Harry Noah Jack Leo Arthur Oscar Charlie Jacob Thomas Henry William "
            "Freddie Alfie Theo Archie Joshua James Isaac Teddy Logan Alexander Max Edward Lucas "
            "Finley Joseph Ethan Mason Samuel Reggie Daniel Harrison Jude Toby Arlo Albie Riley "
            "Sebastian Rory Louie Tommy Frankie Elliot Dylan Jaxon Ronnie Benjamin Hugo Jenson "
            "Finn Callum Lewis Kai Ryan Owen Ollie Stanley Harvey Bobby Liam Connor Jayden Tyler "
            "Alfie-James Tommy-Lee Billy Jamie Kian Nathan Matthew Luke Carter Blake Bailey Zachary"
        ),
        "F": names(
            "Olivia Amelia Isla Ava Mia Ivy Lily Isabella Rosie Sophia Grace Willow Freya "
            "Florence Emily Ella Poppy Evie Elsie Charlotte Evelyn Sienna Daisy Phoebe Sophie "
            "Harper Millie Ruby Matilda Alice Isabelle Esme Bonnie Scarlett Lucy Chloe Erin Eva "
            "Jessica Holly Maisie Emma Lola Imogen Hannah Ellie Megan Molly Zara Zoë Chloë Renée "
            "Lily-Mae Lacey-Mae Mary-Jane Darcie Orla Thea Harriet Eliza Mila Aria Robyn Katie "
            "Amber Leah Summer Paige Abigail Georgia Niamh"
        ),
        "S": names(
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
        "M": names("Seán Oisín Cian Darragh Eoin Patrick Conor Ronan Cillian Tadhg Fionn"),
        "F": names("Niamh Aoife Saoirse Siobhán Ciara Róisín Caoimhe Orla Aisling Clodagh"),
        "S": names(
            "Murphy O'Sullivan Walsh O'Brien Byrne Ryan O'Connor O'Neill McCarthy Kavanagh "
            "Doherty Gallagher Kelly Quinn Lynch Brennan Ó_Súilleabháin Mac_Giolla Nic_Aodha"
        ),
    },
    "white_other": {
        "M": names(
            "Jakub Szymon Filip Kacper Antoni Mateusz Łukasz Wiktor Andrei Luca Matei Ionuț "
            "Tomás João Mateo Marco Nikola Dominik Oskar Emil Ştefan Jonas Lukas Rafael Gonçalo"
        ),
        "F": names(
            "Zofia Julia Maja Hanna Lena Alicja Zuzanna Ioana Maria Sofia Ana Elena Gabriela "
            "Natalia Małgorzata Anaïs Inês Beatriz Léa Amélie Daria Emilia Wiktoria Agnieszka"
        ),
        "S": names(
            "Nowak Kowalski Kowalska Wiśniewski Wójcik Kamiński Lewandowski Zieliński Woźniak "
            "Dąbrowski Popescu Ionescu Popa Rusu Dumitru Constantin Silva Santos Ferreira Pereira "
            "Gonçalves Rodrigues Núñez García Fernández Rossi Russo Bianchi Horváth Novák Dvořák "
            "Müller Schäfer Kovačević Petrović Jankauskas Kazlauskas Bērziņš Ozols Kowalczyk "
            "Nagy Szabó Tóth Ivanov Petrov Ferrari Esposito"
        ),
    },
    "south_asian": {
        "M": names(
            "Muhammad Mohammed Ibrahim Yusuf Ayaan Zain Arjun Aarav Rayyan Hamza Ali Musa Zayn "
            "Eesa Aryan Vihaan Krish Rohan Harjot Gurveer Abdullah Omar Ahmed Idris Zakariya "
            "Haris Adam Ishaan Dev Sahil"
        ),
        "F": names(
            "Aisha Maryam Fatima Zainab Hafsa Inaya Anaya Aaliyah Amira Sara Priya Anika Diya "
            "Simran Jasleen Hana Khadija Safa Myra Aleena Ayesha Zoya Sana Riya Navya Manahil"
        ),
        "S": names(
            "Khan Ahmed Ali Hussain Patel Begum Singh Kaur Shah Akhtar Mahmood Iqbal Rahman Uddin "
            "Islam Chowdhury Miah Mistry Sharma Kumar Gill Sandhu Bains Parmar Rana Malik Qureshi "
            "Bibi Chaudhry Javed Rashid Sidhu Dhillon Joshi Nair Pillai Desai Mehta Ali-Khan"
        ),
    },
    "black": {
        "M": names(
            "Daniel Samuel David Joshua Emmanuel Elijah Jayden Tobi Kofi Kwame Ayo Tunde Chidi "
            "Obinna Malachi Isaiah Nathaniel Tyrese Abdi Mohamed Ezekiel Jeremiah Josiah Micah"
        ),
        "F": names(
            "Precious Favour Blessing Amara Zara Adaeze Chioma Tiana Nia Imani Ayomide Esther "
            "Grace Naomi Deborah Hodan Ifrah Abigail Janelle Kemi Nala Adanna"
        ),
        "S": names(
            "Okafor Adeyemi Mensah Owusu Boateng Okonkwo Adebayo Ogunleye Asante Osei Williams "
            "Campbell Brown Thomas Johnson Francis Clarke Grant Mohamed Abdi Hassan Nwosu Eze "
            "Bakare Kamara Sesay Afolabi Balogun Akinola Danso Appiah Agyeman Oduya Mensah-Bonsu"
        ),
    },
    "chinese": {
        "M": names("Ethan Lucas Ryan Jayden Hao Jun Wei Yuxuan Zihan Aiden Kai Minh"),
        "F": names("Chloe Emily Jasmine Mei Xinyi Yutong Ling Grace Anh Vivian"),
        "S": names(
            "Wang Li Zhang Chen Liu Yang Huang Zhao Wu Zhou Lin Wong Chan Cheung Lau Ng Ho Tang "
            "Nguyen Tran Pham Nguyễn"
        ),
    },
    "other": {
        "M": names("Omar Yusuf Ahmad Mustafa Hassan Karim Emir Mehmet Arda Elias Adam Amir"),
        "F": names("Layla Maryam Noor Sara Yasmin Rania Elif Zeynep Ayşe Hiba Malak Lina"),
        "S": names(
            "Ali Hassan Hussein Ahmadi Mohammadi Karimi Yılmaz Kaya Demir Şahin Çelik Aydın "
            "Öztürk Al-Sayed El-Amin Abdullah Haddad Nasser Rahimi Noori"
        ),
    },
}
POOLS["mixed"] = {k: POOLS["english"][k] + POOLS["black"][k] for k in ("M", "F", "S")}

# Name pool -> ethnicity codes (DfE main codes) with weights.
ETHNICITY = {
    "english": (("WBRI", 1.0),),
    "irish": (("WIRI", 1.0),),
    "white_other": (("WOTH", 0.93), ("WROM", 0.04), ("WIRT", 0.03)),
    "south_asian": (("APKN", 0.45), ("AIND", 0.33), ("ABAN", 0.15), ("AOTH", 0.07)),
    "black": (("BAFR", 0.70), ("BCRB", 0.20), ("BOTH", 0.10)),
    "chinese": (("CHNE", 0.8), ("AOTH", 0.2)),
    "mixed": (("MWBC", 0.35), ("MWBA", 0.15), ("MWAS", 0.20), ("MOTH", 0.30)),
    "other": (("OOTH", 0.75), ("AOTH", 0.25)),
}
EAL_BY_POOL = {
    "english": 0.01, "irish": 0.02, "white_other": 0.75, "south_asian": 0.75, "black": 0.45,
    "chinese": 0.6, "mixed": 0.12, "other": 0.85,
}  # fmt: skip
POOL_MIX = {
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


def encodable(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def _filtered_pools(encoding: str) -> dict[str, dict[str, tuple[str, ...]]]:
    # Upper case too: "Müller".upper() must still fit the file's encoding.
    return {
        pool: {
            k: tuple(n for n in names if encodable(n, encoding) and encodable(n.upper(), encoding))
            for k, names in parts.items()
        }
        for pool, parts in POOLS.items()
    }


POOLS_BY_ENCODING = {
    "utf-8": POOLS,
    "cp1252": _filtered_pools("cp1252"),
    "latin-1": _filtered_pools("latin-1"),
}


@dataclass(slots=True)
class Pupil:
    """One pupil of a school's file. `general` is the pupil's overall attainment (a latent
    score) and `scores` one per item of the collection; `outcomes` is what the file says for
    each item (item key -> result as written)."""

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
    school: School
    outcomes: dict = field(default_factory=dict)
    sen: str = "N"
    nc_year: str = ""  # empty: the definition's main year group
    # As written: set only when a mistake changes what the file says.
    dob_text: str | None = None
    sex_text: str | None = None
    rows: list | None = None  # [(item key, result)] in file order, when not the usual ones
    errors: list = field(default_factory=list)
    omit_surname: bool = False  # a missing surname: no element at all rather than an empty one


# A pupil's attainment, drawn after who they are: (rng, sex, age position from 1 for the
# September-born to 0 for the August-born, eligible for free school meals) -> (general, scores).
Ability = Callable[[random.Random, str, float, bool], tuple[float, list]]


def new_pupil(rng: random.Random, school: School, *, pools: dict, mix_pairs: tuple,
              school_fsm: float, born_from: dt.date, born_days: int, fsm_from: dt.date,
              ability: Ability, upn_for: Callable[[random.Random], str]) -> Pupil:  # fmt: skip
    """One pupil of `school`: sex, names from the LA's mix of communities, a date of birth in
    the `born_days` from `born_from`, free school meals at the school's rate, the collection's
    `ability`, a UPN from `upn_for`, ethnicity and first language."""
    sex = "M" if rng.random() < 0.51 else "F"
    pool = weighted(rng, mix_pairs)
    listed = pools[pool]
    surname = rng.choice(listed["S"])
    if pool == "mixed" and rng.random() < 0.5:
        surname = rng.choice(pools["english"]["S"])
    forename = rng.choice(listed[sex])
    day = rng.randrange(born_days)
    dob = born_from + dt.timedelta(days=day)
    fsm = rng.random() < school_fsm
    general, scores = ability(rng, sex, 1.0 - day / born_days, fsm)
    upn = upn_for(rng)
    fsm_start = (fsm_from + dt.timedelta(days=rng.randrange(4 * 365))) if fsm else None
    return Pupil(
        upn=upn, surname=surname, forename=forename, dob=dob, sex=sex, pool=pool,
        ethnicity=weighted(rng, ETHNICITY[pool]) if rng.random() > 0.02 else "REFU",
        eal=rng.random() < EAL_BY_POOL[pool], fsm=fsm_start, general=general, scores=scores,
        school=school,
    )  # fmt: skip


def pools_for(encoding: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """The name pools a file in `encoding` can hold."""
    return POOLS_BY_ENCODING["utf-8" if encoding.startswith("utf") else encoding]


def mix_of(la_code: str, profile: str) -> tuple[tuple[str, float], ...]:
    """The LA's mix of name pools, by its profile ("london", "rural"...)."""
    mix = POOL_MIX["south_asian" if la_code in SOUTH_ASIAN and profile != "london" else profile]
    return tuple(mix.items())
