"""Importing school files into the database: accepted, superseded, unchanged, rejected, and
that nothing already held is ever lost."""

from __future__ import annotations

import functools
import io
import zipfile
from pathlib import Path

import pytest

from keystage.submissions import actions, bulk
from keystage.submissions.importing import import_paths
from keystage.submissions.kept import read_kept
from keystage.submissions.models import Finding, PupilRecord, Upload
from keystage.submissions.queries import data_errors, pupil_list
from tests.builders import csv_of, ctf, pupil, pupils_of, write_ctf


def test_good_file_is_accepted_and_its_pupils_stored(loaded, tmp_path):
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [pupil(i) for i in range(1, 6)])
    [r] = import_paths([str(f)])
    assert r.outcome == "accepted"
    assert (r.laestab, r.pupils, r.errors) == ("9382001", 5, 0)
    rows = list(pupil_list(loaded, school="9382001"))
    assert [row["upn"] for row in rows] == sorted(row["upn"] for row in rows) or len(rows) == 5
    assert {row["reading"] for row in rows} == {"EXS"}
    upload = Upload.objects.get(pk=r.upload_id)
    assert upload.sha256 and upload.size == f.stat().st_size and upload.school.urn == "125000"


def test_errors_are_found_and_reported_per_pupil(loaded, tmp_path):
    bad_upn = "Z" + pupil(1)["upn"][1:]
    f = write_ctf(tmp_path / "a.xml", [pupil(1, upn=bad_upn), pupil(2, reading="BLW"), pupil(3)])
    [r] = import_paths([str(f)])
    assert r.outcome == "accepted" and r.errors >= 2
    found = {(row["upn"], row["rule"], row["field"], row["value"]) for row in data_errors(loaded)}
    assert (bad_upn, "KS1-P02", "upn", bad_upn) in found
    assert (pupil(2)["upn"], "KS1-T07", "reading", "BLW") in found
    counts = {row["upn"]: row["errors"] for row in pupil_list(loaded)}
    assert counts[bad_upn] >= 1 and counts[pupil(3)["upn"]] == 0


def test_same_bytes_twice_changes_nothing(loaded, tmp_path):
    f = write_ctf(tmp_path / "a.xml", [pupil(i) for i in range(1, 4)])
    import_paths([str(f)])
    before = snapshot(loaded), Upload.objects.count(), PupilRecord.objects.count()
    [r] = import_paths([str(f)])
    assert r.outcome == "unchanged"
    assert (snapshot(loaded), Upload.objects.count(), PupilRecord.objects.count()) == before


def test_newer_file_supersedes_and_records_what_changed(loaded, tmp_path):
    first = write_ctf(tmp_path / "v1.xml", [pupil(1), pupil(2), pupil(3)])
    second = write_ctf(tmp_path / "v2.xml", [pupil(1), pupil(2, reading="GDS"), pupil(4)])
    [a] = import_paths([str(first)])
    [b] = import_paths([str(second)])
    assert b.outcome == "superseded"
    assert b.changes["added"] == [pupil(4)["upn"]]
    assert b.changes["removed"] == [pupil(3)["upn"]]
    assert b.changes["changed"] == [{"upn": pupil(2)["upn"], "fields": ["reading"]}]
    old = Upload.objects.get(pk=a.upload_id)
    assert old.state == "superseded" and old.pupils.count() == 3  # kept
    assert Upload.objects.get(pk=b.upload_id).supersedes_id == old.pk
    current = {r["upn"]: r["reading"] for r in pupil_list(loaded)}
    assert current == {pupil(1)["upn"]: "EXS", pupil(2)["upn"]: "GDS", pupil(4)["upn"]: "EXS"}


XXE = (
    b'<?xml version="1.0"?><!DOCTYPE CTfile [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<CTfile><Header/><CTFpupilData><Pupil><Surname>&x;</Surname></Pupil></CTFpupilData></CTfile>"
)
LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE CTfile [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b"<CTfile>&c;</CTfile>"
)


# The hostile-input corpus runs against every kind of collection (issue 16): a file of each
# collection's own shape is imported first, then the hostile one, which must change nothing.
COLLECTIONS = ["ks1-2023", "phonics-2023", "phonics-2024", "eyfsp-2024"]
OTHER = {"ks1-2023": "phonics-2023", "phonics-2023": "ks1-2023", "phonics-2024": "ks1-2024",
         "eyfsp-2024": "phonics-2024"}  # fmt: skip


def snapshot(collection):
    return (
        sorted(tuple(sorted(r.items())) for r in pupil_list(collection)),
        # the rejection itself is reported (the F01 rule); everything else must stay as it was
        sorted((r["upn"], r["rule"]) for r in data_errors(collection) if r["rule"][-4:] != "-F01"),
        sorted(Upload.objects.filter(state="current").values_list("id", flat=True)),
    )


@functools.cache
def _bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("9382001_CTF_938LLLL_009.xml", b"\0" * (20 << 20))  # 20 MB of nothing
    return buf.getvalue()


XML_NAME = "9382001_CTF_938LLLL_002.xml"
# (file name, content, what the reason says) for a collection
HOSTILE = {
    "empty": lambda code: (XML_NAME, b"", "the file is empty (0 bytes)"),
    "truncated": lambda code: (XML_NAME, b"<CTfile><Header>", "the file may be cut short"),
    "binary": lambda code: (XML_NAME, b"\x00\x01\x02binary", "not a text file"),
    "wrong-root": lambda code: (XML_NAME, b"<?xml version='1.0'?><Other/>", "not <CTfile>"),
    "xxe": lambda code: (XML_NAME, XXE, "DOCTYPE declaration"),
    "entity-expansion": lambda code: (XML_NAME, LAUGHS, "DOCTYPE declaration"),
    "utf-16": lambda code: (
        csv_of(code)[0], csv_of(code)[1].decode().encode("utf-16"), "UTF-16 encoded"
    ),
    "pdf": lambda code: (XML_NAME, b"%PDF-1.4 not a ctf", "this is a PDF document"),
    "headers-only-csv": lambda code: (
        csv_of(code, [])[0], csv_of(code, [])[1], "the file holds no pupils (only its column "
        "headings)",
    ),
    "header-only-ctf": lambda code: (
        XML_NAME, ctf([]).encode(), "the file holds no pupils (only its header)"
    ),
    "other-collections-csv": lambda code: (
        *csv_of(OTHER[code]), f"`keystage --collection {OTHER[code]} import`"
    ),
    # tests/builders writes KS1 rows of 2023 only: a KS1 2023 file, whatever the phonics year
    "other-collections-ctf": lambda code: (
        XML_NAME, ctf(pupils_of(OTHER[code], [5])).encode(),
        f"`keystage --collection {OTHER[code].replace('ks1-2024', 'ks1-2023')} import`",
    ),
    "zip-bomb": lambda code: ("batch.zip", _bomb(), "as a zip bomb does"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HOSTILE))
@pytest.mark.parametrize("code", COLLECTIONS)
def test_rejected_file_leaves_data_untouched(loaded, tmp_path, case, code):
    good = write_ctf(tmp_path / "good.xml", pupils_of(code, [1, 2]))
    [first] = import_paths([str(good)], collection_code=code)
    assert first.outcome == "accepted"
    collection = actions.get_collection(code)
    before = snapshot(collection)
    name, content, says = HOSTILE[case](code)
    bad = tmp_path / name
    bad.write_bytes(content)
    [r] = import_paths([str(bad)], collection_code=code)
    assert r.outcome == "rejected"
    assert "\n" not in r.reason and "Traceback" not in r.reason and bad.name in r.reason
    assert says in r.reason
    assert "root:" not in r.reason  # the external entity was never read
    assert snapshot(collection) == before
    assert Upload.objects.get(pk=r.upload_id).state == "rejected"
    # a collection's files are named as its own, never as another kind's
    if "other" not in case:
        assert ("phonics" if code.startswith("ks1") else "KS1") not in r.reason


def test_unknown_school_is_rejected_with_what_to_do(loaded, tmp_path):
    f = write_ctf(tmp_path / "x.xml", [pupil(1, estab="9999")], estab="9999")
    [r] = import_paths([str(f)])
    assert r.outcome == "rejected"
    assert "9999" in r.reason and "schools register" in r.reason


def test_file_for_another_la_is_refused_when_importing_for_one_la(loaded, tmp_path):
    f = write_ctf(
        tmp_path / "camden.xml", [pupil(1, la="202", estab="2003")], la="202", estab="2003"
    )
    [r] = import_paths([str(f)], only_la="938")
    assert r.outcome == "rejected" and "for Camden (202), not West Sussex (938)" in r.reason


def test_crash_while_storing_keeps_previous_data(loaded, tmp_path, monkeypatch):
    import_paths([str(write_ctf(tmp_path / "v1.xml", [pupil(1), pupil(2)]))])
    before = snapshot(loaded)
    real = bulk.insert_rows

    def explode(table, columns, rows):
        if table == Finding._meta.db_table:
            raise RuntimeError("disk full")
        return real(table, columns, rows)

    monkeypatch.setattr(bulk, "insert_rows", explode)
    with pytest.raises(RuntimeError):
        import_paths([str(write_ctf(tmp_path / "v2.xml", [pupil(3, reading="XX")]))])
    assert snapshot(loaded) == before


def test_duplicate_upn_across_schools_is_found_after_import(loaded, tmp_path):
    same = pupil(7)["upn"]
    a = write_ctf(tmp_path / "a.xml", [pupil(7)])
    b = write_ctf(tmp_path / "b.xml", [pupil(8, upn=same, estab="2002")], estab="2002")
    import_paths([str(a), str(b)])
    dupes = [r for r in data_errors(loaded) if r["rule"] == "KS1-P03"]
    assert {r["laestab"] for r in dupes} == {"9382001", "9382002"}
    assert all(r["severity"] == "error" and r["upn"] == same for r in dupes)


def test_checks_across_schools_cover_an_la_whose_files_come_apart(loaded, tmp_path, monkeypatch):
    """An LA is checked across its schools as soon as the import moves on to another LA; a
    later file of that LA in the same run is checked again with the rest."""
    from keystage.submissions import importing

    monkeypatch.setattr(importing.GroupStore, "FILES", 1)  # every file stored on its own
    same = pupil(7)["upn"]
    first = write_ctf(tmp_path / "1.xml", [pupil(7), pupil(9)])
    camden = write_ctf(tmp_path / "2.xml", [pupil(1, la="202", estab="2003")], "202", "2003")
    later = write_ctf(tmp_path / "3.xml", [pupil(8, upn=same, estab="2002")], estab="2002")
    import_paths([str(first), str(camden), str(later)], jobs=1)
    dupes = [r for r in data_errors(loaded) if r["rule"] == "KS1-P03"]
    assert sorted((r["laestab"], r["upn"]) for r in dupes) == [
        ("9382001", same), ("9382002", same)
    ]  # fmt: skip
    assert Finding.objects.filter(rule="KS1-P03").count() == 2  # checked twice, kept once


def test_rejected_file_appears_in_data_errors_until_replaced(loaded, tmp_path):
    bad = tmp_path / "9382002_CTF_938LLLL_001.xml"
    bad.write_text(
        "<CTfile><Header><SourceSchool><LEA>938</LEA><Estab>2002</Estab>", encoding="utf-8"
    )
    import_paths([str(bad)])
    rows = [r for r in data_errors(loaded) if r["rule"] == "KS1-F01"]
    assert len(rows) == 1 and rows[0]["field"] == "file" and rows[0]["value"] == bad.name
    good = write_ctf(
        tmp_path / "9382002_CTF_938LLLL_002.xml", [pupil(1, estab="2002")], estab="2002"
    )
    import_paths([str(good)])
    assert not [
        r for r in data_errors(loaded) if r["rule"] == "KS1-F01" and r["laestab"] == "9382002"
    ]


def test_store_keeps_a_copy_of_every_file(loaded, tmp_path, settings):
    f = write_ctf(tmp_path / "a.xml", [pupil(1)])
    [r] = import_paths([str(f)])
    upload = Upload.objects.get(pk=r.upload_id)
    assert read_kept(settings.UPLOAD_STORE, upload.stored_path) == f.read_bytes()


def test_actions_collection_is_created_from_the_definition(loaded):
    assert actions.get_collection().year == 2023


def test_csv_template_with_formula_names_is_stored_verbatim_and_flagged(loaded, tmp_path):
    upn1, upn2 = pupil(1)["upn"], pupil(2)["upn"]
    f = tmp_path / "KS1_2001_23.csv"
    f.write_text(
        "LA,Estab,UPN,Surname,Forename,DOB,Sex,Reading,Writing,Maths,Science\n"
        f'938,2001,{upn1},"=HYPERLINK(""http://x"",""y"")",AVA,14/01/2016,F,exs,WTS,GDS,EXS\n'
        f"938,2001,{upn2},@SUM(A1),BEN,2016-02-01,M,EXS,WTS,GDS,EXS\n",
        encoding="utf-8",
    )
    [r] = import_paths([str(f)])
    assert r.outcome == "accepted" and r.pupils == 2
    names = {row["upn"]: row["surname"] for row in pupil_list(loaded)}
    assert names == {upn1: '=HYPERLINK("http://x","y")', upn2: "@SUM(A1)"}
    flagged = {(row["upn"], row["rule"]) for row in data_errors(loaded)}
    assert {(upn1, "KS1-P08"), (upn2, "KS1-P08")} <= flagged
    assert {row["reading"] for row in pupil_list(loaded)} == {"EXS"}  # "exs" counts as EXS
    assert not [row for row in data_errors(loaded) if row["field"] == "reading"]  # exs is fine


def test_kept_copies_read_back_from_packs_and_from_the_older_layout(loaded, tmp_path, settings,
                                                                   monkeypatch):  # fmt: skip
    from keystage.submissions import preparing

    monkeypatch.setattr(preparing, "IN_MEMORY_LIMIT", 2000)  # the second file is copied, not held
    small = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [pupil(1)])
    large = write_ctf(tmp_path / "9382002_CTF_938LLLL_001.xml",
                      [pupil(i, estab="2002") for i in range(1, 30)], estab="2002")  # fmt: skip
    results = import_paths([str(small), str(large)])
    for r, f in zip(results, (small, large), strict=True):
        where = Upload.objects.get(pk=r.upload_id).stored_path
        assert where.startswith("packs/")
        assert read_kept(settings.UPLOAD_STORE, where) == f.read_bytes()
    packs = list((settings.UPLOAD_STORE / "packs").iterdir())
    size = sum(p.stat().st_size for p in packs)
    assert size == small.stat().st_size + large.stat().st_size
    # The same bytes again are reported unchanged and not kept twice.
    import_paths([str(small)])
    assert sum(p.stat().st_size for p in (settings.UPLOAD_STORE / "packs").iterdir()) == size
    # Uploads kept before packs have a file of their own, named by their hash.
    old = settings.UPLOAD_STORE / "ab" / ("ab" + "0" * 62)
    old.parent.mkdir(parents=True)
    old.write_bytes(b"<CTfile/>")
    assert read_kept(settings.UPLOAD_STORE, f"ab/{old.name}") == b"<CTfile/>"


def test_the_import_leaves_the_garbage_collector_as_it_found_it(loaded, tmp_path):
    """The import tunes Python's collector for itself; a long-lived process (the web's task
    worker) must get its own settings back, even when the import fails."""
    import gc

    before = gc.get_threshold()
    import_paths([str(write_ctf(tmp_path / "a.xml", [pupil(1)]))])
    with pytest.raises(Exception):  # noqa: B017, PT011 - any failure
        import_paths([str(tmp_path / "missing.xml")])
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


@pytest.mark.parametrize("code", COLLECTIONS)
def test_values_too_long_to_be_real_are_stored_clipped_and_flagged(loaded, tmp_path, code):
    """Longer than the columns that hold them (which would stop the import on PostgreSQL):
    stored cut to the column, with the rules' findings on the pupil; the other pupil is fine."""
    long = {"surname": "S" * 300, "forename": "F" * 250, "upn": "A" * 100, "sex": "F" * 50,
            "dob": "2" * 100, "former_upn": "B" * 80, "nc_year": "1" * 50}  # fmt: skip
    first, _ = pupils_of(code, [1, 2])
    [odd] = pupils_of(code, [3], **long)
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [first, odd])
    [r] = import_paths([str(f)], collection_code=code)
    assert (r.outcome, r.pupils) == ("accepted", 2)
    stored = PupilRecord.objects.get(upn="A" * 40)
    lengths = {n: len(getattr(stored, n)) for n in long}
    assert lengths == {"surname": 200, "forename": 200, "upn": 40, "sex": 20, "dob": 40,
                       "former_upn": 40, "nc_year": 10}  # fmt: skip
    collection = actions.get_collection(code)
    flagged = {row["field"] for row in data_errors(collection) if row["upn"] == "A" * 40}
    assert {"upn", "surname", "forename", "sex", "dob"} <= flagged
    assert not [row for row in data_errors(collection) if row["upn"] == first["upn"]]


@pytest.mark.parametrize("code", COLLECTIONS)
def test_a_zip_with_members_pointing_outside_it(loaded, tmp_path, code, settings):
    good = ctf(pupils_of(code, [1]))
    path = tmp_path / "batch.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("../../escape.xml", good)
        z.writestr("/etc/keystage-evil.xml", good)
        z.writestr("school/9382001_CTF_938LLLL_001.xml", good)
        z.writestr("x" * 300 + ".xml", b"<CTfile>")  # a name longer than any file name
    results = import_paths([str(path)], collection_code=code)
    by_name = {r.file_name.split("batch.zip:")[1]: r for r in results}
    assert by_name["school/9382001_CTF_938LLLL_001.xml"].outcome == "accepted"
    for unsafe in ("../../escape.xml", "/etc/keystage-evil.xml"):
        assert by_name[unsafe].outcome == "rejected"
        assert "left out: its name points outside the zip" in by_name[unsafe].reason
    [long] = [r for n, r in by_name.items() if n.startswith("xxx")]
    assert long.outcome == "rejected" and "not well formed" in long.reason
    kept_as = Upload.objects.get(pk=long.upload_id).file_name
    assert len(kept_as) == 255 and kept_as.startswith("batch.zip:xxx") and kept_as.endswith(".xml")
    assert not (tmp_path.parent / "escape.xml").exists()
    assert not list(Path("/etc").glob("keystage-evil*"))
    assert PupilRecord.objects.filter(collection__code=code).count() == 1


@pytest.mark.parametrize("code", COLLECTIONS)
def test_one_pupil_twice_in_a_file_is_named_on_both_records(loaded, tmp_path, code):
    [a] = pupils_of(code, [7], forename="ANNA")
    [b] = pupils_of(code, [8], forename="BELLA", upn=a["upn"])
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [a, b])
    [r] = import_paths([str(f)], collection_code=code)
    assert (r.outcome, r.pupils) == ("accepted", 2)
    rows = [row for row in data_errors(actions.get_collection(code)) if row["rule"][-4:] == "-P03"]
    assert sorted(row["forename"] for row in rows) == ["ANNA", "BELLA"]
    assert all(row["severity"] == "error" and row["upn"] == a["upn"] for row in rows)
    anna = next(row["message"] for row in rows if row["forename"] == "ANNA")
    assert anna.startswith(f"UPN {a['upn']} of ANNA SMITHH is also on the record of BELLA SMITHI")


def test_what_an_import_clips_fits_the_columns_it_is_stored_in():
    """`preparing` (which imports no models) keeps its own copy of the lengths it cuts a
    pupil's values to: they must be the columns' own, or a longer value would stop an import
    on PostgreSQL again."""
    from keystage.submissions import preparing
    from keystage.submissions.models import Finding, PupilRecord

    for name, most in preparing.STORED_LENGTHS.items():
        assert PupilRecord._meta.get_field(name).max_length == most, name
    assert Finding._meta.get_field("value").max_length == preparing.VALUE_LENGTH
