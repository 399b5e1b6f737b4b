"""`keystage serve` as an operator runs it, a separate process on a database of its own: gunicorn
with two web processes on a free port of 127.0.0.1 and the production settings, two task
workers beside it. A web process killed is replaced and the new ones answer; a task worker
killed is started again and runs the next task; SIGTERM, Ctrl-C and even SIGKILL of `serve`
leave no process behind. And keystage.web.wsgi refuses the development settings unless
debug was asked for. Every wait is bounded; every process started here is stopped."""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the server's processes in /proc"
)

KEYSTAGE = [sys.executable, "-m", "keystage.cli"]
ROOT = Path(__file__).resolve().parents[2]
WAIT = 120  # seconds for anything to happen (a few on a quiet machine)

# Enqueue a task (a fact rebuild of no school: quick) and wait for a worker to run it; print
# its status and the worker that ran it.
RUN_A_TASK = """
import time
import django
django.setup()
from keystage.reports.tasks import rebuild_facts_task
from keystage.submissions.actions import get_collection
result = rebuild_facts_task.enqueue(get_collection().pk, [])
deadline = time.monotonic() + 100
while result.status not in ("SUCCESSFUL", "FAILED") and time.monotonic() < deadline:
    time.sleep(0.2)
    result.refresh()
print(result.status, *result.worker_ids)
"""


@pytest.fixture
def own_database(tmp_path):
    """Environment with a database of its own: an SQLite file in tmp_path, or a fresh
    PostgreSQL database when the suite runs on PostgreSQL."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KEYSTAGE_SITE_URL")}
    env["KEYSTAGE_DATA_DIR"] = str(tmp_path / "data")
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield env
        return
    import psycopg

    name = f"keystage_serve_{uuid.uuid4().hex[:8]}"
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    yield env
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production(env: dict) -> dict:
    """The production settings as docs/deploy.md sets them, TLS ending at a proxy."""
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "keystage.web.settings_production",
        "KEYSTAGE_SECRET_KEY": secrets.token_urlsafe(50),
        "KEYSTAGE_ALLOWED_HOSTS": "127.0.0.1",
        "KEYSTAGE_TLS_PROXY": "1",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def processes() -> dict[int, tuple[int, str, str]]:
    """pid: (parent pid, state, command line) of every process."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:  # ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(proc.name)] = (int(fields[1]), fields[0], cmdline)
    return found


def children(pid: int, word: str = "") -> set[int]:
    """The running children of `pid` whose command line has `word`."""
    return {p for p, (ppid, state, cmd) in processes().items()
            if ppid == pid and state != "Z" and word in cmd}  # fmt: skip


def descendants(pid: int) -> set[int]:
    table = processes()
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        kids = {p for p, (ppid, _, _) in table.items() if ppid == parent}
        found |= kids
        todo.extend(kids)
    return found


def running(pid: int) -> bool:
    entry = processes().get(pid)
    return entry is not None and entry[1] != "Z"


def wait_for(what, description: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if value := what():
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"serve ended ({proc.returncode}) while waiting for {description}: "
                        f"{log.read_text()[-3000:] if log else ''}")  # fmt: skip
        time.sleep(0.2)
    pytest.fail(f"no {description} after {WAIT} s: {log.read_text()[-3000:] if log else ''}")


def get(port: int, path: str = "/sign-in", *, https_proxy: bool = True):
    """(status, location, body) of a GET as the TLS proxy passes it on (X-Forwarded-Proto)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if https_proxy:
        request.add_header("X-Forwarded-Proto", "https")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers.get("Location"), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location"), e.read().decode()


class Serve:
    """`keystage serve` started in a session of its own (as from a terminal), its output in
    files; killed with everything it started when the test ends, whatever happened."""

    def __init__(self, env: dict, tmp_path: Path, *args: str):
        self.port = free_port()
        self.out, self.err = tmp_path / "serve.out", tmp_path / "serve.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.proc = subprocess.Popen(
                [*KEYSTAGE, "serve", "--port", str(self.port), *args], env=env, cwd=tmp_path,
                stdout=out, stderr=err, start_new_session=True,
            )  # fmt: skip
        self.seen: set[int] = set()

    def wait_running(self) -> str:
        line = wait_for(
            lambda: next((ln for ln in self.out.read_text().splitlines() if " running " in ln), ""),
            "'running' line", self.proc, self.err,
        )  # fmt: skip
        self.seen |= descendants(self.proc.pid)
        return line

    def kill_all(self) -> None:
        self.seen |= descendants(self.proc.pid)
        for pid in self.seen | {self.proc.pid}:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=30)


@pytest.fixture
def serve(own_database, tmp_path):
    started = []

    def start(*args, env=None):
        server = Serve(env or own_database, tmp_path, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill_all()


def niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_two_web_processes_answer_and_dead_ones_are_replaced(serve, own_database):
    # The suite runs background work at its own priority (scripts/test); here, as deployed.
    env = {**production(own_database), "KEYSTAGE_TASK_NICE": "10"}
    server = serve("--workers", "2", "--task-workers", "2", env=env)
    line = server.wait_running()
    assert f"http://127.0.0.1:{server.port}/" in line and "2 web processes" in line
    master = wait_for(lambda: children(server.proc.pid, "gunicorn"), "gunicorn", server.proc)
    assert len(master) == 1
    (master,) = master
    first = wait_for(lambda: len(w := children(master)) == 2 and w, "2 web processes")

    status, _, body = get(server.port)
    assert status == 200 and "Sign in" in body
    # The production settings are in force: plain HTTP (no proxy header) is sent to HTTPS.
    status, location, _ = get(server.port, https_proxy=False)
    assert status == 301 and location == f"https://127.0.0.1:{server.port}/sign-in"

    # Each web process killed in turn is replaced; the new ones answer.
    now = set(first)
    for pid in sorted(first):
        os.kill(pid, signal.SIGKILL)
        now = wait_for(lambda p=pid: len(w := children(master)) == 2 and p not in w and w,
                       f"a web process in place of {pid}")  # fmt: skip
    assert not now & first
    server.seen |= now
    status, _, body = get(server.port)
    assert status == 200 and "Sign in" in body

    # Both task workers killed: each is started again, said on standard error, and the new
    # ones run the next task.
    tasks = wait_for(lambda: len(t := children(server.proc.pid, "db_worker")) == 2 and t,
                     "2 task workers")  # fmt: skip
    # Task workers are background work: they run at a lower priority than the web (and keep
    # it when started again).
    assert {niceness(pid) for pid in tasks} == {min(niceness(master) + 10, 19)}
    wait_for(lambda: len(re.findall(r"Starting worker worker_id=", server.err.read_text())) == 2,
             "2 task workers polling", server.proc, server.err)  # fmt: skip
    for pid in tasks:
        os.kill(pid, signal.SIGKILL)
    again = wait_for(lambda: len(t := children(server.proc.pid, "db_worker")) == 2
                     and not t & tasks and t, "2 new task workers", server.proc, server.err)  # fmt: skip
    server.seen |= again
    assert {niceness(pid) for pid in again} == {min(niceness(master) + 10, 19)}
    log = server.err.read_text()
    for pid in tasks:
        assert re.search(rf"task worker [12] \(pid {pid}\) stopped \(killed by SIGKILL\); "
                         r"starting another", log), log  # fmt: skip
    ran = subprocess.run([sys.executable, "-c", RUN_A_TASK], env=production(own_database),
                         capture_output=True, text=True, timeout=180)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]
    status, worker = ran.stdout.split()[:2]
    assert status == "SUCCESSFUL"
    # The two started again each say so as they begin polling (at their lower priority, not
    # always before the task has run).
    ids = wait_for(lambda: len(i := re.findall(r"Starting worker worker_id=(\w+)",
                                               server.err.read_text())) == 4 and i,
                   "4 task workers started in all", server.proc, server.err)  # fmt: skip
    assert worker in ids[2:]  # one of the workers started again

    # SIGTERM (systemd's stop, a plain `kill`) stops serve and every process it started.
    everything = descendants(server.proc.pid)
    assert len(everything) == 5  # gunicorn, its 2 web processes, 2 task workers
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=WAIT) == 0
    wait_for(lambda: not any(running(p) for p in everything), "every child stopped")


def test_ctrl_c_stops_the_development_server_and_its_worker(serve, own_database):
    """The demo's server (`--dev`: Django's own, the development settings, no debug)."""
    server = serve("--dev", "--task-workers", "1")
    assert "Django's development server, 1 task worker" in server.wait_running()
    status, _, body = wait_for(lambda: (r := _try_get(server.port)) and r[0] == 200 and r,
                               "the sign-in page", server.proc, server.err)  # fmt: skip
    assert "Sign in" in body
    everything = descendants(server.proc.pid)
    assert len(everything) == 2  # the development server and one task worker
    os.killpg(server.proc.pid, signal.SIGINT)  # Ctrl-C in its terminal
    assert server.proc.wait(timeout=WAIT) == 0
    wait_for(lambda: not any(running(p) for p in everything), "every child stopped")


def test_serve_killed_outright_leaves_no_process_behind(serve, own_database):
    server = serve("--workers", "1", "--task-workers", "1", env=production(own_database))
    server.wait_running()
    master = wait_for(lambda: children(server.proc.pid, "gunicorn"), "gunicorn", server.proc)
    wait_for(lambda: children(next(iter(master))), "a web process")
    everything = descendants(server.proc.pid)
    assert len(everything) == 3
    server.proc.kill()
    server.proc.wait(timeout=WAIT)
    wait_for(lambda: not any(running(p) for p in everything), "every child stopped")


def test_gunicorn_ending_stops_serve_with_status_3_for_systemd_to_restart(serve, own_database):
    server = serve("--workers", "1", "--task-workers", "1", env=production(own_database))
    server.wait_running()
    (master,) = wait_for(lambda: children(server.proc.pid, "gunicorn"), "gunicorn", server.proc)
    wait_for(lambda: children(master), "a web process")
    everything = descendants(server.proc.pid)
    os.kill(master, signal.SIGKILL)
    assert server.proc.wait(timeout=WAIT) == 3
    assert ("keystage serve: the web server stopped (killed by SIGKILL); stopping the task "
            "workers") in server.err.read_text()  # fmt: skip
    wait_for(lambda: not any(running(p) for p in everything), "every child stopped")


def test_a_machine_of_task_workers_runs_no_web_process(serve, own_database):
    """`--workers 0`: the task workers of a deployment on several machines (docs/deploy.md),
    where `--no-migrate` refuses a database that `keystage init` has not migrated yet."""
    env = production(own_database)
    done = subprocess.run([*KEYSTAGE, "serve", "--workers", "0", "--no-migrate"], env=env,
                          capture_output=True, text=True, timeout=WAIT)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(
        "keystage serve: the database needs migrating: run `keystage init`"
    )
    server = serve("--workers", "0", "--task-workers", "2", env=env)
    assert (
        server.wait_running()
        == "Keystage's task workers are running (2 task workers; Ctrl-C stops them)."
    )
    workers = wait_for(lambda: len(t := children(server.proc.pid)) == 2 and t, "2 task workers")
    assert all("db_worker" in processes()[p][2] for p in workers)
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=WAIT) == 0
    wait_for(lambda: not any(running(p) for p in workers), "every child stopped")


def _try_get(port):
    try:
        return get(port, https_proxy=False)
    except OSError:  # not listening yet
        return None


def _import_wsgi(env: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from keystage.web.wsgi import application; print(application)"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _dev_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "KEYSTAGE_DEBUG", "DJANGO_SETTINGS_MODULE")}  # fmt: skip
    env["KEYSTAGE_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_wsgi_refuses_the_development_settings_under_gunicorn(tmp_path):
    """An operator who runs gunicorn on keystage.web.wsgi without the production settings is
    told what to set, and gunicorn stops instead of starting workers again and again."""
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{free_port()}",
         "--no-control-socket", "keystage.web.wsgi:application"],
        env=_dev_env(tmp_path), cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Keystage will not start" in done.stderr
    assert "DJANGO_SETTINGS_MODULE=keystage.web.settings_production" in done.stderr
    assert "KEYSTAGE_DEBUG=1" in done.stderr


@pytest.mark.parametrize("settings", ["production", "debug"])
def test_wsgi_starts_on_production_settings_or_with_debug_asked_for(settings, tmp_path):
    env = _dev_env(tmp_path)
    env = production(env) if settings == "production" else {**env, "KEYSTAGE_DEBUG": "1"}
    done = _import_wsgi(env, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "WSGIHandler" in done.stdout


def test_keystage_serve_refuses_the_development_settings_without_dev_or_debug(tmp_path):
    done = subprocess.run([*KEYSTAGE, "serve", "--port", str(free_port())], env=_dev_env(tmp_path),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("keystage serve: the production server needs")
    assert "--dev" in done.stderr and "Traceback" not in done.stderr


def test_keystage_serve_refuses_an_address_in_use(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([*KEYSTAGE, "serve", "--port", str(port)],
                              env=production(_dev_env(tmp_path)), cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith(f"keystage serve: cannot listen on 127.0.0.1 port {port}")
    assert "Traceback" not in done.stderr


@pytest.mark.one_pass
def test_background_work_in_a_session_of_its_own_lowers_that_session_only():
    """Linux shares the CPU between sessions first (autogroups) and honours niceness only
    within one: `keystage import` run by cron or a unit of its own leads its session and lowers
    that session's share too; one started from a shell (sharing the shell's session) changes
    only its own niceness."""
    code = (
        "import os; from keystage.server import lower_priority; lower_priority(); "
        "g = '/proc/self/autogroup'; "
        "print(os.nice(0), (open(g).read().split() or ['-'])[-1] if os.path.exists(g) else '-')"
    )
    env = {**os.environ, "KEYSTAGE_TASK_NICE": "7"}
    own = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, start_new_session=True)  # fmt: skip
    shared = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    before = os.nice(0)
    # Niceness stops at 19 (a suite run under `nice` starts higher).
    assert own.stdout.split()[0] == shared.stdout.split()[0] == str(min(before + 7, 19))
    if Path("/proc/self/autogroup").exists():
        # A process in the root group (a container's, or a cgroup's with the CPU controller)
        # reads the file as empty ("-"): it has no autogroup of its own to lower.
        assert own.stdout.split()[1] in ("7", "-")
        # The test's own session (the shell's, in real life) is left as it was.
        mine = (Path("/proc/self/autogroup").read_text().split() or ["-"])[-1]
        assert shared.stdout.split()[1] == mine
