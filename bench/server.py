"""The production server the web benchmarks start: `keystage serve --workers N --task-workers
M` on 127.0.0.1, and its processes (web or task worker) for their CPU time and memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.webclient import Session

KEYSTAGE = [sys.executable, "-m", "keystage.cli"]


def start_server(env: dict, port: int, *, web: int, task: int, log: Path) -> subprocess.Popen:
    """`keystage serve` in a process group of its own; its output goes to `log`."""
    cmd = [*KEYSTAGE, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(web),
           "--task-workers", str(task)]  # fmt: skip
    return subprocess.Popen(
        cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_server(proc: subprocess.Popen, seconds: float = 20) -> None:
    """SIGTERM (serve stops its web and task workers), then SIGKILL after `seconds` (its
    children die with it)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if Session(base, https_proxy=True, timeout=5).get("/sign-in").status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"the server at {base} did not answer within {seconds:.0f} s")


def descendants(pids: list[int]) -> list[int]:
    """The processes `pids` and all their children, read from /proc."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    found, stack = [], list(pids)
    while stack:
        p = stack.pop()
        found.append(p)
        stack.extend(children.get(p, []))
    return found


def kind(pid: int) -> str | None:
    """ "task" for a task worker, "web" for `keystage serve` and gunicorn's processes."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    if "db_worker" in cmd:
        return "task"
    if "gunicorn" in cmd or "keystage.cli serve" in cmd:
        return "web"
    return None
