"""The `keystage` command run as a separate process on its own database, as an LA officer
runs it: before set-up, and an import killed half-way."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from keystage.submissions.kept import read_kept
from tests.builders import pupil, write_ctf, write_register

KEYSTAGE = [sys.executable, "-m", "keystage.cli"]


@pytest.fixture
def own_database(tmp_path):
    """Environment for a subprocess with a database of its own: an SQLite file, or a fresh
    PostgreSQL database when the suite runs on PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["KEYSTAGE_DATA_DIR"] = str(tmp_path / "data")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield env, None
        return
    import psycopg

    name = f"keystage_proc_{uuid.uuid4().hex[:8]}"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    yield env, env["DATABASE_URL"]
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(env, *args, **kw):
    return subprocess.run(
        [*KEYSTAGE, *args], env=env, capture_output=True, text=True, timeout=300, **kw
    )


def query(env, pg_url, sql):
    if pg_url:
        import psycopg

        with psycopg.connect(pg_url) as c:
            return c.execute(sql).fetchall()
    import sqlite3

    with sqlite3.connect(Path(env["KEYSTAGE_DATA_DIR"]) / "keystage.sqlite3", timeout=30) as c:
        return c.execute(sql).fetchall()


def set_up_schools(env, tmp_path, *, count: int, pupils: int) -> Path:
    """A database with `count` schools of LA 938 and a folder with one CTF for each."""
    assert run(env, "init").returncode == 0
    schools = [(f"13{n:04d}", "938", "West Sussex", f"{2100 + n}", f"School {n}",
                "Community school", "Primary", "Open") for n in range(count)]  # fmt: skip
    register = write_register(tmp_path / "s.csv", schools)
    assert run(env, "schools", "load", str(register)).returncode == 0
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(count):
        estab = f"{2100 + n}"
        write_ctf(folder / f"938{estab}_CTF_938LLLL_001.xml",
                  [pupil(i, estab=estab) for i in range(1, pupils + 1)], estab=estab)  # fmt: skip
    return folder


def test_commands_before_init_say_what_to_do(own_database):
    env, _ = own_database
    r = run(env, "errors")
    assert r.returncode == 2
    assert "keystage init" in r.stderr and "Traceback" not in r.stderr


def test_import_killed_midway_leaves_every_file_whole(own_database, tmp_path):
    env, pg_url = own_database
    folder = set_up_schools(env, tmp_path, count=120, pupils=59)
    proc = subprocess.Popen(
        [*KEYSTAGE, "import", "--jobs", "1", str(folder)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            stored = query(env, pg_url, "SELECT COUNT(*) FROM submissions_upload")[0][0]
        except Exception:  # the database may be busy or not yet created
            stored = 0
        if stored >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the import finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    uploads = query(env, pg_url, "SELECT id, pupil_count FROM submissions_upload")
    assert 0 < len(uploads) < 120
    per_upload = dict(
        query(
            env,
            pg_url,
            "SELECT upload_id, COUNT(*) FROM submissions_pupilrecord GROUP BY upload_id",
        )
    )
    assert {uid: per_upload.get(uid, 0) for uid, _ in uploads} == dict(uploads)
    assert set(per_upload) <= {uid for uid, _ in uploads}
    # Running the same import again stores the rest and leaves the stored files unchanged.
    again = run(env, "import", "--format", "csv", str(folder))
    assert again.returncode == 0, again.stderr
    outcomes = [line.split(",")[1] for line in again.stdout.splitlines()[1:]]
    assert outcomes.count("unchanged") == len(uploads)
    assert outcomes.count("accepted") == 120 - len(uploads)
    # Every upload's kept copy is whole: those of the killed run and those of the second run,
    # which its worker processes kept.
    store = Path(env["KEYSTAGE_DATA_DIR"]) / "uploads"
    kept = query(env, pg_url, "SELECT sha256, stored_path FROM submissions_upload")
    assert len(kept) == 120
    assert all(hashlib.sha256(read_kept(store, where)).hexdigest() == sha for sha, where in kept)
    assert len(list((store / "packs").iterdir())) >= 2  # one pack per process


def test_a_failure_while_storing_with_workers_ends_the_command(own_database, tmp_path):
    """A database failure in the middle of a parallel import must end the command with a
    message, never leave it waiting for its worker processes."""
    env, pg_url = own_database
    folder = set_up_schools(env, tmp_path, count=40, pupils=29)
    # Make every insert of a pupil record fail, as a full disk or a broken database would.
    trigger = (
        "CREATE TRIGGER no_pupils BEFORE INSERT ON submissions_pupilrecord "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        if not pg_url
        else "CREATE FUNCTION no_pupils() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ "
        "LANGUAGE plpgsql; CREATE TRIGGER no_pupils BEFORE INSERT ON submissions_pupilrecord "
        "FOR EACH ROW EXECUTE FUNCTION no_pupils()"
    )
    execute(env, pg_url, trigger)
    r = run(env, "import", "--jobs", "2", str(folder))
    assert r.returncode == 3
    assert "disk full" in r.stderr and "Traceback" not in r.stderr
    assert query(env, pg_url, "SELECT COUNT(*) FROM submissions_pupilrecord")[0][0] == 0


def execute(env, pg_url, sql):
    if pg_url:
        import psycopg

        with psycopg.connect(pg_url, autocommit=True) as c:
            c.execute(sql)
        return
    import sqlite3

    with sqlite3.connect(Path(env["KEYSTAGE_DATA_DIR"]) / "keystage.sqlite3") as c:
        c.executescript(sql)
