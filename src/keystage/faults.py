"""A test hook for the recovery tests (tests/app/test_faults.py): with KEYSTAGE_FAULT set, the
process stops itself at a named point, so a test can kill a real worker at an exact moment.

    KEYSTAGE_FAULT=store.after        SIGKILL at the first pass through `point("store.after")`
    KEYSTAGE_FAULT=store.after:2      ... at the second pass
    KEYSTAGE_FAULT=import.prepared:pause   wait there (for a test to kill the process)

Unset (always, outside those tests) `point` reads one environment variable and returns."""

from __future__ import annotations

import os
import signal
import time

_passes: dict[str, int] = {}
PAUSE_SECONDS = 300  # bounded: a paused process nobody kills ends by itself


def point(name: str) -> None:
    wanted = os.environ.get("KEYSTAGE_FAULT")
    if not wanted:
        return
    target, _, what = wanted.partition(":")
    if target != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if what == "pause":
        if _passes[name] == 1:
            time.sleep(PAUSE_SECONDS)
        return
    if _passes[name] == int(what or 1):
        os.kill(os.getpid(), signal.SIGKILL)
