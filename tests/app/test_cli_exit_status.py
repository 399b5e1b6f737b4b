"""Every exit status docs/cli.md gives each `keystage` command, by running the real command (a
separate process, `python -m keystage.cli`) on databases of its own: one ready (set up, a
register, two school files, one with a query), one never set up, one whose tables are broken
(dropped after set-up, as a failing database would lose them) and one that cannot be reached.
On PostgreSQL each is a database of its own, made and dropped here."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from keystage.engine import definition
from tests.builders import ctf, pupil, write_register

KEYSTAGE = [sys.executable, "-m", "keystage.cli"]
DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
# Tables dropped from the broken database: every command that reads or writes data needs one.
BROKEN_TABLES = (
    "orgs_school", "submissions_pupilrecord", "submissions_finding", "submissions_upload",
    "reports_fact",
)  # fmt: skip

# (command as docs/cli.md names it, exit status, database, arguments). `{tmp}` is a fresh
# folder for the case.
CASES = [
    ("init", 0, "ready", ["init"]),
    ("init", 2, "ready", ["--collection", "ks9-2031", "init"]),
    ("init", 3, "unreachable", ["init"]),
    ("schools load", 0, "ready", ["schools", "load", "{clean_register}"]),
    ("schools load", 1, "ready", ["schools", "load", "{register_with_bad_rows}"]),
    ("schools load", 1, "ready", ["schools", "load", "{register_without_columns}"]),
    ("schools load", 2, "ready", ["schools", "load", "{tmp}/missing.csv"]),
    ("schools load", 2, "empty", ["schools", "load", "{clean_register}"]),
    ("schools load", 3, "broken", ["schools", "load", "{clean_register}"]),
    ("settings load", 0, "ready", ["settings", "load", "{settings_register}"]),
    ("settings load", 1, "ready", ["settings", "load", "{register_with_bad_rows}"]),
    ("settings load", 2, "ready", ["settings", "load", "{tmp}/missing.csv"]),
    ("settings load", 2, "empty", ["settings", "load", "{settings_register}"]),
    ("settings load", 3, "broken", ["settings", "load", "{settings_register}"]),
    ("import", 0, "ready", ["import", "{clean_file}"]),
    ("import", 1, "ready", ["import", "{clean_file}", "{broken_file}"]),
    ("import", 2, "ready", ["import", "{tmp}/missing"]),
    ("import", 2, "empty", ["import", "{clean_file}"]),
    ("import", 3, "broken", ["import", "--jobs", "1", "{clean_file}"]),
    ("errors", 0, "ready", ["errors", "--la", "938"]),
    ("errors", 2, "ready", ["errors", "--severity", "fatal"]),
    ("errors", 2, "empty", ["errors"]),
    ("errors", 3, "broken", ["errors", "--la", "938"]),
    ("pupils", 0, "ready", ["pupils", "--la", "938", "--format", "csv"]),
    ("pupils", 2, "ready", ["pupils", "--format", "xml"]),
    ("pupils", 2, "empty", ["pupils"]),
    ("pupils", 3, "broken", ["pupils", "--la", "938"]),
    ("report", 0, "ready", ["report", "summary", "--la", "938"]),
    ("report", 2, "ready", ["report", "summary", "--la", "938", "--school", "9382001"]),
    ("report", 2, "ready", ["report", "summary", "--la", "999"]),
    ("report", 2, "empty", ["report", "national"]),
    ("report", 3, "broken", ["report", "summary", "--la", "938"]),
    ("generate", 0, None, ["generate", "--out", "{tmp}/files", "--la", "201"]),
    ("generate", 2, None, ["generate", "--out", "{tmp}/files", "--la", "999"]),
    ("generate", 2, None, ["generate", "--out", "{tmp}/files", "--la", "201", "--error-rate", "2"]),
    (
        "generate",
        0,
        None,
        ["generate", "--collection", "phonics-2023", "--out", "{tmp}/p", "--la", "201"],
    ),
    (
        "generate",
        2,
        None,
        ["generate", "--out", "{tmp}/files", "--la", "201", "--error-rate", "0.7"],
    ),
    (
        "generate",
        2,
        None,
        ["--collection", "ks1-2024", "generate", "--out", "{tmp}/f", "--la", "201"],
    ),
    ("serve", 0, "ready", ["serve", "--dev", "--no-worker", "--port", "{free_port}"]),
    ("serve", 2, "ready", ["serve", "--port", "0"]),
    ("serve", 2, "ready", ["serve", "--dev", "--port", "{busy_port}"]),
    # gunicorn needs the production settings (or KEYSTAGE_DEBUG=1): tests/app/test_serve.py
    ("serve", 2, "ready", ["serve", "--no-worker", "--port", "{free_port}"]),
    ("serve", 2, "ready", ["serve", "--dev", "--workers", "2", "--port", "{free_port}"]),
    ("serve", 3, "unreachable", ["serve", "--dev", "--no-worker", "--port", "{free_port}"]),
    ("return build", 0, "ready", ["return", "build", "--la", "938", "--out", "{tmp}/r", "--yes"]),
    ("return build", 1, "ready", ["return", "build", "--la", "938", "--out", "{tmp}/r"]),
    ("return build", 2, "ready", ["return", "build", "--la", "999", "--out", "{tmp}/r"]),
    ("return build", 2, "ready", ["return", "build", "--la", "938", "--out", "{clean_file}"]),
    ("return build", 2, "empty", ["return", "build", "--la", "938", "--out", "{tmp}/r"]),
    ("return build", 3, "broken", ["return", "build", "--la", "938", "--out", "{tmp}/r"]),
    ("demo", 0, "fresh", ["demo", "--la", "202"]),
    ("demo", 2, "fresh", ["demo", "--la", "999"]),
    ("demo", 3, "broken", ["demo", "--la", "202"]),
    ("retention", 0, "ready", ["retention", "--dry-run", "--as-of", "2029-01-01"]),
    ("retention", 0, "ready", ["retention"]),
    ("retention", 2, "ready", ["retention", "--as-of", "2029-01-01"]),
    ("retention", 2, "ready", ["retention", "--dry-run", "--as-of", "12/10/2028"]),
    ("retention", 2, "empty", ["retention", "--dry-run"]),
    ("retention", 3, "broken", ["retention", "--dry-run", "--as-of", "2029-01-01"]),
    ("backup", 0, "ready", ["backup", "--out", "{tmp}/keystage.backup"]),
    ("backup", 2, "ready", ["backup", "--out", "{clean_file}"]),
    ("backup", 2, "ready", ["backup", "--out", "{tmp}/no-such-folder/keystage.backup"]),
    ("backup", 2, "empty", ["backup", "--out", "{tmp}/keystage.backup"]),
    ("backup", 3, "unreachable", ["backup", "--out", "{tmp}/keystage.backup"]),
    ("restore", 0, "blank", ["restore", "{backup}"]),
    ("restore", 1, "blank", ["restore", "{clean_file}"]),
    ("restore", 2, "ready", ["restore", "{backup}"]),
    ("restore", 2, "blank", ["restore", "{tmp}/missing.backup"]),
    ("restore", 3, "blank_unreachable", ["restore", "{backup}"]),
]


def _documented() -> set[tuple[str, int]]:
    """(command, status) of every filled cell of the exit status table in docs/cli.md."""
    found = set()
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"\| `keystage ([a-z ]+)` \|(.*)\|", line)
        if m:
            cells = [c.strip() for c in m.group(2).split("|")]
            found |= {(m.group(1), status) for status, cell in enumerate(cells) if cell}
    return found


def test_every_documented_status_is_tested_and_no_other():
    documented = _documented()
    assert len(documented) > 20, "docs/cli.md has no exit status table"
    assert {(command, status) for command, status, _, _ in CASES} == documented


class Places:
    """Databases for the command to run on, made on first use, dropped at the end."""

    def __init__(self, base: Path):
        self.base = base
        self.url = os.environ.get("DATABASE_URL", "")
        self.made: list[str] = []
        self.envs: dict[str, dict] = {}
        self.busy = socket.socket()  # a port something else listens on
        self.busy.bind(("127.0.0.1", 0))
        self.busy.listen()

    def env(self, name: str) -> dict:
        if name.startswith("blank"):  # a restore's target: new and empty for every case
            return getattr(self, f"_make_{name}")()
        if name not in self.envs:
            self.envs[name] = getattr(self, f"_make_{name}")()
        return self.envs[name]

    def _new(self, name: str) -> dict:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["KEYSTAGE_DATA_DIR"] = str(self.base / name)
        env.pop("KEYSTAGE_COLLECTION", None)
        env.pop("KEYSTAGE_SITE_URL", None)
        if self.url.startswith("postgres"):
            import psycopg

            db = f"keystage_exit_{name}_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(self._admin(), autocommit=True) as c:
                c.execute(f'CREATE DATABASE "{db}"')
            self.made.append(db)
            env["DATABASE_URL"] = self.url.rsplit("/", 1)[0] + "/" + db
        return env

    def _admin(self) -> str:
        return self.url.rsplit("/", 1)[0] + "/postgres"

    def _make_empty(self) -> dict:
        return self._new("empty")

    def _make_fresh(self) -> dict:
        return self._new(f"fresh-{uuid.uuid4().hex[:6]}")

    def _make_blank(self) -> dict:
        return self._new(f"blank-{uuid.uuid4().hex[:6]}")

    def _make_blank_unreachable(self) -> dict:
        return self._unreachable(f"blank-unreachable-{uuid.uuid4().hex[:6]}")

    def _make_ready(self) -> dict:
        env = self._new("ready")
        folder = self.base / "ready-files"
        folder.mkdir()
        (folder / "a.xml").write_text(ctf([pupil(n) for n in range(1, 4)]), encoding="utf-8")
        odd = [pupil(n, estab="2002", forename="BEN") for n in range(1, 3)]
        odd[0]["reading"] = "Q"  # KS1-T13: a query until explained, so a return has open items
        (folder / "b.xml").write_text(ctf(odd, estab="2002"), encoding="utf-8")
        for args in (["init"], ["schools", "load", str(self.clean_register())],
                     ["import", str(folder)]):  # fmt: skip
            done = run(env, args)
            assert done.returncode == 0, done.stderr
        return env

    def _make_broken(self) -> dict:
        env = self._new("broken")
        done = run(env, ["init"])
        assert done.returncode == 0, done.stderr
        if "DATABASE_URL" in env:
            import psycopg

            with psycopg.connect(env["DATABASE_URL"], autocommit=True) as c:
                for table in BROKEN_TABLES:
                    c.execute(f'DROP TABLE "{table}" CASCADE')
        else:
            import sqlite3

            with sqlite3.connect(Path(env["KEYSTAGE_DATA_DIR"]) / "keystage.sqlite3") as c:
                for table in BROKEN_TABLES:
                    c.execute(f'DROP TABLE "{table}"')
        return env

    def _make_unreachable(self) -> dict:
        return self._unreachable("unreachable")

    def _unreachable(self, name: str) -> dict:
        env = self._new(name)
        if self.url.startswith("postgres"):
            env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/nowhere"
        else:
            # A database file whose folder is a file: SQLite cannot open it.
            blocker = self.base / f"not-a-folder-{name}"
            blocker.write_text("", encoding="utf-8")
            env["DATABASE_URL"] = f"sqlite:///{blocker}/keystage.sqlite3"
        return env

    def clean_register(self) -> Path:
        path = self.base / "schools.csv"
        if not path.exists():
            write_register(path)
        return path

    def backup(self) -> Path:
        """A backup of the ready database, made once."""
        path = self.base / "ready.backup"
        if not path.exists():
            done = run(self.env("ready"), ["backup", "--out", str(path)])
            assert done.returncode == 0, done.stderr
        return path

    def values(self, tmp: Path, backup: bool = False) -> dict[str, str]:
        files = self.base / "inputs"
        if not files.exists():
            files.mkdir()
            (files / "clean.xml").write_text(ctf([pupil(1), pupil(2)]), encoding="utf-8")
            (files / "broken.xml").write_text("<CTfile><Header>", encoding="utf-8")
            bad = [("12345", "938", "West Sussex", "2001", "No URN", "Community school",
                    "Primary", "Open"),
                   ("125009", "999", "Nowhere", "2009", "No LA", "Community school",
                    "Primary", "Open")]  # fmt: skip
            write_register(files / "bad-rows.csv", bad)
            (files / "no-columns.csv").write_text("URN,Name\n125000,A school\n", "utf-8")
            (files / "settings.csv").write_text(
                "URN,LA (code),SettingName\n512345,938,Little Acorns Nursery\n", "utf-8"
            )
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        return {
            "busy_port": str(self.busy.getsockname()[1]),
            "tmp": str(tmp),
            "clean_register": str(self.clean_register()),
            "register_with_bad_rows": str(files / "bad-rows.csv"),
            "settings_register": str(files / "settings.csv"),
            "register_without_columns": str(files / "no-columns.csv"),
            "clean_file": str(files / "clean.xml"),
            "broken_file": str(files / "broken.xml"),
            "free_port": str(port),
            "backup": str(self.backup()) if backup else "",
        }

    def drop(self) -> None:
        self.busy.close()
        if not self.made:
            return
        import psycopg

        with psycopg.connect(self._admin(), autocommit=True) as c:
            for db in self.made:
                c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    made = Places(tmp_path_factory.mktemp("cli-exit"))
    yield made
    made.drop()


def run(env, args, timeout=300, **kw):
    return subprocess.run(
        [*KEYSTAGE, *args], env=env, capture_output=True, text=True, timeout=timeout, **kw
    )


def _serve_until_running(env, args) -> subprocess.CompletedProcess:
    """Start `keystage serve`; once it says it is running, stop it as `kill` would."""
    proc = subprocess.Popen([*KEYSTAGE, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        line = proc.stdout.readline()  # the first line, or "" when it ends without one
        if "is running at" in line:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, line + out, err)


@pytest.mark.parametrize(
    ("command", "status", "where", "args"),
    CASES,
    ids=[f"{c.replace(' ', '-')}-exits-{s}-{i}" for i, (c, s, _, _) in enumerate(CASES)],
)
def test_exit_status(command, status, where, args, places, tmp_path):
    env = places.env(where) if where else {**os.environ, "KEYSTAGE_DATA_DIR": str(tmp_path)}
    values = places.values(tmp_path, backup=any("{backup}" in a for a in args))
    argv = [a.format(**values) for a in args]
    if command == "serve" and status == 0:
        done = _serve_until_running(env, argv)
        assert "is running at" in done.stdout, done.stderr
    else:
        done = run(env, argv)
    assert done.returncode == status, (done.stdout[-2000:], done.stderr[-2000:])
    assert "Traceback" not in done.stderr
    if status in (2, 3):
        lines = done.stderr.strip().splitlines()
        argparse_error = lines and lines[-1].startswith("keystage") and ": error: " in lines[-1]
        # One line for people; argparse's own usage errors add the usage line before it.
        assert argparse_error or len(lines) == 1, done.stderr
        assert lines[-1].startswith("keystage"), done.stderr
    if status == 3:
        assert "the database failed" in done.stderr
    if status == 1:
        assert done.stderr.strip(), "a rejection says why on standard error"


@pytest.mark.parametrize(
    "args",
    [
        ["init"],
        ["schools", "load", "x.csv"],
        ["import", "x.xml"],
        ["errors"],
        ["pupils"],
        ["report", "national"],
        ["generate", "--out", "x", "--la", "201"],
        ["serve"],
        ["return", "build", "--la", "938", "--out", "x"],
        ["demo"],
        ["retention", "--dry-run"],
        ["backup", "--out", "x"],
        ["restore", "x"],
    ],
    ids=lambda a: "-".join(a[:2]),
)
def test_an_unknown_collection_is_one_line_naming_the_known_ones(args, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["KEYSTAGE_DATA_DIR"] = str(tmp_path / "data")
    # A short time-out: a command that ignored the collection could run on (serve, demo).
    done = run(env, ["--collection", "ks2-2024", *args], cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    known = ", ".join(definition.available())
    assert "ks1-2023, ks1-2024" in known and "phonics-2023" in known
    assert done.stderr.splitlines() == [
        f"keystage: --collection 'ks2-2024' is not a collection Keystage knows; "
        f"known collections: {known}"
    ]
    env["KEYSTAGE_COLLECTION"] = "ks2-2024"
    done = run(env, args, cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"keystage: KEYSTAGE_COLLECTION 'ks2-2024' is not a collection Keystage knows; "
        f"known collections: {known}"
    ]
    assert not (tmp_path / "x").exists()
