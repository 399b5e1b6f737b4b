"""Benchmark (not a test): report speed with a national year loaded, on PostgreSQL.

Loads the national data set of bench/import_national.py (bench/out/national, generated there if
missing) into a PostgreSQL database of its own once (`keystage_bench_reports`, kept for later
runs; --fresh loads it again: about a minute of both cores), then, in one process, times:
the full national fact rebuild; one school's rebuild after its upload (median of 5 schools);
and the server time of an LA's summary page and gap analysis (Django's test client in-process,
median of 20 after a warm-up), as that LA's admin (disclosure control on) and as the national
admin; and the provisional national page (issue 17: the estimates of every region and measure
from the 153 LAs' facts), warm (its figures kept, as after the first request) and cold (the
kept figures forgotten before each request, as after every change of the facts). Targets
(issue 6): pages <= 100 ms, national rebuild <= 10 s, one school <= 1 s.

    .venv/bin/python bench/reports_national.py --write-docs
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.figures import write_block  # noqa: E402

KEYSTAGE = [sys.executable, "-m", "keystage.cli"]
PG_ADMIN = os.environ.get(
    "KEYSTAGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NAME = os.environ.get(
    "KEYSTAGE_BENCH_REPORTS_DB", "keystage_bench_reports"
)  # a database of its own


def _database(fresh: bool) -> tuple[str, bool]:
    """The bench database's URL, and whether it must be loaded."""
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (NAME,)).fetchone()
        if exists and fresh:
            c.execute(f'DROP DATABASE "{NAME}" WITH (FORCE)')
            exists = None
        if not exists:
            c.execute(f'CREATE DATABASE "{NAME}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + NAME
    if exists:
        with psycopg.connect(url) as c:
            try:
                loaded = c.execute("SELECT count(*) FROM submissions_pupilrecord").fetchone()[0]
            except psycopg.errors.UndefinedTable:
                loaded = 0
        return url, loaded == 0
    return url, True


def _load(env: dict, out: Path) -> float:
    if not (out / "summary.json").exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "import_national.py"), "--db",
                        "sqlite", "--out", str(out)], check=True)  # fmt: skip
    subprocess.run([*KEYSTAGE, "init"], env=env, check=True, capture_output=True)
    subprocess.run([*KEYSTAGE, "schools", "load", str(out / "schools.csv")], env=env, check=True,
                   capture_output=True)  # fmt: skip
    folders = sorted(str(p) for p in out.iterdir() if p.is_dir())
    started = time.monotonic()
    done = subprocess.run([*KEYSTAGE, "import", "--quiet", *folders], env=env,
                          capture_output=True)  # fmt: skip
    if done.returncode not in (0, 1):  # 1: some files were rejected, as the data set has
        raise SystemExit(f"keystage import failed: {done.stderr.decode()[-2000:]}")
    return time.monotonic() - started


def _timed(fn, n: int) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _client(user):
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def measure(runs: int) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.orgs.models import LocalAuthority
    from keystage.reports.facts import rebuild_facts
    from keystage.reports.models import Fact
    from keystage.submissions.actions import get_collection
    from keystage.submissions.models import PupilRecord
    from keystage.web.readcache import forget_all

    collection = get_collection()
    pupils = PupilRecord.objects.filter(collection=collection, is_current=True).count()
    started = time.perf_counter()
    written = rebuild_facts(collection)
    full = time.perf_counter() - started
    print(f"national rebuild: {full:.2f}s, {written} fact rows, {pupils} pupils", flush=True)

    # The largest LA (most pupils) is the slowest LA page and the slowest school rebuild's LA.
    biggest = (
        PupilRecord.objects.filter(collection=collection, is_current=True)
        .values("la_id").annotate(n=Count("id")).order_by("-n").first()
    )  # fmt: skip
    la = LocalAuthority.objects.get(pk=biggest["la_id"])
    schools = list(
        Fact.objects.filter(collection=collection, level="school", la=la, group="all")
        .order_by("-pupils").values_list("school_id", flat=True)[:5]
    )  # fmt: skip
    one = []
    for school_id in schools:
        started = time.perf_counter()
        rebuild_facts(collection, schools=[school_id])
        one.append(time.perf_counter() - started)
    one_school = statistics.median(one)
    print(f"one school's rebuild (LA {la.code}): median {one_school:.3f}s", flush=True)

    User = get_user_model()
    users = {}
    for name, kw in {
        "bench-national": {"role": Role.NATIONAL_ADMIN},
        f"bench-admin-{la.code}": {"role": Role.LA_ADMIN, "la": la},
    }.items():
        user = User.objects.filter(username=name).first()
        if user is None:
            user = do_create_member(name, password="Correct-Horse-Battery-9", **kw).user
        users[kw["role"]] = user
    pages = {}
    for role, user in users.items():
        client = _client(user)
        for page, url in (
            ("summary", f"/ks1-2023/reports/la/{la.code}/summary"),
            ("gap", f"/ks1-2023/reports/la/{la.code}/gap"),
        ):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            pages[(page, role)] = _timed(lambda c=client, u=url: c.get(u), runs)
            print(f"{page} as {role}: median {pages[(page, role)] * 1000:.0f} ms", flush=True)
        national = "/ks1-2023/reports/national"
        response = client.get(national)
        assert response.status_code == 200 and b"Based on" in response.content, national
        pages[("national", role)] = _timed(lambda c=client, u=national: c.get(u), runs)

        def cold(c=client, u=national):
            forget_all()
            c.get(u)

        pages[("national_cold", role)] = _timed(cold, runs)
        print(f"national page as {role}: median {pages[('national', role)] * 1000:.0f} ms, "
              f"cold {pages[('national_cold', role)] * 1000:.0f} ms", flush=True)  # fmt: skip
    return {
        "pupils": pupils, "facts": written, "full_s": full, "one_school_s": one_school,
        "la": f"{la.code} {la.name}", "la_pupils": biggest["n"], "pages": pages, "runs": runs,
    }  # fmt: skip


NOTES = [
    "How the rebuild gets there (`reports/facts.py`): each pupil comes from the database as five",
    "values (outcomes and characteristics joined into one string each, not JSON documents);",
    "each distinct outcome string is counted once by the engine and each distinct",
    "characteristics string turned into groups once; the tallies per school and group are numpy",
    "sums; rows go in by COPY (text format, a block at a time) with the zero counts left out of",
    "the JSON; a full rebuild empties the table with TRUNCATE when it holds only this",
    "collection's facts, and does not wait for the WAL flush (facts can always be counted",
    "again). Left: about 2.5 s of Python over 640,000 rows, about 2 s of COPY and the deferred",
    "foreign-key checks at commit (~1.5 s). Figures were taken while other work shared the two",
    "cores (load average about 3), so a quiet machine is faster. Loading the national year for",
    "this benchmark is a `keystage import` (see the import section), run once and kept in the",
    "`keystage_bench_reports` database.",
]


def write_docs(r: dict, load_s: float | None) -> None:
    def ms(key):
        return f"{r['pages'][key] * 1000:.0f}"

    loaded = f" (loaded by `keystage import` in {load_s:.0f} s)" if load_s else ""
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, PostgreSQL, by `bench/reports_national.py`.",
        "",
        f"Data: {r['pupils']:,} current pupils{loaded}; {r['facts']:,} fact rows. Pages of LA "
        f"{r['la']} ({r['la_pupils']:,} pupils, the largest), median of {r['runs']} requests "
        "after a warm-up, server time (Django's test client in-process: middleware, queries, "
        "template).",
        "",
        "| what | measured | target |",
        "|---|---|---|",
        f"| national fact rebuild (every school, LA, region, England) | {r['full_s']:.1f} s | ≤ 10 s |",
        f"| one school's rebuild (its facts and the three sums above) | {r['one_school_s']:.2f} s | ≤ 1 s |",
        f"| LA summary page, as the LA's admin | {ms(('summary', 'la_admin'))} ms | ≤ 100 ms |",
        f"| LA gap analysis page, as the LA's admin | {ms(('gap', 'la_admin'))} ms | ≤ 100 ms |",
        f"| LA summary page, as the national admin | {ms(('summary', 'national_admin'))} ms | ≤ 100 ms |",
        f"| LA gap analysis page, as the national admin | {ms(('gap', 'national_admin'))} ms | ≤ 100 ms |",
        f"| provisional national page, as the LA's admin | {ms(('national', 'la_admin'))} ms | ≤ 100 ms |",
        f"| the same, its kept figures forgotten first (cold) | {ms(('national_cold', 'la_admin'))} ms | ≤ 100 ms |",
        f"| provisional national page, as the national admin | {ms(('national', 'national_admin'))} ms | ≤ 100 ms |",
        f"| the same, its kept figures forgotten first (cold) | {ms(('national_cold', 'national_admin'))} ms | ≤ 100 ms |",
        "",
        *NOTES,
    ]
    write_block("reports_national", "Reports (issue 6)", lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "national")
    ap.add_argument("--fresh", action="store_true", help="load the national data again")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    url, must_load = _database(args.fresh)
    data_dir = tempfile.mkdtemp(prefix="keystage-bench-reports-")
    env = {**os.environ, "DATABASE_URL": url, "KEYSTAGE_DATA_DIR": data_dir,
           "KEYSTAGE_ALLOWED_HOSTS": "testserver,localhost"}  # fmt: skip
    load_s = None
    if must_load:
        print("loading the national year (about a minute of both cores)...", flush=True)
        load_s = _load(env, args.out)
        print(f"loaded in {load_s:.0f}s", flush=True)
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keystage.web.settings")
    result = measure(args.runs)
    if args.write_docs:
        write_docs(result, load_s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
