"""Benchmark (not a test): every LA's synthetic phonics 2023 files, written and read back with
the product's phonics readers, reproduce the LA's published Year 1 figure (the % of Year 1
pupils meeting the expected standard, rounded as DfE rounds it); England's pupil-weighted sum
lands within a point of DfE's national figure.

    .venv/bin/python bench/synthetic_phonics_national.py [--workers 2] [--year 2023] [--write-docs]

An LA with too few pupils to reach every whole percent (fewer than 50 eligible: the Isles of
Scilly, City of London) must get the nearest count instead. Exits 1 when a figure differs (the
failures are listed), 0 when every LA matches. tests/engine/test_synthetic_phonics.py checks
the same on three LAs.
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
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.figures import write_block  # noqa: E402
from keystage.engine import definition  # noqa: E402
from keystage.engine.collections.phonics import synthetic  # noqa: E402
from keystage.engine.measures import rounded  # noqa: E402
from keystage.engine.readers import open_school_file  # noqa: E402
from keystage.reference import local_authorities, published_phonics  # noqa: E402


def year1_counts(pupils, d) -> tuple[int, int]:
    """(met, eligible) of the Year 1 pupils, per the definition's [measures]: a mark at or
    above the threshold is met; marks and every code but the not-eligible ones are eligible."""
    threshold = int(d.raw["threshold"]["mark"])
    not_eligible = {c.upper() for c in d.raw["measures"]["not_eligible"]}
    met = eligible = 0
    for p in pupils:
        if p.nc_year != "1":
            continue
        mark, code = p.outcomes.get("mark"), (p.outcomes.get("psc_code") or "").upper()
        if mark is None and code in not_eligible:
            continue
        eligible += 1
        met += mark is not None and int(mark) >= threshold
    return met, eligible


def count_la(job: tuple[str, str, str]) -> tuple[str, int, int, int]:
    """One LA's files, written on their own (an LA's files do not depend on the others) and
    removed once read: (la, pupils generated, met, eligible)."""
    root, la, collection = job
    d = definition.load(collection)
    out = Path(root) / la
    try:
        summary = synthetic.generate(out, las=[la], error_rate=0, seed=0, definition=d)
        pupils = []
        for path in sorted((out / la).iterdir()):
            with open_school_file(path, d) as reader:
                pupils.extend(reader.pupils())
        met, eligible = year1_counts(pupils, d)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return la, summary.pupils, met, eligible


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--year", type=int, default=2023)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    collection = f"phonics-{args.year}"
    d = definition.load(collection)
    targets = synthetic.published_targets(d)
    published_las = synthetic.published_targets(d, include_suppressed=False)
    started = time.perf_counter()
    cpu = os.times()
    with tempfile.TemporaryDirectory(prefix="keystage-phonics-") as root:
        jobs = [(root, la.code, collection) for la in local_authorities()]
        if args.workers <= 1:
            results = [count_la(job) for job in jobs]
        else:
            with ProcessPoolExecutor(max_workers=args.workers) as pool:
                results = list(pool.map(count_la, jobs, chunksize=2))
    wall = time.perf_counter() - started
    after = os.times()
    used = (after.user - cpu.user) + (after.children_user - cpu.children_user)
    wrong = []
    for la, _, met, eligible in results:
        ours = 100 * met / eligible
        if eligible >= 50 and rounded(ours) != targets[la]:
            wrong.append(f"LA {la}: ours {ours:.2f} ({met}/{eligible}), DfE's {targets[la]}")
        elif eligible < 50 and abs(ours - targets[la]) > 50 / eligible:
            wrong.append(f"LA {la}: ours {met}/{eligible}, not the nearest to {targets[la]}")
    met_all = sum(r[2] for r in results)
    eligible_all = sum(r[3] for r in results)
    national = next(int(r["y1_met"]) for r in published_phonics()
                    if (r["year"], r["level"]) == (str(args.year), "national"))  # fmt: skip
    england = 100 * met_all / eligible_all
    if abs(england - national) > 1:
        wrong.append(f"England: ours {england:.2f}, DfE's {national}")
    for line in wrong:
        print(line, file=sys.stderr)
    pupils = sum(r[1] for r in results)
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, `bench/synthetic_phonics_national.py "
        f"--workers {args.workers} --year {args.year}`: {len(results)} LAs, {pupils:,} pupils "
        f"(Year 1 and the Year 2 re-check) written as school files and read back in {wall:.1f} s "
        f"({used:.1f} s of CPU); {sum(1 for r in results if r[0] in published_las)} LAs with a "
        f"published Year 1 figure, the others their region's, and England ({england:.1f} "
        f"against {national}): "
        + ("**every figure matches**." if not wrong else f"**{len(wrong)} figures differ**."),
    ]
    print("\n".join(lines))
    if args.write_docs:
        write_block(
            "synthetic-phonics-national", "The national synthetic phonics check (benchmark)", lines
        )
    return 1 if wrong else 0


if __name__ == "__main__":
    raise SystemExit(main())
