"""The real task worker (django-tasks-db's `db_worker`), not the immediate backend the other
tests swap in: a file uploaded through the upload page is imported by the worker, which then
runs the fact rebuild it queues, and the batch page and the LA's report show the result.

Everything runs against a SQLite file of its own, so the worker (a separate process) sees what
the upload committed. The worker is always killed at the end; every wait is bounded."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.app.worker_processes import (
    OFFICER_SIGNED_IN_AGAIN,
    OFFICER_SIGNED_IN_ON_NEW_DATA,
    migrate,
    process_env,
    run_json,
    start_worker,
)

DEADLINE = 120  # seconds for the worker to run both tasks (about 5 s on a quiet machine)

# Run in a process of its own against the file database: sign an LA officer in, upload a file
# through the upload page, print what the page answered.
UPLOAD = (
    OFFICER_SIGNED_IN_ON_NEW_DATA
    + """
rows = [pupil(n, reading="EXS" if n <= 3 else "WTS") for n in range(1, 5)]
upload = SimpleUploadedFile("example-primary.xml", ctf(rows).encode(), "text/xml")
response = client.post(reverse("upload"), {"files": [upload]})
batch = ImportBatch.objects.get()
print(json.dumps({"status": response.status_code, "location": response.get("Location", ""),
                  "batch_page": reverse("upload-batch", kwargs={"batch_id": batch.pk}),
                  "state": batch.state}))
"""
)

# What the officer sees once the worker has run: the batch page and the LA's summary CSV.
LOOK = (
    OFFICER_SIGNED_IN_AGAIN
    + """
page = client.get(sys.argv[1]).content.decode()
print(json.dumps({"page": page, "rows": summary_rows()}))
"""
)


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
    db = tmp_path / "keystage.sqlite3"
    env = process_env(tmp_path, f"sqlite:///{db}")
    migrate(env)
    answer = run_json(["-c", UPLOAD, str(tmp_path)], env)
    assert answer["status"] == 302 and answer["location"] == answer["batch_page"]
    assert answer["state"] == "queued"  # nothing ran it yet: no immediate backend here
    assert [p for p, _ in _tasks(db)] == ["keystage.submissions.tasks.import_batch"]

    worker = start_worker(env, tmp_path / "worker.log")
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
    worker_log = (tmp_path / "worker.log").read_text()
    assert _finished(tasks), f"the worker did not finish in {DEADLINE} s: {tasks}\n{worker_log}"
    assert tasks == [
        ("keystage.submissions.tasks.import_batch", "SUCCESSFUL"),
        ("keystage.reports.tasks.rebuild_facts_task", "SUCCESSFUL"),
    ], worker_log[-3000:]

    seen = run_json(["-c", LOOK, answer["batch_page"]], env)
    page = " ".join(seen["page"].replace("<wbr>", "").split())  # file names may break at a dot
    assert "example-primary.xml" in page and "Example Primary School" in page
    assert "4 pupils, 0 errors" in page and "Accepted" in page, page
    reading = next(r for r in seen["rows"] if r["level"] == "la" and r["subject"] == "reading")
    # The fact rebuild the worker ran: 3 of the 4 pupils at the expected standard in reading.
    assert (reading["pupils"], reading["met"], reading["met_percent"]) == ("4", "3", "75.0")
