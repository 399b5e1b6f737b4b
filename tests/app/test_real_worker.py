"""The real task worker (django-tasks-db's `db_worker`), not the immediate backend the other
tests swap in: a file uploaded through the upload page is imported by the worker, which then
runs the fact rebuild it queues, and the batch page and the LA's report show the result.

Everything runs against a SQLite file of its own, so the worker (a separate process) sees what
the upload committed. The worker is always killed at the end; every wait is bounded."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 120  # seconds for the worker to run both tasks (about 5 s on a quiet machine)

# Run in a process of its own against the file database: sign an LA officer in, upload a file
# through the upload page, print what the page answered.
UPLOAD = """
import json, sys
import django
django.setup()
from django.test import Client
from django.urls import reverse
from keystage.accounts.actions import do_create_member
from keystage.accounts.models import Role
from keystage.orgs.actions import do_load_reference, do_load_register
from keystage.orgs.models import LocalAuthority
from keystage.submissions.models import ImportBatch
from tests.app.conftest import verify_two_factor
from tests.builders import ctf, pupil, write_register
from pathlib import Path
from django.core.files.uploadedfile import SimpleUploadedFile

tmp = Path(sys.argv[1])
do_load_reference()
do_load_register(write_register(tmp / "schools.csv"))
user = do_create_member("officer938", role=Role.LA_OFFICER,
                        la=LocalAuthority.objects.get(code="938")).user
client = Client()
client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
verify_two_factor(client, user)
rows = [pupil(n, reading="EXS" if n <= 3 else "WTS") for n in range(1, 5)]
upload = SimpleUploadedFile("example-primary.xml", ctf(rows).encode(), "text/xml")
response = client.post(reverse("upload"), {"files": [upload]})
batch = ImportBatch.objects.get()
print(json.dumps({"status": response.status_code, "location": response.get("Location", ""),
                  "batch_page": reverse("upload-batch", kwargs={"batch_id": batch.pk}),
                  "state": batch.state}))
"""

# What the officer sees once the worker has run: the batch page and the LA's summary CSV.
LOOK = """
import csv, io, json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from tests.app.conftest import verify_two_factor

user = get_user_model().objects.get(username="officer938")
client = Client()
client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
verify_two_factor(client, user)
page = client.get(sys.argv[1]).content.decode()
summary = client.get(reverse("report-summary-export",
                             kwargs={"level": "la", "code": "938", "fmt": "csv"})).content.decode()
rows = list(csv.DictReader(io.StringIO(summary.lstrip("\\ufeff"))))
print(json.dumps({"page": page, "rows": rows}))
"""


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'keystage.sqlite3'}",
        KEYSTAGE_DATA_DIR=str(tmp_path / "data"),
        KEYSTAGE_ALLOWED_HOSTS="testserver,localhost",
        DJANGO_SETTINGS_MODULE="keystage.web.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")]),
    )
    return env


def _run(args, env, timeout=180) -> str:
    done = subprocess.run(
        [sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _tasks(db: Path) -> list[tuple[str, str]]:
    """(task path, status) of every task the database holds, oldest first."""
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(
            "SELECT task_path, status FROM django_tasks_database_dbtaskresult ORDER BY enqueued_at"
        ).fetchall()


def _finished(tasks) -> bool:
    paths = [p for p, _ in tasks]
    return (
        any(p.endswith("rebuild_facts_task") for p in paths)
        and all(s in ("SUCCESSFUL", "FAILED") for _, s in tasks)
    )  # fmt: skip


def test_a_web_upload_and_its_fact_rebuild_run_on_the_real_worker(tmp_path):
    env = _env(tmp_path)
    db = tmp_path / "keystage.sqlite3"
    _run(["-m", "keystage.manage", "migrate", "--no-input", "-v", "0"], env)
    answer = json.loads(_run(["-c", UPLOAD, str(tmp_path)], env).strip().splitlines()[-1])
    assert answer["status"] == 302 and answer["location"] == answer["batch_page"]
    assert answer["state"] == "queued"  # nothing ran it yet: no immediate backend here
    assert [p for p, _ in _tasks(db)] == ["keystage.submissions.tasks.import_batch"]

    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "keystage.manage", "db_worker", "--interval", "0.2",
         "--no-startup-delay", "--no-reload"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + DEADLINE
        tasks = _tasks(db)
        while not _finished(tasks) and time.monotonic() < deadline:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
            tasks = _tasks(db)
    finally:
        worker.kill()
        worker.wait(timeout=30)
        log.close()
    worker_log = (tmp_path / "worker.log").read_text()
    assert _finished(tasks), f"the worker did not finish in {DEADLINE} s: {tasks}\n{worker_log}"
    assert tasks == [
        ("keystage.submissions.tasks.import_batch", "SUCCESSFUL"),
        ("keystage.reports.tasks.rebuild_facts_task", "SUCCESSFUL"),
    ], worker_log[-3000:]

    seen = json.loads(_run(["-c", LOOK, answer["batch_page"]], env).strip().splitlines()[-1])
    page = " ".join(seen["page"].replace("<wbr>", "").split())  # file names may break at a dot
    assert "example-primary.xml" in page and "Example Primary School" in page
    assert "4 pupils, 0 errors" in page and "Accepted" in page, page
    reading = next(r for r in seen["rows"] if r["level"] == "la" and r["subject"] == "reading")
    # The fact rebuild the worker ran: 3 of the 4 pupils at the expected standard in reading.
    assert (reading["pupils"], reading["met"], reading["met_percent"]) == ("4", "3", "75.0")
