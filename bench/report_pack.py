"""Benchmark (not a test): the time to make an LA's report pack (issue 18: a contents page, the
LA's summary and gap analysis, a page per school), for the largest LA of a `keystage demo`.

Seeds a demo into a data directory of its own once (bench/out/report-pack, SQLite; kept for
later runs; --fresh seeds it again: a few minutes), then makes the pack of the LA with the most
schools as its LA admin would see it (`rendering.make_pack`, as the task does), for each
collection asked for, timing each run and what the pack holds (pages, bytes). Target: 20 s for
the largest LA.

    .venv/bin/python bench/report_pack.py --write-docs
    .venv/bin/python bench/report_pack.py --collection ks1-2023 --runs 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.figures import write_block  # noqa: E402

DATA = ROOT / "bench" / "out" / "report-pack"
TARGET_S = 20.0
COLLECTIONS = ("ks1-2023", "phonics-2024")


def _seed(fresh: bool) -> None:
    if DATA != ROOT / "bench" / "out" / "report-pack":
        return  # --data: a demo seeded already
    if fresh and DATA.exists():
        import shutil

        shutil.rmtree(DATA)
    if (DATA / "keystage.sqlite3").exists() or (DATA / "demo-users.txt").exists():
        return
    DATA.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KEYSTAGE_DATA_DIR": str(DATA)}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "-m", "keystage.cli", "demo"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def _pages(data: bytes) -> int:
    done = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True)
    line = next(x for x in done.stdout.decode().splitlines() if x.startswith("Pages:"))
    return int(line.split()[1])


def _cpu() -> float:
    """CPU seconds (user and system) of this process and of its children that have ended (the
    pack's layout processes)."""
    import resource

    mine, theirs = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return mine.ru_utime + mine.ru_stime + theirs.ru_utime + theirs.ru_stime


def run(collections, runs: int) -> list[dict]:
    os.environ["KEYSTAGE_DATA_DIR"] = str(DATA)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keystage.web.settings")
    import django

    django.setup()
    from django.db.models import Count
    from django.utils import timezone

    from keystage.accounts.models import Membership, Role
    from keystage.reports.models import Fact, ReportPack
    from keystage.reports.rendering import make_pack
    from keystage.submissions.models import Collection

    out = []
    for code in collections:
        collection = Collection.objects.get(code=code)
        largest = (
            Fact.objects.filter(collection=collection, level="school", group="all")
            .values("la").annotate(n=Count("id")).order_by("-n").first()
        )  # fmt: skip
        admin = Membership.objects.filter(role=Role.LA_ADMIN, la_id=largest["la"]).first()
        times, cpus, pack = [], [], None
        for _ in range(runs):
            pack = ReportPack.objects.create(collection=collection, la_id=largest["la"],
                                             requested_by=admin.user,
                                             requested_at=timezone.now())  # fmt: skip
            start, cpu = time.perf_counter(), _cpu()
            make_pack(pack.pk)
            times.append(time.perf_counter() - start)
            cpus.append(_cpu() - cpu)
            pack.refresh_from_db()
            assert pack.state == "done", pack.message
        out.append({
            "collection": code, "la": f"{pack.la.code} {pack.la.name}",
            "schools": pack.schools_total, "pages": _pages(bytes(pack.pdf)),
            "bytes": len(pack.pdf), "times": times, "median": statistics.median(times),
            "cpu": statistics.median(cpus),
        })  # fmt: skip
        ReportPack.objects.filter(collection=collection, la_id=largest["la"]).delete()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", action="append", help="default: ks1-2023, phonics-2024")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="seed the demo again")
    parser.add_argument("--data", help="the data directory of a demo seeded already")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args(argv)
    if args.data:
        global DATA
        DATA = Path(args.data)
    _seed(args.fresh)
    found = run(args.collection or COLLECTIONS, args.runs)
    load = os.getloadavg()[0]
    lines = [
        f"Measured {dt.date.today()} on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite, by `bench/report_pack.py` (load average "
        f"{load:.1f} at the end). Target: ≤ {TARGET_S:g} s for the largest LA.",
        "",
        "| collection | LA | schools | pages | size | made in (median) | runs | CPU, all processes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in found:
        runs = ", ".join(f"{t:.1f}" for t in r["times"])
        lines.append(f"| {r['collection']} | {r['la']} | {r['schools']} | {r['pages']} | "
                     f"{r['bytes'] / 1e6:.1f} MB | {r['median']:.1f} s | {runs} | "
                     f"{r['cpu']:.1f} s |")  # fmt: skip
    print("\n".join(lines))
    if args.write_docs:
        write_block("report_pack", "LA report pack (issue 18)", lines)
    return 0 if all(r["median"] <= TARGET_S for r in found) else 1


if __name__ == "__main__":
    sys.exit(main())
