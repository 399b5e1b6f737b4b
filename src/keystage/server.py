"""`keystage serve`: the web server and the task workers, child processes of one supervisor.

gunicorn (docs/adr/0008-production-server.md) runs the web processes on a socket the supervisor
opened and starts another web process when one dies. The supervisor runs the django-tasks-db
task workers, starts another when one dies (saying so on standard error), and on SIGTERM or
Ctrl-C stops them all and waits for them. Each child is in a process group of its own, so
Ctrl-C reaches only the supervisor, which stops each child once; and on Linux each child is
told (SIGTERM) if the supervisor itself is killed, so no child is left running."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

# How long the children have, once asked to stop, to finish the request or task in hand
# (gunicorn's own graceful time-out is the same) before they are killed.
STOP_SECONDS = 30
# A task worker that dies sooner than this after its start is started again after a growing
# pause (1, 2, 4 ... 30 s), so a worker that cannot start (a database down) does not spin.
QUICK_DEATH_SECONDS = 10
LONGEST_PAUSE_SECONDS = 30

PRODUCTION_NEEDED = (
    "the production server needs the production settings: set DJANGO_SETTINGS_MODULE="
    "keystage.web.settings_production (with KEYSTAGE_SECRET_KEY and KEYSTAGE_ALLOWED_HOSTS, "
    "see docs/deploy.md), or set KEYSTAGE_DEBUG=1 to run the development settings on purpose"
)


def refusal() -> str | None:
    """Why the production server must not start on these settings, or None when it may: the
    settings are the production ones (they set KEYSTAGE_PRODUCTION) or debug was asked for."""
    from django.conf import settings

    if getattr(settings, "KEYSTAGE_PRODUCTION", False) or settings.DEBUG:
        return None
    return PRODUCTION_NEEDED


def listen(host: str, port: int) -> socket.socket:
    """The listening socket the web processes share (gunicorn is handed its descriptor)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def gunicorn_argv(fd: int, workers: int) -> list[str]:
    # Other gunicorn settings (time-outs, an access log) come from GUNICORN_CMD_ARGS; these,
    # given here, win over it. No control socket: this supervisor is the control, and
    # gunicorn's would be one path in the home folder shared by every server there.
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"fd://{fd}", "--workers", str(workers),
        "--no-control-socket", "keystage.web.wsgi:application",
    ]  # fmt: skip


def runserver_argv(host: str, port: int) -> list[str]:
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return [sys.executable, "-m", "keystage.manage", "runserver", where, "--noreload"]


def task_worker_argv() -> list[str]:
    # No reloader (its default under DEBUG): a worker that dies must be seen to die.
    return [
        sys.executable,
        "-m",
        "keystage.manage",
        "db_worker",
        "--no-startup-delay",
        "--no-reload",
    ]


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
    except OSError:
        return None


_LIBC = _libc()
_PR_SET_PDEATHSIG = 1


def _in_child() -> None:
    """Run in each child between fork and exec: SIGTERM when the supervisor dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def task_niceness() -> int:
    """How much lower than the pages background work runs (KEYSTAGE_TASK_NICE, 0-19, default
    10): imports and fact rebuilds then use what CPU the web processes leave, and a national
    import no longer halves how many pages the machine serves (docs/performance.md). On an
    idle machine it costs nothing."""
    raw = os.environ.get("KEYSTAGE_TASK_NICE", "10").strip()
    try:
        return min(max(int(raw), 0), 19)
    except ValueError:
        return 10


def lower_priority() -> None:
    """Make this process (and what it starts) background work, by `task_niceness()`.

    Linux's autogroup scheduling (`kernel.sched_autogroup_enabled`, on in many kernels) shares
    the CPU between sessions first and honours a process's niceness only within its own
    session: an import started in a session of its own (cron, a systemd unit, `setsid`) would
    take an equal share beside the whole web service whatever its niceness. A process that
    leads its own session therefore lowers its session's share as well (`/proc/self/autogroup`),
    which touches nothing but that session; one started from a shell or by `keystage serve`
    shares its session and is lowered by its niceness alone."""
    n = task_niceness()
    if n and hasattr(os, "nice"):
        try:
            os.nice(n)
        except OSError:
            pass  # not allowed here: run at the usual priority
        if os.getsid(0) == os.getpid():
            try:
                with open("/proc/self/autogroup", "w") as f:
                    f.write(str(n))
            except OSError:
                pass  # no autogroups here (or not allowed): niceness is all there is


def _in_task_child() -> None:
    _in_child()
    lower_priority()


def describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def say(message: str) -> None:
    print(f"keystage serve: {message}", file=sys.stderr, flush=True)


class Supervisor:
    """One web server process (none when `web_argv` is None: a machine of task workers) and
    `task_workers` task workers, until asked to stop."""

    def __init__(self, web_argv, task_workers: int, env: dict, pass_fds=()):
        self.web_argv = web_argv
        self.env = env
        self.pass_fds = tuple(pass_fds)
        self.web: subprocess.Popen | None = None
        self.tasks: list[subprocess.Popen | None] = [None] * task_workers
        self.started = [0.0] * task_workers
        self.pause = [0.0] * task_workers
        self.due = [0.0] * task_workers
        self.signals = 0

    def _spawn(self, argv, pass_fds=(), preexec=_in_child) -> subprocess.Popen:
        return subprocess.Popen(
            argv, env=self.env, pass_fds=pass_fds, process_group=0, preexec_fn=preexec
        )

    def _start(self) -> None:
        if self.web_argv is not None:
            self.web = self._spawn(self.web_argv, self.pass_fds)
        for slot in range(len(self.tasks)):
            self._start_task(slot)

    def _start_task(self, slot: int) -> None:
        self.tasks[slot] = self._spawn(task_worker_argv(), preexec=_in_task_child)
        self.started[slot] = time.monotonic()

    def _on_signal(self, signum, frame) -> None:
        self.signals += 1

    def run(self, started=None) -> int:
        """Start the children, call `started()`, and watch them until a stop signal (0) or the
        web server's end (3); then stop them all."""
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
        before = {s: signal.signal(s, self._on_signal) for s in handled}
        status = 0
        try:
            self._start()
            if started is not None:
                started()
            while not self.signals:
                code = None if self.web is None else self.web.poll()
                if code is not None:
                    say(f"the web server stopped ({describe(code)}); stopping the task workers")
                    status = 3
                    break
                self._watch_tasks()
                time.sleep(0.2)
        finally:
            self.stop()
            for s, handler in before.items():
                signal.signal(s, handler)
        return status

    def _watch_tasks(self) -> None:
        now = time.monotonic()
        for slot, proc in enumerate(self.tasks):
            if proc is None:
                if now >= self.due[slot]:
                    self._start_task(slot)
                    say(f"task worker {slot + 1} started again (pid {self.tasks[slot].pid})")
                continue
            code = proc.poll()
            if code is None:
                continue
            lived = now - self.started[slot]
            if lived < QUICK_DEATH_SECONDS:
                self.pause[slot] = min(max(1.0, self.pause[slot] * 2), LONGEST_PAUSE_SECONDS)
            else:
                self.pause[slot] = 0.0
            self.tasks[slot] = None
            self.due[slot] = now + self.pause[slot]
            when = f" in {self.pause[slot]:.0f} s" if self.pause[slot] else ""
            say(f"task worker {slot + 1} (pid {proc.pid}) stopped ({describe(code)}); "
                f"starting another{when}")  # fmt: skip

    def stop(self) -> None:
        """Ask every child to stop (SIGTERM, once); kill those still running after
        STOP_SECONDS, or at once on a second Ctrl-C or SIGTERM."""
        children = [p for p in (self.web, *self.tasks) if p is not None]
        for proc in children:
            if proc.poll() is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        asked = self.signals
        deadline = time.monotonic() + STOP_SECONDS
        while any(p.poll() is None for p in children):
            if time.monotonic() > deadline or self.signals > asked:
                for proc in children:
                    if proc.poll() is None:
                        say(f"pid {proc.pid} did not stop in time; killing it")
                        proc.kill()
                for proc in children:
                    proc.wait()
                break
            time.sleep(0.1)
