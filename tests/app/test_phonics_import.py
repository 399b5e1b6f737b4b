"""Phonics files imported into Keystage (spec phonics.md §3): a phonics school file goes into
the phonics collection with the check's rules applied; a file of one collection imported into
another is refused, naming the collection it belongs to, and nothing of it is stored."""

from __future__ import annotations

import html

import pytest
from django.utils import timezone

from keystage.submissions.actions import get_collection
from keystage.submissions.importing import import_paths
from keystage.submissions.models import Finding, ImportBatch, PupilRecord, Upload
from keystage.submissions.queries import data_errors
from keystage.web.links import reverse
from tests.builders import pupil, write_ctf

pytestmark = pytest.mark.django_db


def phonics_pupil(n: int, results, nc_year="1", **over) -> dict:
    over = {"dob": "2016-10-14" if nc_year == "1" else "2015-10-14", **over}
    return pupil(n, nc_year=nc_year, phonics=results, reading=None, writing=None, maths=None,
                 science=None, **over)  # fmt: skip


def test_a_phonics_file_goes_into_the_phonics_collection_with_its_rules(loaded, tmp_path):
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [
        phonics_pupil(1, ["34"]), phonics_pupil(2, ["A"]), phonics_pupil(3, ["41"]),
        phonics_pupil(4, ["28"], nc_year="2"),
    ])  # fmt: skip
    [r] = import_paths([str(f)], collection_code="phonics-2023")
    assert (r.outcome, r.laestab, r.pupils, r.errors) == ("accepted", "9382001", 4, 1)
    phonics = get_collection("phonics-2023")
    stored = PupilRecord.objects.filter(collection=phonics, is_current=True).order_by("upn")
    assert sorted((p.nc_year, sorted(p.outcomes.items())) for p in stored) == [
        ("1", [("mark", "34")]), ("1", [("mark", "41")]), ("1", [("psc_code", "A")]),
        ("2", [("mark", "28")]),
    ]  # fmt: skip
    found = [(row["rule"], row["value"]) for row in data_errors(phonics)]
    assert found == [("PSC-R02", "41")]
    assert not PupilRecord.objects.filter(collection=get_collection("ks1-2023")).exists()


def test_a_phonics_file_imported_as_ks1_is_refused_naming_its_collection(loaded, tmp_path):
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml",
                  [phonics_pupil(1, ["34"]), phonics_pupil(2, ["30"], nc_year="2")])  # fmt: skip
    [r] = import_paths([str(f)])  # the default collection: KS1 2023
    assert r.outcome == "rejected"
    assert r.reason == (
        f"{f}: the file holds phonics screening check results (2 rows) "
        "and none of Key stage 1 teacher assessment 2023: import it into Phonics screening "
        "check 2023 instead (its upload page, or `keystage --collection phonics-2023 import`)"
    )
    assert not PupilRecord.objects.exists()
    assert Upload.objects.get().state == Upload.State.REJECTED


def test_a_ks1_file_imported_as_phonics_is_refused_naming_its_collection(loaded, tmp_path):
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [pupil(n) for n in (1, 2)])
    [r] = import_paths([str(f)], collection_code="phonics-2023")
    assert r.outcome == "rejected"
    assert "the file holds key stage 1 teacher assessment results (8 rows) and none of " \
        "Phonics screening check 2023: import it into Key stage 1 teacher assessment 2023" \
        in r.reason  # fmt: skip
    assert not PupilRecord.objects.exists()


def test_a_ks1_file_with_some_phonics_rows_is_still_a_ks1_file(loaded, tmp_path):
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml",
                  [pupil(1), pupil(2, nc_year="2", phonics=["Wt"])])  # fmt: skip
    [r] = import_paths([str(f)])
    assert (r.outcome, r.pupils) == ("accepted", 2)
    assert r.ignored["assessments"] == {"phonics screening check rows": 1}


def _pupil_2024(n: int, mark: str, **over) -> dict:
    # Year 2 in 2024: born September 2016 to August 2017.
    return phonics_pupil(n, [mark], nc_year="2", year="2024", estab="2002", **over) | {
        "dob": "2016-10-14"
    }


def _cross_year(collection) -> list[tuple[str, str]]:
    return sorted(
        (row["upn"], row["rule"])
        for row in data_errors(collection)
        if row["rule"] in ("PSC-R08", "PSC-R09")
    )


def test_a_year_2_pupil_is_compared_with_last_years_record_when_it_is_held(loaded, tmp_path):
    met, not_met, renamed = (phonics_pupil(n, [m]) for n, m in ((1, "35"), (2, "20"), (3, "32")))
    last = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [met, not_met, renamed])
    this_year = [
        _pupil_2024(11, "36", upn=met["upn"]),  # met in 2023: should not be checked again
        _pupil_2024(12, "33", upn=not_met["upn"]),  # 20 in 2023: the re-check is right
        _pupil_2024(13, "38", former_upn=renamed["upn"]),  # met in 2023 under its former UPN
        _pupil_2024(14, "30"),  # not in 2023's collection
    ]
    f = write_ctf(tmp_path / "9382002_CTF_938LLLL_001.xml", this_year, estab="2002")
    phonics_2024 = get_collection("phonics-2024")
    # Without 2023's collection held, the rules across years do not run.
    [r] = import_paths([str(f)], collection_code="phonics-2024")
    assert r.outcome == "accepted"
    assert _cross_year(phonics_2024) == []
    # Once 2023's results are imported, the LA's 2024 pupils are compared with them at once.
    [r] = import_paths([str(last)], collection_code="phonics-2023")
    assert r.outcome == "accepted"
    expected = sorted([
        (met["upn"], "PSC-R08"), (this_year[2]["upn"], "PSC-R08"),
        (this_year[3]["upn"], "PSC-R09"),
    ])  # fmt: skip
    assert _cross_year(phonics_2024) == expected
    # ... and again at the school's next file.
    this_year[3]["surname"] = "SMITHZ"  # the school's file again, one name corrected
    f = write_ctf(tmp_path / "9382002_CTF_938LLLL_002.xml", this_year, estab="2002")
    [r] = import_paths([str(f)], collection_code="phonics-2024")
    assert r.outcome == "superseded"
    assert _cross_year(phonics_2024) == expected


def test_a_school_whose_marks_are_all_alike_is_queried_as_a_school(loaded, tmp_path):
    alike = [phonics_pupil(n, ["40"]) for n in range(1, 6)]
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", alike)
    import_paths([str(f)], collection_code="phonics-2023")
    rows = [row for row in data_errors(get_collection("phonics-2023")) if row["rule"] == "PSC-R11"]
    assert [(r["laestab"], r["upn"], r["field"], r["value"]) for r in rows] == [
        ("9382001", "", "mark", "40")
    ]
    assert rows[0]["message"].startswith("All 5 pupils with a phonics mark at ")
    # One pupil's own mark in the school's next file: the query goes.
    alike[4]["phonics"] = ["39"]
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_002.xml", alike)
    import_paths([str(f)], collection_code="phonics-2023")
    assert not [r for r in data_errors(get_collection("phonics-2023")) if r["rule"] == "PSC-R11"]


# -- year-group files (issue 16): a school's Year 1 and Year 2 pupils in separate files ------


def _upn(n: int) -> str:
    return pupil(n)["upn"]


def _current(phonics) -> dict[str, PupilRecord]:
    return {p.upn: p for p in PupilRecord.objects.filter(collection=phonics, is_current=True)}


def test_a_year_group_file_replaces_only_its_year_group(loaded, tmp_path, signed_in, fast_hashing):
    """Year 1 file, then Year 2 file (both groups current), an LA edit to a Year 2 pupil, a new
    Year 1 file (Year 1 replaced, Year 2 kept with the edit and its findings), then a file of
    both year groups (everything replaced, the LA's edit a conflict as for any file)."""
    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.cli import _describe
    from keystage.orgs.models import LocalAuthority, School
    from keystage.reports.models import FactsDue
    from keystage.submissions import cleaning, grid
    from keystage.submissions.actions import year_group_words
    from keystage.submissions.models import PupilChange

    phonics = get_collection("phonics-2023")
    school = School.objects.get(laestab="9382001")

    def send(name, pupils):
        [r] = import_paths([str(write_ctf(tmp_path / name, pupils))], collection_code=phonics.code)
        return r

    first = send("year1.xml", [phonics_pupil(1, ["34"]), phonics_pupil(2, ["28"]),
                               phonics_pupil(3, ["40"])])  # fmt: skip
    # Pupil 13 is pupil 1's name and birth date under another UPN: the check across records
    # must see the Year 1 pupils kept from the first file.
    second = send("year2.xml", [
        phonics_pupil(11, ["30"], nc_year="2"), phonics_pupil(12, ["41"], nc_year="2"),
        phonics_pupil(13, ["33"], nc_year="2", surname=pupil(1)["surname"], dob="2016-10-14"),
        phonics_pupil(14, ["36"], nc_year="2"),
    ])  # fmt: skip
    assert (second.outcome, second.pupils) == ("superseded", 4)
    assert second.changes == {"added": sorted(map(_upn, (11, 12, 13, 14))), "removed": [],
                              "changed": []}  # fmt: skip
    current = _current(phonics)
    assert sorted(current) == sorted(map(_upn, (1, 2, 3, 11, 12, 13, 14)))
    assert {p.upload_id for p in current.values()} == {second.upload_id}  # one current upload
    assert Upload.objects.get(pk=first.upload_id).pupils.count() == 3  # kept as its file had it
    assert year_group_words(second.as_dict()) == (
        "replaced the school's Year 2 pupils (0 in the earlier file, 4 in this one: 4 added, "
        "0 removed, 0 changed) and kept its Year 1 pupils (3) from the earlier file"
    )
    same_child = Finding.objects.filter(collection=phonics, is_current=True, rule="PSC-P14")
    assert sorted(f.pupil.upn for f in same_child) == sorted([_upn(1), _upn(13)])

    la = LocalAuthority.objects.get(code="938")
    officer = do_create_member("officer", password="a long enough pass phrase 938",
                               role=Role.LA_OFFICER, la=la).user  # fmt: skip
    p11 = current[_upn(11)]
    cleaning.do_edit_pupil(officer, p11.pk, p11.version, {"surname": "JONES"}, reason="typo")
    p14 = current[_upn(14)]
    cleaning.do_remove_pupil(officer, p14.pk, p14.version, reason="left before the check")
    due_before = FactsDue.objects.get(collection=phonics, school=school).token

    third = send("year1-again.xml", [phonics_pupil(1, ["34"]), phonics_pupil(2, ["29"]),
                                     phonics_pupil(4, ["33"])])  # fmt: skip
    assert third.outcome == "superseded"
    # Only the Year 1 pupils are compared: 3 left, 4 came, 2's mark changed.
    assert third.changes == {"added": [_upn(4)], "removed": [_upn(3)],
                             "changed": [{"upn": _upn(2), "fields": ["mark"]}]}  # fmt: skip
    assert Upload.objects.get(pk=third.upload_id).changes == third.changes
    current = _current(phonics)
    assert sorted(current) == sorted(map(_upn, (1, 2, 4, 11, 12, 13)))
    assert {p.upload_id for p in current.values()} == {third.upload_id}
    words = (
        "replaced the school's Year 1 pupils (3 in the earlier file, 3 in this one: 1 added, "
        "1 removed, 1 changed) and kept its Year 2 pupils (3) from the earlier file"
    )
    assert year_group_words(third.as_dict()) == words
    batch = ImportBatch.objects.create(  # as a web upload's task records its result
        collection=phonics, la=la, uploaded_by=officer, created_at=timezone.now(), state="done",
        folder="", file_names=["year1-again.xml"], total_files=1, done_files=1,
        results=[third.as_dict()],
    )  # fmt: skip
    page = signed_in(officer).get(reverse("upload-batch", args=[batch.pk])).content.decode()
    assert f"3 pupils, 0 errors, 0 queries; {words}" in html.unescape(page.replace("<wbr>", ""))
    assert _describe(third) == (
        f"superseded  9382001 Example Primary School: 3 pupils, 0 errors, 0 queries; {words}  "
        f"[{tmp_path / 'year1-again.xml'}]"
    )
    # The LA's edit, the kept pupils' findings and the check across records stay.
    kept = current[_upn(11)]
    assert (kept.surname, kept.version) == ("JONES", 2)
    entries = grid.trail(officer, kept)
    assert [(e.source, e.field, e.old, e.new) for e in entries][1:] == [
        ("Edit", "Surname", pupil(11)["surname"], "JONES")
    ]
    assert entries[0].source == "School's file year2.xml"
    found = [(r["upn"], r["rule"]) for r in data_errors(phonics) if r["upn"]]
    assert (_upn(12), "PSC-R02") in found  # the mark 41 of the Year 2 file
    assert sorted(u for u, rule in found if rule == "PSC-P14") == sorted([_upn(1), _upn(13)])
    assert FactsDue.objects.get(collection=phonics, school=school).token != due_before
    # The pupil the LA removed stays removed, and can still be put back.
    removed = PupilRecord.objects.get(upload_id=third.upload_id, upn=_upn(14))
    assert (removed.is_current, removed.flag) == (False, "removed")
    cleaning.do_restore_pupil(officer, removed.pk, removed.version, reason="took the check")
    assert _upn(14) in _current(phonics)

    both = send("both.xml", [phonics_pupil(1, ["34"]), phonics_pupil(11, ["30"], nc_year="2")])
    assert both.year_group == {} and year_group_words(both.as_dict()) == ""
    assert both.changes == {
        "added": [], "removed": sorted(map(_upn, (2, 4, 12, 13, 14))),
        "changed": [{"upn": _upn(11), "fields": ["surname"]}],
    }  # fmt: skip
    assert sorted(_current(phonics)) == sorted(map(_upn, (1, 11)))
    # The file disagrees with the LA's edit: a conflict for the LA, as with any later file.
    conflict = PupilChange.objects.get(conflict=PupilChange.Conflict.OPEN)
    assert (conflict.upn, conflict.old, conflict.new) == (_upn(11), "JONES", pupil(11)["surname"])
    assert conflict.upload_id == both.upload_id


def test_the_import_summary_counts_kept_pupils_once(loaded, tmp_path, capsys):
    """A school's Year 1 and Year 2 files in one import: every pupil was stored by this import,
    none "kept from earlier files". A later Year 1 file keeps the Year 2 pupils of before."""
    from keystage.cli import main

    both = tmp_path / "both"
    both.mkdir()
    write_ctf(both / "a_year1.xml", [phonics_pupil(n, ["34"]) for n in (1, 2, 3)])
    write_ctf(both / "b_year2.xml", [phonics_pupil(n, ["30"], nc_year="2") for n in (11, 12)])
    assert main(["import", "--collection", "phonics-2023", "--quiet", str(both)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.endswith("1 accepted, 1 superseded an earlier file, 0 unchanged, 0 rejected; "
                         "5 pupils stored."), line  # fmt: skip
    later = write_ctf(tmp_path / "year1_again.xml", [phonics_pupil(n, ["36"]) for n in (1, 2)])
    assert main(["import", "--collection", "phonics-2023", "--quiet", str(later)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.endswith("2 pupils stored, and 2 pupils of other year groups kept from the "
                         "schools' earlier files."), line  # fmt: skip
    phonics = get_collection("phonics-2023")
    assert PupilRecord.objects.filter(collection=phonics, is_current=True).count() == 4


@pytest.mark.parametrize("file_of, into", [("phonics-2023", "phonics-2024"),
                                           ("ks1-2023", "ks1-2024")])  # fmt: skip
def test_last_years_file_is_refused_naming_last_years_collection(loaded, tmp_path, file_of, into):
    """A school sends last year's export again: its rows are all of last year, for which
    Keystage has a collection. The file is refused, naming that collection, and the school's
    file of this year stays as it was (it once replaced it, every pupil "no mark")."""
    from keystage.engine.definition import load
    from tests.builders import pupils_of

    this_year = str(load(into).year)
    good = write_ctf(tmp_path / "this_year.xml", pupils_of(into, range(1, 4), year=this_year))
    [first] = import_paths([str(good)], collection_code=into)
    assert first.outcome == "accepted"
    old = write_ctf(tmp_path / "last_year.xml", pupils_of(file_of, range(1, 5)))
    [r] = import_paths([str(old)], collection_code=into)
    assert r.outcome == "rejected"
    other = load(file_of).name
    assert f"the file holds {other[:1].lower() + other[1:]} results" in r.reason, r.reason
    assert f"import it into {other} instead" in r.reason
    held = PupilRecord.objects.filter(collection=get_collection(into), is_current=True)
    assert held.count() == 3 and all(p.upload_id == first.upload_id for p in held)
