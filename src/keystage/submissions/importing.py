"""Import a batch of school files: expand folders and zips, prepare files in worker processes,
store each in its own transaction, then refresh the checks that span an LA's schools."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from django.db import connection, connections

from keystage.engine import definition as definitions
from keystage.engine.readers.archive import iter_zip
from keystage.engine.records import RejectedFile
from keystage.submissions import actions
from keystage.submissions.preparing import PreparedFile, file_digest, prepare_file

# Files bigger than this are prepared in the main process, one at a time, so that a worker
# never holds two huge files' rows at once.
POOL_FILE_LIMIT = 32 * 1024 * 1024


@dataclass(frozen=True)
class Source:
    name: str  # what messages call it: the path given, or "batch.zip:member.xml"
    path: Path


class UsageError(Exception):
    """A path that does not exist or cannot be read: exit status 2."""


def _is_hidden(p: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in p.parts)


def expand(paths: list[str], workdir: Path) -> tuple[list[Source], list[actions.ImportResult]]:
    """Files, folders (recursively, in name order) and zip files, as one list of sources.
    A zip that cannot be opened safely becomes a rejected result of its own."""
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
            shown = str(f) if f != p else given
            if f.suffix.lower() == ".zip":
                try:
                    for i, (member, content) in enumerate(iter_zip(f)):
                        target = workdir / f"{len(sources):06d}-{i}"
                        target.write_bytes(content)
                        sources.append(Source(f"{shown}:{member}", target))
                except RejectedFile as e:
                    reason = e.reason if e.reason.startswith(shown) else f"{shown}: {e.reason}"
                    problems.append(actions.ImportResult(shown, "rejected", reason=reason))
            else:
                sources.append(Source(shown, f))
    return sources, problems


_worker: dict = {}


def _init_worker(collection_code: str, schools: dict, only_la: str | None) -> None:
    _worker.update(definition=definitions.load(collection_code), schools=schools, only_la=only_la)


def _prepare_in_worker(args: tuple[str, str, tuple[str, int]]) -> PreparedFile:
    name, path, digest = args
    return prepare_file(
        path,
        name,
        _worker["definition"],
        _worker["schools"],
        only_la=_worker["only_la"],
        digest=digest,
    )


def import_paths(
    paths: list[str],
    *,
    collection_code: str | None = None,
    user=None,
    source: str = "cli",
    only_la: str | None = None,
    jobs: int | None = None,
    progress: Callable[[actions.ImportResult, int, int], None] | None = None,
) -> list[actions.ImportResult]:
    collection = actions.get_collection(collection_code)
    definition = definitions.load(collection.code)
    with tempfile.TemporaryDirectory(prefix="keystage-import-") as tmp:
        sources, results = expand(paths, Path(tmp))
        total = len(sources) + len(results)
        for r in results:
            if progress:
                progress(r, len(results), total)
        schools = actions.known_schools()
        todo: list[tuple[str, str, tuple[str, int]]] = []
        in_batch: dict[str, str] = {}
        for s in sources:
            digest = file_digest(s.path)
            if digest[0] in in_batch:
                r = actions.ImportResult(
                    s.name, "unchanged", reason=f"same bytes as {in_batch[digest[0]]} in this batch"
                )
                results.append(r)
                if progress:
                    progress(r, len(results), total)
                continue
            in_batch[digest[0]] = s.name
            seen = actions.find_unchanged(digest[0], collection)
            if seen is not None:
                outcome = "rejected" if seen.state == "rejected" else "unchanged"
                r = actions.ImportResult(
                    s.name,
                    outcome,
                    laestab=seen.school.laestab if seen.school else "",
                    school_name=seen.school.name if seen.school else "",
                    pupils=seen.pupil_count,
                    errors=seen.error_count,
                    queries=seen.query_count,
                    reason=(
                        f"{s.name}: {seen.reason.split(': ', 1)[-1]}"
                        if outcome == "rejected"
                        else f"same bytes as {seen.file_name}, imported {seen.uploaded_at:%d/%m/%Y %H:%M}"
                    ),
                    upload_id=seen.pk,
                )
                results.append(r)
                if progress:
                    progress(r, len(results), total)
                continue
            todo.append((s.name, str(s.path), digest))
        touched_las: set[int] = set()
        for prepared in _prepared(todo, collection.code, schools, only_la, jobs, definition):
            r = actions.do_store_file(prepared, collection=collection, user=user, source=source)
            if r.outcome in ("accepted", "superseded"):
                touched_las.add(prepared.school.la_id)
            results.append(r)
            if progress:
                progress(r, len(results), total)
        if touched_las:
            actions.do_refresh_cohort_checks(touched_las, collection=collection)
    return results


def _prepared(todo, collection_code, schools, only_la, jobs, definition) -> Iterator[PreparedFile]:
    jobs = jobs or os.cpu_count() or 1
    small = [t for t in todo if t[2][1] <= POOL_FILE_LIMIT]
    # Inside an outer transaction (a test, or a caller's atomic block) closing connections
    # would lose it, so such callers prepare in this process.
    if jobs > 1 and len(small) > 8 and not connection.in_atomic_block:
        # Workers only parse and check; the database stays in this process. Close our
        # connections first so that forked children never share a database socket.
        connections.close_all()
        ctx = get_context("fork")
        with ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(collection_code, schools, only_la),
        ) as pool:
            big = iter(t for t in todo if t[2][1] > POOL_FILE_LIMIT)
            yield from pool.map(_prepare_in_worker, small, chunksize=16)
            for name, path, digest in big:
                yield prepare_file(path, name, definition, schools, only_la=only_la, digest=digest)
        return
    for name, path, digest in todo:
        yield prepare_file(path, name, definition, schools, only_la=only_la, digest=digest)
