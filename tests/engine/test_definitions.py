"""Collection definitions: a definition that extends another (docs/definitions.md), the shipped
KS1, phonics and EYFS profile definitions, and what each says against the spec."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from lxml import etree

from keystage import reference
from keystage.engine import collections as collection_packages
from keystage.engine import definition, provisional
from keystage.engine.definition import DefinitionError, load, load_path, read_merged
from keystage.engine.readers import open_school_file
from keystage.engine.rules import context_for
from keystage.reference import published_ks1, published_phonics

SHIPPED = definition.definitions_dir()


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _leaves(table: dict, at: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    """Every value of a definition's data by its key path; a list is one value."""
    out: dict[tuple[str, ...], object] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_leaves(value, (*at, key)))
        else:
            out[(*at, key)] = value
    return out


def _stated(path: Path) -> set[tuple[str, ...]]:
    """The key paths a definition file gives itself or removes (not what it inherits)."""
    import tomllib

    own = tomllib.loads(path.read_text(encoding="utf-8"))
    removed = {tuple(definition._key_path(r, path)) for r in own.pop("remove", [])}
    own.pop("extends", None)
    return set(_leaves(own)) | removed


# -- extends: the merge -----------------------------------------------------------------------

BASE = """
[collection]
id = "base"
name = "Base"
[dates]
opens = "2023-06-12"
national_deadline = "2023-07-21"
[rules]
"R-01" = { severity = "error", limit = 3 }
"R-02" = { severity = "query" }
[[subjects]]
key = "reading"
[[subjects]]
key = "writing"
[codes]
legacy = ["BLW", "D"]
[return]
root = "KS1"
"""


def test_a_child_states_only_what_changed_tables_merge_and_lists_are_replaced(tmp_path):
    _write(tmp_path, "base", BASE)
    child = _write(
        tmp_path,
        "child",
        """
extends = "base"
[collection]
id = "child"
[dates]
opens = "2024-06-10"
[rules]
"R-01" = { limit = 5 }
"R-03" = { severity = "query" }
[[subjects]]
key = "maths"
[codes]
legacy = ["BLW"]
""",
    )
    raw, chain = read_merged(child)
    assert chain == ("base",)
    assert "extends" not in raw and "remove" not in raw
    assert raw["collection"] == {"id": "child", "name": "Base"}
    assert raw["dates"] == {"opens": "2024-06-10", "national_deadline": "2023-07-21"}
    # A table merges key by key, all the way down: R-01 keeps its severity, takes the new limit.
    assert raw["rules"] == {
        "R-01": {"severity": "error", "limit": 5},
        "R-02": {"severity": "query"},
        "R-03": {"severity": "query"},
    }
    # Lists, lists of tables included, are replaced whole.
    assert raw["subjects"] == [{"key": "maths"}]
    assert raw["codes"]["legacy"] == ["BLW"]
    assert raw["return"] == {"root": "KS1"}


def test_remove_takes_inherited_keys_out_and_a_removed_table_can_be_given_anew(tmp_path):
    _write(tmp_path, "base", BASE)
    child = _write(
        tmp_path,
        "child",
        """
extends = "base"
remove = ["dates.national_deadline", 'rules."R-02"', "rules", "codes"]
[collection]
id = "child"
[rules]
"R-09" = { severity = "error" }
""",
    )
    raw, _ = read_merged(child)
    assert raw["dates"] == {"opens": "2023-06-12"}
    assert raw["rules"] == {"R-09": {"severity": "error"}}  # not merged with the base's
    assert "codes" not in raw


def test_a_chain_of_extends_merges_oldest_first(tmp_path):
    _write(tmp_path, "base", BASE)
    _write(tmp_path, "middle", 'extends = "base"\n[collection]\nid = "middle"\nname = "M"\n')
    last = _write(
        tmp_path,
        "last",
        'extends = "middle"\nremove = ["dates.opens"]\n[collection]\nid = "last"\n',
    )
    raw, chain = read_merged(last)
    assert chain == ("middle", "base")
    assert raw["collection"] == {"id": "last", "name": "M"}
    assert raw["dates"] == {"national_deadline": "2023-07-21"}


def test_a_loaded_child_has_the_shape_of_a_definition_without_extends(tmp_path):
    """Every caller works unchanged: a child of ks1-2023 that changes nothing but its id loads
    to a Definition equal to ks1-2023's in every field but those that name it."""
    parent_text = (SHIPPED / "ks1-2023.toml").read_text(encoding="utf-8")
    (tmp_path / "ks1-2023.toml").write_text(parent_text, encoding="utf-8")
    child = _write(tmp_path, "ks1-copy", 'extends = "ks1-2023"\n[collection]\nid = "ks1-copy"\n')
    parent, copy = load("ks1-2023"), load_path(child)
    for f in dataclasses.fields(definition.Definition):
        if f.name in ("id", "source", "extends", "raw"):  # raw: compared below
            continue
        mine, theirs = getattr(copy, f.name), getattr(parent, f.name)
        assert mine == theirs, f.name
        assert type(mine) is type(theirs), f.name
    assert copy.raw == {**parent.raw, "collection": {**parent.raw["collection"], "id": "ks1-copy"}}
    assert (copy.id, copy.extends, parent.extends) == ("ks1-copy", ("ks1-2023",), ())


# -- extends: what is refused ---------------------------------------------------------------


def test_a_cycle_is_refused_naming_its_files(tmp_path):
    a = _write(tmp_path, "a", 'extends = "b"\n[collection]\nid = "a"\n')
    _write(tmp_path, "b", 'extends = "a"\n[collection]\nid = "b"\n')
    with pytest.raises(DefinitionError) as e:
        load_path(a)
    message = str(e.value)
    assert str(tmp_path / "b.toml") in message
    assert "a extends b extends a" in message and "must extend none" in message


def test_a_definition_extending_itself_is_refused(tmp_path):
    path = _write(tmp_path, "a", 'extends = "a"\n[collection]\nid = "other"\n')
    with pytest.raises(DefinitionError, match=r"a\.toml: extends 'a', which leads back to itself"):
        load_path(path)


def test_an_unknown_parent_is_refused_naming_the_file_and_the_definitions_there(tmp_path):
    _write(tmp_path, "base", BASE)
    path = _write(tmp_path, "child", 'extends = "ks1-2022"\n[collection]\nid = "child"\n')
    with pytest.raises(DefinitionError) as e:
        load_path(path)
    assert str(e.value) == (
        f"{path}: extends 'ks1-2022', but there is no ks1-2022.toml beside it "
        "(definitions there: base); name one of them or drop `extends`"
    )


@pytest.mark.parametrize(
    "text, words",
    [
        ('extends = "base"\n[collection]\nname = "x"\n', "must give its own [collection] id"),
        ('extends = "base"\nremove = ["dates.closes"]\n[collection]\nid = "c"\n',
         "`remove` names 'dates.closes', but 'base' has no dates.closes"),
        ('extends = "base"\nremove = ["dates..x"]\n[collection]\nid = "c"\n',
         "`remove` entry 'dates..x' is not a key"),
        ('extends = "base"\nremove = "dates"\n[collection]\nid = "c"\n',
         "`remove` is a list of keys"),
        ('remove = ["dates"]\n[collection]\nid = "c"\n', "it extends none"),
        ('extends = 2023\n[collection]\nid = "c"\n', "`extends` is the id of another definition"),
        ('extends = "../base"\n[collection]\nid = "c"\n', "the id of another definition beside it"),
        ('extends = "base"\nsubjects = { key = "x" }\n[collection]\nid = "c"\n',
         "subjects is a list in the definition it extends but a table here"),
        ('extends = "base"\n[collection\nid = "c"\n', "not valid TOML"),
    ],
    ids=["no id", "remove unknown", "remove not a key", "remove not a list",
         "remove without extends", "extends not a name", "extends a path", "table for a list", "bad TOML"],
)  # fmt: skip
def test_a_child_that_cannot_be_merged_is_refused_saying_why(tmp_path, text, words):
    _write(tmp_path, "base", BASE)
    path = _write(tmp_path, "child", text)
    with pytest.raises(DefinitionError) as e:
        read_merged(path)
    assert str(e.value).startswith(f"{path}: ")
    assert words in str(e.value)


def test_a_shipped_definition_must_carry_its_files_name_as_id(tmp_path, monkeypatch):
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "ks1-2023.toml").write_text(
        (SHIPPED / "ks1-2023.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    _write(folder, "ks1-2024", 'extends = "ks1-2023"\n[collection]\nid = "ks1-2042"\n')
    monkeypatch.setattr(definition, "definitions_dir", lambda: folder)
    definition.load.cache_clear()
    try:
        with pytest.raises(DefinitionError, match="id is 'ks1-2042'; it must be the file's name"):
            definition.load("ks1-2024")
    finally:
        definition.load.cache_clear()


# -- every shipped definition -------------------------------------------------------------


@pytest.mark.parametrize("collection_id", definition.available())
def test_every_shipped_definition_loads_and_holds_together(collection_id):
    d = load(collection_id)
    assert d.id == collection_id and d.kind and d.name
    assert d.retention.closes == d.dates["closes"]
    subject_keys = set(d.subject_keys)
    for m in d.ctf_mappings:
        assert m.maps_to in subject_keys and (not m.codes_to or m.codes_to in subject_keys)
    for rule_id, settings in d.rules.items():
        assert settings.get("severity", "error") in ("error", "query"), rule_id
    assert set(d.nc_years) == set(d.dob_usual_by_nc_year) and d.nc_year in d.nc_years
    for lo, hi in d.dob_usual_by_nc_year.values():
        assert d.dob_usual_from <= lo < hi <= d.dob_usual_to
    assert d.dob_plausible_from < d.dob_usual_from and d.dob_usual_to < d.dob_plausible_to
    assert re.compile(d.files["csv_file_name"]).groupindex.keys() >= {"id", "yy"}
    assert re.compile(d.files["ctf_file_name"]).groupindex.keys() >= {"la", "estab"}
    xsd = Path(d.source).parent / d.return_layout["xsd"]
    etree.XMLSchema(etree.parse(str(xsd)))  # a schema lxml accepts
    root = etree.parse(str(xsd)).find("{http://www.w3.org/2001/XMLSchema}element")
    assert root.get("name") == d.return_layout["root"]


def test_the_years_of_a_collection_follow_each_other():
    for earlier, later in [("ks1-2023", "ks1-2024"), ("ks1-2024", "ks1-2025"),
                           ("phonics-2023", "phonics-2024"), ("phonics-2024", "phonics-2025"),
                           ("eyfsp-2023", "eyfsp-2024"), ("eyfsp-2024", "eyfsp-2025")]:  # fmt: skip
        a, b = load(earlier), load(later)
        assert b.previous == a.id and b.year == a.year + 1 and b.kind == a.kind
        assert b.ctf_academic_year == a.ctf_academic_year + 1
        assert b.dates["opens"].year == b.year and b.dates["opens"].month == 6
        assert b.dob_usual_from == a.dob_usual_from.replace(year=a.dob_usual_from.year + 1)
        for nc_year, (lo, hi) in a.dob_usual_by_nc_year.items():
            assert b.dob_usual_by_nc_year[nc_year] == (
                lo.replace(year=lo.year + 1),
                hi.replace(year=hi.year + 1),
            )


# -- KS1 2024 and 2025 -------------------------------------------------------------------


@pytest.mark.parametrize("later, earlier", [("ks1-2024", "ks1-2023"), ("ks1-2025", "ks1-2024")])
def test_a_later_ks1_year_differs_from_the_one_before_only_where_its_file_says(later, earlier):
    a, b = _leaves(load(earlier).raw), _leaves(load(later).raw)
    differing = {k for k in a.keys() | b.keys() if a.get(k, "absent") != b.get(k, "absent")}
    assert differing <= _stated(SHIPPED / f"{later}.toml")
    # What is not stated is the earlier year's: codes, mapping, rules, return layout, measures.
    for section in ("subjects", "codes", "ctf_mapping", "rules", "return", "measures", "upn"):
        assert load(later).raw[section] == load(earlier).raw[section], section


@pytest.mark.parametrize("collection_id, ctf_version", [("ks1-2024", "23.0"), ("ks1-2025", "24.0")])
def test_ks1_after_2023_is_optional_with_no_national_return(collection_id, ctf_version):
    d, before = load(collection_id), load("ks1-2023")
    assert (before.statutory, before.national_return) == (True, True)
    assert (d.statutory, d.national_return) == (False, False)
    assert "national_deadline" not in d.dates and "publication" not in d.dates
    assert d.dates["school_deadline"] > d.dates["opens"]
    assert d.dates["opens"].weekday() == before.dates["opens"].weekday()  # a Monday
    assert (d.ctf_version, d.ctf_sex_element) == (ctf_version, "Sex")
    assert d.extends[-1] == "ks1-2023"
    assert d.retention.pupil_data_years == before.retention.pupil_data_years


def test_a_ks1_2024_school_file_is_read_for_2024_and_its_2023_rows_set_aside():
    d = load("ks1-2024")
    rows = "".join(
        f"<StageAssessment><Locale>ENG</Locale><Year>{year}</Year><Subject>{subject}</Subject>"
        f"<Method>TA</Method><Component>{component}</Component><Result>{code}</Result>"
        "</StageAssessment>"
        for year, subject, component, code in [
            ("2024", "ENG", "READ", "EXS"), ("2024", "MAT", "MAT", "GDS"),
            ("2023", "SCI", "SCI", "EXS"),
        ]
    )  # fmt: skip
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><CTfile><Header>'
        "<DocumentName>Common Transfer File</DocumentName><CTFversion>23.0</CTFversion>"
        "<DateTime>2024-06-20T14:05:31</DateTime><SourceSchool><LEA>938</LEA><Estab>2001</Estab>"
        "<AcademicYear>2023</AcademicYear></SourceSchool></Header><CTFpupilData><Pupil>"
        "<UPN>A938200123001</UPN><Surname>SMITH</Surname><Forename>AVA</Forename>"
        "<DOB>2017-01-14</DOB><Sex>F</Sex><StageAssessments><KeyStage><Stage>KS1</Stage>"
        f"{rows}</KeyStage></StageAssessments></Pupil></CTFpupilData></CTfile>"
    ).encode()
    with open_school_file(io.BytesIO(content), d, name="9382001_CTF_938LLLL_001.xml") as r:
        (p,) = list(r.pupils())
        assert r.header.ctf_version == d.ctf_version
    assert p.outcomes == {"reading": "EXS", "maths": "GDS"}
    assert p.wrong_parameters == {"science": "Year 2023"}
    assert context_for(d).severity  # the KS1 rules run on it as on 2023


# -- phonics ---------------------------------------------------------------------------------

PHONICS = ("phonics-2023", "phonics-2024", "phonics-2025")


@pytest.mark.parametrize("collection_id", PHONICS)
def test_phonics_carries_the_specs_marks_codes_and_threshold(collection_id):
    d = load(collection_id)
    assert (d.kind, d.statutory, d.national_return) == ("phonics", True, True)
    assert d.subject("mark").marks == (0, 40)  # §1: 40 words
    assert {c.upper() for c in d.subject("psc_code").valid} == {"A", "D", "L", "Q", "WA", "WT"}
    assert d.raw["threshold"]["mark"] == 32  # §1: every year 2012-2025
    published = dt.date.fromisoformat(d.raw["threshold"]["published"])
    assert published.year == d.year and published.month == 6
    assert d.dates["check_week_ends"] < published < d.dates["national_deadline"]
    assert d.nc_years == ("1", "2") and d.nc_year == "1"
    assert set(d.codes["instead_of_mark"]) == {"A", "D", "L", "Q"}  # PSC-R03
    assert d.raw["measures"]["not_eligible"] == ["L"]  # §5: pupils who left are not counted
    assert d.raw["measures"]["column"].format(group="y1", bucket="eligible_pupils") == (
        "t_phonics_y1_eligible_pupils"
    )


def test_phonics_2023_dates_and_cohort_are_the_specs():
    d = load("phonics-2023")
    assert (d.dates["check_week_starts"], d.dates["check_week_ends"]) == (
        dt.date(2023, 6, 12),
        dt.date(2023, 6, 16),
    )
    assert d.raw["threshold"]["published"] == "2023-06-26"
    assert d.dates["national_deadline"] == dt.date(2023, 7, 21)
    # §4 PSC-R10: Year 1 born 1 Sep 2016 - 31 Aug 2017, Year 2 born 1 Sep 2015 - 31 Aug 2016.
    assert d.dob_usual_by_nc_year == {
        "1": (dt.date(2016, 9, 1), dt.date(2017, 8, 31)),
        "2": (dt.date(2015, 9, 1), dt.date(2016, 8, 31)),
    }
    assert d.retention.pupil_data_years == load("ks1-2023").retention.pupil_data_years
    # Up to 2023 the Year 2 cohort of "by the end of Year 2" is the KS1 pupils (§5); from 2024
    # the pupils with phonics results.
    assert d.raw["measures"]["by_end_y2"] == {
        "year2_cohort": "collection",
        "year2_cohort_collection": "ks1-2023",
    }
    assert load("phonics-2024").raw["measures"]["by_end_y2"] == {"year2_cohort": "results"}


def test_phonics_rules_have_the_specs_severities():
    d = load("phonics-2023")
    # R01-R06, R08, R09 and R11 are the check's own; the spec's R07 (NC year) and R10 (date of
    # birth for the NC year) are the shared rules P15 and P11 reading the check's cohort, P15 an
    # error as R07.
    # E05 (a school whose ages miss the cohort) reads Year 1's ages here.
    own = {*(f"PSC-R{n:02d}" for n in (*range(1, 7), 8, 9, 11))}
    assert set(d.rules) == {*own, "PSC-P15", "PSC-E05"}
    assert (d.rules["PSC-E05"]["year2_start_age"], d.rules["PSC-E05"]["year2_end_age"]) == (5, 6)
    queries = {"PSC-R05", "PSC-R06", "PSC-R08", "PSC-R09", "PSC-R11", "PSC-E05"}
    for rule_id, settings in d.rules.items():
        assert settings["severity"] == ("query" if rule_id in queries else "error"), rule_id


@pytest.mark.parametrize(
    "subject, component, item",
    [("PHO", "PHO", "mark"), ("PSC", "MARK", "mark"), ("PHON", "", "mark"), ("pho", "psc", "mark"),
     ("PHO", "READ", None), ("ENG", "PHO", None)],
)  # fmt: skip
def test_phonics_ctf_rows_map_by_every_variant_of_the_spec(subject, component, item):
    d = load("phonics-2023")
    assert d.map_ctf_assessment(subject, component) == item
    assert d.ctf_mappings[0].codes_to == "psc_code"  # an outcome code in place of a mark
    assert d.ctf_stages == {"KS1", "PSC", "PHO"} and d.ctf_methods == {"TT", "TA"}
    # A KS1 definition maps none of these rows to a subject.
    assert load("ks1-2023").map_ctf_assessment(subject, component) is None


def test_phonics_files_are_found_by_their_names_and_columns():
    d = load("phonics-2023")
    csv_name = re.compile(d.files["csv_file_name"])
    assert csv_name.match("PHONICS_2001_23.csv")["id"] == "2001"
    assert not csv_name.match("KS1_2001_23.csv")
    ctf_name = re.compile(d.files["ctf_file_name"])
    for name in ("9382001_CTF_938LLLL_001.xml", "9382001_PHO_938LLLL_002.xml",
                 "9382001_FTF_938DfE_003.xml"):  # fmt: skip
        assert ctf_name.match(name)["estab"] == "2001", name
    headers = d.csv_header_map()
    for header, field in [("LA", "la"), ("Estab", "estab"), ("UPN", "upn"), ("DOB", "dob"),
                          ("Sex", "sex"), ("Gender", "sex"), ("NCyear", "nc_year"),
                          ("Mark", "mark"), ("Outcome", "psc_code")]:  # fmt: skip
        assert headers[definition._fold(header)] == field, header


def test_phonics_2024_and_2025_extend_the_year_before():
    assert load("phonics-2024").extends == ("phonics-2023",)
    assert load("phonics-2025").extends == ("phonics-2024", "phonics-2023")
    assert load("phonics-2025").ctf_version == "24.0"
    for collection_id in PHONICS[1:]:
        d, first = load(collection_id), load("phonics-2023")
        for section in ("subjects", "codes", "ctf_mapping", "rules", "return", "files"):
            assert d.raw[section] == first.raw[section], section


# -- the EYFS profile -------------------------------------------------------------------------

EYFSP = ("eyfsp-2023", "eyfsp-2024", "eyfsp-2025")
# Spec eyfsp.md §2: each goal's number, area and NPD name.
GOAL_AREAS = ("COM", "COM", "PSE", "PSE", "PSE", "PHY", "PHY", "LIT", "LIT", "LIT", "MAT", "MAT",
              "UTW", "UTW", "UTW", "EXP", "EXP")  # fmt: skip


@pytest.mark.parametrize("collection_id", EYFSP)
def test_the_profile_carries_the_specs_17_goals_areas_and_judgements(collection_id):
    d = load(collection_id)
    assert (d.kind, d.collection, d.statutory, d.national_return) == ("eyfsp", "EYFSP", True, True)
    assert len(d.subjects) == 17 and d.nc_years == ("R",)
    for n, (s, area) in enumerate(zip(d.subjects, GOAL_AREAS, strict=True), 1):
        assert (s.key, s.valid, s.met) == (f"elg{n:02d}", ("1", "2", "A"), {"2"})
        assert (s.return_subject, s.return_component) == (area, f"E{n:02d}")
        assert d.csv_header_map()[definition._fold(f"FSP_{area}_E{n:02d}")] == s.key  # NPD name
        assert d.map_ctf_assessment(area, f"E{n:02d}") == s.key
    areas = {a["key"]: (a["code"], a["prime"], a["goals"]) for a in d.raw["areas"]}
    assert [k for k, (_, prime, _) in areas.items() if prime] == ["comm", "pse", "phy"]
    assert [g for k in d.raw["measures"]["gld_areas"] for g in areas[k][2]] == [
        f"elg{n:02d}" for n in range(1, 13)
    ]  # GLD: ELG 01-12 (§4)
    assert d.codes["not_assessed"] == {"A"} and d.codes["expected"] == {"2"}


def test_the_profiles_dates_and_cohort_are_the_specs():
    d23, d24 = load("eyfsp-2023"), load("eyfsp-2024")
    # §1 CONFIRMED for 2024: opened 3 June, deadline 12 July, corrections until 31 July.
    assert (d24.dates["opens"], d24.dates["national_deadline"], d24.dates["corrections_close"]) == (
        dt.date(2024, 6, 3), dt.date(2024, 7, 12), dt.date(2024, 7, 31),
    )  # fmt: skip
    # §3: the 2023 reception cohort was born 1 Sep 2017 - 31 Aug 2018.
    assert (d23.dob_usual_from, d23.dob_usual_to) == (dt.date(2017, 9, 1), dt.date(2018, 8, 31))
    for d in map(load, EYFSP):
        assert d.dates["opens"] < d.dates["school_deadline"] < d.dates["national_deadline"]
        assert d.dates["national_deadline"] < d.dates["corrections_close"] <= d.dates["closes"]
        assert d.dates["opens"].weekday() == 0  # a Monday


def test_the_profiles_rules_and_settings():
    d = load("eyfsp-2023")
    queries = {"EYF-R04", "EYF-P11", "EYF-P15", "EYF-E04", "EYF-E05"}
    assert {*(f"EYF-R0{n}" for n in range(1, 5)), *queries} == set(d.rules)
    for rule_id, settings in d.rules.items():
        assert settings["severity"] == ("query" if rule_id in queries else "error"), rule_id
    assert (d.rules["EYF-E05"]["year2_start_age"], d.rules["EYF-E05"]["year2_end_age"]) == (4, 5)
    pattern = re.compile(d.establishments["setting_urn"])  # §1: 6 digits starting 5, 6 or 7
    assert [bool(pattern.fullmatch(u)) for u in ("512345", "612345", "712345", "412345",
                                                 "51234", "5123456")] == [True] * 3 + [False] * 3  # fmt: skip
    # Other collections take no settings.
    assert "setting_urn" not in load("ks1-2023").establishments


def test_the_profiles_files_are_found_by_their_names():
    d = load("eyfsp-2023")
    csv_name = re.compile(d.files["csv_file_name"])
    assert csv_name.match("EYFSP_2001_23.csv")["id"] == "2001"
    assert csv_name.match("EYFSP_512345_23.csv")["id"] == "512345"  # a setting's URN
    assert not csv_name.match("KS1_2001_23.csv")
    ctf_name = re.compile(d.files["ctf_file_name"])
    for name in ("9382001_CTF_938LLLL_001.xml", "9382001_FSP_938LLLL_002.xml"):
        assert ctf_name.match(name)["estab"] == "2001", name
    assert ctf_name.match("938_512345_FSP_938LLLL_001.xml")["urn"] == "512345"


@pytest.mark.parametrize(
    "later, earlier", [("eyfsp-2024", "eyfsp-2023"), ("eyfsp-2025", "eyfsp-2024")]
)
def test_a_later_profile_year_differs_from_the_one_before_only_where_its_file_says(later, earlier):
    a, b = _leaves(load(earlier).raw), _leaves(load(later).raw)
    differing = {k for k in a.keys() | b.keys() if a.get(k, "absent") != b.get(k, "absent")}
    assert differing <= _stated(SHIPPED / f"{later}.toml")
    for section in ("subjects", "areas", "codes", "ctf_mapping", "rules", "return", "measures"):
        assert load(later).raw[section] == load(earlier).raw[section], section


# -- provisional national figures: where last year's LA figures come from ---------------------


@pytest.mark.parametrize("collection_id", definition.available())
def test_every_definition_names_last_years_published_la_figures_for_its_provisional_figures(
    collection_id,
):
    """The auxiliary series of the provisional estimate (docs/measures.md): the latest year
    before this one the series has LA figures for (so a later year cannot silently inherit an
    older year's), and the same columns the collection's reports compare with DfE's."""
    d = load(collection_id)
    found = provisional.settings(d)
    assert found is not None and 0 < found.loaded_share <= 1
    own = collection_packages.module_of(d, "reports")
    all_pupils = {(row, m): c for (group, row, m), c in found.columns.items() if group == "all"}
    assert all_pupils == own.PUBLISHED_COLUMNS
    years = {
        int(r["year"])
        for r in reference.published_series(found.series)
        if r["level"] == "la" and all(r[c] for c in found.columns.values())
    }
    assert found.year == max(y for y in years if y < d.year)
    for (group, row, m), column in found.columns.items():
        assert group == "all" or re.fullmatch(r"[a-z]+:[A-Z]+", group), group
        figures = provisional.last_year(d, row, m, group)
        assert len(figures) >= 140, (group, row, m)  # about every LA of England
        assert all(0 <= v <= 100 for v in figures.values())
        assert figures == reference.la_percentages(found.series, found.year, column)


def test_last_years_figures_come_from_the_year_and_column_the_definition_names():
    d = load("ks1-2023")
    # KS1 2022 -> 2023. Hartlepool (805) published 2022 reading EXS+ as given in the series.
    row = next(r for r in published_ks1() if (r["year"], r["code"]) == ("2022", "805"))
    assert provisional.last_year(d, "reading", "met")["805"] == float(row["read_exs"])
    assert provisional.last_year(d, "reading", "higher")["805"] == float(row["read_gds"])
    # Cumbria (909) split in 2023: its successors have no 2022 figure, and so fall back.
    assert "909" in provisional.last_year(d, "reading", "met")
    assert not {"942", "943"} & provisional.last_year(d, "reading", "met").keys()
    # DfE publishes no combined KS1 measure and no science greater depth: nothing to read.
    assert provisional.last_year(d, "combined", "met") == {}
    assert provisional.last_year(d, "science", "higher") == {}
    # Phonics 2024 reads 2023's Year 1 figures, and per pupil group.
    p = load("phonics-2024")
    row = next(r for r in published_phonics() if (r["year"], r["code"]) == ("2023", "805"))
    assert provisional.last_year(p, "y1", "met")["805"] == float(row["y1_met"])
    assert provisional.last_year(p, "y1", "met", "fsm:Y")["805"] == float(row["y1_met_fsm"])
    assert provisional.last_year(p, "y1", "met", "sex:F") == {}


@pytest.mark.parametrize(
    "table, words",
    [
        ({"loaded_share": 1.5}, "loaded_share is the share of an LA's expected pupils"),
        ({"loaded_share": 0}, "a number above 0 and at most 1"),
        ({"series": "ks2_published"}, "series 'ks2_published' is not a published series"),
        ({"year": 2023}, "a year before 2023, e.g. 2022"),
        ({"columns": {"reading": {"met": "reading_exs"}}},
         "columns.reading.met = 'reading_exs' is not a column of the series ks1_published"),
        ({"columns": {"reading": {"exs": "read_exs"}}}, "a measure is one of met, higher"),
        ({"columns": {"spelling": {"met": "read_exs"}}},
         "'spelling' is not a row of the collection's reports"),
        ({"columns": {"reading": "read_exs"}}, "columns.reading is a table of measures"),
        ({"group_columns": {"fsm:Y": {"maths": {"met": "fsm"}}}},
         'group_columns."fsm:Y".maths.met = \'fsm\' is not a column'),
    ],
    ids=["share above 1", "share 0", "unknown series", "this year", "unknown column",
         "unknown measure", "unknown row", "row not a table", "group column"],
)  # fmt: skip
def test_a_provisional_table_that_cannot_be_used_is_refused_saying_what_to_fix(table, words):
    raw = {**load("ks1-2023").raw}
    raw["provisional"] = {**raw["provisional"], **table}
    d = definition.parse_definition(raw, source="ks1-test.toml")
    with pytest.raises(provisional.ProvisionalSettingsError) as e:
        provisional.settings(d)
    assert str(e.value).startswith("ks1-test.toml: [provisional] ")
    assert words in str(e.value)


def test_a_definition_without_a_provisional_table_reads_no_last_year():
    raw = {k: v for k, v in load("ks1-2023").raw.items() if k != "provisional"}
    d = definition.parse_definition(raw, source="ks1-test.toml")
    assert provisional.settings(d) is None
    assert provisional.last_year(d, "reading", "met") == {}
