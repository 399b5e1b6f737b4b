"""Import a batch of school files: expand folders and zips, prepare files in worker processes,
store each in its own transaction, then refresh the checks that span an LA's schools."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from itertools import islice
from multiprocessing import get_context
from pathlib import Path

from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from keystage import faults
from keystage.accounts.scope import scoped
from keystage.engine import definition as definitions
from keystage.engine.readers.archive import extract_zip
from keystage.engine.records import RejectedFile
from keystage.orgs.models import LocalAuthority
from keystage.submissions import actions
from keystage.submissions.kept import Keeper
from keystage.submissions.models import Upload
from keystage.submissions.preparing import PreparedFile, file_digest, prepare_file
from keystage.web.jinja2 import long_datetime as local_long_datetime
from keystage.web.limits import keep_rejected_bytes, scratch_dir, zip_limits

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    name: str  # what messages call it: the path given, or "batch.zip:member.xml"
    path: Path
    # Why the file was refused before it could be read (a zip over its limits): it is then
    # only hashed and kept in part, and recorded as rejected with this reason.
    refused: str = ""


class UsageError(Exception):
    """A path that does not exist or cannot be read: exit status 2."""


def _is_hidden(p: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in p.parts)


def expand(
    paths: list[str], workdir: Path, names: dict[str, str] | None = None
) -> tuple[list[Source], list[actions.ImportResult]]:
    """Files, folders (recursively, in name order) and zip files, as one list of sources.
    A zip's files are unpacked into `workdir` as they are read, within the limits of
    `KEYSTAGE_MAX_MEMBER_MB` and `KEYSTAGE_MAX_UNPACKED_MB`. A zip that cannot be opened
    safely is a source of its own, refused with the reason. `names`: what messages call a
    file given (the name it was uploaded under); by default, its path."""
    names = names or {}
    sources: list[Source] = []
    problems: list[actions.ImportResult] = []
    for given in paths:
        p = Path(given)
        if not p.exists():
            raise UsageError(f"{given}: no such file or folder")
        files = (
            [p]
            if p.is_file()
            else sorted(f for f in p.rglob("*") if f.is_file() and not _is_hidden(f.relative_to(p)))
        )
        for f in files:
            shown = str(f) if f != p else names.get(given, given)
            if f.suffix.lower() == ".zip":
                # A zip found unsafe half-way (a zip bomb) is refused whole: none of it counts.
                members: list[Source] = []
                try:
                    unpacked = extract_zip(f, workdir, name=shown, **zip_limits())
                    for member, target in unpacked:
                        members.append(Source(f"{shown}:{member}", target))
                except RejectedFile as e:
                    reason = e.reason if e.reason.startswith(shown) else f"{shown}: {e.reason}"
                    _discard(members)
                    sources.append(Source(shown, f, refused=reason))
                    continue
                except Exception:  # a fault of ours on this zip: it alone is refused
                    log.exception("unpacking %s failed", shown)
                    _discard(members)
                    sources.append(Source(shown, f, refused=(
                        f"{shown}: the zip file could not be unpacked; make the zip again and "
                        "send it (the collection team has been told of the problem)"
                    )))  # fmt: skip
                    continue
                sources.extend(members)
                for line in unpacked.skipped:  # unsafe or damaged members, one line each
                    member_name = line.split(": left out:", 1)[0]
                    problems.append(actions.ImportResult(member_name, "rejected", reason=line))
            else:
                sources.append(Source(shown, f))
    return sources, problems


def _discard(members: list[Source]) -> None:
    """The files unpacked from a zip refused half-way: none of them is imported."""
    for m in members:
        m.path.unlink(missing_ok=True)


_worker: dict = {}


@contextmanager
def _few_collections() -> Iterator[None]:
    """Python's cyclic garbage collector, tuned for the import: it allocates millions of
    small tuples and dicts (pupils, findings, rows) and frees them by reference counting, with
    no reference cycles to find, yet by default the collector walks every live object again
    and again as they pile up. Collecting rarely, and never walking what existed before the
    import, saved about 7% of a national import's time. Restored when the import ends."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies, however it dies (SIGKILL too),
    so that a killed `keystage import` leaves no worker process running. Should the parent
    have died before the request was made, exit now."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def _init_worker(
    collection_code: str,
    schools: dict,
    only_la: str | None,
    store: str,
    known: set[str],
    rejected_limit: int,
    parent: int,
) -> None:
    die_with_parent(parent)
    # A worker process lives for one import: tuned for its whole life (see _few_collections).
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    keeper = Keeper(Path(store), known, rejected_limit=rejected_limit)
    _worker.update(definition=definitions.load(collection_code), schools=schools,
                   only_la=only_la, keeper=keeper)  # fmt: skip


def _prepare_batch(batch: list[tuple[str, str, str]]) -> list[PreparedFile]:
    w = _worker
    return [
        prepare_file(
            path,
            name,
            w["definition"],
            w["schools"],
            only_la=w["only_la"],
            keeper=w["keeper"],
            refused=refused,
        )  # fmt: skip
        for name, path, refused in batch
    ]


def _seen_row(prepared: PreparedFile, upload_id: int | None) -> dict:
    """A file of this run among the bytes already imported, shaped like the rows of
    `actions.imported_files`, so that a second copy is reported as `_repeat` says."""
    info = prepared.school.info if prepared.school else None
    return {
        "id": upload_id, "state": "rejected" if prepared.rejected else "current",
        "reason": prepared.rejected, "file_name": prepared.name, "uploaded_at": timezone.now(),
        "pupil_count": len(prepared.pupils), "error_count": prepared.error_count,
        "query_count": prepared.query_count,
        "school__laestab": info.laestab if info else "",
        "school__name": info.name if info else "",
    }  # fmt: skip


_when = local_long_datetime


def _repeat(name: str, seen: dict) -> actions.ImportResult:
    """The result for bytes already imported: nothing is stored again."""
    if seen["state"] == "rejected":
        reason = seen["reason"].split(": ", 1)[-1]
        return actions.ImportResult(name, "rejected", reason=f"{name}: {reason}",
                                    upload_id=seen["id"])  # fmt: skip
    return actions.ImportResult(
        name, "unchanged", laestab=seen["school__laestab"] or "",
        school_name=seen["school__name"] or "", pupils=seen["pupil_count"],
        errors=seen["error_count"], queries=seen["query_count"], upload_id=seen["id"],
        reason=f"same bytes as {seen['file_name']}, imported {_when(seen['uploaded_at'])}",
    )  # fmt: skip


def register() -> dict:
    """The schools register for `preparing` (see `actions.known_schools`), with each LA's name
    under ("la", code) so that messages name an LA the way its officers do."""
    schools = actions.known_schools()
    for code, name in LocalAuthority.objects.values_list("code", "name"):
        schools[("la", code)] = name
    return schools


def _history(collection, only_la: str | None, user) -> QuerySet:
    """The uploads an import may compare its files with: those of the LA imported for, and of
    them only what the importing user may see (a school user: their school's)."""
    uploads = Upload.objects.filter(collection=collection)
    if only_la:
        uploads = uploads.filter(la__code=only_la)
    if user is not None:
        uploads = scoped(user, uploads)
    return uploads


def import_paths(
    paths: list[str],
    *,
    collection_code: str | None = None,
    user=None,
    source: str = "cli",
    only_la: str | None = None,
    jobs: int | None = None,
    progress: Callable[[actions.ImportResult, int, int], None] | None = None,
    names: dict[str, str] | None = None,
    on_stored: Callable[[list[actions.ImportResult]], None] | None = None,
    stored_before: Counter | None = None,
) -> list[actions.ImportResult]:
    """Import files, folders and zips. `names` maps a path given to what results, stored
    uploads and their messages call it (the web: the name the file was uploaded under).
    `on_stored` is called with the results of each group stored, inside the group's
    transaction. `stored_before`: hashes of files an earlier, interrupted run stored (with how
    many of each), which are left out with no result (a resumed web batch keeps theirs)."""
    collection = actions.get_collection(collection_code)
    with (
        _few_collections(),
        tempfile.TemporaryDirectory(prefix=temp_prefix("import"), dir=scratch_dir()) as tmp,
    ):
        sources, problems = expand(paths, Path(tmp), names)
        if stored_before:
            sources = _not_stored_before(sources, Counter(stored_before))
        total = len(sources) + len(problems)
        results: list[actions.ImportResult] = []

        def done(r: actions.ImportResult) -> None:
            results.append(r)
            if progress:
                progress(r, len(results), total)

        for r in problems:
            done(r)
        # Bytes imported before are looked up only among the uploads the importer may see:
        # another LA's history is never told, not even as "unchanged".
        seen = actions.imported_files(collection, among=_history(collection, only_la, user))
        # LAs whose pupils changed since their checks across schools last ran (see `stored`).
        touched_las: set[int] = set()
        todo = [(s.name, str(s.path), s.refused) for s in sources]
        schools = register()
        group = GroupStore(collection=collection, user=user, source=source)
        group.on_stored = on_stored

        def stored(results_: list[actions.ImportResult], files: list[PreparedFile]) -> None:
            in_group = set()
            for r, prepared in zip(results_, files, strict=True):
                seen[prepared.sha256] = _seen_row(prepared, r.upload_id)
                if r.outcome in ("accepted", "superseded"):
                    in_group.add(prepared.school.la_id)
                done(r)
            if not in_group:
                return
            # An LA the last group did not touch has most likely had all its files (folders
            # and zips come one LA at a time): check across its schools now, while the workers
            # go on reading, rather than all at the end. Should more of its files come later,
            # it is checked again then.
            finished = touched_las - in_group
            if finished:
                actions.do_refresh_cohort_checks(finished, collection=collection)
                touched_las.difference_update(finished)
            touched_las.update(in_group)

        # closing(): if storing fails, the worker pool is shut down at once rather than
        # left waiting for work, which would keep the command from ever exiting.
        try:
            prepared_files = _prepared(todo, collection.code, schools, only_la, jobs, set(seen))
            with closing(prepared_files) as stream:
                for prepared in stream:
                    # The LA check comes first: another LA's file is refused as such
                    # whatever was imported before.
                    repeat = None
                    if not prepared.elsewhere and prepared.sha256:
                        repeat = seen.get(prepared.sha256) or group.holding(prepared.sha256)
                    if repeat is not None:
                        done(_repeat(prepared.name, repeat))
                        continue
                    stored(*group.add(prepared))
        finally:
            # Whatever stopped us (the end, a crash, Ctrl-C), the groups stored before it
            # are kept, and the checks across each LA's schools cover what was stored.
            failing = sys.exc_info()[1] is not None
            try:
                if not failing:
                    stored(*group.flush())
                if touched_las:
                    actions.do_refresh_cohort_checks(touched_las, collection=collection)
                    # Next year's pupils of these LAs are compared with this year's (phonics'
                    # Year 2 pupils with their Year 1 results): check them again now.
                    for later in actions.collections_following(collection):
                        actions.do_refresh_cohort_checks(touched_las, collection=later)
            except Exception:
                if not failing:
                    raise
    return results


def temp_prefix(kind: str) -> str:
    """Temporary folders are named after the process that made them ("keystage-import-4711-"),
    so that recovery removes only those of processes that have died (`recovery.reclaim`)."""
    return f"keystage-{kind}-{os.getpid()}-"


def _not_stored_before(sources: list[Source], stored: Counter) -> list[Source]:
    """The sources whose bytes an interrupted run did not store (hashing is cheap next to
    preparing a file again)."""
    left = []
    for s in sources:
        try:
            sha256 = file_digest(s.path)[0]
        except OSError:
            sha256 = ""
        if stored[sha256] > 0:
            stored[sha256] -= 1
        else:
            left.append(s)
    return left


class GroupStore:
    """Collects prepared files and stores them a group at a time (`actions.do_store_files`):
    one transaction and a handful of statements per group rather than per file. A killed
    import loses at most the group being stored, which the next run of the import stores."""

    FILES = 100
    PUPILS = 5000
    SECONDS = 1.0

    def __init__(self, **store_options) -> None:
        self.options = store_options
        self.on_stored: Callable[[list[actions.ImportResult]], None] | None = None
        self.files: list[PreparedFile] = []
        self.schools: set[int] = set()
        self.pupils = 0
        self.started = 0.0

    def holding(self, sha256: str) -> dict | None:
        """Bytes already waiting in this group count as imported (as `seen` rows)."""
        for p in self.files:
            if p.sha256 == sha256:
                return _seen_row(p, None)
        return None

    def add(self, prepared: PreparedFile) -> tuple[list, list]:
        """Add a file; returns (results, files) of a group stored to make room, if any."""
        out: tuple[list, list] = ([], [])
        school = prepared.school.school_id if prepared.school and not prepared.rejected else None
        if school in self.schools:  # a school's second file must supersede its first
            out = self.flush()
        if not self.files:
            self.started = time.monotonic()
        self.files.append(prepared)
        self.pupils += len(prepared.pupils)
        if school is not None:
            self.schools.add(school)
        if (len(self.files) >= self.FILES or self.pupils >= self.PUPILS
                or time.monotonic() - self.started >= self.SECONDS):  # fmt: skip
            flushed = self.flush()
            out = (out[0] + flushed[0], out[1] + flushed[1])
        return out

    def flush(self) -> tuple[list, list]:
        files, self.files, self.schools, self.pupils = self.files, [], set(), 0
        if not files:
            return [], []
        faults.point("store.before")
        with transaction.atomic():
            results = actions.do_store_files(files, **self.options)
            if self.on_stored is not None:
                self.on_stored(results)
        faults.point("store.after")
        return results, files


# Files are handed to workers in small batches, and only a few batches are ever in flight, so
# memory stays flat however many files there are and however slowly the database writes.
BATCH = 8
IN_FLIGHT_PER_WORKER = 12


def _prepared(todo, collection_code, schools, only_la, jobs, known) -> Iterator[PreparedFile]:
    """Each file of `todo` prepared, in order. `known`: hashes of files imported before, whose
    bytes are kept already."""
    store = Path(settings.UPLOAD_STORE)
    jobs = jobs or os.cpu_count() or 1
    definition = definitions.load(collection_code)
    # Inside an outer transaction (a test, or a caller's atomic block) closing connections
    # would lose it, so such callers prepare in this process.
    rejected_limit = keep_rejected_bytes()
    if jobs <= 1 or len(todo) <= BATCH or connection.in_atomic_block:
        with closing(Keeper(store, known, rejected_limit=rejected_limit)) as keeper:
            for name, path, refused in todo:
                yield prepare_file(path, name, definition, schools, only_la=only_la,
                                   keeper=keeper, refused=refused)  # fmt: skip
        return
    # Workers only read files and run rules; the database stays in this process. Close our
    # connections first so that forked children never share a database socket.
    connections.close_all()
    batches = [todo[i : i + BATCH] for i in range(0, len(todo), BATCH)]
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=get_context("fork"), initializer=_init_worker,
        initargs=(
            collection_code, schools, only_la, str(store), known, rejected_limit, os.getpid()
        ),
    )  # fmt: skip
    try:
        pending: deque = deque()
        queue = iter(batches)
        for batch in islice(queue, jobs * IN_FLIGHT_PER_WORKER):
            pending.append(pool.submit(_prepare_batch, batch))
        while pending:
            finished = pending.popleft().result()
            faults.point("import.prepared")
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(pool.submit(_prepare_batch, nxt))
            yield from finished
    finally:
        # Also when the caller stops early (an error while storing, Ctrl-C): queued batches
        # are dropped instead of prepared for nobody.
        pool.shutdown(wait=True, cancel_futures=True)
