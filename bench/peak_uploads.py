"""Benchmark (not a test): peak-time uploads through the web, on PostgreSQL (issue 15, item 3).

30 LAs (the largest among them) each upload their whole year as ONE zip through the real
upload form (/uploads/), signed in as that LA's officer, all at the same moment, while the
server runs serve's default web processes (2 × cores + 1) and 2 task workers; a few LA
admins (signed in with their authenticator code) keep reading their LA dashboard meanwhile. Then it checks that:
- every batch finishes (its status endpoint says so, as the batch page's script asks it);
- nothing is lost: every member of every zip has a result; the pupils stored for each LA are
  the pupils in its files (counted here with lxml/csv, not by the product) less those in files
  rejected for their own faults (a rejection "on our side" counts as lost); every file's
  findings are stored;
- the facts are rebuilt: the report figures after the queue drains equal a full recount.
It records the time to the last result (and to the last fact rebuild), the dashboard's
response times (p50/p95 against the 500 ms target, quiet and during the uploads), the peak
memory of each task worker and web worker, and with --write-docs writes them into
docs/performance.md between markers, with the date, the machine and `uptime`.

The data is bench/import_national.py's national year (bench/out/national, generated if
missing). The database is `keystage_bench_peak` (dropped and made again on every run): `keystage
init`, the schools register, and (unless --no-preload) every other LA's files imported by
`keystage import`, so the dashboard and the fact rebuilds work on a national year.
Bounded: at most --timeout seconds of uploads, a fixed number of sessions, only 127.0.0.1.

    .venv/bin/python bench/peak_uploads.py --write-docs
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.figures import write_block  # noqa: E402
from bench.import_national import _tree_rss, generate  # noqa: E402
from bench.server import descendants, start_server, stop_server, wait_until_up  # noqa: E402
from bench.server import kind as process_kind  # noqa: E402
from bench.webclient import PageStats, Session  # noqa: E402

KEYSTAGE = [sys.executable, "-m", "keystage.cli"]
PG_ADMIN = os.environ.get(
    "KEYSTAGE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NAME = "keystage_bench_peak"
PASSWORD = "Peak-Time-Uploads-2023"
DASHBOARD_TARGET_MS = 500
# What the product says when a file was refused because of a fault of ours, not the file's.
OUR_FAULT = re.compile(r"on our side|collection team has been told|could not be unpacked", re.I)


# -- data ---------------------------------------------------------------------------------------


def pupils_in(path: Path) -> int | None:
    """Pupils in a school file, counted independently of the product: the `Pupil` elements of
    a CTF file (by lxml; by their opening tags when lxml refuses the file, as it does a file
    with bytes before the XML declaration), the non-empty rows after the header of a CSV file
    (UTF-8, else Windows-1252); None for any other file."""
    data = path.read_bytes()
    if path.suffix.lower() == ".xml":
        try:
            return len(etree.fromstring(data).findall(".//CTFpupilData/Pupil"))
        except (etree.XMLSyntaxError, ValueError):
            return len(re.findall(rb"<Pupil[\s>]", data))
    if path.suffix.lower() == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeError:
            text = data.decode("cp1252", errors="replace")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        return sum(1 for r in rows[1:] if any(c.strip() for c in r))
    return None


def choose_las(out: Path, count: int) -> list[str]:
    """The `count` LAs with the most bytes of files (the largest LA first)."""
    sizes = {
        d.name: sum(f.stat().st_size for f in d.iterdir() if f.is_file())
        for d in out.iterdir()
        if d.is_dir()
    }
    return sorted(sizes, key=lambda c: -sizes[c])[:count]


def make_zip(folder: Path, target: Path) -> dict:
    """One zip of the LA's whole year, and each member's pupils (counted here)."""
    members = {}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(p for p in folder.iterdir() if p.is_file()):
            z.write(f, f.name)
            members[f.name] = pupils_in(f)
    return {"zip": str(target), "bytes": target.stat().st_size, "members": members}


# -- database, users, server --------------------------------------------------------------------


BASE = NAME + "_base"
BASE_MARK = ROOT / "bench" / "out" / "peak-base.json"


def _admin(sql: str, *params) -> list:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        cur = c.execute(sql, params or None)
        return cur.fetchall() if cur.description else []


def _url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def base_database(env: dict, out: Path, las: list[str], preload: bool, fresh: bool) -> dict:
    """The database every run starts from: `keystage init`, the schools register and (with
    `preload`) every LA but the uploading ones imported by `keystage import`, facts rebuilt.
    Made once and kept (`keystage_bench_peak_base`); --fresh makes it again."""
    want = {"las": las, "preload": preload, "data": str(out)}
    have = json.loads(BASE_MARK.read_text()) if BASE_MARK.exists() else None
    exists = _admin("SELECT 1 FROM pg_database WHERE datname = %s", BASE)
    if exists and not fresh and have and {k: have.get(k) for k in want} == want:
        return have
    _admin(f'DROP DATABASE IF EXISTS "{BASE}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{BASE}"')
    env = {**env, "DATABASE_URL": _url(BASE)}
    run([*KEYSTAGE, "init"], env)
    run([*KEYSTAGE, "schools", "load", str(out / "schools.csv")], env, ok=(0, 1))
    made = {**want, "preload_s": None, "preload_summary": ""}
    if preload:
        others = sorted(str(p) for p in out.iterdir() if p.is_dir() and p.name not in las)
        started = time.monotonic()
        done = run([*KEYSTAGE, "import", "--quiet", *others], env, ok=(0, 1))
        made["preload_s"] = round(time.monotonic() - started, 1)
        made["preload_summary"] = done.stdout.strip().splitlines()[-1]
        made["preloaded_las"] = len(others)
        print(f"preloaded {len(others)} other LAs in {made['preload_s']:.0f}s: "
              f"{made['preload_summary']}", flush=True)  # fmt: skip
        # The queued national rebuild is run now, so the timed part starts with no backlog.
        run([sys.executable, "-m", "keystage.manage", "db_worker", "--batch", "--no-reload",
             "--no-startup-delay"], env)  # fmt: skip
    BASE_MARK.write_text(json.dumps(made))
    return made


def fresh_database() -> str:
    """This run's database: a copy of the base one."""
    _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{NAME}" TEMPLATE "{BASE}"')
    return _url(NAME)


def drop_database() -> None:
    _admin(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


def run(cmd: list[str], env: dict, ok=(0,)) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode not in ok:
        raise SystemExit(
            f"{' '.join(cmd[:4])}... failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    return done


def make_users(las: list[str], readers: list[str]) -> dict:
    """An LA officer per uploading LA, an LA admin per reading LA, each with a confirmed TOTP
    device (the admins must use it; the officers are asked only if the product asks)."""
    import django

    django.setup()
    from django.db import connection
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.orgs.models import LocalAuthority

    users = {"officers": {}, "admins": {}}
    for kind, role, codes in (("officers", Role.LA_OFFICER, las),
                              ("admins", Role.LA_ADMIN, readers)):  # fmt: skip
        for code in codes:
            name = f"peak-{kind[:-1]}-{code}"
            m = do_create_member(name, role=role, la=LocalAuthority.objects.get(code=code),
                                 password=PASSWORD)  # fmt: skip
            device = TOTPDevice.objects.create(user=m.user, name="bench", confirmed=True)
            users[kind][code] = (name, device.key)
    connection.close()
    return users


class MemorySampler(threading.Thread):
    """Peak resident memory of each task worker and web worker (with its children), sampled
    every 0.2 s."""

    def __init__(self, roots: list[int]):
        super().__init__(daemon=True)
        self.roots = roots
        self.peak: dict[int, tuple[str, int]] = {}
        self.cpu: dict[int, float] = {}
        self.nice: dict[int, int] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for pid in descendants(self.roots):
                kind = process_kind(pid)
                if kind is None:
                    continue
                rss = _tree_rss(pid) if kind == "task" else _rss(pid)
                old = self.peak.get(pid, (kind, 0))[1]
                self.peak[pid] = (kind, max(old, rss))
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    self.cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
                    self.nice[pid] = int(fields[16])
                except (OSError, IndexError, ValueError):
                    pass
            self.halt.wait(0.2)

    def summary(self) -> dict:
        out = {}
        for kind in ("task", "web"):
            values = [v for k, v in self.peak.values() if k == kind]
            out[kind] = sorted((round(v / 2**20) for v in values), reverse=True)
            pids = [p for p, (k, _) in self.peak.items() if k == kind]
            out[f"{kind}_cpu_s"] = round(sum(self.cpu.get(p, 0.0) for p in pids), 1)
            out[f"{kind}_nice"] = sorted({self.nice[p] for p in pids if p in self.nice})
        return out

    def mark_cpu(self) -> dict[int, float]:
        return dict(self.cpu)


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# -- the web part -------------------------------------------------------------------------------


def upload_zip(s: Session, zip_path: Path) -> tuple[int, float, int]:
    """POST the upload form with one zip, as a browser does (multipart, CSRF token, Origin).
    Returns (batch id, seconds, status)."""
    boundary = "----keystage-bench-" + secrets.token_hex(12)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
        f'{s.csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name="files"; '
        f'filename="{zip_path.name}"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()
    body = head + zip_path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    scheme = "https" if s.https_proxy else "http"
    r = s.request("POST", "/ks1-2023/uploads/", body=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Origin": f"{scheme}://{s.host}:{s.port}",
        "Referer": f"{scheme}://{s.host}:{s.port}/uploads/",
    })  # fmt: skip
    m = re.search(r"/ks1-2023/uploads/(\d+)/", r.headers.get("location", ""))
    if r.status != 302 or not m:
        raise RuntimeError(f"{zip_path.name}: the upload answered {r.status}: {r.text[:300]}")
    return int(m.group(1)), r.ms / 1000, r.status


class Reader(threading.Thread):
    """A signed-in LA admin reading the LA dashboard, `think` seconds between reads; each
    read is filed under the phase it started in."""

    def __init__(self, s: Session, code: str, think: float, phase: list[str], stats: dict,
                 lock: threading.Lock, halt: threading.Event):  # fmt: skip
        super().__init__(daemon=True)
        self.s, self.path, self.think = s, f"/ks1-2023/la/{code}/dashboard", think
        self.phase, self.stats, self.lock, self.halt = phase, stats, lock, halt

    def run(self) -> None:
        while not self.halt.is_set():
            phase = self.phase[0]
            try:
                r = self.s.get(self.path, follow=False)
                ok, ms, size, why = r.status == 200, r.ms, len(r.body), f"{r.status} {self.path}"
            except OSError as e:
                ok, ms, size, why = False, self.s.timeout * 1000, 0, f"{type(e).__name__}"
            with self.lock:
                self.stats.setdefault(phase, PageStats()).add(ok, ms, size, why)
            self.halt.wait(self.think)


def follow_batch(s: Session, batch_id: int, t0: float, deadline: float, every: float) -> dict:
    """Ask the batch's status as its page's script does (every 2 s) until it has finished."""
    seen_running = None
    last = {}
    while time.monotonic() < deadline:
        try:
            r = s.get(f"/ks1-2023/uploads/{batch_id}/status", follow=False)
            if r.status == 200:
                last = json.loads(r.body)
                if last["state"] == "running" and seen_running is None:
                    seen_running = time.monotonic() - t0
                if last["finished"]:
                    return {**last, "finished_s": time.monotonic() - t0,
                            "started_s": seen_running}  # fmt: skip
        except (OSError, ValueError):
            pass
        time.sleep(every)
    return {**last, "finished": False, "finished_s": None, "started_s": seen_running}


def queue_counts(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as c:
        rows = c.execute(
            "SELECT status, count(*) FROM django_tasks_database_dbtaskresult GROUP BY status"
        ).fetchall()
    return dict(rows)


# -- checks (after the server has stopped) ------------------------------------------------------


def check_data(las: list[str], zips: dict[str, dict], batches: dict[str, int]) -> dict:
    import django

    django.setup()
    from django.db.models import Count, Sum

    from keystage.reports.facts import rebuild_facts
    from keystage.reports.models import Fact
    from keystage.submissions.models import Finding, ImportBatch, PupilRecord, Upload

    per_la = {}
    problems: list[str] = []
    for code in las:
        batch = ImportBatch.objects.get(pk=batches[code])
        members = zips[code]["members"]
        results = batch.results or []
        zip_name = Path(zips[code]["zip"]).name
        by_member = {r["file"].split(":", 1)[1] if ":" in r["file"] else r["file"]: r
                     for r in results}  # fmt: skip
        missing = sorted(set(members) - set(by_member))
        if missing:
            problems.append(f"{code}: {len(missing)} files of the zip have no result "
                            f"(e.g. {missing[0]})")  # fmt: skip
        if batch.state != "done":
            problems.append(f"{code}: the batch ended {batch.state}: {batch.failure}")
        ours = [r for r in results if r["outcome"] == "rejected" and OUR_FAULT.search(r["reason"])]
        for r in ours[:3]:
            problems.append(f"{code}: refused by a fault of ours: {r['reason']}")
        own_rejects = [
            m for m, r in by_member.items() if r["outcome"] == "rejected" and r not in ours
        ]
        in_files = sum(n or 0 for n in members.values())
        rejected_pupils = sum(members.get(m) or 0 for m in own_rejects)
        # Current uploads of the LA: the file each school's pupils came from.
        current = list(Upload.objects.filter(la__code=code, state="current")
                       .values_list("file_name", "pupil_count", "error_count", "query_count"))  # fmt: skip
        # A file with the same bytes as one before it ("unchanged") adds no pupils, nor does a
        # file superseded by a later one in the same zip.
        expected = sum(members.get(n.split(":", 1)[-1]) or 0 for n, *_ in current)
        stored = PupilRecord.objects.filter(la__code=code, is_current=True).count()
        unchanged = [m for m, r in by_member.items() if r["outcome"] == "unchanged"]
        superseded_here = [m for m, r in by_member.items() if r["outcome"] == "superseded"]
        simple = in_files - rejected_pupils - sum(members.get(m) or 0 for m in unchanged)
        if stored != expected:
            problems.append(f"{code}: {stored} pupils stored, the current files hold {expected}")
        findings = Finding.objects.filter(la__code=code, is_current=True).count()
        from_files = sum(e + q for *_, e, q in current)
        if findings < from_files:
            problems.append(f"{code}: {findings} findings stored, its files' results count "
                            f"{from_files}")  # fmt: skip
        per_la[code] = {
            "zip": zip_name, "zip_mb": round(zips[code]["bytes"] / 1e6, 1), "files": len(members),
            "results": len(results), "pupils_in_files": in_files,
            "rejected_files": len(own_rejects), "pupils_in_rejected": rejected_pupils,
            "unchanged_files": len(unchanged), "superseded_in_zip": len(superseded_here),
            "expected": expected, "files_minus_rejected": simple, "stored": stored,
            "findings": findings, "findings_in_results": from_files, "ours": len(ours),
        }  # fmt: skip

    def snapshot():
        rows = Fact.objects.values_list("level", "area_code", "school_id", "group", "pupils",
                                        "counts")  # fmt: skip
        return {r[:4]: (r[4], json.dumps(r[5], sort_keys=True)) for r in rows}

    before = snapshot()
    from keystage.submissions.actions import get_collection

    rebuild_facts(get_collection())
    after = snapshot()
    differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if differ:
        problems.append(f"{len(differ)} fact rows differ from a full recount, e.g. {differ[:3]}")
    la_facts = dict(Fact.objects.filter(level="la", group="all", la__code__in=las)
                    .values_list("area_code", "pupils"))  # fmt: skip
    for code in las:
        stored = per_la[code]["stored"]
        if la_facts.get(code) not in (stored,):
            problems.append(f"{code}: the LA's report counts {la_facts.get(code)} pupils, "
                            f"{stored} are stored")  # fmt: skip
    totals = PupilRecord.objects.filter(is_current=True).aggregate(n=Count("id"))
    uploads = Upload.objects.aggregate(n=Count("id"), p=Sum("pupil_count"))
    return {
        "per_la": per_la,
        "problems": problems,
        "fact_rows": len(after),
        "facts_differ": len(differ),
        "pupils_current": totals["n"],
        "uploads": uploads["n"],
    }


# -- main ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "national")
    ap.add_argument("--las", type=int, default=30, help="LAs uploading at once (default 30)")
    ap.add_argument("--web-workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    ap.add_argument("--task-workers", type=int, default=2)
    ap.add_argument("--readers", type=int, default=4, help="dashboard sessions (default 4)")
    ap.add_argument("--think", type=float, default=1.0, help="seconds between a reader's reads")
    ap.add_argument("--quiet-seconds", type=float, default=15.0)
    ap.add_argument("--timeout", type=float, default=900.0, help="most seconds to wait")
    ap.add_argument("--port", type=int, default=8441)
    ap.add_argument("--no-preload", action="store_true", help="leave the other LAs empty")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    ap.add_argument("--fresh", action="store_true", help="make the base database again")
    ap.add_argument(
        "--task-nice",
        type=int,
        default=None,
        help="renice the task workers to this niceness after they start (an "
        "experiment: the product's own setting is left as it is by default)",
    )
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    if not 8441 <= args.port <= 8459:
        ap.error("--port must be one of this benchmark's ports, 8441-8459")
    summary = generate(args.out, 0)
    las = choose_las(args.out, args.las)
    readers = las[: args.readers]  # the largest LA's dashboard is read too
    print(f"LAs uploading: {', '.join(las)}; dashboards read: {', '.join(readers)}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="keystage-bench-peak-"))
    zips = {}
    for code in las:
        zips[code] = make_zip(args.out / code, tmp / f"{code}.zip")
    print(f"zips: {sum(z['bytes'] for z in zips.values()) / 1e6:.0f} MB for "
          f"{sum(len(z['members']) for z in zips.values())} files", flush=True)  # fmt: skip

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    env.update({
        "KEYSTAGE_DATA_DIR": str(tmp / "data"),
        "DJANGO_SETTINGS_MODULE": "keystage.web.settings_production",
        "KEYSTAGE_SECRET_KEY": secrets.token_urlsafe(40), "KEYSTAGE_ALLOWED_HOSTS": "127.0.0.1",
        "KEYSTAGE_TLS_PROXY": "1", "KEYSTAGE_SITE_URL": f"http://127.0.0.1:{args.port}",
    })  # fmt: skip
    env.pop("KEYSTAGE_DEBUG", None)
    base = base_database(env, args.out, las, not args.no_preload, args.fresh)
    preload_s = base.get("preload_s")
    url = fresh_database()
    env["DATABASE_URL"] = url
    server = None
    result: dict = {}
    try:
        os.environ.update(env)
        users = make_users(las, readers)

        server = start_server(env, args.port, web=args.web_workers, task=args.task_workers,
                              log=tmp / "server.log")  # fmt: skip
        how = f"keystage serve --workers {args.web_workers} --task-workers {args.task_workers}"
        base = f"http://127.0.0.1:{args.port}"
        wait_until_up(base)
        sampler = MemorySampler([server.pid])
        sampler.start()
        if args.task_nice is not None:
            time.sleep(1)
            for pid in descendants([server.pid]):
                if process_kind(pid) == "task":
                    os.setpriority(os.PRIO_PROCESS, pid, args.task_nice)

        uploaders = {}
        for code in las:
            name, key = users["officers"][code]
            s = Session(base, https_proxy=True, timeout=120)
            s.sign_in(name, PASSWORD, totp_key=key)
            s.get("/ks1-2023/uploads/")  # the form, and its CSRF token
            uploaders[code] = s
        reader_sessions = []
        for code in readers:
            name, key = users["admins"][code]
            s = Session(base, https_proxy=True, timeout=30)
            s.sign_in(name, PASSWORD, totp_key=key)
            reader_sessions.append((code, s))
        print(f"{len(uploaders)} officers and {len(reader_sessions)} admins signed in", flush=True)

        phase, stats, lock, halt = ["quiet"], {}, threading.Lock(), threading.Event()
        threads = [Reader(s, code, args.think, phase, stats, lock, halt)
                   for code, s in reader_sessions]  # fmt: skip
        for t in threads:
            t.start()
        time.sleep(args.quiet_seconds)
        uptime_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()

        # -- the moment: every officer sends the form at once
        barrier = threading.Barrier(len(las) + 1)
        posted: dict[str, dict] = {}
        followed: dict[str, dict] = {}
        t0 = [0.0]

        def one(code: str) -> None:
            s = uploaders[code]
            barrier.wait()
            try:
                batch_id, seconds, _ = upload_zip(s, Path(zips[code]["zip"]))
            except (OSError, RuntimeError) as e:
                posted[code] = {"error": str(e)[:300]}
                return
            posted[code] = {"batch": batch_id, "post_s": round(seconds, 2),
                            "answered_s": round(time.monotonic() - t0[0], 2)}  # fmt: skip
            followed[code] = follow_batch(s, batch_id, t0[0], t0[0] + args.timeout, 2.0)

        workers = [threading.Thread(target=one, args=(c,), daemon=True) for c in las]
        for w in workers:
            w.start()
        phase[0] = "uploads"
        t0[0] = time.monotonic()
        cpu0 = sampler.mark_cpu()
        barrier.wait()
        for w in workers:
            w.join(timeout=args.timeout + 60)
        last_result = max((f["finished_s"] or float("inf") for f in followed.values()),
                          default=float("inf"))  # fmt: skip
        print(f"last result after {last_result:.1f}s", flush=True)
        # The fact rebuilds the batches queued: wait for the queue to drain.
        drained_s = None
        while time.monotonic() - t0[0] < args.timeout:
            q = queue_counts(url)
            if not q.get("READY") and not q.get("RUNNING"):
                drained_s = time.monotonic() - t0[0]
                break
            time.sleep(0.5)
        phase[0] = "after"
        cpu1 = sampler.mark_cpu()
        cpu_during = {}
        for pid, seconds in cpu1.items():
            kind = sampler.peak.get(pid, ("?", 0))[0]
            cpu_during[kind] = round(cpu_during.get(kind, 0.0) + seconds - cpu0.get(pid, 0.0), 1)
        uptime_during = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        time.sleep(min(args.quiet_seconds, 10))
        halt.set()
        for t in threads:
            t.join(timeout=60)
        sampler.halt.set()
        sampler.join(timeout=5)
        stop_server(server)
        server = None
        queue = queue_counts(url)
        checks = check_data(las, zips, {c: p["batch"] for c, p in posted.items() if "batch" in p})
        for code, p in posted.items():
            if "error" in p:
                checks["problems"].append(f"{code}: the upload failed: {p['error']}")
        for code in las:
            if not followed.get(code, {}).get("finished"):
                checks["problems"].append(f"{code}: its batch had not finished after "
                                          f"{args.timeout:.0f}s")  # fmt: skip
        result = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}",
            "server": how, "las": las, "readers": readers, "summary": summary,
            "preload_s": preload_s, "zips_mb": round(sum(z["bytes"] for z in zips.values()) / 1e6),
            "files": sum(len(z["members"]) for z in zips.values()),
            "posted": posted, "followed": {c: {k: f.get(k) for k in ("state", "finished_s",
                                          "started_s", "results")} for c, f in followed.items()},
            "last_result_s": last_result, "drained_s": drained_s, "queue_after": queue,
            "dashboard": {k: v.summary() for k, v in stats.items()},
            "memory_mb": sampler.summary(), "uptime_before": uptime_before,
            "uptime_during": uptime_during, "cpu_during_s": cpu_during,
            "task_nice": args.task_nice, "checks": checks, "think": args.think,
        }  # fmt: skip
    finally:
        if server is not None:
            stop_server(server)
        if not args.keep_db:
            drop_database()
        if (tmp / "server.log").exists():  # kept for reading after the run (bench/out is ignored)
            shutil.copy(tmp / "server.log", ROOT / "bench" / "out" / "peak-server.log")
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, indent=1, default=str))
    if args.write_docs:
        write_docs(result)
    return 0 if not result["checks"]["problems"] else 1


def _p(stats: dict, phase: str) -> str:
    s = stats.get(phase)
    if not s or not s["count"]:
        return "no reads"
    return (f"p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms, max {s['max_ms']:.0f} ms "
            f"({s['count']} reads, {s['errors']} errors)")  # fmt: skip


def write_docs(r: dict) -> None:
    c = r["checks"]
    per = c["per_la"]
    biggest = r["las"][0]
    stored = sum(v["stored"] for v in per.values())
    in_files = sum(v["pupils_in_files"] for v in per.values())
    rejected = sum(v["rejected_files"] for v in per.values())
    posts = [p["post_s"] for p in r["posted"].values() if "post_s" in p]
    finishes = sorted(f["finished_s"] for f in r["followed"].values() if f.get("finished_s"))
    during = r["dashboard"].get("uploads", {})
    met = during.get("p95_ms", 1e9) <= DASHBOARD_TARGET_MS and not during.get("errors")
    task_mb, web_mb = r["memory_mb"]["task"], r["memory_mb"]["web"]
    lines = [
        f"Measured {r['date']} on {r['machine']}, PostgreSQL, by `bench/peak_uploads.py`; "
        f"load before the uploads: `{r['uptime_before']}`; as the last fact rebuild ended: "
        f"`{r['uptime_during']}`.",
        "",
        f"Server: {r['server']}, production settings (as behind a TLS proxy). Data: the "
        f"national year ({r['summary'].get('pupils'):,} pupils)"
        + (
            f", the other {r['summary'].get('las', 153) - len(r['las'])} LAs loaded first by "
            f"`keystage import` ({r['preload_s']:.0f} s)"
            if r["preload_s"]
            else ""
        )
        + f". {len(r['las'])} LAs (the {len(r['las'])} with the most data; the largest, "
        f"{biggest}, {per[biggest]['files']} files, {per[biggest]['pupils_in_files']:,} pupils, "
        f"a {per[biggest]['zip_mb']} MB zip) each upload one zip of their whole year at the "
        f"same moment: {r['files']:,} files, {r['zips_mb']} MB of zips, {in_files:,} pupils.",
        "",
        "| what | measured | target |",
        "|---|---|---|",
        f"| batches finished (status endpoint says so) | {len(finishes)} of {len(r['las'])} | all |",
        f"| time to the last result (from the moment all forms were sent) | "
        f"{r['last_result_s']:.1f} s | |",
        "| time until the last fact rebuild ended (the task queue empty) | "
        + (f"{r['drained_s']:.1f} s" if r["drained_s"] is not None else "not within the timeout")
        + " | |",
        f"| upload requests (30 at once): answered in | {min(posts):.1f}–{max(posts):.1f} s | |"
        if posts
        else "| upload requests | none answered | |",
        f"| LA dashboard, {len(r['readers'])} sessions reading every {r['think']:g} s, "
        f"quiet | {_p(r['dashboard'], 'quiet')} | p95 ≤ {DASHBOARD_TARGET_MS} ms |",
        f"| LA dashboard, same sessions, while the uploads were imported | "
        f"{_p(r['dashboard'], 'uploads')} | p95 ≤ {DASHBOARD_TARGET_MS} ms "
        f"{'(met)' if met else '(**missed**)'} |",
        f"| peak memory of each task worker (MB) | {', '.join(map(str, task_mb))} | |",
        f"| peak memory of each web process (MB) | {', '.join(map(str, web_mb))} | |",
        f"| pupils stored for the {len(r['las'])} LAs | {stored:,} (in the files {in_files:,}, "
        f"less those of {rejected} files rejected for their own faults and of files with the "
        "same bytes as another) | equal to the current files' pupils, counted by lxml/csv |",
        f"| facts after the queue drained against a full recount | {c['facts_differ']} of "
        f"{c['fact_rows']:,} rows differ | 0 |",
        "",
        "Problems found by the checks: "
        + ("none." if not c["problems"] else "; ".join(c["problems"][:10]) + "."),
        "",
        "Batches finished at (s after the moment): "
        + ", ".join(f"{x:.0f}" for x in finishes)
        + ".",
    ]
    write_block("peak_uploads", "Peak-time uploads (issue 15)", lines)


if __name__ == "__main__":
    sys.exit(main())
