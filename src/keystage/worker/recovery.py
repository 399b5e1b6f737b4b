"""What a task worker does when it starts, and once a minute while it runs, so that nothing a
dead worker (or a killed import) left behind is lost or left for ever:

1. Tasks a dead worker was running (django-tasks-db's RUNNING, claimed by a worker that has
   stopped beating or whose process is gone) are made READY again, to be run from the start,
   at most `KEYSTAGE_TASK_ATTEMPTS` runs in all; then FAILED, with `WorkerDied` as the reason.
2. A web upload's batch whose task was interrupted is noted on the batch ("The import stopped
   when ... It was restarted at ..."); one that no task will run (never queued, or its task
   ended without finishing it) is queued again, or failed with a true message.
3. Schools whose facts are due (`reports.models.FactsDue`, written with the data) and that no
   queued rebuild will count get one.
4. Bytes and folders that no stored row needs are removed (`reclaim`).

See docs/architecture.md, "When a worker dies"."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from keystage.audit.models import record
from keystage.worker.models import WorkerBeat

log = logging.getLogger(__name__)

HOST = socket.gethostname()
IMPORT_TASK = "keystage.submissions.tasks.import_batch"
REBUILD_TASK = "keystage.reports.tasks.rebuild_facts_task"


class WorkerDied(Exception):
    """The failure recorded for a task whose worker died on every run (see `recover`)."""


def _setting(name: str) -> float:
    return float(getattr(settings, name))


def lease() -> timedelta:
    return timedelta(seconds=_setting("KEYSTAGE_WORKER_LEASE_SECONDS"))


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine is running (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


# -- the heartbeat --------------------------------------------------------------------------


def beat(worker_id: str) -> None:
    now = timezone.now()
    if not WorkerBeat.objects.filter(worker_id=worker_id).update(beat_at=now):
        WorkerBeat.objects.create(worker_id=worker_id, host=HOST, pid=os.getpid(),
                                  started_at=now, beat_at=now)  # fmt: skip


def stopped(worker_id: str) -> None:
    """A worker that stops cleanly says so: its tasks ended with it."""
    WorkerBeat.objects.filter(worker_id=worker_id).delete()


def worker_running() -> bool:
    """Whether some task worker has beaten within the lease (the batch page asks)."""
    return WorkerBeat.objects.filter(beat_at__gte=timezone.now() - lease()).exists()


def _dead_workers(me: str | None, now: datetime) -> dict[str, datetime]:
    """Worker id -> when it was last known alive, for workers that have died."""
    dead = {}
    for b in WorkerBeat.objects.exclude(worker_id=me or ""):
        if b.beat_at < now - lease() or (b.host == HOST and not pid_alive(b.pid)):
            dead[b.worker_id] = b.beat_at
    return dead


# -- recovery -------------------------------------------------------------------------------


def recover(me: str | None = None, *, starting: bool = True) -> dict:
    """Run steps 1-4 of the module's description; `me`: the worker doing it. Returns what was
    done, for the worker's log."""
    from keystage.submissions.models import ImportBatch
    from keystage.submissions.tasks import import_batch

    done: dict = {"restarted": [], "failed": [], "batches": [], "rebuilds": 0}
    now = timezone.now()
    attempts = int(_setting("KEYSTAGE_TASK_ATTEMPTS"))
    with exclusive_transaction():
        dead = _dead_workers(me, now)
        known = set(WorkerBeat.objects.values_list("worker_id", flat=True))
        interrupted: dict[int, datetime] = {}  # batch id -> when its worker was last alive
        for task in DBTaskResult.objects.running().select_for_update().order_by("started_at"):
            last = task.worker_ids[-1] if task.worker_ids else None
            orphan = last not in known and task.started_at and task.started_at < now - lease()
            if last not in dead and not orphan:
                continue
            if task.task_path == IMPORT_TASK and task.args_kwargs.get("args"):
                interrupted[int(task.args_kwargs["args"][0])] = dead.get(last) or task.started_at
            if len(task.worker_ids) < attempts:
                task.status = "READY"  # django-tasks-db's own state: claimed again, run again
                task.save(update_fields=["status"])
                done["restarted"].append(str(task.id))
            else:
                task.set_failed(WorkerDied(
                    f"the worker running this task stopped {len(task.worker_ids)} times "
                    "while running it; it was not run again"
                ))  # fmt: skip
                done["failed"].append(str(task.id))
        WorkerBeat.objects.filter(worker_id__in=list(dead)).delete()

        live = {
            int(t["args"][0])
            for t in DBTaskResult.objects.filter(
                task_path=IMPORT_TASK, status__in=["READY", "RUNNING"]
            ).values_list("args_kwargs", flat=True)
            if t.get("args")
        }
        unfinished = ImportBatch.objects.filter(state__in=["queued", "running"])
        for batch in unfinished.select_for_update():
            if batch.pk in live:
                if batch.pk in interrupted:
                    _note_restart(batch, interrupted[batch.pk], now)
                    done["batches"].append(batch.pk)
                continue
            if batch.state == "queued" and batch.created_at > now - lease():
                continue  # just uploaded: its request queues it once its row is committed
            stopped_at = interrupted.get(batch.pk) or batch.created_at
            if len(batch.interruptions or []) + 1 < attempts:
                import_batch.enqueue(batch.pk)
                _note_restart(batch, stopped_at, now)
            else:
                _give_up(batch, now)
            done["batches"].append(batch.pk)

        done["rebuilds"] = _queue_due_rebuilds(now, starting=starting)
    done["reclaimed"] = reclaim()
    if any(done.values()):
        log.warning("recovery: %s", done)
    return done


def _note_restart(batch, stopped_at: datetime, now: datetime) -> None:
    batch.interruptions = [*(batch.interruptions or []), {
        "stopped_at": stopped_at.isoformat(), "restarted_at": now.isoformat(),
        "stored": len(batch.upload_ids or []),
    }]  # fmt: skip
    batch.save(update_fields=["interruptions"])
    record("batch.restarted", la=batch.la_id, school=batch.school_id, obj=batch,
           stored=len(batch.upload_ids or []))  # fmt: skip


def _give_up(batch, now: datetime) -> None:
    runs = len(batch.interruptions or []) + 1
    batch.state = "failed"
    batch.finished_at = now
    batch.failure = (
        f"The import stopped {runs} times because the service's task worker stopped while "
        "running it, so it was not tried again. The files stored before it stopped are kept "
        "(listed below): upload the others again."
    )
    batch.save(update_fields=["state", "finished_at", "failure"])
    record("batch.failed", la=batch.la_id, school=batch.school_id, obj=batch,
           stored=len(batch.upload_ids or []), runs=runs)  # fmt: skip


def _queue_due_rebuilds(now: datetime, *, starting: bool) -> int:
    """Queue a rebuild for the schools whose facts are due, unless one is queued already
    (its task clears what it counts; what is left is queued next time). A worker starting
    takes every due school; one running, those due for `KEYSTAGE_FACTS_DUE_AFTER_SECONDS`
    (an import still running queues its own rebuild when it ends)."""
    from keystage.reports.models import FactsDue
    from keystage.reports.tasks import rebuild_facts_task

    if DBTaskResult.objects.filter(
        task_path=REBUILD_TASK, status__in=["READY", "RUNNING"]
    ).exists():
        return 0
    due = FactsDue.objects.all()
    if not starting:
        due = due.filter(due_at__lt=now - timedelta(seconds=_setting(
            "KEYSTAGE_FACTS_DUE_AFTER_SECONDS")))  # fmt: skip
    by_collection: dict[int, list[int]] = {}
    for collection_id, school_id in due.order_by("school_id").values_list(
        "collection_id", "school_id"
    ):
        by_collection.setdefault(collection_id, []).append(school_id)
    for collection_id, school_ids in by_collection.items():
        rebuild_facts_task.enqueue(collection_id, school_ids)
    return len(by_collection)


# -- bytes no stored row needs --------------------------------------------------------------

_PUNCH_HOLE = 0x01 | 0x02  # FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE (linux/falloc.h)


def _gaps(kept: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The (start, end) ranges before and between the kept (start, end) spans."""
    gaps, at = [], 0
    for start, end in sorted(kept):
        if start > at:
            gaps.append((at, start))
        at = max(at, end)
    return gaps


def _fallocate():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fallocate = libc.fallocate
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return fallocate


def _free(f, gaps: list[tuple[int, int]]) -> int:
    """Give the bytes of `gaps` back to the file system as holes (they read as zeros after),
    or, where it cannot make holes, overwrite them with zeros: they may hold pupils' data that
    was never stored, which must not stay readable. Gaps that are holes or zeros already are
    left. Returns how many bytes were freed or cleared."""
    import ctypes

    fd, done = f.fileno(), 0
    fallocate = _fallocate()
    block = os.fstat(fd).st_blksize or 4096
    for start, end in gaps:
        # Only whole blocks become holes: the parts of blocks at either end are zeroed.
        inner, outer = -(-start // block) * block, end // block * block
        if inner >= outer:
            done += _zero(f, start, end)
            continue
        done += _zero(f, start, inner) + _zero(f, outer, end)
        try:
            if os.lseek(fd, inner, os.SEEK_DATA) >= outer:
                continue  # a hole already
        except OSError:
            continue  # no data from here to the end of the file
        if fallocate is not None and fallocate(fd, _PUNCH_HOLE, inner, outer - inner) == 0:
            done += outer - inner
            continue
        if fallocate is not None and ctypes.get_errno() not in (errno.EOPNOTSUPP, errno.ENOSYS):
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), f.name)
        done += _zero(f, inner, outer)
    if done:
        os.fsync(fd)
    return done


def _zero(f, start: int, end: int, chunk: int = 1 << 20) -> int:
    """Overwrite bytes start..end with zeros, a chunk at a time, where they are not zeros."""
    done = 0
    for at in range(start, end, chunk):
        n = min(chunk, end - at)
        f.seek(at)
        if f.read(n).strip(b"\0"):
            f.seek(at)
            f.write(bytes(n))
            done += n
    f.flush()
    return done


_PACK_PLACE = re.compile(r"packs/(?P<pack>[\w.-]+\.pack)@(?P<offset>\d+)\+(?P<length>\d+)")
_TEMP = re.compile(r"keystage-(?:import|batch)-(?P<pid>\d+)-")


def reclaim() -> dict:
    """Remove what an import wrote before it died and no stored row refers to:

    - the unstored bytes of a pack file (`kept.Keeper`) no process holds open, once untouched
      for `KEYSTAGE_RECLAIM_AFTER_SECONDS`: the whole pack when no upload is kept in it, its
      end after the last upload kept, and the bytes between kept uploads (files prepared but
      never stored, or whose uploads were deleted) given back as holes (`_free`);
    - temporary folders ("keystage-import-PID-...") of processes of this machine that died;
    - web upload folders of batches that have finished, or were never recorded, once
      untouched for that long.
    """
    from keystage.submissions.batches import batches_folder
    from keystage.submissions.models import ImportBatch, Upload

    after = _setting("KEYSTAGE_RECLAIM_AFTER_SECONDS")
    old = time.time() - after
    out = {"packs_removed": 0, "pack_bytes": 0, "temp_folders": 0, "batch_folders": 0}

    packs = Path(settings.UPLOAD_STORE) / "packs"
    if packs.is_dir():
        spans: dict[str, list[tuple[int, int]]] = {}
        for where in (
            Upload.objects.filter(stored_path__startswith="packs/")
            .values_list("stored_path", flat=True)
            .iterator(chunk_size=5000)
        ):
            m = _PACK_PLACE.fullmatch(where)
            if m:
                start = int(m["offset"])
                spans.setdefault(m["pack"], []).append((start, start + int(m["length"])))
        ends = {pack: max(e for _, e in kept) for pack, kept in spans.items()}
        for pack in sorted(packs.glob("*.pack")):
            try:
                with open(pack, "r+b") as f:
                    try:
                        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a live import is writing it
                    size = os.fstat(f.fileno()).st_size
                    if os.fstat(f.fileno()).st_mtime > old:
                        continue
                    end = ends.get(pack.name, 0)
                    if end == 0:
                        pack.unlink()
                        out["packs_removed"] += 1
                        out["pack_bytes"] += size
                    else:
                        if size > end:
                            f.truncate(end)
                            out["pack_bytes"] += size - end
                        out["pack_bytes"] += _free(f, _gaps(spans[pack.name]))
            except FileNotFoundError:
                continue

    from keystage.web.limits import scratch_dir

    places = (Path(tempfile.gettempdir()), scratch_dir())
    for folder in (f for place in places for f in place.glob("keystage-*-*-*")):
        m = _TEMP.match(folder.name)
        if m and folder.is_dir() and not pid_alive(int(m["pid"])):
            shutil.rmtree(folder, ignore_errors=True)
            out["temp_folders"] += 1

    uploads = batches_folder()
    if uploads.is_dir():
        waiting = set(ImportBatch.objects.filter(state__in=["queued", "running"]).values_list(
            "folder", flat=True))  # fmt: skip
        for folder in uploads.glob("batch-*"):
            try:
                untouched = folder.stat().st_mtime <= old
            except FileNotFoundError:
                continue
            if str(folder) not in waiting and untouched:
                shutil.rmtree(folder, ignore_errors=True)
                out["batch_folders"] += 1
    return {k: v for k, v in out.items() if v}
