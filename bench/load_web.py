"""Benchmark (not a test): signed-in web load on PostgreSQL with a national year loaded.

One command does everything (issue 15, item 2):

    .venv/bin/python bench/load_web.py --write-docs

1. the national data set of bench/import_national.py (bench/out/national, generated if missing)
   is imported into a PostgreSQL database of its own (`keystage_bench_load`), all but the
   RESERVED LAs, whose files the concurrent import brings in later; reused when it is already
   there and the reserved LAs are still missing (--fresh builds it again);
2. users of every role are created (national admins, LA admins and officers of several LAs
   including the largest, an approver, restricted officers, school users), each admin with a
   confirmed TOTP device, and one session per user signs in through the real sign-in form
   and two-factor page;
3. the production server is started on 127.0.0.1 only: `keystage serve --workers N
   --task-workers 2` with N = serve's own default, twice the cores and one (`--web-workers`),
   production settings as behind a TLS proxy (`KEYSTAGE_TLS_PROXY=1`, the client sends
   `X-Forwarded-Proto: https`), debug off;
4. three runs: 200 sessions each opening a page (LA dashboard, Data Errors, the pupil grid, the
   KS1 summary, the gap analysis) then reading 2-8 s, for 60 s; the same with a `keystage
   import` of the reserved LAs running; 50 sessions with no reading time (closed loop);
5. per page: requests, errors, p50/p95/max ms, bytes; the CPU of the web workers, the task
   workers and the database's server processes per request; the machine's load average.

Targets: 0 errors; p95 < 300 ms for report pages, < 500 ms for the dashboard and the grid.
The client is bounded in time and in requests, and refuses any host but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.figures import write_block  # noqa: E402
from bench.server import descendants, start_server, stop_server, wait_until_up  # noqa: E402
from bench.server import kind as process_kind  # noqa: E402
from bench.webclient import Session, Visitor, run_sessions, summarise, timeline  # noqa: E402

KEYSTAGE = [sys.executable, "-m", "keystage.cli"]
PG_ADMIN = os.environ.get(
    "KEYSTAGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NAME = "keystage_bench_load"
PORTS = range(8421, 8440)
PASSWORD = "Quiet-violet-harbour-4821"
# LAs left out of the loaded year: the concurrent import brings them in (about a quarter of
# the country's files, so that it lasts a good part of the run).
RESERVED = 40
REPORT_PAGES = ("summary", "gap")
TARGET_MS = {"dashboard": 500, "grid": 500, "summary": 300, "gap": 300, "errors": 300}


def log(*a) -> None:
    print(*a, flush=True)


# -- the data ---------------------------------------------------------------------------------


def _db_url() -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + NAME


def _folders(out: Path) -> tuple[list[Path], list[Path]]:
    """(the LA folders loaded before the runs, the reserved ones for the concurrent import)."""
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    # Every fourth LA from the end, so the reserved ones are spread over the country.
    reserved = folders[::-4][:RESERVED]
    return [p for p in folders if p not in reserved], sorted(reserved)


def build(env: dict, out: Path, fresh: bool) -> dict:
    import psycopg

    sys.path.insert(0, str(ROOT / "bench"))
    from import_national import generate

    summary = generate(out, 0)
    loaded, reserved = _folders(out)
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (NAME,)).fetchone()
    ready = False
    if exists and not fresh:
        with psycopg.connect(_db_url()) as c:
            try:
                n = c.execute("SELECT count(*) FROM submissions_pupilrecord").fetchone()[0]
                codes = [p.name.split("-")[0] for p in reserved]
                held = c.execute(
                    "SELECT count(*) FROM submissions_upload u JOIN orgs_localauthority l "
                    "ON l.id = u.la_id WHERE l.code = ANY(%s)",
                    (codes,),
                ).fetchone()[0]
                ready = n > 0 and held == 0
            except psycopg.Error:
                ready = False
    if not ready:
        log(f"building {NAME}: {len(loaded)} LAs now, {len(reserved)} for the concurrent import")
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{NAME}"')
        run = {"env": env, "check": True, "capture_output": True}
        subprocess.run([*KEYSTAGE, "init"], **run)
        subprocess.run([*KEYSTAGE, "schools", "load", str(out / "schools.csv")], **run)
        started = time.monotonic()
        done = subprocess.run([*KEYSTAGE, "import", "--quiet", *map(str, loaded)], env=env,
                              capture_output=True, text=True)  # fmt: skip
        if done.returncode not in (0, 1):  # 1: some files rejected, as the data set has
            raise SystemExit(f"keystage import failed: {done.stderr[-2000:]}")
        log(done.stdout.strip().splitlines()[-1], f"({time.monotonic() - started:.0f} s)")
        # The facts the import queued, counted now rather than during the runs.
        subprocess.run([sys.executable, "-m", "keystage.manage", "db_worker", "--batch",
                        "--no-startup-delay"], **run)  # fmt: skip
    return {"summary": summary, "reserved": reserved, "loaded": len(loaded)}


def make_users() -> list[dict]:
    """(Run inside Django.) The bench's users, made once: a mix of every role over several
    LAs, the largest first, each admin with a confirmed TOTP device. Prints them as JSON."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keystage.web.settings")
    django.setup()
    from axes.utils import reset
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Membership, Role
    from keystage.orgs.models import LocalAuthority, School
    from keystage.submissions.actions import get_collection
    from keystage.submissions.models import PupilRecord

    collection = get_collection()
    by_size = list(
        PupilRecord.objects.filter(collection=collection, is_current=True)
        .values("la_id").annotate(n=Count("id")).order_by("-n")
        .values_list("la_id", "n")
    )  # fmt: skip
    las = [LocalAuthority.objects.get(pk=pk) for pk, _ in by_size[:8]]
    # Who signs in: (role, LA index or None, how many). 200 in all.
    plan = [(Role.NATIONAL_ADMIN, None, 8)]
    for i in range(len(las)):
        plan += [(Role.LA_ADMIN, i, 3), (Role.LA_OFFICER, i, 9), (Role.LA_RESTRICTED, i, 2),
                 (Role.SCHOOL_USER, i, 10)]  # fmt: skip
    User = get_user_model()
    people = []
    for role, i, n in plan:
        la = las[i] if i is not None else None
        schools = (
            list(School.objects.filter(la=la, pupil_records__is_current=True).distinct()
                 .order_by("laestab")[:40])
            if la else []
        )  # fmt: skip
        for k in range(n):
            name = f"bench-{role}-{la.code if la else 'eng'}-{k}"
            user = User.objects.filter(username=name).first()
            if user is None:
                kw = {}
                if la is not None and role != Role.SCHOOL_USER:
                    kw["la"] = la
                if role == Role.SCHOOL_USER:
                    kw["school"] = schools[k % len(schools)]
                if role == Role.LA_RESTRICTED:
                    kw["la"] = la
                    kw["schools"] = schools[k * 5 : k * 5 + 5]
                if role == Role.LA_OFFICER and k == 0:
                    kw["is_approver"] = True
                user = do_create_member(name, password=PASSWORD, role=role, **kw).user
            elif not user.check_password(PASSWORD):  # made by an older version of this file
                user.set_password(PASSWORD)
                user.save()
            reset(username=name)  # no sign-in failures of an earlier run held against them
            m = Membership.objects.select_related("la", "school").get(user=user)
            key = None
            if m.needs_two_factor:
                device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
                if device is None:
                    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
                key = device.key
            own = m.school or (schools[k % len(schools)] if schools else None)
            people.append({
                "username": name, "role": role, "totp_key": key, "approver": m.is_approver,
                "la": m.la.code if m.la else None, "school": own.laestab if own else None,
                "school_urn": own.urn if own else None,
            })  # fmt: skip
    # The national admins look at the largest LA and the others in turn.
    for n, p in enumerate(x for x in people if x["role"] == Role.NATIONAL_ADMIN):
        p["la"] = las[n % len(las)].code
    print(json.dumps({"people": people, "largest": [
        {"code": la.code, "name": la.name, "pupils": n} for la, (_, n) in zip(las, by_size, strict=False)
    ]}))  # fmt: skip
    return people


def pages_for(p: dict) -> list[tuple[str, str]]:
    """The pages a person of this role opens (name, path): what their work is about."""
    la, school, role = p["la"], p["school"], p["role"]
    if role == "school_user":
        return [
            ("errors", f"/ks1-2023/la/{la}/errors"),
            ("grid", f"/ks1-2023/la/{la}/pupils"),
            ("summary", f"/ks1-2023/reports/school/{school}/summary"),
            ("gap", f"/ks1-2023/reports/school/{school}/gap"),
        ]
    pages = [
        ("dashboard", f"/ks1-2023/la/{la}/dashboard"),
        ("dashboard", f"/ks1-2023/la/{la}/dashboard?page=2"),
        ("dashboard", f"/ks1-2023/la/{la}/dashboard?state=errors&sort=errors&dir=desc"),
        ("errors", f"/ks1-2023/la/{la}/errors"),
        ("grid", f"/ks1-2023/la/{la}/pupils"),
        ("grid", f"/ks1-2023/la/{la}/pupils?school={school}"),
        ("summary", f"/ks1-2023/reports/la/{la}/summary"),
        ("gap", f"/ks1-2023/reports/la/{la}/gap"),
    ]
    if role == "national_admin":
        pages.append(("summary", "/ks1-2023/reports/england/970/summary"))
    return pages


# -- the server -------------------------------------------------------------------------------


# -- CPU of the server's processes ------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def _db_backends() -> list[int]:
    """PostgreSQL's server processes serving this benchmark's database."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"postgres: ") and f" {NAME} ".encode() in cmd:
                found.append(int(d.name))
    return found


class CpuMeter:
    """CPU seconds of groups of processes over a run, sampled every half second so that a
    process that ends during the run still counts up to its last sample."""

    def __init__(self, groups: dict[str, callable]):
        self.groups = groups
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.stop = threading.Event()

    def _sample(self, initial: bool) -> None:
        for name, pids in self.groups.items():
            for pid in pids():
                cpu = _proc_cpu(pid)
                if cpu is None:
                    continue
                key = (name, pid)
                if key not in self.first:
                    self.first[key] = cpu if initial else 0.0
                self.last[key] = cpu

    def __enter__(self):
        self._sample(initial=True)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self):
        while not self.stop.wait(0.5):
            self._sample(initial=False)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self._sample(initial=False)

    def seconds(self) -> dict[str, float]:
        out = dict.fromkeys(self.groups, 0.0)
        for (name, pid), last in self.last.items():
            out[name] += last - self.first[(name, pid)]
        return out


# -- the runs ---------------------------------------------------------------------------------


def sign_in_all(base: str, people: list[dict]) -> list[Visitor]:
    """One session per person, signed in through the forms, four at a time (the password
    hash is meant to be slow)."""
    visitors: list[Visitor | None] = [None] * len(people)
    failures = []

    def work(indexes):
        for i in indexes:
            p = people[i]
            s = Session(base, https_proxy=True)
            try:
                s.sign_in(p["username"], PASSWORD, p["totp_key"])
            except Exception as e:  # noqa: BLE001 - reported below with the user's name
                failures.append(f"{p['username']}: {e}")
                continue
            visitors[i] = Visitor(s, pages_for(p), p["role"])

    threads = [threading.Thread(target=work, args=(range(k, len(people), 4),)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit("sign-in failed: " + "; ".join(failures[:5]))
    return [v for v in visitors if v]


def warm_up(visitors: list[Visitor]) -> None:
    """Every distinct page once, and each page kind checked to answer 200, before timing."""
    seen = set()
    for v in visitors:
        for _name, path in v.pages:
            if (v.label, path) in seen:
                continue
            seen.add((v.label, path))
            r = v.session.get(path, follow=False)
            if r.status != 200:
                raise SystemExit(f"{v.label} {path}: {r.status} before the run")


def _server_processes(server, wanted: str) -> list[int]:
    return [p for p in descendants([server.pid]) if p != server.pid and process_kind(p) == wanted]


def one_run(label, visitors, server, *, seconds, think, max_requests, during=None) -> dict:
    groups = {
        # gunicorn's processes, the task workers, and `keystage serve` supervising them
        "web": lambda: _server_processes(server, "web"),
        "supervisor": lambda: [server.pid],
        "task": lambda: _server_processes(server, "task"),
        "database": _db_backends,
    }
    extra = {}
    load_before = os.getloadavg()
    with CpuMeter(groups) as meter:
        side = during() if during else None
        stats, took = run_sessions(visitors, seconds=seconds, think=think,
                                   max_requests=max_requests)  # fmt: skip
        if side is not None:
            extra = side()
    load_after = os.getloadavg()
    cpu = meter.seconds()
    pages = summarise(stats)
    total = sum(s["count"] for s in pages.values())
    result = {
        "run": label,
        "sessions": len(visitors),
        "seconds": round(took, 1),
        "requests": total,
        "per_second": round(total / took, 1),
        "errors": sum(s["errors"] for s in pages.values()),
        "pages": pages,
        "cpu_s": {k: round(v, 1) for k, v in cpu.items()},
        "cpu_ms_per_request": {k: round(v * 1000 / max(total, 1), 1) for k, v in cpu.items()},
        "load": [round(x, 2) for x in (*load_before, *load_after)],
        "timeline": timeline(stats),
        **extra,
    }
    log(json.dumps(result))
    return result


def concurrent_import(env: dict, reserved: list[Path]):
    """Start a `keystage import` of the reserved LAs; return a function that says how it
    went (and stops it if it is still running when the run ends)."""
    started = time.monotonic()
    proc = subprocess.Popen([*KEYSTAGE, "import", "--quiet", *map(str, reserved)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)  # fmt: skip
    ended: list[float] = []
    threading.Thread(target=lambda: (proc.wait(), ended.append(time.monotonic())),
                     daemon=True).start()  # fmt: skip

    def finish() -> dict:
        running = proc.poll() is None
        if running:
            # Let it finish: an import cut short is not the case measured.
            out, _ = proc.communicate(timeout=600)
        else:
            out, _ = proc.communicate()
        return {
            "import_s": round((ended[0] if ended else time.monotonic()) - started, 1),
            "import_outlasted_run": running,
            "import_summary": out.strip().splitlines()[-1] if out.strip() else "",
            "import_files": sum(1 for r in reserved for f in r.iterdir() if f.is_file()),
        }

    return finish


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "national")
    ap.add_argument("--port", type=int, default=8421, choices=PORTS, metavar="8421-8439")
    ap.add_argument("--fresh", action="store_true", help="build the database again")
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--closed-sessions", type=int, default=50)
    ap.add_argument("--max-requests", type=int, default=20_000, help="the most in one run")
    ap.add_argument("--runs", default="open,import,closed",
                    help="which runs, of open,import,closed")  # fmt: skip
    # serve's own default, gunicorn's advice: twice the cores and one (the pages wait on the
    # database part of the time, so two processes on 2 cores leave a core idle).
    ap.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--make-users", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_users:
        make_users()
        return 0
    if args.sessions > 400 or args.closed_sessions > 400 or args.seconds > 600:
        ap.error("at most 400 sessions and 600 seconds")
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    data_dir = Path(tempfile.mkdtemp(prefix="keystage-bench-load-"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "KEYSTAGE_DEBUG"},
        "DATABASE_URL": _db_url(),
        "KEYSTAGE_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT / "src"),
    }
    data = build(env, args.out, args.fresh)
    made = subprocess.run([sys.executable, __file__, "--make-users"], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    made = json.loads(made.stdout.strip().splitlines()[-1])
    people = made["people"]
    log(f"{len(people)} users; largest LAs: {made['largest'][:3]}")
    server_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "keystage.web.settings_production",
        "KEYSTAGE_SECRET_KEY": "bench-only-" + os.urandom(16).hex(),
        "KEYSTAGE_ALLOWED_HOSTS": "127.0.0.1",
        "KEYSTAGE_TLS_PROXY": "1",
    }
    base = f"http://127.0.0.1:{args.port}"
    server = start_server(server_env, args.port, web=args.web_workers, task=2,
                          log=Path(env["KEYSTAGE_DATA_DIR"]) / "server.log")  # fmt: skip
    results = []
    try:
        wait_until_up(base)
        started = time.monotonic()
        visitors = sign_in_all(base, people[: max(args.sessions, args.closed_sessions)])
        log(f"{len(visitors)} sessions signed in ({time.monotonic() - started:.0f} s)")
        warm_up(visitors)
        bound = {"seconds": args.seconds, "max_requests": args.max_requests}
        for run in runs:
            if run == "open":
                results.append(one_run("open", visitors[: args.sessions], server,
                                       think=(2.0, 8.0), **bound))  # fmt: skip
            elif run == "import":
                results.append(one_run(
                    "open, with an import", visitors[: args.sessions], server, think=(2.0, 8.0),
                    during=lambda: concurrent_import(env, data["reserved"]), **bound,
                ))  # fmt: skip
            elif run == "closed":
                results.append(one_run("closed loop", visitors[: args.closed_sessions], server,
                                       think=None, **bound))  # fmt: skip
    finally:
        stop_server(server)
    if args.write_docs:
        write_docs(results, data, made["largest"], people, args.web_workers)
    return 0 if all(r["errors"] == 0 for r in results) else 1


def _autogroups() -> bool:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def write_docs(results: list[dict], data: dict, largest: list[dict], people: list[dict],
               web_workers: int) -> None:  # fmt: skip
    s = data["summary"]
    roles = {}
    for p in people:
        roles[p["role"]] = roles.get(p["role"], 0) + 1
    lines = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL, by "
        "`bench/load_web.py --write-docs`; `keystage serve` with "
        f"{web_workers} web processes and 2 task workers (imports and task workers at "
        f"nice {os.environ.get('KEYSTAGE_TASK_NICE', '10')}); the kernel's autogroup scheduling "
        f"{'on' if _autogroups() else 'off'}.",
        "",
        f"Data: the national year of `bench/import_national.py` ({s.get('las')} LAs, "
        f"{s.get('pupils')} pupils generated), {data['loaded']} LAs loaded before the runs and "
        f"{len(data['reserved'])} left for the concurrent import. Sessions: "
        + ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in roles.items())
        + f"; LA pages of the {len(largest)} largest LAs (the largest: {largest[0]['code']} "
        f"{largest[0]['name']}, {largest[0]['pupils']:,} pupils).",
        "",
    ]
    for r in results:
        lines += [
            f"**{r['run']}**: {r['sessions']} sessions, {r['seconds']} s, {r['requests']} "
            f"requests ({r['per_second']}/s), {r['errors']} errors. CPU per request: web "
            f"workers {r['cpu_ms_per_request']['web']} ms, task workers "
            f"{r['cpu_ms_per_request']['task']} ms, database {r['cpu_ms_per_request']['database']}"
            f" ms. Load average (1, 5, 15 min) before {r['load'][:3]}, after {r['load'][3:]}.",
        ]
        if "import_s" in r:
            lines.append(
                f"The import ({r['import_files']} files) took {r['import_s']} s"
                + (" and outlasted the run" if r["import_outlasted_run"] else "")
                + f": {r['import_summary']}"
            )
        lines += ["", "| page | requests | errors | p50 ms | p95 ms | max ms | target p95 | bytes |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for name, p in r["pages"].items():
            lines.append(f"| {name} | {p['count']} | {p['errors']} | {p['p50_ms']} | "
                         f"{p['p95_ms']} | {p['max_ms']} | < {TARGET_MS.get(name, '')} | "
                         f"{p['mean_bytes']:,} |")  # fmt: skip
        lines += ["", "Every page's p95 by 10 s of the run: " + ", ".join(
            f"{w['from_s']:.0f}–{w['from_s'] + 10:.0f} s {w['p95_ms']:.0f} ms"
            for w in r.get("timeline", [])
        ) + ".", ""]  # fmt: skip
    write_block("load_web", "Web load (issue 15)", lines)


if __name__ == "__main__":
    sys.exit(main())
