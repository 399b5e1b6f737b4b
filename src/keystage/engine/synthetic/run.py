"""Running a synthetic generation: the LAs asked for, one job per LA (in parallel processes when
asked, with identical output), then the schools register, the manifest of files and the log of
injected mistakes, and a summary of what was written."""

from __future__ import annotations

import csv
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from keystage.engine.definition import Definition
from keystage.engine.synthetic import mistakes
from keystage.engine.synthetic.draws import la_rng
from keystage.engine.synthetic.files import FileWriters, write_school
from keystage.engine.synthetic.schools import REGISTER_COLUMNS, School, register_row
from keystage.reference import LocalAuthorityRef, local_authorities

REGISTER_NAME = "schools.csv"
MANIFEST_NAME = "manifest.csv"
INJECTED_NAME = "injected_errors.csv"


@dataclass
class GenerateSummary:
    """What `generate` wrote. `files` counts files by kind ("ctf", "csv" and the fault kinds);
    `errors` counts injected errors by kind (pupil errors and file faults alike)."""

    out_dir: Path
    register: Path
    manifest: Path
    injected_log: Path
    las: int = 0
    schools: int = 0  # schools that sent a file
    register_rows: int = 0  # every establishment in the register, sending a file or not
    pupils: int = 0  # distinct pupils in the cohort
    # Pupil records in the schools' files: a pupil written into two schools counts twice;
    # duplicate files, and pupils lost with a file replaced by a PDF or truncated, do not count.
    pupil_records: int = 0
    files: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    exact: bool = False
    seconds: float = 0.0
    bytes_written: int = 0

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True)
class Settings:
    error_rate: float
    seed: int
    csv_share: float
    exact: bool
    definition: Definition


@dataclass
class LaResult:
    la: str
    register_rows: list[list[str]]
    manifest_rows: list[list[str]]
    injected: list[tuple]
    schools: int
    pupils: int
    records: int
    files: dict[str, int]
    errors: dict[str, int]
    bytes_written: int


def finish_la(la: LocalAuthorityRef, schools: list[School], settings: Settings, out_dir: Path,
              *, csv_name: Callable[[School], str], weights: dict[str, float],
              own: mistakes.OwnMistake, writers: FileWriters, pupils: int) -> LaResult:  # fmt: skip
    """The LA's pupils have their results: put in the mistakes (wrong files first, then the
    pupils' mistakes by `weights`, the collection's own made by `own`) and write the files."""
    seed, rate, d = settings.seed, settings.error_rate, settings.definition
    errors = mistakes.choose_file_faults(la, schools, seed=seed, error_rate=rate,
                                         csv_name=csv_name)  # fmt: skip
    injected: list[tuple] = []
    made = mistakes.inject_pupil_errors(la, schools, seed=seed, error_rate=rate, d=d,
                                        log=injected, weights=weights, own=own)  # fmt: skip
    for kind, n in made.items():
        errors[kind] = errors.get(kind, 0) + n
    return write_la(la, schools, out_dir=out_dir, d=d, write_rng=la_rng(seed, la.code, "write"),
                    writers=writers, errors=errors, injected=injected, pupils=pupils)  # fmt: skip


def write_la(la: LocalAuthorityRef, schools: list[School], *, out_dir: Path, d: Definition,
             write_rng: random.Random, writers: FileWriters, errors: dict[str, int],
             injected: list[tuple], pupils: int) -> LaResult:  # fmt: skip
    """Write the files of the LA's schools into `out_dir/<la>/` and say what was written."""
    la_dir = out_dir / la.code
    la_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, int] = {}
    manifest: list[list[str]] = []
    size = 0
    records = 0
    for s in schools:
        if not s.sends:
            continue
        for name, kind, n, enc in write_school(s, la_dir, d, write_rng, writers):
            files[kind] = files.get(kind, 0) + 1
            size += (la_dir / name).stat().st_size
            records += n if not kind.endswith("_copy") else 0
            manifest.append([s.la, s.estab, s.urn, f"{la.code}/{name}", kind, str(n), enc,
                             s.fault])  # fmt: skip
        if s.fault:
            injected.append((s.la, s.estab, s.file_name, "", s.fault, "file"))
    return LaResult(
        la=la.code,
        register_rows=[register_row(s, la.name) for s in schools],
        manifest_rows=manifest,
        injected=injected,
        schools=sum(1 for s in schools if s.sends),
        pupils=pupils,
        records=records,
        files=files,
        errors=errors,
        bytes_written=size,
    )


def chosen_las(las: list[str] | None, national: bool) -> list[tuple[LocalAuthorityRef, int]]:
    """The LAs asked for, each with its place in England's list (which spaces their URNs)."""
    all_las = local_authorities()
    index = {la.code: i for i, la in enumerate(all_las)}
    if national:
        return [(la, i) for i, la in enumerate(all_las)]
    if las:
        unknown = [c for c in las if c not in index]
        if unknown:
            raise ValueError(f"unknown LA code(s): {', '.join(unknown)}")
        wanted = set(las)
        return [(la, index[la.code]) for la in all_las if la.code in wanted]
    raise ValueError("give las=[...] or national=True")


def check_settings(error_rate: float, csv_share: float) -> None:
    if not 0 <= error_rate <= 0.5:
        raise ValueError("error_rate must be between 0 and 0.5")
    if not 0 <= csv_share <= 1:
        raise ValueError("csv_share must be between 0 and 1")


def run(out_dir: str | Path, jobs: list[tuple], job: Callable[[tuple], LaResult], *,
        exact: bool, workers: int = 1,
        progress: Callable[[int, int, str], None] | None = None) -> GenerateSummary:  # fmt: skip
    """Run `job` on every LA's arguments (`jobs`, each starting with the LA), in `workers`
    processes, and write the register, manifest and injected-mistakes log of them all."""
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = GenerateSummary(out_dir=out, register=out / REGISTER_NAME,
                              manifest=out / MANIFEST_NAME, injected_log=out / INJECTED_NAME,
                              exact=exact)  # fmt: skip
    results: list[LaResult] = []
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for done, result in enumerate(pool.map(job, jobs, chunksize=1), 1):
                results.append(result)
                if progress:
                    progress(done, len(jobs), result.la)
    else:
        for done, args in enumerate(jobs, 1):
            results.append(job(args))
            if progress:
                progress(done, len(jobs), args[0].code)

    register_rows = 0
    with summary.register.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(REGISTER_COLUMNS)
        for r in results:
            w.writerows(r.register_rows)
            register_rows += len(r.register_rows)
    with summary.manifest.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["la", "estab", "urn", "file", "kind", "pupil_records", "encoding", "fault"])
        for r in results:
            w.writerows(r.manifest_rows)
    with summary.injected_log.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["la", "estab", "file", "upn", "kind", "detail"])
        for r in results:
            w.writerows([row[0], row[1], f"{row[0]}/{row[2]}", *row[3:]] for row in r.injected)

    summary.las = len(results)
    summary.register_rows = register_rows
    for r in results:
        summary.schools += r.schools
        summary.pupils += r.pupils
        summary.pupil_records += r.records
        summary.bytes_written += r.bytes_written
        for k, v in r.files.items():
            summary.files[k] = summary.files.get(k, 0) + v
        for k, v in r.errors.items():
            summary.errors[k] = summary.errors.get(k, 0) + v
    summary.files = dict(sorted(summary.files.items()))
    summary.errors = dict(sorted(summary.errors.items()))
    for p in (summary.register, summary.manifest, summary.injected_log):
        summary.bytes_written += p.stat().st_size
    summary.seconds = time.perf_counter() - started
    return summary


def default_workers() -> int:
    """A sensible process count for a national run."""
    return max(1, min(8, os.cpu_count() or 1))
