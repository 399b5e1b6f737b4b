"""The `keystage` command as an LA data officer uses it: exit codes, one-line reasons on
standard error, and the documented CSV and JSON fields."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from keystage.cli import main
from tests.builders import csv_of, pupil, pupils_of, write_ctf, write_register


@pytest.fixture
def ready(db, tmp_path, settings, capsys):
    settings.UPLOAD_STORE = tmp_path / "store"
    assert main(["init"]) == 0
    assert main(["schools", "load", str(write_register(tmp_path / "schools.csv"))]) == 0
    capsys.readouterr()
    return tmp_path


def test_init_loads_153_las_and_9_regions(db, capsys):
    from keystage.orgs.models import LocalAuthority, Region

    assert main(["init"]) == 0
    assert LocalAuthority.objects.count() == 153 and Region.objects.count() == 9
    assert main(["init"]) == 0  # again: migrates and updates, never duplicates
    assert LocalAuthority.objects.count() == 153
    assert LocalAuthority.objects.get(code="942").region.name == "North West"


def test_reloading_the_register_updates_and_never_duplicates(ready, capsys):
    from keystage.orgs.models import School

    n = School.objects.count()
    changed = [
        (
            "125000",
            "938",
            "West Sussex",
            "2001",
            "Renamed Primary",
            "Academy converter",
            "Primary",
            "Open",
        )
    ]
    assert main(["schools", "load", str(write_register(ready / "s2.csv", changed, "cp1252"))]) == 0
    assert School.objects.count() == n
    assert School.objects.get(urn="125000").name == "Renamed Primary"
    assert "1 updated" in capsys.readouterr().out


def test_loading_the_register_says_which_collections_expect_each_school(ready, capsys):
    """Every shipped collection expects the primary schools and not the secondary one; a school
    that becomes a junior school (7-11, no year 1 or 2) is expected in none. Reloading the same
    register changes nothing; a school whose expected collections alone differ from what is
    held (as when a collection's definition is added) is counted as updated."""
    from keystage.engine.definition import available
    from keystage.orgs.models import ExpectedSchool

    def expected() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for urn, code in ExpectedSchool.objects.values_list("school__urn", "collection"):
            out.setdefault(urn, set()).add(code)
        return out

    every = set(available())
    assert expected() == {"125000": every, "125001": every, "100000": every}
    junior = [("125001", "938", "West Sussex", "2002", "Downs Junior School", "Academy converter",
               "Primary", "Open", "7", "11")]  # fmt: skip
    assert main(["schools", "load", str(write_register(ready / "s2.csv", junior))]) == 0
    assert expected() == {"125000": every, "100000": every}
    assert "1 updated" in capsys.readouterr().out
    assert main(["schools", "load", str(ready / "s2.csv")]) == 0
    assert "0 updated, 1 unchanged" in capsys.readouterr().out
    ExpectedSchool.objects.filter(school__urn="125000", collection="phonics-2024").delete()
    assert main(["schools", "load", str(write_register(ready / "s3.csv"))]) == 0
    assert expected() == {"125000": every, "125001": every, "100000": every}
    # 125001 is a primary school again; 125000 gets phonics 2024 back; the others are as held.
    assert "0 added, 2 updated, 2 unchanged" in capsys.readouterr().out


def test_init_gives_a_collection_the_register_was_not_loaded_for_its_expected_schools(
    ready, capsys
):
    """After an upgrade that ships a new collection (here: one whose expected schools are not
    held), `keystage init` works them out from the stored schools; run again, it says nothing."""
    from keystage.orgs.models import ExpectedSchool

    ExpectedSchool.objects.filter(collection="phonics-2025").delete()
    assert main(["init"]) == 0
    assert "worked out again: 3 schools changed" in capsys.readouterr().out
    assert set(
        ExpectedSchool.objects.filter(collection="phonics-2025").values_list(
            "school__urn", flat=True
        )
    ) == {"125000", "125001", "100000"}
    assert main(["init"]) == 0
    assert "worked out again" not in capsys.readouterr().out


def test_import_all_accepted_exits_0_and_summarises(ready, capsys):
    (ready / "in").mkdir()
    write_ctf(ready / "in" / "a.xml", [pupil(1), pupil(2)])
    assert main(["import", str(ready / "in")]) == 0
    out = capsys.readouterr().out
    assert "accepted" in out and "9382001" in out and "1 accepted" in out


def test_import_with_a_rejected_file_exits_1_with_one_line_reason(ready, capsys):
    (ready / "in").mkdir()
    write_ctf(ready / "in" / "a.xml", [pupil(1)])
    (ready / "in" / "b.xml").write_text("<CTfile><Header>", encoding="utf-8")
    assert main(["import", str(ready / "in")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "b.xml" in err[0] and "Traceback" not in err[0]


def test_import_usage_errors_exit_2(ready, capsys):
    assert main(["import", str(ready / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["import"])
    assert e.value.code == 2


def test_import_a_zip(ready, capsys):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        from tests.builders import ctf

        z.writestr("938/9382001_CTF_938LLLL_001.xml", ctf([pupil(1), pupil(2)]))
        z.writestr("938/9382002_CTF_938LLLL_001.xml", ctf([pupil(3, estab="2002")], estab="2002"))
    (ready / "batch.zip").write_bytes(buf.getvalue())
    assert main(["import", "--format", "json", str(ready / "batch.zip")]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["outcome"] for r in results] == ["accepted", "accepted"]
    assert results[0]["file"].endswith("batch.zip:938/9382001_CTF_938LLLL_001.xml")


def test_errors_csv_and_json_use_the_documented_fields(ready, capsys):
    write_ctf(ready / "a.xml", [pupil(1, reading="XYZ"), pupil(2, surname='=HYPERLINK("x")')])
    main(["import", str(ready / "a.xml")])
    capsys.readouterr()
    assert main(["errors", "--la", "938", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == [
        "laestab",
        "upn",
        "surname",
        "forename",
        "rule",
        "severity",
        "field",
        "value",
        "message",
    ]
    assert any(r["field"] == "reading" and r["value"] == "XYZ" for r in rows)
    # a name that would run as a spreadsheet formula is written so that it cannot
    assert all(not r["surname"].startswith("=") for r in rows)
    assert main(["errors", "--format", "json", "--severity", "error"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and all(d["severity"] == "error" for d in data)


@pytest.mark.parametrize("code", ["ks1-2023", "phonics-2023", "phonics-2024"])
def test_formula_cells_of_a_school_csv_cannot_run_in_any_csv_output(ready, capsys, code):
    """Names and results a spreadsheet would run, kept as the school wrote them, come out of
    `errors` and `pupils` with a leading apostrophe, in every collection."""
    formulas = {"surname": '=HYPERLINK("http://evil.example","x")', "forename": "@SUM(A1)"}
    rows = pupils_of(code, [1], **formulas) + pupils_of(code, [2], surname="+1+1")
    result = "=cmd|' /C calc'!A0"  # in the first result column: the item's code is invalid
    if code.startswith("ks1"):
        rows[0]["reading"] = result
    else:
        rows[0]["phonics"], rows[0]["code"] = [""], result
    name, content = csv_of(code, rows)
    (ready / name).write_bytes(content)
    # the collection given after the command, as before it
    assert main(["import", "--collection", code, str(ready / name)]) == 0
    capsys.readouterr()
    for command in ("errors", "pupils"):
        assert main([command, "--collection", code, "--format", "csv"]) == 0
        out = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        cells = [v for row in out for v in row.values()]
        assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@")], command
        surnames = {row["surname"] for row in out}
        assert "'" + formulas["surname"] in surnames and "'+1+1" in surnames, command
    assert main(["--collection", code, "errors", "--format", "csv"]) == 0
    values = {row["value"] for row in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert "'" + result in values


def test_errors_text_is_grouped_school_then_pupil(ready, capsys):
    write_ctf(ready / "a.xml", [pupil(1, reading="XYZ", writing="BLW")])
    main(["import", str(ready / "a.xml")])
    capsys.readouterr()
    main(["errors"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("9382001 Example Primary School")
    assert out[1].strip().startswith(pupil(1)["upn"])
    assert any("KS1-T07" in line for line in out[2:])


def test_pupils_list_fields_and_filters(ready, capsys):
    write_ctf(ready / "a.xml", [pupil(1), pupil(2)])
    write_ctf(ready / "b.xml", [pupil(3, estab="2002")], estab="2002")
    main(["import", str(ready / "a.xml"), str(ready / "b.xml")])
    capsys.readouterr()
    assert main(["pupils", "--school", "9382002", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data[0]) == [
        "laestab",
        "upn",
        "surname",
        "forename",
        "dob",
        "sex",
        "reading",
        "writing",
        "maths",
        "science",
        "errors",
        "queries",
        "la_change",
    ]
    assert [d["upn"] for d in data] == [pupil(3, estab="2002")["upn"]]


def test_pupils_list_flags_pupils_the_la_added_or_edited(ready, capsys):
    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.orgs.models import LocalAuthority
    from tests.app.test_facts import SCHOOL_A
    from tests.app.test_reports import la_changes

    write_ctf(ready / "a.xml", SCHOOL_A)
    assert main(["import", str(ready / "a.xml")]) == 0
    officer = do_create_member(
        "officer", role=Role.LA_OFFICER, la=LocalAuthority.objects.get(code="938")
    ).user
    la_changes(officer)
    capsys.readouterr()
    assert main(["pupils", "--school", "9382001", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[-1] == "la_change"
    changed = {r["surname"]: r["la_change"] for r in rows}
    # SMITHD, removed by the LA, is not current data: not listed.
    assert changed == {"NEWTON": "added", "SMITHB": "edited", "SMITHC": "", "SMITHE": ""}


def test_zip_with_path_traversal_member_reports_it_and_imports_the_rest(ready, capsys):
    from tests.builders import ctf

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../etc/evil.xml", ctf([pupil(9)]))
        z.writestr("9382001_CTF_938LLLL_001.xml", ctf([pupil(1)]))
    (ready / "batch.zip").write_bytes(buf.getvalue())
    assert main(["import", "--format", "json", str(ready / "batch.zip")]) == 1
    captured = capsys.readouterr()
    results = {r["outcome"]: r for r in json.loads(captured.out)}
    assert results["accepted"]["pupils"] == 1
    assert "evil.xml" in results["rejected"]["reason"]
    assert not (ready.parent / "etc").exists()


def test_zip_bomb_is_refused_whole(ready, capsys):
    from tests.builders import ctf

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("9382001_CTF_938LLLL_001.xml", ctf([pupil(1)]))
        z.writestr("9382002_CTF_938LLLL_001.xml", b"<" + b" " * 50_000_000 + b">")
    (ready / "bomb.zip").write_bytes(buf.getvalue())
    assert main(["import", "--format", "json", str(ready / "bomb.zip")]) == 1
    results = json.loads(capsys.readouterr().out)
    assert [r["outcome"] for r in results] == ["rejected"]
    assert results[0]["file"].endswith("bomb.zip")
    from keystage.submissions.models import PupilRecord

    assert PupilRecord.objects.count() == 0


@pytest.mark.parametrize("where", ["before", "after"])
def test_collection_is_taken_before_or_after_the_command(ready, capsys, where):
    """`keystage --collection phonics-2023 import` and `keystage import --collection phonics-2023`
    are the same command: a KS1 file is refused by phonics either way, naming its collection."""
    from keystage.submissions.models import PupilRecord

    write_ctf(ready / "ks1.xml", [pupil(1), pupil(2)])
    option = ["--collection", "phonics-2023"]
    args = [*option, "import", str(ready / "ks1.xml")] if where == "before" else [
        "import", *option, str(ready / "ks1.xml")]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "ks1.xml" in err and "import it into Key stage 1 teacher assessment 2023" in err, err
    assert PupilRecord.objects.count() == 0
    # The option given after the command wins over the one before it, as people expect.
    assert main(["--collection", "phonics-2023", "import", "--collection", "ks1-2023",
                 str(ready / "ks1.xml")]) == 0  # fmt: skip
    assert PupilRecord.objects.count() == 2
