"""Faults: a task worker killed (SIGKILL) in the middle of a web upload's import, at three
moments (before anything is stored, between the files of the batch, after storing but before
the batch is finished and its facts recounted); a new worker then finds the batch, goes on
with the files not yet stored, recounts the facts and reclaims the bytes the dead one kept for
nothing. The moment is exact: KEYSTAGE_FAULT makes the worker kill itself at a named point
(keystage.faults). Also: `keystage import` killed leaves none of its worker processes running;
a batch page with no worker running says so instead of reloading for ever; a task whose worker
dies on every run is failed with a true reason.

The worker is a real process (`db_worker`) on a database of its own: an SQLite file, or a fresh
PostgreSQL database when the suite runs on PostgreSQL. Every wait is bounded; every process
started is killed at the end."""

from __future__ import annotations

import html
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app.test_cli_process import KEYSTAGE, set_up_schools
from tests.app.worker_processes import (
    OFFICER_SIGNED_IN_AGAIN,
    OFFICER_SIGNED_IN_ON_NEW_DATA,
    process_env,
    run_json,
    start_worker,
)

DEADLINE = 120  # seconds for a worker to get where a test waits for (a few on a quiet machine)

# Set up the LA, its officer and a batch of three files uploaded through the upload page: one
# for Example Primary (2001), one for Downs Infant (2002), then a second for Example Primary,
# which replaces its first. The group of files stored together ends before the second file
# for the same school, so "between the files of a batch" is a real boundary.
UPLOAD = (
    OFFICER_SIGNED_IN_ON_NEW_DATA
    + """
first = [pupil(n, reading="EXS") for n in range(1, 5)]
downs = [pupil(n, estab="2002", reading="WTS") for n in range(11, 14)]
# The school's second file: pupil 4 has left, two have joined; 2 of 5 at the standard.
second = [pupil(n, reading="EXS" if n <= 2 else "WTS") for n in (1, 2, 3, 5, 6)]
files = [SimpleUploadedFile("example-first.xml", ctf(first).encode(), "text/xml"),
         SimpleUploadedFile("downs.xml", ctf(downs, estab="2002").encode(), "text/xml"),
         SimpleUploadedFile("example-second.xml", ctf(second).encode(), "text/xml")]
response = client.post(reverse("upload"), {"files": files})
batch = ImportBatch.objects.get()
print(json.dumps({"status": response.status_code, "batch": batch.pk,
                  "page": reverse("upload-batch", kwargs={"batch_id": batch.pk})}))
"""
)

# Everything a test checks afterwards, read through Django on the test's database.
LOOK = (
    OFFICER_SIGNED_IN_AGAIN
    + """
from pathlib import Path
from django.conf import settings
from django.db.models import Count
from django_tasks_db.models import DBTaskResult
from keystage.audit.models import AuditEvent
from keystage.reports.models import FactsDue
from keystage.submissions.kept import read_kept
from keystage.submissions.models import ImportBatch, PupilRecord, Upload

batch = ImportBatch.objects.get()
page = client.get(reverse("upload-batch", kwargs={"batch_id": batch.pk})).content.decode()
store = Path(settings.UPLOAD_STORE)
uploads = list(Upload.objects.order_by("id").values(
    "id", "file_name", "state", "pupil_count", "stored_path", "size", "sha256"))
for u in uploads:
    u["whole"] = (not u["stored_path"]) or len(read_kept(store, u["stored_path"])) == u["size"]
packs = sorted(store.glob("packs/*.pack"))


def size(path):
    # The worker may reclaim (delete) a pack between the glob and here: it then holds nothing.
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


facts_due = FactsDue.objects.count()
tasks = [(t.task_path.rsplit(".", 1)[-1], t.status, len(t.worker_ids))
         for t in DBTaskResult.objects.order_by("enqueued_at")]
# The figures last: a recount the lines above saw finished has written them.
reading = [r for r in summary_rows() if r["level"] == "la" and r["subject"] == "reading"]
print(json.dumps({
    "page": page,
    "state": batch.state,
    "results": [(r["file"], r["outcome"]) for r in batch.results],
    "interruptions": batch.interruptions,
    "uploads": uploads,
    "rows_per_upload": dict(PupilRecord.objects.values_list("upload_id").annotate(n=Count("id"))),
    "current": sorted(PupilRecord.objects.filter(is_current=True).values_list("school__estab",
                                                                              "upn")),
    "reading": [(r["pupils"], r["met"]) for r in reading],
    "facts_due": facts_due,
    "tasks": tasks,
    "events": sorted(AuditEvent.objects.filter(action__startswith="upload.")
                     .values_list("action", flat=True)),
    "restart_events": AuditEvent.objects.filter(action="batch.restarted").count(),
    "pack_bytes": sum(size(p) for p in packs),
    "kept_bytes": sum({u["sha256"]: u["size"] for u in uploads if u["stored_path"]}.values()),
}, default=str))
"""
)


@pytest.fixture
def own_env(tmp_path, migrated_template):
    """Environment for the processes of one test: its data folder, its temporary folder, and
    a migrated database of its own (SQLite, or a PostgreSQL database on a PostgreSQL run)."""
    (tmp_path / "tmp").mkdir()
    url = migrated_template.new(tmp_path / "keystage.sqlite3")
    yield {**process_env(tmp_path, url), "TMPDIR": str(tmp_path / "tmp")}
    migrated_template.drop(url)


def _finished(seen: dict) -> bool:
    names = [name for name, _, _ in seen["tasks"]]
    return (
        seen["state"] == "done" and "rebuild_facts_task" in names
        and all(status in ("SUCCESSFUL", "FAILED") for _, status, _ in seen["tasks"])
        and seen["facts_due"] == 0
    )  # fmt: skip


def _temp_folders_of(env, pid: int) -> list[str]:
    """The process's temporary folders: in the data directory's scratch folder (files
    unpacked from zips) or the system's temporary folder."""
    places = [Path(env["TMPDIR"]), Path(env["KEYSTAGE_DATA_DIR"]) / "tmp"]
    return [p.name for d in places if d.is_dir() for p in d.iterdir() if f"-{pid}-" in p.name]


@pytest.mark.parametrize(
    "moment", ["store.before", "store.after", "batch.stored"], ids=["before", "during", "after"]
)
def test_a_batch_whose_worker_was_killed_is_finished_by_the_next_worker(own_env, tmp_path, moment):
    env = own_env
    answer = run_json(["-c", UPLOAD, str(tmp_path)], env)
    assert answer["status"] == 302
    log = tmp_path / "worker.log"

    # The first worker kills itself (SIGKILL) at the moment named.
    first = start_worker(env, log, KEYSTAGE_FAULT=moment)
    try:
        first.wait(timeout=DEADLINE)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    killed = run_json(["-c", LOOK], env)
    assert killed["state"] == "running"
    stored = len(killed["uploads"])
    assert stored == {"store.before": 0, "store.after": 2, "batch.stored": 3}[moment], killed
    assert killed["reading"] == []  # no facts yet: the dead worker never recounted them
    assert killed["facts_due"] == (0 if moment == "store.before" else 2)  # recorded with the data
    assert killed["pack_bytes"] > killed["kept_bytes"] or moment == "batch.stored"
    assert _temp_folders_of(env, first.pid)  # what the killed worker was working in

    # The next worker recovers the batch, finishes it and recounts the facts.
    second = start_worker(env, log, KEYSTAGE_RECLAIM_AFTER_SECONDS="0")
    try:
        deadline = time.monotonic() + DEADLINE
        seen = run_json(["-c", LOOK], env)
        while not _finished(seen) and time.monotonic() < deadline:
            assert second.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
            seen = run_json(["-c", LOOK], env)
    finally:
        second.kill()
        second.wait(timeout=30)
    assert _finished(seen), f"not finished in {DEADLINE} s: {seen['tasks']}\n{log.read_text()}"

    # The page: each file's result, what happened to the import, and no more reloading.
    page = html.unescape(" ".join(seen["page"].replace("<wbr>", "").split()))
    assert [tuple(r) for r in seen["results"]] == [
        ("example-first.xml", "accepted"), ("downs.xml", "accepted"),
        ("example-second.xml", "superseded"),
    ]  # fmt: skip
    assert "Import finished: 3 files, 2 accepted, 1 replaced an earlier file." in page
    assert f"when the service's task worker stopped, with {stored} of 3 files stored. It was " \
        "restarted on" in page, page[page.find("<main"):]  # fmt: skip
    assert "The import stopped on" in page and "went on with the files not yet stored" in page
    assert 'http-equiv="refresh"' not in page and "data-batch-status" not in page
    assert len(seen["interruptions"]) == 1 and seen["restart_events"] == 1

    # The data: each file stored once, the school's second file current, no pupil twice.
    assert [(u["file_name"], u["state"]) for u in seen["uploads"]] == [
        ("example-first.xml", "superseded"), ("downs.xml", "current"),
        ("example-second.xml", "current"),
    ]  # fmt: skip
    assert seen["events"] == ["upload.accepted", "upload.accepted", "upload.superseded"]
    assert {int(k): v for k, v in seen["rows_per_upload"].items()} == {
        u["id"]: u["pupil_count"] for u in seen["uploads"]
    }
    current = seen["current"]
    assert len(current) == len({tuple(c) for c in current}) == 5 + 3
    # The facts: Example Primary's second file (2 of 5) and Downs Infant (0 of 3) in reading.
    assert [tuple(r) for r in seen["reading"]] == [("8", "2")]
    assert seen["facts_due"] == 0
    tasks = dict(((n, s), w) for n, s, w in seen["tasks"])
    assert tasks[("import_batch", "SUCCESSFUL")] == 2  # the same task, run by two workers

    # The bytes: every kept copy whole, nothing kept that no upload needs, no temporary folder
    # of the dead worker left.
    assert all(u["whole"] for u in seen["uploads"])
    assert seen["pack_bytes"] == seen["kept_bytes"]
    assert _temp_folders_of(env, first.pid) == []
    assert not list((Path(env["KEYSTAGE_DATA_DIR"]) / "web-uploads").glob("batch-*"))


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_import_leaves_no_worker_process_running(own_env, tmp_path):
    env = {**own_env, "KEYSTAGE_FAULT": "import.prepared:pause"}
    folder = set_up_schools(own_env, tmp_path, count=40, pupils=5)
    proc = subprocess.Popen([*KEYSTAGE, "import", "--jobs", "2", str(folder)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + DEADLINE
        children = _children(proc.pid)
        while len(children) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            children = _children(proc.pid)
        assert len(children) == 2, "the import did not start its 2 worker processes"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [c for c in children if _alive(c)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for c in [c for c in locals().get("children", []) if _alive(c)]:
            os.kill(c, signal.SIGKILL)  # the import's own worker processes, should they be left
    assert left == [], f"worker processes {left} outlived the killed import"


# -- recovery's decisions, in this process --------------------------------------------------


@pytest.fixture
def batch_of(loaded, members, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from keystage.submissions.batches import do_create_batch
    from tests.builders import ctf, pupil

    settings.DATA_DIR = tmp_path / "data"

    def make():
        files = [SimpleUploadedFile("a.xml", ctf([pupil(1)]).encode(), "text/xml")]
        return do_create_batch(members["officer938"], files)

    return make


def test_a_batch_page_with_no_worker_running_says_so_and_stops_reloading(
    batch_of, members, signed_in
):
    from keystage.web.links import reverse
    from keystage.worker.recovery import beat

    batch = batch_of()
    client = signed_in(members["officer938"])
    page = html.unescape(client.get(reverse("upload-batch", args=[batch.pk])).content.decode())
    assert "because the service's task worker is not running" in page
    assert "you do not need to upload the files again" in page
    assert "refresh" not in page and "data-batch-status" not in page
    status = client.get(reverse("upload-batch-status", args=[batch.pk])).json()
    assert status["finished"] is True and "not running" in status["message"]

    beat("a-worker")  # once a worker runs, the page follows the import again
    page = client.get(reverse("upload-batch", args=[batch.pk])).content.decode()
    assert "data-batch-status" in page and "waiting to be imported" in page


def test_a_batch_whose_worker_died_on_every_run_is_failed_with_the_reason(batch_of, members):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from keystage.audit.models import AuditEvent
    from keystage.submissions.models import ImportBatch
    from keystage.submissions.tasks import import_batch
    from keystage.worker.models import WorkerBeat
    from keystage.worker.recovery import recover

    batch = batch_of()
    long_ago = timezone.now() - timedelta(hours=1)
    task = DBTaskResult.objects.get(pk=import_batch.enqueue(batch.pk).id)
    task.status, task.worker_ids, task.started_at = "RUNNING", ["w1", "w2", "w3"], long_ago
    task.save()
    WorkerBeat.objects.create(worker_id="w3", host="elsewhere", pid=1, started_at=long_ago,
                              beat_at=long_ago)  # fmt: skip
    ImportBatch.objects.filter(pk=batch.pk).update(state="running", interruptions=[
        {"stopped_at": long_ago.isoformat(), "restarted_at": long_ago.isoformat(), "stored": 0}
    ] * 2)  # fmt: skip

    done = recover("me")
    task.refresh_from_db()
    assert task.status == "FAILED" and task.exception_class_path.endswith("WorkerDied")
    assert "stopped 3 times while running it" in task.traceback
    batch.refresh_from_db()
    assert batch.state == "failed" and done["batches"] == [batch.pk]
    assert batch.failure.startswith("The import stopped 3 times because the service's task "
                                    "worker stopped while running it")  # fmt: skip
    assert AuditEvent.objects.filter(action="batch.failed").count() == 1
    assert not WorkerBeat.objects.filter(worker_id="w3").exists()
    # Nothing left to do: recovering again changes nothing.
    assert recover("me")["batches"] == []


def test_a_batch_never_queued_is_queued_by_recovery(batch_of):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from keystage.submissions.models import ImportBatch
    from keystage.worker.recovery import recover

    batch = batch_of()  # committed, but the web process died before queueing its task
    recover("me")
    assert not DBTaskResult.objects.exists()  # just uploaded: its request may queue it yet
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    recover("me")
    assert [t.args_kwargs["args"] for t in DBTaskResult.objects.ready()] == [[batch.pk]]
    assert len(ImportBatch.objects.get(pk=batch.pk).interruptions) == 1


def test_a_recount_removes_only_the_facts_due_it_counted(loaded):
    from keystage.orgs.models import School
    from keystage.reports.due import clear_due, mark_due, read_due
    from keystage.reports.models import FactsDue

    a, b = School.objects.order_by("pk")[:2]
    mark_due(loaded.pk, [a.pk, b.pk])
    read = read_due(loaded.pk, None)  # a rebuild starts with both
    mark_due(loaded.pk, [b.pk])  # b's data changes again while it runs
    clear_due(read)
    assert list(FactsDue.objects.values_list("school_id", flat=True)) == [b.pk]


def test_unstored_bytes_between_kept_files_of_a_pack_are_given_back(loaded, settings, tmp_path):
    """A pack's bytes that no stored upload needs (a file prepared and never stored, or an
    upload deleted since) are freed even between two kept files, and read as zeros: they may
    hold pupils' data. The kept files around them read back whole."""
    from keystage.submissions.importing import import_paths
    from keystage.submissions.kept import read_kept
    from keystage.submissions.models import Upload
    from keystage.worker.recovery import reclaim
    from tests.builders import pupil, write_ctf

    settings.KEYSTAGE_RECLAIM_AFTER_SECONDS = 0
    files = [
        write_ctf(tmp_path / f"938{estab}_CTF_938LLLL_001.xml",
                  [pupil(n, estab=estab) for n in range(1, 40)], estab=estab)
        for estab in ("2001", "2002", "2003")
    ]  # fmt: skip
    import_paths([str(f) for f in files], jobs=1)
    first, middle, last = Upload.objects.order_by("id")
    store = Path(settings.UPLOAD_STORE)
    [pack] = {u.stored_path.split("@")[0] for u in (first, middle, last)}
    gone = middle.stored_path
    offset, length = map(int, gone.split("@")[1].split("+"))
    assert length > 8192  # spans whole blocks, so the file system can free some
    Upload.objects.filter(pk=middle.pk).delete()  # as if it had never been stored
    blocks = (store / pack).stat().st_blocks

    freed = reclaim()
    assert freed.get("pack_bytes", 0) >= length - 2 * 4096
    with open(store / pack, "rb") as f:
        f.seek(offset)
        assert f.read(length) == bytes(length)
    assert (store / pack).stat().st_blocks < blocks
    for u in (first, last):
        assert len(read_kept(store, u.stored_path)) == u.size
    assert reclaim().get("pack_bytes", 0) == 0  # once given back, nothing more to do
