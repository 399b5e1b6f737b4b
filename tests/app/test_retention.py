"""Retention (UK GDPR storage limitation): a collection past its retention loses its
pupil-level data and keeps its figures; one within its retention is untouched. The dry run
lists exactly what the run then deletes; the run is audited without naming a pupil; the data
directory's files are readable by their owner only."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from keystage.engine import definition as definitions
from keystage.web.links import reverse
from tests.builders import ctf, pupil, write_register

PAST = "ks1-2023"  # closes 12 October 2023: past five years on 1 January 2029
WITHIN = "ks1-2025"  # a copy closing 12 October 2025: within five years then
AS_OF = dt.date(2029, 1, 1)


@pytest.fixture
def two_collections(monkeypatch, tmp_path):
    """The shipped ks1-2023 definition and a copy, ks1-2025, closing two years later."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    shipped = definitions.definitions_dir()
    for path in shipped.iterdir():
        if path.is_file():
            shutil.copyfile(path, folder / path.name)
    text = (shipped / f"{PAST}.toml").read_text(encoding="utf-8")
    text = text.replace(f'id = "{PAST}"', f'id = "{WITHIN}"', 1)
    text = text.replace('closes = "2023-10-12"', 'closes = "2025-10-12"', 1)
    (folder / f"{WITHIN}.toml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(definitions, "definitions_dir", lambda: folder)
    definitions.load.cache_clear()
    yield
    definitions.load.cache_clear()


@pytest.fixture
def held(two_collections, la938, members, tmp_path, capsys):
    """LA 938's two schools imported into both collections (and a rejected file), an LA edit,
    a school's query naming a pupil and a return built in the older one; facts counted."""
    from keystage.checking.actions import do_release, do_send_query
    from keystage.cli import main
    from keystage.orgs.models import School
    from keystage.reports.facts import rebuild_facts
    from keystage.returns.actions import do_build_return
    from keystage.submissions.actions import get_collection
    from keystage.submissions.cleaning import do_edit_pupil
    from keystage.submissions.models import PupilRecord

    past, within = get_collection(PAST), get_collection(WITHIN)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "cut.xml").write_text("<CTfile><Header>", encoding="utf-8")
    assert main(["--collection", PAST, "import", "--quiet", str(broken)]) == 1
    folder = tmp_path / "files-within"
    folder.mkdir()
    (folder / "a.xml").write_text(ctf([pupil(n) for n in range(1, 5)]), encoding="utf-8")
    assert main(["--collection", WITHIN, "import", "--quiet", str(folder)]) == 0
    capsys.readouterr()

    officer, school_user = members["officer938"], members["school938"]
    edited = PupilRecord.objects.filter(collection=past, school__laestab="9382001").first()
    do_edit_pupil(officer, edited.pk, edited.version, {"surname": "SMITH-JONES"},
                  reason="Name as on the birth certificate")  # fmt: skip
    do_release(officer, past)
    downs = School.objects.get(laestab="9382002")
    asked = PupilRecord.objects.filter(collection=past, school=downs).first()
    do_send_query(school_user, past, downs, body=f"{asked.forename} left in May",
                  upns=[asked.upn])  # fmt: skip
    do_build_return(la938, past, confirm=True)
    rebuild_facts(past)
    rebuild_facts(within)
    return {"past": past, "within": within, "edited_upn": edited.upn, "asked_upn": asked.upn}


def _held_rows(collection) -> dict[str, int]:
    from keystage.checking.models import Message
    from keystage.returns.models import ReturnGeneration
    from keystage.submissions.models import Finding, PupilChange, PupilRecord, Upload

    return {
        "pupils": PupilRecord.objects.filter(collection=collection).count(),
        "findings": Finding.objects.filter(collection=collection).count(),
        "edits": PupilChange.objects.filter(collection=collection).count(),
        "uploads": Upload.objects.filter(collection=collection).count(),
        "messages": Message.objects.filter(collection=collection).count(),
        "returns": ReturnGeneration.objects.filter(collection=collection).count(),
    }


def _kept_packs(collection, settings) -> set[Path]:
    from keystage.submissions.kept import kept_span
    from keystage.submissions.models import Upload

    paths = Upload.objects.filter(collection=collection).values_list("stored_path", flat=True)
    return {Path(settings.UPLOAD_STORE) / kept_span(p)[0] for p in paths if p}


def _figures_shown(response) -> list[str]:
    """The cells of the page's tables."""
    import re

    body = response.content.decode()
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", body, flags=re.S)
    assert cells, "the page shows no table"
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def _run(capsys, *args) -> tuple[int, str, str]:
    from keystage.cli import main

    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def test_the_dry_run_lists_what_the_older_collection_holds_and_deletes_nothing(held):
    from keystage.operations.retention import plan

    before = (_held_rows(held["past"]), _held_rows(held["within"]))
    plans = {p.code: p for p in plan(AS_OF)}

    past = plans[PAST]
    assert (past.status, past.delete_from) == ("due", dt.date(2028, 10, 12))
    by_la = {items.la: items for items in past.las}
    la = by_la["938"]
    assert (la.pupils, la.findings, la.edits, la.uploads, la.messages) == (5, 1, 1, 2, 1)
    assert la.kept_files == 2 and la.kept_bytes > 0
    assert la.return_files == 3 and la.return_bytes > 0  # two school files and the zip
    assert la.audit_details == 2  # the edit and the query name the pupil
    assert by_la[""].uploads == 1  # the rejected file: its school is not known
    within = plans[WITHIN]
    assert (within.status, within.delete_from, within.las) == ("within", dt.date(2030, 10, 12), [])
    assert (_held_rows(held["past"]), _held_rows(held["within"])) == before


def test_the_run_deletes_exactly_what_the_dry_run_listed_and_keeps_the_figures(
    held, settings, capsys, signed_in, members
):
    from keystage.reports.facts import rebuild_facts
    from keystage.returns.actions import generation_path
    from keystage.returns.models import ReturnGeneration
    from keystage.submissions.kept import read_kept
    from keystage.submissions.models import Upload

    past, within = held["past"], held["within"]
    packs = _kept_packs(past, settings)
    returns = [generation_path(g) for g in ReturnGeneration.objects.filter(collection=past)]
    assert packs and all(p.is_file() for p in packs) and all(p.is_file() for p in returns)
    kept_within = {u.pk: read_kept(settings.UPLOAD_STORE, u.stored_path)
                   for u in Upload.objects.filter(collection=within)}  # fmt: skip
    within_before = _held_rows(within)
    figures = ["report", "summary", "--la", "938", "--format", "json"]
    _, figures_before, _ = _run(capsys, *figures)
    assert json.loads(figures_before)
    client = signed_in(members["officer938"])
    summary = reverse("report-summary", kwargs={"level": "la", "code": "938"})
    page_before = client.get(summary)
    assert page_before.status_code == 200

    status, listed, _ = _run(capsys, "retention", "--dry-run", "--as-of", "2029-01-01",
                             "--format", "json")  # fmt: skip
    assert status == 0
    status, deleted, err = _run(capsys, "retention", "--as-of", "2029-01-01", "--yes",
                                "--format", "json")  # fmt: skip
    assert (status, err) == (0, "")
    assert json.loads(deleted) == json.loads(listed)
    assert {r["collection"]: r["status"] for r in json.loads(listed)} == {
        PAST: "due",
        WITHIN: "within",
    }

    assert _held_rows(past) == {"pupils": 0, "findings": 0, "edits": 0, "uploads": 0,
                                "messages": 0, "returns": 1}  # fmt: skip
    assert not any(p.exists() for p in packs)
    assert not any(p.exists() for p in returns)
    # The collection within its retention is untouched, its kept files too.
    assert _held_rows(within) == within_before
    assert {u.pk: read_kept(settings.UPLOAD_STORE, u.stored_path)
            for u in Upload.objects.filter(collection=within)} == kept_within  # fmt: skip

    # The figures stay, and a recount (from no pupils) does not replace them.
    assert rebuild_facts(past) == 0
    assert _run(capsys, *figures)[1] == figures_before
    page_after = client.get(summary)
    assert page_after.status_code == 200
    shown = _figures_shown(page_before)
    assert "80.0%4 of 5" in shown  # reading: 4 of 5 pupils at the expected standard
    assert _figures_shown(page_after) == shown
    # The return's totals stay; its files are no longer held.
    generation = ReturnGeneration.objects.get(collection=past)
    assert (generation.school_count, generation.pupil_count) == (2, 5)
    download = reverse("la-return-download", kwargs={"code": "938", "serial": 1,
                                                      "file": generation.bundle_name})  # fmt: skip
    assert client.get(download).status_code == 404

    # A second run finds nothing left.
    status, out, _ = _run(capsys, "retention", "--as-of", "2029-01-01", "--yes")
    assert status == 0 and "no pupil-level data left" in out


def test_the_run_is_audited_and_the_audit_log_keeps_no_pupil_details(held):
    from keystage.audit.models import AuditEvent
    from keystage.operations.retention import do_apply_retention

    do_apply_retention(AS_OF)

    rows = {e.la.code if e.la else "": e for e in AuditEvent.objects.filter(
        action="retention.deleted")}  # fmt: skip
    assert set(rows) == {"938", ""}
    detail = rows["938"].detail
    assert detail["collection"] == PAST and detail["pupils"] == 5 and detail["uploads"] == 2
    assert rows["938"].actor.startswith("cli")
    everything = json.dumps([e.detail for e in AuditEvent.objects.all()])
    for upn in (held["edited_upn"], held["asked_upn"]):
        assert upn not in everything
    assert "SMITH-JONES" not in everything and "left in May" not in everything
    # Who edited which record, and when, is still there.
    edit = AuditEvent.objects.get(action="pupil.edited")
    assert edit.actor == "officer938" and edit.detail["personal_data_deleted"] == "2029-01-01"


def test_within_its_retention_nothing_is_touched(held, capsys):
    before = _held_rows(held["past"])
    status, out, _ = _run(capsys, "retention")  # today: 2023's data is kept until 2028
    assert status == 0
    assert "within its retention until 12 October 2028: untouched" in out
    assert _held_rows(held["past"]) == before


def test_the_operator_setting_overrides_the_definition(held, settings, capsys):
    settings.KEYSTAGE_RETENTION_YEARS = "1"
    status, out, _ = _run(capsys, "retention", "--dry-run", "--as-of", "2026-11-01")
    assert status == 0
    assert "ks1-2023): closed 12 October 2023, kept 1 year: past its retention since " \
        "12 October 2024: would delete:" in out  # fmt: skip
    assert "ks1-2025): closed 12 October 2025, kept 1 year: past its retention since " \
        "12 October 2026: would delete:" in out  # fmt: skip
    assert "Nothing was deleted (--dry-run)" in out
    settings.KEYSTAGE_RETENTION_YEARS = "five"
    status, _, err = _run(capsys, "retention", "--dry-run")
    assert status == 2 and "KEYSTAGE_RETENTION_YEARS 'five' is not a whole number" in err
    assert _held_rows(held["past"])["pupils"] == 5


def test_a_day_later_than_today_deletes_only_when_confirmed(held, capsys):
    status, _, err = _run(capsys, "retention", "--as-of", "2029-01-01")
    assert status == 2 and "later than today" in err and "--yes" in err
    status, _, err = _run(capsys, "retention", "--as-of", "1/1/2029")
    assert status == 2 and "YYYY-MM-DD" in err
    assert _held_rows(held["past"])["pupils"] == 5


def test_a_definition_says_how_long_pupil_data_is_kept():
    d = definitions.load(PAST)
    assert d.retention.closes == dt.date(2023, 10, 12)
    assert d.retention.delete_from() == dt.date(2028, 10, 12)
    assert d.retention.delete_from(0) == d.retention.closes
    leap = definitions.Retention(closes=dt.date(2024, 2, 29), pupil_data_years=1)
    assert leap.delete_from() == dt.date(2025, 2, 28)
    raw = dict(d.raw)
    raw.pop("retention")
    with pytest.raises(ValueError, match="retention.pupil_data_years"):
        definitions.parse_definition(raw, source="copy.toml")


# -- the data directory is for its owner only --------------------------------------------------


def _loose(folder: Path) -> list[str]:
    """Files and folders under `folder` (and itself) that others than the owner may read."""
    found = []
    for path in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{oct(mode)} {path.relative_to(folder.parent)}")
    return found


def test_the_data_directory_and_everything_in_it_is_readable_by_its_owner_only(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as an operator might have made it
    files = tmp_path / "files"
    files.mkdir()
    (files / "a.xml").write_text(ctf([pupil(n) for n in range(1, 4)]), encoding="utf-8")
    (files / "cut.xml").write_text("<CTfile><Header>", encoding="utf-8")
    register = write_register(tmp_path / "schools.csv")
    # SQLite: the database file is in the data directory (on PostgreSQL it is the server's).
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["KEYSTAGE_DATA_DIR"] = str(data)
    for args, status in ((["init"], 0), (["schools", "load", str(register)], 0),
                         (["import", str(files)], 1),
                         (["return", "build", "--la", "938", "--out", str(tmp_path / "r"),
                           "--yes"], 0)):  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "keystage.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == status, done.stderr
    made = {p.relative_to(data).parts[0] for p in data.rglob("*")}
    assert {"keystage.sqlite3", "secret_key", "uploads", "returns"} <= made
    assert any(data.glob("uploads/packs/*.pack"))
    assert _loose(data) == []


def test_a_pack_shared_with_kept_files_loses_only_the_deleted_bytes(held, settings):
    """A pack holding files of both collections stays, with the deleted files' bytes zeroed."""
    from keystage.operations.retention import do_apply_retention
    from keystage.submissions.kept import kept_span, read_kept
    from keystage.submissions.models import Upload

    store = Path(settings.UPLOAD_STORE)
    deleted = Upload.objects.filter(collection=held["past"], state="current").first()
    pack, offset, length = kept_span(deleted.stored_path)
    school_file = read_kept(store, deleted.stored_path)
    kept = Upload.objects.filter(collection=held["within"]).exclude(stored_path="").first()
    wanted = read_kept(store, kept.stored_path)
    with open(store / pack, "ab") as f:  # as if one process had kept both in its pack
        at = f.tell()
        f.write(wanted)
    kept.stored_path = f"{pack}@{at}+{len(wanted)}"
    kept.save()

    result = do_apply_retention(AS_OF)

    assert result.file_errors == []
    assert read_kept(store, kept.stored_path) == wanted
    assert read_kept(store, f"{pack}@{offset}+{length}") == bytes(length) != school_file
    assert school_file not in (store / pack).read_bytes()


def test_web_uploads_waiting_for_the_worker_are_for_the_owner_only(la938, members, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from keystage.submissions.batches import do_create_batch

    batch = do_create_batch(members["officer938"],
                            [SimpleUploadedFile("a.xml", ctf([pupil(1)]).encode())])  # fmt: skip
    folder = Path(batch.folder)
    assert any(p.is_file() for p in folder.rglob("*"))
    assert folder.is_relative_to(Path(settings.DATA_DIR))
    assert _loose(folder) == []


def test_a_collection_without_a_definition_is_left_as_it_is(held, capsys):
    from keystage.submissions.models import Collection

    Collection.objects.create(code="ks9-1999", name="An old collection", year=1999)
    status, out, _ = _run(capsys, "retention", "--dry-run", "--as-of", "2029-01-01")
    assert status == 0
    assert "An old collection (ks9-1999): Keystage has no definition for it: left as it is." in out


def test_a_failure_part_way_deletes_nothing_of_that_collection(held, settings, capsys,
                                                               monkeypatch):  # fmt: skip
    from django.db import DatabaseError

    from keystage.operations import retention

    before = _held_rows(held["past"])
    packs = _kept_packs(held["past"], settings)

    def fail(*args, **kwargs):  # the audit row is written last, after every delete
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr(retention, "record", fail)
    status, _, err = _run(capsys, "retention", "--as-of", "2029-01-01", "--yes")
    assert status == 3 and "the database failed (disk I/O error)" in err
    assert _held_rows(held["past"]) == before
    assert packs and all(p.is_file() for p in packs)
    assert not retention.pupil_data_deleted(held["past"])
