"""Synthetic school files: determinism, independence of LAs, well-formed files, exact published
percentages and injected errors. Files are read here with lxml and csv directly, not with the
project's readers, so that the generator is checked on its own."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from keystage.engine import definition, upn
from keystage.engine.collections.ks1 import synthetic
from keystage.engine.register import expected_for, read_register
from keystage.reference import local_authorities

D = definition.load()
CLEAN_LAS = ["202", "857", "420"]  # Camden, Rutland, Isles of Scilly (suppressed)
MEASURES = {
    "read_exs": ("reading", {"EXS", "GDS"}),
    "read_gds": ("reading", {"GDS"}),
    "writ_exs": ("writing", {"EXS", "GDS"}),
    "writ_gds": ("writing", {"GDS"}),
    "mat_exs": ("maths", {"EXS", "GDS"}),
    "mat_gds": ("maths", {"GDS"}),
    "sci_exs": ("science", {"EXS"}),
}


# -- reading the generated files, independently of keystage.engine.readers ----------------------
def _ctf_pupils(path: Path) -> list[dict]:
    tree = etree.parse(str(path))
    pupils = []
    for p in tree.iter("Pupil"):
        codes: dict[str, list[str]] = {}
        for sa in p.iter("StageAssessment"):
            if (sa.getparent().findtext("Stage"), sa.findtext("Method"), sa.findtext("Year")) != (
                D.stage,
                D.method,
                str(D.year),
            ):
                continue
            key = D.map_ctf_assessment(sa.findtext("Subject"), sa.findtext("Component") or "")
            if key:
                codes.setdefault(key, []).append(sa.findtext("Result") or "")
        pupils.append({
            "upn": p.findtext("UPN") or "",
            "surname": p.findtext("Surname"),
            "dob": p.findtext("DOB") or "",
            "sex": p.findtext("Sex") if p.find("Sex") is not None else p.findtext("Gender"),
            "codes": codes,
        })  # fmt: skip
    return pupils


def _csv_pupils(path: Path) -> list[dict]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    rows = list(csv.reader(text.splitlines()))
    fold = D.csv_header_map()
    fields = [fold[definition._fold(h)] for h in rows[0]]
    pupils = []
    for row in rows[1:]:
        r = dict(zip(fields, row, strict=True))
        dob = r["dob"]
        try:
            dob = dt.datetime.strptime(dob, "%d/%m/%Y").date().isoformat()
        except ValueError:
            pass  # ISO already, or an injected bad date: keep it as written
        pupils.append({
            "upn": r["upn"], "surname": r["surname"], "dob": dob, "sex": r["sex"],
            "codes": {k: [r[k]] for k in D.subject_keys if r[k] != ""},
            "la": r["la"], "estab": r["estab"],
        })  # fmt: skip
    return pupils


def _school_files(root: Path, la: str) -> list[Path]:
    return sorted(p for p in (root / la).iterdir() if p.suffix in (".xml", ".csv"))


def _pupils(path: Path) -> list[dict]:
    return _ctf_pupils(path) if path.suffix == ".xml" else _csv_pupils(path)


def _manifest(root: Path) -> list[dict[str, str]]:
    with (root / synthetic.MANIFEST_NAME).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    return root, synthetic.generate(root, las=CLEAN_LAS, error_rate=0.0, seed=7)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    root = tmp_path_factory.mktemp("faulty")
    summary = synthetic.generate(root, las=["202", "857"], error_rate=0.08, seed=3,
                                 csv_share=0.3)  # fmt: skip
    return root, summary


# -- determinism and independence --------------------------------------------------------------
def test_same_seed_gives_identical_bytes(tmp_path, faulty):
    root, summary = faulty
    again = synthetic.generate(tmp_path, las=["202", "857"], error_rate=0.08, seed=3, csv_share=0.3)
    assert _tree_bytes(tmp_path) == _tree_bytes(root)
    assert again.errors == summary.errors and again.files == summary.files


def test_another_seed_gives_other_files(tmp_path):
    synthetic.generate(tmp_path / "a", las=["857"], error_rate=0.0, seed=1)
    synthetic.generate(tmp_path / "b", las=["857"], error_rate=0.0, seed=2)
    assert _tree_bytes(tmp_path / "a") != _tree_bytes(tmp_path / "b")


def test_an_la_does_not_depend_on_the_others(tmp_path, clean):
    root, _ = clean
    synthetic.generate(tmp_path, las=["857"], error_rate=0.0, seed=7)
    alone = {k: v for k, v in _tree_bytes(tmp_path).items() if k.startswith("857/")}
    together = {k: v for k, v in _tree_bytes(root).items() if k.startswith("857/")}
    assert alone and alone == together

    def register_rows(path):
        with path.open(encoding="utf-8-sig") as f:
            return [r for r in csv.DictReader(f) if r["LA (code)"] == "857"]

    assert register_rows(tmp_path / "schools.csv") == register_rows(root / "schools.csv")


def test_parallel_workers_give_the_same_bytes(tmp_path):
    synthetic.generate(tmp_path / "one", las=["857", "420"], error_rate=0.05, seed=5)
    synthetic.generate(tmp_path / "two", las=["857", "420"], error_rate=0.05, seed=5, workers=2)
    assert _tree_bytes(tmp_path / "one") == _tree_bytes(tmp_path / "two")


# -- a clean run ---------------------------------------------------------------------------------
def test_clean_run_has_no_injected_errors(clean):
    root, summary = clean
    assert summary.exact is True
    assert summary.errors == {} and summary.total_errors == 0
    assert set(summary.files) <= {"ctf", "csv"}
    with (root / synthetic.INJECTED_NAME).open(encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 1  # the header only
    assert summary.pupils == summary.pupil_records
    assert summary.las == 3 and summary.schools == sum(summary.files.values())


def test_files_parse_and_hold_the_right_pupils(clean):
    root, summary = clean
    manifest = {row["file"]: row for row in _manifest(root)}
    total = 0
    seen_upns: set[str] = set()
    for la in CLEAN_LAS:
        files = _school_files(root, la)
        assert files
        for path in files:
            row = manifest[f"{la}/{path.name}"]
            pupils = _pupils(path)
            assert len(pupils) == int(row["pupil_records"]) > 0
            estab = row["estab"]
            for p in pupils:
                assert upn.is_valid(p["upn"], D.upn_la_codes), p["upn"]
                assert not upn.is_temporary(p["upn"])
                assert p["upn"][1:8] == f"{la}{estab}"  # issued by this school
                assert p["upn"] not in seen_upns
                seen_upns.add(p["upn"])
                assert p["surname"] and p["sex"] in ("M", "F")
                dob = dt.date.fromisoformat(p["dob"])
                assert D.dob_usual_from <= dob <= D.dob_usual_to
                assert sorted(p["codes"]) == sorted(D.subject_keys)
                for key, codes in p["codes"].items():
                    assert len(codes) == 1
                    assert codes[0].strip().upper() in D.subject(key).valid
            total += len(pupils)
    assert total == summary.pupils


def test_exact_mode_reproduces_published_la_percentages(clean):
    root, _ = clean
    published = synthetic.published_targets()
    for la in ("202", "857"):
        pupils = [p for path in _school_files(root, la) for p in _pupils(path)]
        n = len(pupils)
        for measure, (key, met) in MEASURES.items():
            hits = sum(1 for p in pupils if p["codes"][key][0].strip().upper() in met)
            share = 100 * hits / n
            # Absent pupils count in the denominator; strictly inside the rounding interval so
            # half-up and half-even rounding agree.
            assert abs(share - published[la][measure]) < 0.5, (la, measure, share)


def test_outcomes_are_consistent_across_subjects(clean):
    root, _ = clean
    pupils = [p for la in CLEAN_LAS for path in _school_files(root, la) for p in _pupils(path)]
    codes = [{k: v[0].strip().upper() for k, v in p["codes"].items()} for p in pupils]
    for c in codes:
        rwm = [c["reading"], c["writing"], c["maths"]]
        if "EM" in rwm:
            assert rwm == ["EM"] * 3 and c["science"] == "HNM"
        if any(x.startswith("PK") for x in rwm):
            assert c["science"] == "HNM"
        if "A" in c.values():
            assert set(c.values()) == {"A"}
    counts = Counter(c["reading"] for c in codes)
    assert counts["A"] and counts["EM"] and counts["WTS"] and counts["GDS"]
    assert any(counts[f"PK{i}"] for i in range(1, 5))
    # Subjects are strongly related: most pupils at EXS+ in writing are too in reading.
    writing_met = [c for c in codes if c["writing"] in ("EXS", "GDS")]
    both = sum(1 for c in writing_met if c["reading"] in ("EXS", "GDS"))
    assert both / len(writing_met) > 0.9


def test_register_lists_every_school_that_sent_a_file(clean):
    root, summary = clean
    register = read_register(root / "schools.csv")
    entries = list(register)
    assert register.skipped == [] and register.warnings == []
    assert register.encoding == "utf-8"
    assert (root / "schools.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(entries) == summary.register_rows
    expected = {e.laestab for e in entries if expected_for(e, D)}
    sent = {row["la"] + row["estab"] for row in _manifest(root)}
    assert sent == expected
    phases = Counter(e.phase_name for e in entries if not expected_for(e, D))
    assert phases["Secondary"] and phases["Nursery"]
    assert any(e.status_name == "Closed" for e in entries)
    assert any(e.low_age == 7 for e in entries if e.phase_name == "Primary")  # junior schools


def test_file_names_follow_the_keypas_patterns(clean):
    import re

    root, _ = clean
    ctf = re.compile(D.files["ctf_file_name"])
    csv_name = re.compile(D.files["csv_file_name"])
    for la in CLEAN_LAS:
        for path in _school_files(root, la):
            pattern = ctf if path.suffix == ".xml" else csv_name
            assert pattern.match(path.name), path.name
            if path.suffix == ".xml":
                assert path.name.startswith(la)


def test_small_las(clean):
    root, _ = clean
    [scilly] = _school_files(root, "420")
    assert 5 <= len(_pupils(scilly)) <= 40


def test_csv_headings_are_all_known_to_the_definition():
    fold = D.csv_header_map()
    for names in synthetic.CSV_HEADER_VARIANTS.values():
        for name in names:
            assert definition._fold(name) in fold, name


# -- variety ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    root = tmp_path_factory.mktemp("varied")
    return root, synthetic.generate(root, las=["886"], error_rate=0.0, seed=11, csv_share=0.2)


def test_variety_of_real_files(varied):
    root, summary = varied
    files = _school_files(root, "886")
    assert summary.files["csv"] > 20 and summary.files["ctf"] > 200
    heads = [p.read_bytes()[:200] for p in files if p.suffix == ".xml"]
    assert any(h.startswith(b"\xef\xbb\xbf") for h in heads)
    assert any(b'encoding="ISO-8859-1"' in h for h in heads)
    assert any(b'encoding="windows-1252"' in h for h in heads)
    texts = [p.read_bytes() for p in files if p.suffix == ".xml"]
    assert any(b"<Gender>" in t for t in texts) and any(b"<Sex>" in t for t in texts)
    assert any(b"<Method>TT</Method>" in t for t in texts)
    assert any(b"<Stage>FSP</Stage>" in t for t in texts)
    assert any(b"<Ethnicity>" in t and b"<SENprovision>" in t for t in texts)
    csvs = [p.read_bytes() for p in files if p.suffix == ".csv"]
    cp1252 = [b for b in csvs if not b.startswith(b"\xef\xbb\xbf") and _not_utf8(b)]
    assert cp1252, "some CSVs should be Windows-1252"
    lower = [b for b in csvs if b",exs" in b.lower() and b",exs" in b]
    assert lower, "some CSVs should have lower-case codes"


def test_non_utf8_files_hold_only_what_their_encoding_can(varied):
    root, _ = varied
    accented = 0
    for path in _school_files(root, "886"):
        if path.suffix != ".xml":
            continue
        head = path.read_bytes()[:60]
        if b"UTF-8" in head:
            continue
        tree = etree.parse(str(path))  # lxml decodes by the declared encoding
        for name in tree.iter("Surname", "Forename", "SchoolName"):
            text = name.text or ""
            text.encode("latin-1" if b"ISO-8859-1" in head else "cp1252")
            accented += any(ord(ch) > 127 for ch in text)
    assert accented, "some non-UTF-8 files should carry accented names"


def test_exact_measures_for_a_large_la(varied):
    root, _ = varied
    published = synthetic.published_targets()["886"]
    pupils = [p for path in _school_files(root, "886") for p in _pupils(path)]
    for measure, (key, met) in MEASURES.items():
        share = 100 * sum(p["codes"][key][0].strip().upper() in met for p in pupils) / len(pupils)
        assert abs(share - published[measure]) < 0.5


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


# -- injected errors ----------------------------------------------------------------------------
def test_injected_errors_are_counted_and_logged(faulty):
    root, summary = faulty
    assert summary.exact is False
    with (root / synthetic.INJECTED_NAME).open(encoding="utf-8", newline="") as f:
        log = list(csv.DictReader(f))
    assert Counter(r["kind"] for r in log) == Counter(summary.errors)
    assert set(summary.errors) <= set(synthetic.PUPIL_ERROR_KINDS) | set(synthetic.FILE_FAULT_KINDS)
    pupil_errors = sum(v for k, v in summary.errors.items() if k in synthetic.PUPIL_ERROR_KINDS)
    assert 0.04 * summary.pupils < pupil_errors < 0.12 * summary.pupils
    assert len(set(summary.errors) & set(synthetic.PUPIL_ERROR_KINDS)) >= 12


def test_upns_are_valid_except_wrong_check_letters(faulty):
    root, summary = faulty
    manifest = _manifest(root)
    invalid = 0
    for row in manifest:
        if row["kind"] not in ("ctf", "csv"):
            continue
        for p in _pupils(root / row["file"]):
            if not upn.is_valid(p["upn"], D.upn_la_codes):
                invalid += 1
                assert upn.problems(p["upn"], D.upn_la_codes) == ["1510"]
    assert invalid == summary.errors.get("wrong_check_letter", 0) > 0


def test_error_details_show_in_the_files(faulty):
    root, summary = faulty
    with (root / synthetic.INJECTED_NAME).open(encoding="utf-8", newline="") as f:
        log = [r for r in csv.DictReader(f) if r["detail"] != "file"]
    by_file: dict[str, list[dict]] = {}
    for r in log:
        by_file.setdefault(r["file"], []).append(r)
    seen = Counter()
    for file, rows in by_file.items():
        pupils = _pupils(root / file)
        upns = Counter(p["upn"] for p in pupils)
        for r in rows:
            kind = r["kind"]
            matching = [p for p in pupils if p["upn"] == r["upn"]]
            assert matching, (file, r)
            if kind == "duplicate_upn_in_school":
                assert upns[r["upn"]] >= 2
            elif kind == "temporary_upn":
                assert upn.is_temporary(r["upn"])
            elif kind == "missing_surname":
                assert any(not p["surname"] for p in matching)
            elif kind == "missing_subject":
                assert any(len(p["codes"]) == 3 for p in matching)
            elif kind == "duplicate_subject_row":
                assert any(max(len(v) for v in p["codes"].values()) == 2 for p in matching)
            elif kind == "legacy_code":
                key, code = r["detail"].split("=")
                # Some CSV schools write every code in lower case.
                assert any([c.upper() for c in p["codes"][key]] == [code] for p in matching)
            elif kind == "invalid_sex":
                assert any(p["sex"] not in ("M", "F") for p in matching)
            seen[kind] += 1
    assert seen["legacy_code"] and seen["missing_subject"]


def test_file_faults(tmp_path):
    summary = synthetic.generate(tmp_path, las=["886"], error_rate=0.05, seed=2)
    faults = {k: v for k, v in summary.errors.items() if k in synthetic.FILE_FAULT_KINDS}
    assert sum(faults.values()) >= 10
    rows = _manifest(tmp_path)
    for row in rows:
        data = (tmp_path / row["file"]).read_bytes()
        if row["kind"] == "pdf":
            assert data.startswith(b"%PDF") and row["file"].endswith(".csv")
        elif row["kind"] == "xlsx":
            assert data.startswith(b"PK\x03\x04") and row["file"].endswith(".csv")
        elif row["kind"] == "docx":
            assert data.startswith(b"PK\x03\x04") and row["file"].endswith(".docx")
        elif row["kind"] == "csv_utf16":
            assert data.startswith((b"\xff\xfe", b"\xfe\xff"))
            assert "UPN" in data.decode("utf-16")
        elif row["kind"] == "ctf_truncated":
            with pytest.raises(etree.XMLSyntaxError):
                etree.fromstring(data)
        elif row["kind"] in ("ctf", "ctf_copy"):
            etree.fromstring(data)


# -- targets and helpers ------------------------------------------------------------------------
def test_published_targets():
    published = synthetic.published_targets()
    assert len(published) == 151
    assert "201" not in published and "420" not in published
    assert published["938"]["read_exs"] > published["938"]["read_gds"] > 0
    every = synthetic.published_targets(include_suppressed=True)
    assert set(every) == {la.code for la in local_authorities()}
    assert every["201"] == {"read_exs": 71, "read_gds": 23, "writ_exs": 64, "writ_gds": 12,
                            "mat_exs": 73, "mat_gds": 21, "sci_exs": 79}  # London  # fmt: skip


@given(target=st.integers(0, 100), n=st.integers(100, 20_000))
def test_exact_count_rounds_to_the_target(target, n):
    c = synthetic._exact_count(target, n)
    assert 0 <= c <= n
    assert abs(100 * c / n - target) < 0.5


def test_generate_needs_las(tmp_path):
    with pytest.raises(ValueError, match="las"):
        synthetic.generate(tmp_path)
    with pytest.raises(ValueError, match="999"):
        synthetic.generate(tmp_path, las=["999"])
    with pytest.raises(ValueError, match="error_rate"):
        synthetic.generate(tmp_path, las=["857"], error_rate=2)


def test_progress_is_reported(tmp_path):
    calls = []
    synthetic.generate(tmp_path, las=["857", "420"], error_rate=0.0,
                       progress=lambda done, total, la: calls.append((done, total, la)))  # fmt: skip
    assert calls == [(1, 2, "420"), (2, 2, "857")]  # in the order of the LA list


def test_xml_escaping():
    assert synthetic._xml_text('O\'Brien & <Sons> "x"') == (
        "O&apos;Brien &amp; &lt;Sons&gt; &quot;x&quot;"
    )
