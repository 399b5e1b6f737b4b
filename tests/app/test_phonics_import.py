"""Phonics files imported into Keystage (spec phonics.md §3): a phonics school file goes into
the phonics collection with the check's rules applied; a file of one collection imported into
another is refused, naming the collection it belongs to, and nothing of it is stored."""

from __future__ import annotations

import pytest

from keystage.submissions.actions import get_collection
from keystage.submissions.importing import import_paths
from keystage.submissions.models import PupilRecord, Upload
from keystage.submissions.queries import data_errors
from tests.builders import pupil, write_ctf

pytestmark = pytest.mark.django_db


def phonics_pupil(n: int, results, nc_year="1", **over) -> dict:
    return pupil(n, nc_year=nc_year, phonics=results, reading=None, writing=None, maths=None,
                 science=None, dob="2016-10-14" if nc_year == "1" else "2015-10-14",
                 **over)  # fmt: skip


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
    # With it held, the next import of the LA's files compares each Year 2 pupil with 2023.
    [r] = import_paths([str(last)], collection_code="phonics-2023")
    assert r.outcome == "accepted"
    this_year[3]["surname"] = "SMITHZ"  # the school's file again, one name corrected
    f = write_ctf(tmp_path / "9382002_CTF_938LLLL_002.xml", this_year, estab="2002")
    [r] = import_paths([str(f)], collection_code="phonics-2024")
    assert r.outcome == "superseded"
    assert _cross_year(phonics_2024) == sorted([
        (met["upn"], "PSC-R08"), (this_year[2]["upn"], "PSC-R08"),
        (this_year[3]["upn"], "PSC-R09"),
    ])  # fmt: skip


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
