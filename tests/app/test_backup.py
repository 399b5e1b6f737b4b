"""Backup and restore (`keystage backup`, `keystage restore`): a loaded collection (uploads,
pupils, findings, an LA's edit and explanation in the cleaning grid, a checking release, a
built return, a web upload batch, report facts, audit rows) is backed up, restored into a
fresh empty target, and every table's rows and every kept file's bytes are compared. On
SQLite the target is a new file; on PostgreSQL a database of its own, made and dropped here.
Also: a target that is not empty is refused and left as it was; a damaged backup is refused
before anything is written."""

from __future__ import annotations

import io
import os
import sqlite3
import stat
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from keystage.operations import backup
from tests.builders import ctf, pupil, write_register

pytestmark = pytest.mark.django_db(transaction=True)
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


@pytest.fixture
def collection_in_use(la938, members, loaded, settings, tmp_path):
    """LA 938's two schools imported (la938), then what its users do, through the actions."""
    from keystage.checking.actions import do_release
    from keystage.returns.actions import do_build_return
    from keystage.submissions.batches import do_create_batch
    from keystage.submissions.cleaning import do_edit_pupil, do_explain_query
    from keystage.submissions.models import Finding, PupilRecord

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    officer = members["officer938"]
    p = PupilRecord.objects.filter(school__laestab="9382001", is_current=True).first()
    do_edit_pupil(officer, p.pk, p.version, {"sex": "F" if p.sex == "M" else "M"},
                  reason="Phoned the school")  # fmt: skip
    query = Finding.objects.filter(la=la938, severity="query", is_current=True).first()
    do_explain_query(officer, query.pk, "Checked with the school")
    do_release(officer, loaded)
    do_build_return(la938, loaded, user=officer, confirm=True)
    rows = [pupil(n, estab="2001") for n in range(1, 3)]
    do_create_batch(officer, [SimpleUploadedFile("web.xml", ctf(rows).encode(), "text/xml")])
    from keystage.reports.tasks import rebuild_facts_task

    rebuild_facts_task.enqueue(loaded.pk, [p.school_id])
    return la938


@pytest.fixture
def empty_target(tmp_path):
    """A fresh, empty place to restore into: folders not yet made, a database with no tables."""
    database = dict(connection.settings_dict)
    made = None
    if connection.vendor == "sqlite":
        database = {"ENGINE": database["ENGINE"], "NAME": str(tmp_path / "restored" / "db.sqlite3")}
    else:
        import psycopg

        made = f"keystage_restore_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(**backup._pg_params({**database, "NAME": "postgres"}),
                             autocommit=True) as c:  # fmt: skip
            c.execute(f'CREATE DATABASE "{made}"')
        database["NAME"] = made
    yield backup.Place(
        database=database,
        data_dir=tmp_path / "restored" / "data",
        upload_store=tmp_path / "restored" / "store",
    )
    if made:
        import psycopg

        with psycopg.connect(**backup._pg_params({**database, "NAME": "postgres"}),
                             autocommit=True) as c:  # fmt: skip
            c.execute(f'DROP DATABASE IF EXISTS "{made}" WITH (FORCE)')


def _rows_of_every_table(database: dict, source: bool) -> dict[str, list]:
    """{table: sorted rows} read with the database driver itself (not Django's cursor, whose
    converters differ between connections), from the test database or the restored one."""
    if database["ENGINE"].endswith("sqlite3"):
        if source:
            db = connection.connection  # the test database (in memory), with Django's converters
        else:
            db = sqlite3.connect(database["NAME"], detect_types=sqlite3.PARSE_DECLTYPES
                                 | sqlite3.PARSE_COLNAMES)  # fmt: skip
        names = backup._sqlite_counts(db)
        out = {n: sorted(db.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
        if not source:
            db.close()
        return out
    import psycopg
    from psycopg import sql

    with psycopg.connect(**backup._pg_params(database)) as c:
        return {
            n: sorted(
                c.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(n))).fetchall(),
                key=repr,
            )  # fmt: skip
            for n in backup._pg_counts(c)
        }


def _files(root: Path, leave_out: set[Path] = frozenset()) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p not in leave_out
    }


def test_a_loaded_collection_comes_back_whole(collection_in_use, settings, tmp_path,
                                              empty_target):  # fmt: skip
    from keystage.audit.models import AuditEvent
    from keystage.returns.models import ReturnGeneration
    from keystage.submissions.models import ImportBatch, Upload

    # What the backup must hold: each kind of record the users made, and files of each kind.
    assert Upload.objects.count() == 2 and ReturnGeneration.objects.count() == 1
    assert ImportBatch.objects.count() == 1
    events = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"upload.accepted", "pupil.edited", "query.explained", "checking.released",
            "return.generated", "batch.created"} <= events  # fmt: skip
    data, store = Path(settings.DATA_DIR), Path(settings.UPLOAD_STORE)
    assert (data / "returns").is_dir() and (data / "web-uploads").is_dir()
    assert any((store / "packs").iterdir())
    source = backup.Place.from_settings()
    rows_before = _rows_of_every_table(source.database, source=True)
    assert rows_before["submissions_pupilrecord"] and rows_before["submissions_finding"]
    assert rows_before["reports_fact"]

    out = tmp_path / "keystage.backup"
    manifest = backup.make_backup(out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["database"]["tables"] == {t: len(r) for t, r in rows_before.items()}
    assert ["submissions", "0001_initial"] in manifest["database"]["migrations"]

    restored = backup.restore_backup(out, empty_target)
    assert restored["pending_migrations"] == []
    assert _rows_of_every_table(empty_target.database, source=False) == rows_before
    db_file = empty_target.sqlite_path()
    assert _files(empty_target.data_dir, {db_file} if db_file else set()) == _files(data)
    assert _files(empty_target.upload_store) == _files(store)
    written = [p for p in empty_target.data_dir.rglob("*") if p.is_file()]
    written += [p for p in empty_target.upload_store.rglob("*") if p.is_file()]
    assert written and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in written)


def test_a_target_that_is_not_empty_is_refused_and_left_as_it_was(collection_in_use, tmp_path,
                                                                  empty_target):  # fmt: skip
    out = tmp_path / "keystage.backup"
    backup.make_backup(out)
    # Files in the data directory.
    empty_target.data_dir.mkdir(parents=True)
    (empty_target.data_dir / "notes.txt").write_text("someone's files", "utf-8")
    with pytest.raises(backup.Refused, match=r"data.* is not empty \(notes.txt\)"):
        backup.restore_backup(out, empty_target)
    assert [p.name for p in empty_target.data_dir.iterdir()] == ["notes.txt"]
    assert not empty_target.upload_store.exists()
    assert backup._target_counts(empty_target) == {}
    # Tables in the database (a restore done before), the folders empty.
    (empty_target.data_dir / "notes.txt").unlink()
    backup.restore_backup(out, empty_target)
    for root in (empty_target.data_dir, empty_target.upload_store):
        for p in sorted(root.rglob("*"), reverse=True):
            if p != empty_target.sqlite_path():
                p.rmdir() if p.is_dir() else p.unlink()
    counts = backup._target_counts(empty_target)
    with pytest.raises(backup.Refused, match=r"the database .* is not empty \(\d+ tables\)"):
        backup.restore_backup(out, empty_target)
    assert backup._target_counts(empty_target) == counts
    assert not any(p.is_file() and p != empty_target.sqlite_path()
                   for p in empty_target.data_dir.rglob("*"))  # fmt: skip


def _rewrite(out: Path, damaged: Path, change) -> None:
    with tarfile.open(out, "r:gz") as src, tarfile.open(damaged, "w:gz") as dst:
        for info in src:
            body = src.extractfile(info).read()
            body = change(info.name, body)
            info.size = len(body)
            dst.addfile(info, io.BytesIO(body))


def test_a_damaged_backup_is_refused_before_anything_is_written(collection_in_use, tmp_path,
                                                                empty_target):  # fmt: skip
    out = tmp_path / "keystage.backup"
    manifest = backup.make_backup(out)
    pack = next(m for m in manifest["members"] if m.startswith("files/uploads/packs/"))
    changed = tmp_path / "changed.backup"
    _rewrite(
        out, changed, lambda name, body: body.replace(b"BEN", b"BOB") if name == pack else body
    )
    with pytest.raises(backup.Damaged, match=f"{pack} does not match its SHA-256"):
        backup.restore_backup(changed, empty_target)
    cut = tmp_path / "cut.backup"
    cut.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(backup.Damaged, match="not a Keystage backup, or damaged"):
        backup.restore_backup(cut, empty_target)
    not_backup = tmp_path / "pupils.csv"
    not_backup.write_text("upn,surname\n", "utf-8")
    with pytest.raises(backup.Damaged, match="not a Keystage backup"):
        backup.restore_backup(not_backup, empty_target)
    assert not empty_target.data_dir.exists() and not empty_target.upload_store.exists()
    assert backup._target_counts(empty_target) == {}


# -- the commands, as an operator runs them ----------------------------------------------------

KEYSTAGE = [sys.executable, "-m", "keystage.cli"]


def _env(tmp_path: Path, name: str, made: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KEYSTAGE_SECRET_KEY")}
    env["KEYSTAGE_DATA_DIR"] = str(tmp_path / name)
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        db = f"keystage_backup_{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{db}"')
        made.append(db)
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + db
    return env


def _run(env, *args):
    return subprocess.run([*KEYSTAGE, *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.mark.django_db(transaction=False)
def test_the_commands_round_trip_and_the_restored_service_says_the_same(tmp_path):
    made: list[str] = []
    try:
        first, second = _env(tmp_path, "first", made), _env(tmp_path, "second", made)
        folder = tmp_path / "files"
        folder.mkdir()
        (folder / "a.xml").write_text(ctf([pupil(n) for n in range(1, 4)]), "utf-8")
        for args in (["init"], ["schools", "load", str(write_register(tmp_path / "s.csv"))],
                     ["import", str(folder)]):  # fmt: skip
            assert _run(first, *args).returncode == 0
        out = tmp_path / "nightly.backup"
        done = _run(first, "backup", "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert f"Backup written to {out}" in done.stdout
        done = _run(second, "restore", str(out), "--format", "json")
        assert done.returncode == 0, done.stderr
        for args in (["pupils", "--la", "938", "--format", "csv"], ["errors", "--la", "938"]):
            assert _run(second, *args).stdout == _run(first, *args).stdout
        # The secret key came back too: the restored service signs as the first one did.
        assert (tmp_path / "second" / "secret_key").read_bytes() == (
            tmp_path / "first" / "secret_key"
        ).read_bytes()
        again = _run(second, "restore", str(out))
        assert again.returncode == 2
        assert "is not empty" in again.stderr and len(again.stderr.splitlines()) == 1
    finally:
        if made:
            import psycopg

            url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
            with psycopg.connect(url, autocommit=True) as c:
                for db in made:
                    c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


WRITER = r"""
import sys, time
from pathlib import Path
url, stop, started = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
if url.startswith("postgres"):
    import psycopg
    db, mark = psycopg.connect(url, autocommit=True), "%s"
else:
    import sqlite3
    db, mark = sqlite3.connect(url, timeout=30, isolation_level=None), "?"
n = 0
while not stop.exists() and n < 100000:
    db.execute("INSERT INTO audit_auditevent (at, actor, action, object_type, object_id, detail)"
               f" VALUES ({', '.join([mark] * 6)})",
               ("2026-01-01 00:00:00+00:00", "writer", "view.data_errors", "", str(n), "{}"))
    n += 1
    started.touch()
"""


@pytest.mark.django_db(transaction=False)
def test_a_backup_taken_while_the_database_is_written_restores_to_one_moment(tmp_path):
    """Another process writes audit rows, one a transaction, all through the backup: the
    restore's check of every table's count against the manifest (counted in the backup's own
    snapshot) must hold, and the backup must not fail on the writer's locks."""
    made: list[str] = []
    writer = None
    try:
        first, second = _env(tmp_path, "first", made), _env(tmp_path, "second", made)
        assert _run(first, "init").returncode == 0
        url = first.get("DATABASE_URL") or str(tmp_path / "first" / "keystage.sqlite3")
        stop, started = tmp_path / "stop", tmp_path / "started"
        writer = subprocess.Popen([sys.executable, "-c", WRITER, url, str(stop), str(started)])
        for _ in range(600):  # until its first row is in (a bounded wait, not a timing)
            if started.exists() or writer.poll() is not None:
                break
            time.sleep(0.05)
        assert started.exists(), "the writer did not start"
        out = tmp_path / "busy.backup"
        done = _run(first, "backup", "--out", str(out), "--format", "json")
        stop.touch()
        assert writer.wait(timeout=60) == 0
        assert done.returncode == 0, done.stderr
        manifest = backup.read_manifest(out)
        assert manifest["database"]["tables"]["audit_auditevent"] > 0
        done = _run(second, "restore", str(out))
        assert done.returncode == 0, done.stderr  # every table's count checked
    finally:
        if writer is not None and writer.poll() is None:
            writer.kill()
            writer.wait()
        if made:
            import psycopg

            url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
            with psycopg.connect(url, autocommit=True) as c:
                for db in made:
                    c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
