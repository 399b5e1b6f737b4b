"""Files uploaded through the web: kept in a batch folder, then imported by a background task
(`tasks.import_batch`) that records progress and each file's result on the `ImportBatch` row.

The import itself is the CLI's (`importing.import_paths`); this module adds what the web needs:
who may import which school's file, names as the user uploaded them, and progress on a row.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from keystage import faults
from keystage.accounts.models import LA_ROLES, Role
from keystage.accounts.scope import membership_of, schools_for
from keystage.audit.models import record
from keystage.engine import definition as definitions
from keystage.engine.readers import open_school_file
from keystage.submissions import actions, importing
from keystage.submissions.models import ImportBatch, Upload
from keystage.submissions.preparing import resolve_school
from keystage.web.limits import scratch_dir

UPLOAD_ROLES = (*LA_ROLES, Role.SCHOOL_USER)
# Roles that may import any school of their LA; the others only their own schools' files.
WHOLE_LA_ROLES = (Role.LA_ADMIN, Role.LA_OFFICER)


class NotAllowed(Exception):
    """The user may not upload files (no role that imports)."""


def batches_folder() -> Path:
    return Path(settings.DATA_DIR) / "web-uploads"


@transaction.atomic
def do_create_batch(user, files) -> ImportBatch:
    """Keep the uploaded files (Django `UploadedFile`s) in a folder of their own and record the
    batch with its audit row. The caller enqueues the import once this has committed."""
    membership = membership_of(user)
    if membership is None or membership.role not in UPLOAD_ROLES:
        raise NotAllowed("Only LA and school users upload school files")
    folder = batches_folder() / f"batch-{uuid.uuid4().hex}"
    names = []
    for index, upload in enumerate(files):
        # One sub-folder per file keeps the name as uploaded, even when two files share it.
        name = Path(upload.name).name or "upload"
        target = folder / f"{index:03d}" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        names.append(name)
    batch = ImportBatch.objects.create(
        collection=actions.get_collection(),
        la_id=membership.la_id,
        school_id=membership.school_id if membership.role == Role.SCHOOL_USER else None,
        uploaded_by=user,
        created_at=timezone.now(),
        folder=str(folder),
        file_names=names,
        total_files=len(names),
    )
    record("batch.created", user=user, la=membership.la_id, school=batch.school_id, obj=batch,
           files=names)  # fmt: skip
    return batch


def do_start_batch(user, files) -> ImportBatch:
    """Create the batch, then queue its import (after the commit, so the worker finds it)."""
    from keystage.submissions.tasks import import_batch

    batch = do_create_batch(user, files)
    import_batch.enqueue(batch.pk)
    return batch


def _sources(folder: Path) -> list[tuple[Path, str]]:
    """(path, name shown to people) for each kept file, in upload order."""
    return [(f, f.name) for sub in sorted(folder.iterdir()) for f in sorted(sub.iterdir())]


def _screen(batch: ImportBatch, user, sources, workdir: Path):
    """For users who may import only some schools (restricted officers, school users): unpack
    zips and read each file's header; a file for a school outside the user's scope is rejected
    here and never reaches the import. Files whose school cannot be told go on to the import,
    which rejects them with its own reason."""
    allowed = set(schools_for(user).values_list("pk", flat=True))
    definition = definitions.load(batch.collection.code)
    schools = actions.known_schools()
    la_code = batch.la.code
    keep: list[tuple[Path, str]] = []
    refused: list[actions.ImportResult] = []
    for path, shown in sources:
        expanded, problems = importing.expand([str(path)], workdir, {str(path): shown})
        refused += problems
        for source in expanded:
            name = source.name
            school = None
            try:
                with open_school_file(source.path, definition, name=name) as reader:
                    h = reader.header
                    school = resolve_school(h.la, h.estab, h.urn, schools, only_la=la_code)
            except Exception:  # noqa: BLE001 - unreadable: the import rejects it, with a reason
                school = None
            if school is not None and not isinstance(school, str):
                if school.school_id not in allowed:
                    info = school.info
                    refused.append(actions.ImportResult(
                        name, "rejected", laestab=info.laestab,
                        school_name=info.name,
                        reason=f"{name}: the file is for {info.name} ({info.laestab}), "
                        "which is not one of your schools: ask your LA to import it",
                    ))  # fmt: skip
                    continue
            if source.path == path:
                keep.append((path, shown))
            else:  # a zip member: give it a folder of its own so its name survives
                target = workdir / f"member-{len(keep):05d}" / Path(name.split(":")[-1]).name
                target.parent.mkdir(parents=True)
                source.path.rename(target)
                keep.append((target, name))
    return keep, refused


def run_batch(batch_id: int) -> None:
    """The background task's work: import the batch's files, recording progress and results.

    A batch found `running` was interrupted (its worker died, and `keystage.worker.recovery`
    queued it again): the files it stored are those of `upload_ids`, recorded in the same
    transaction as their data, so it goes on with the files not yet stored and keeps the
    results of the others."""
    batch = ImportBatch.objects.select_related("la", "collection", "uploaded_by").get(pk=batch_id)
    if batch.state not in (ImportBatch.State.QUEUED, ImportBatch.State.RUNNING):
        return  # already run (a task retried after it finished)
    user = batch.uploaded_by
    folder = Path(batch.folder)
    upload_ids: list[int] = []
    results: list[dict] = []
    stored_before: Counter = Counter()
    if batch.state == ImportBatch.State.RUNNING:
        upload_ids = list(batch.upload_ids or [])
        ours = set(upload_ids)
        results = [r for r in batch.results or [] if r.get("upload_id") in ours]
        sha = dict(Upload.objects.filter(pk__in=ours).values_list("pk", "sha256"))
        stored_before = Counter(sha[r["upload_id"]] for r in results)
    ImportBatch.objects.filter(pk=batch.pk).update(state=ImportBatch.State.RUNNING)
    try:
        if not folder.is_dir():  # removed by hand, or lost with a disk
            raise FileNotFoundError("the uploaded files are no longer on the server")
        with tempfile.TemporaryDirectory(
            prefix=importing.temp_prefix("batch"), dir=scratch_dir()
        ) as tmp:
            sources = _sources(folder)
            refused: list[actions.ImportResult] = []
            membership = membership_of(user)
            if membership is None or membership.role not in WHOLE_LA_ROLES:
                sources, refused = _screen(batch, user, sources, Path(tmp))
            shown = {str(p): name for p, name in sources}
            before = len(results)
            total = [before + len(sources) + len(refused)]
            results += [r.as_dict() for r in refused]
            last = [0.0]

            def progress(result, done, _total):
                results.append(result.as_dict())
                total[0] = before + len(refused) + _total
                now = time.monotonic()
                if now - last[0] >= 0.5 or done == _total:  # a row write at most twice a second
                    last[0] = now
                    _save(batch, len(results), total[0], results)

            def on_stored(stored: list[actions.ImportResult]) -> None:
                # In the group's transaction: the batch's record of what it stored can never
                # disagree with what is stored.
                upload_ids.extend(r.upload_id for r in stored if r.upload_id is not None)
                ImportBatch.objects.filter(pk=batch.pk).update(
                    upload_ids=upload_ids, results=results + [r.as_dict() for r in stored],
                    done_files=len(results) + len(stored),
                )  # fmt: skip

            _save(batch, len(results), total[0], results)
            if sources:
                importing.import_paths(
                    [str(p) for p, _ in sources], collection_code=batch.collection.code,
                    user=user, source="web", only_la=batch.la.code, jobs=1, progress=progress,
                    names=shown, on_stored=on_stored, stored_before=stored_before,
                )  # fmt: skip
            faults.point("batch.stored")
        ImportBatch.objects.filter(pk=batch.pk).update(
            state=ImportBatch.State.DONE, done_files=len(results), total_files=len(results),
            results=results, finished_at=timezone.now(),
        )  # fmt: skip
    except Exception as e:
        ImportBatch.objects.filter(pk=batch.pk).update(
            state=ImportBatch.State.FAILED, results=results, finished_at=timezone.now(),
            failure="The import stopped because of a problem on our side "
            f"({type(e).__name__}). Files stored before it are kept: upload the rest again.",
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
        raise
    # Not when the worker was told to stop half-way (SystemExit): the batch is resumed from
    # its files (`keystage.worker.recovery`).
    shutil.rmtree(folder, ignore_errors=True)


def _save(batch: ImportBatch, done: int, total: int, results: list[dict]) -> None:
    ImportBatch.objects.filter(pk=batch.pk).update(
        done_files=done, total_files=max(total, done), results=results
    )
