"""What the tests that run the real task worker share (test_real_worker, test_faults): the
environment of their processes, Python run in a process of its own against the test's database
(with an LA officer signed in), the worker itself (`db_worker`), and databases of their own
copied from one migrated once (`MigratedTemplate`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The start of a script run with `python -c` against the test's database: the LAs and a
# register of LA 938's schools loaded (from the folder given as its first argument), and an
# LA officer of 938 signed in with two-factor (`client`).
OFFICER_SIGNED_IN_ON_NEW_DATA = """
import json, sys
from pathlib import Path
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from keystage.web.links import reverse
from keystage.accounts.actions import do_create_member
from keystage.accounts.models import Role
from keystage.orgs.actions import do_load_reference, do_load_register
from keystage.orgs.models import LocalAuthority
from keystage.submissions.models import ImportBatch
from tests.app.conftest import verify_two_factor
from tests.builders import ctf, pupil, write_register

tmp = Path(sys.argv[1])
do_load_reference()
do_load_register(write_register(tmp / "schools.csv"))
user = do_create_member("officer938", role=Role.LA_OFFICER,
                        la=LocalAuthority.objects.get(code="938")).user
client = Client()
client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
verify_two_factor(client, user)
"""

# The start of a script that reads what the officer of OFFICER_SIGNED_IN_ON_NEW_DATA sees
# afterwards (`client`), and the rows of the LA's summary CSV when asked (`summary_rows()`).
OFFICER_SIGNED_IN_AGAIN = """
import csv, io, json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from keystage.web.links import reverse
from tests.app.conftest import verify_two_factor

user = get_user_model().objects.get(username="officer938")
client = Client()
client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
verify_two_factor(client, user)


def summary_rows():
    summary = client.get(reverse("report-summary-export",
                                 kwargs={"level": "la", "code": "938", "fmt": "csv"}))
    return list(csv.DictReader(io.StringIO(summary.content.decode().lstrip("\\ufeff"))))
"""


def process_env(tmp_path: Path, database_url: str, *, drop=("KEYSTAGE_FAULT",)) -> dict:
    """The environment of the test's processes: its data folder, its database, the suite's
    code importable (tests.builders), and the development settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", *drop)}
    env.update(
        DATABASE_URL=database_url,
        KEYSTAGE_DATA_DIR=str(tmp_path / "data"),
        KEYSTAGE_ALLOWED_HOSTS="testserver,localhost",
        DJANGO_SETTINGS_MODULE="keystage.web.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")]),
    )
    return env


def run_python(args: list[str], env: dict, timeout: float = 180) -> str:
    """Run Python with `args` in the test's environment; fails the test when it fails."""
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def run_json(args: list[str], env: dict) -> dict:
    """The JSON a script prints on its last line."""
    return json.loads(run_python(args, env).strip().splitlines()[-1])


def migrate(env: dict) -> None:
    run_python(["-m", "keystage.manage", "migrate", "--no-input", "-v", "0"], env)


def start_worker(env: dict, log: Path, **extra: str) -> subprocess.Popen:
    """The real task worker, polling every 0.2 s, its output appended to `log`; `extra` adds
    to its environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "keystage.manage", "db_worker", "--interval", "0.2",
         "--no-startup-delay", "--no-reload"],
        env={**env, **extra}, cwd=ROOT, stdout=log.open("a"), stderr=subprocess.STDOUT,
    )  # fmt: skip


class MigratedTemplate:
    """A database migrated once (about 6 s of CPU a migration), from which each test that runs
    processes on a database of its own gets a fresh copy: an SQLite file copied, or a
    PostgreSQL database created from it as a template when the suite runs on PostgreSQL. What
    is copied is exactly what `migrate` makes; the tests of `keystage init` itself start from
    an empty database instead."""

    def __init__(self, folder: Path):
        self.url = os.environ.get("DATABASE_URL", "")
        self.made: list[str] = []
        folder.mkdir(parents=True, exist_ok=True)
        if self.url.startswith("postgres"):
            self.template = f"keystage_template_{uuid.uuid4().hex[:8]}"
            self._admin(f'CREATE DATABASE "{self.template}"')
            migrate(process_env(folder, self._url_of(self.template)))
        else:
            self.template = str(folder / "template.sqlite3")
            migrate(process_env(folder, f"sqlite:///{self.template}"))

    def _url_of(self, name: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + name

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self._url_of("postgres"), autocommit=True) as c:
            c.execute(sql)

    def new(self, sqlite_file: Path) -> str:
        """The URL of a fresh migrated database (SQLite: at `sqlite_file`)."""
        if not self.url.startswith("postgres"):
            shutil.copyfile(self.template, sqlite_file)
            return f"sqlite:///{sqlite_file}"
        name = f"keystage_copy_{uuid.uuid4().hex[:8]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.made.append(name)
        return self._url_of(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[-1]
        if name in self.made:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.made.remove(name)

    def close(self) -> None:
        for name in [*self.made, self.template]:
            if self.url.startswith("postgres"):
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.clear()
