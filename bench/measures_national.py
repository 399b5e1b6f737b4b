"""Benchmark (not a test): DfE's published KS1 2023 figures of every LA, region and England
rebuilt from an exact national synthetic run, written as school files and read back with the
product's readers, then counted with the product's measures.

This is the national check that was part of the test suite until the suite outgrew its
15 minutes: about 100 s of both cores on a slow machine. The suite keeps the same checks on a
sample of LAs (the smallest of every region and the two DfE does not publish) in
tests/engine/test_measures.py, with the functions below; this runs them on all 153 LAs and the
regional and national sums, which need every LA.

    .venv/bin/python bench/measures_national.py [--workers 2] [--write-docs]

Exits 1 when a figure differs (the failures are listed), 0 when every LA matches.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.figures import write_block  # noqa: E402
from keystage.engine import definition  # noqa: E402
from keystage.engine.collections.ks1 import synthetic  # noqa: E402
from keystage.engine.measures import Counts, count_pupils, measures, rounded  # noqa: E402
from keystage.engine.readers import open_school_file  # noqa: E402
from keystage.engine.records import PupilRecord  # noqa: E402
from keystage.reference import REGION_CODES, local_authorities, published_ks1  # noqa: E402

D = definition.load()

# Published column prefix -> subject key.
_PUBLISHED = {"read": "reading", "writ": "writing", "mat": "maths", "sci": "science"}


def count_la(job: tuple[str, str]) -> tuple[str, int, Counts, list[Counts]]:
    """One LA's files of an exact national run, written and read back with the readers: all
    its pupils counted at once, and school by school. An LA's files are the same whichever
    other LAs are generated with it (synthetic.generate), so each LA is written on its own and
    removed once read: a few MB on disk at a time instead of the 1.2 GB of all of England."""
    root, la = job
    out = Path(root) / la
    try:
        summary = synthetic.generate(out, las=[la], error_rate=0, exact=True)
        schools: list[Counts] = []
        records: list[PupilRecord] = []
        for path in sorted((out / la).iterdir()):
            with open_school_file(path, D) as reader:
                pupils = list(reader.pupils())
            schools.append(count_pupils(pupils, D))
            records.extend(pupils)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return la, summary.pupils, count_pupils(records, D), schools


def count_las(
    root: Path, las: list[str], workers: int = 2
) -> dict[str, tuple[int, Counts, list[Counts]]]:
    """{la: (pupils generated, counts of all its pupils, counts school by school)}."""
    jobs = [(str(root), la) for la in las]
    if workers <= 1:
        results = [count_la(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(count_la, jobs, chunksize=2))
    return {la: (pupils, at_once, schools) for la, pupils, at_once, schools in results}


def published(level: str, code: str) -> dict[str, int]:
    row = next(
        r for r in published_ks1() if (r["year"], r["level"], r["code"]) == ("2023", level, code)
    )
    return {m: int(row[m]) for m in synthetic.MEASURES}


def our_figures(counts: Counts) -> dict[str, float]:
    m = measures(counts, D)["subjects"]
    out = {}
    for measure in synthetic.MEASURES:
        prefix, kind = measure.split("_")
        s = m[_PUBLISHED[prefix]]
        out[measure] = s["met_percent"] if kind == "exs" else s["higher_percent"]
    return out


def la_failures(by_la: dict[str, tuple[int, Counts, list[Counts]]]) -> list[str]:
    """What is wrong with each LA's counts: its schools must add up to the LA exactly, every
    pupil generated must be read back, and a published LA's rounded figures must be DfE's."""
    targets = synthetic.published_targets()
    wrong = []
    for la, (generated, at_once, schools) in by_la.items():
        if sum(schools) != at_once:
            wrong.append(f"LA {la}: its schools do not add up to the LA")
        if at_once.pupils != generated:
            wrong.append(f"LA {la}: {generated} pupils generated, {at_once.pupils} read back")
        if la in targets:
            ours = {k: rounded(v) for k, v in our_figures(at_once).items()}
            if ours != targets[la]:
                wrong.append(f"LA {la}: ours {ours}, DfE's {targets[la]}")
    return wrong


def area_failures(by_la: dict[str, tuple[int, Counts, list[Counts]]]) -> list[str]:
    """Regions and England are pupil-weighted sums of their LAs and land within a point of
    DfE's published figures (every LA needed)."""
    region_of = {la.code: la.region for la in local_authorities()}
    regions: dict[str, Counts] = defaultdict(Counts)
    for la, (_, at_once, _) in by_la.items():
        regions[region_of[la]] += at_once
    wrong = []
    for region, counts in sorted(regions.items()):
        theirs = published("region", REGION_CODES[region][1])
        for measure, value in our_figures(counts).items():
            if abs(value - theirs[measure]) > 1:
                wrong.append(f"{region} {measure}: ours {value:.2f}, DfE's {theirs[measure]}")
    national = sum(regions.values())
    theirs = published("national", "970")
    for measure, value in our_figures(national).items():
        if abs(value - theirs[measure]) > 1:
            wrong.append(f"England {measure}: ours {value:.2f}, DfE's {theirs[measure]}")
    return wrong


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    las = [la.code for la in local_authorities()]
    started = time.perf_counter()
    cpu = os.times()
    with tempfile.TemporaryDirectory(prefix="keystage-measures-") as root:
        by_la = count_las(Path(root), las, args.workers)
    wall = time.perf_counter() - started
    after = os.times()
    used = (after.user - cpu.user) + (after.children_user - cpu.children_user)
    wrong = la_failures(by_la) + area_failures(by_la)
    pupils = sum(at_once.pupils for _, at_once, _ in by_la.values())
    published_las = sum(1 for la in by_la if la in synthetic.published_targets())
    for line in wrong:
        print(line, file=sys.stderr)
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, `bench/measures_national.py --workers "
        f"{args.workers}`: {len(by_la)} LAs, {pupils:,} pupils written as school files and "
        f"read back in {wall:.1f} s ({used:.1f} s of CPU); {published_las} published LAs, 9 "
        f"regions and England checked: "
        + ("**every figure matches**." if not wrong else f"**{len(wrong)} figures differ**."),
    ]
    print("\n".join(lines))
    if args.write_docs:
        write_block("measures-national", "The national measures check (benchmark)", lines)
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
