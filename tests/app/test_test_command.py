"""The test command itself: `.ci/run` sets CI=true whoever runs it, so under it a missing
PostgreSQL or Chromium fails the run instead of skipping; pytest lists every skip with its
reason."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# No test here uses a database: the PostgreSQL pass of scripts/test leaves them out.
pytestmark = pytest.mark.one_pass


def test_ci_run_sets_ci_true_itself_and_runs_only_the_test_command(tmp_path):
    (tmp_path / ".ci").mkdir()
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / ".ci" / "run", tmp_path / ".ci" / "run")
    stub = tmp_path / "scripts" / "test"
    stub.write_text('#!/usr/bin/env bash\necho "scripts/test ran with CI=${CI:-unset} $*"\n')
    stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run(["bash", ".ci/run"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "scripts/test ran with CI=true \n"


def test_an_unreachable_postgres_fails_the_test_command_under_ci():
    env = {**os.environ, "CI": "true",
           "KEYSTAGE_TEST_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/nowhere"}  # fmt: skip
    # A path that does not exist, so nothing would be collected were PostgreSQL not checked first.
    done = subprocess.run([str(ROOT / "scripts" / "test"), "tests/no-such-test.py"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 1
    assert "unreachable: the suite must also pass on PostgreSQL (CI=true)" in done.stderr
    assert "== test suite" not in done.stdout


def _browser_test(ci: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["KEYSTAGE_CHROMIUM"] = "/nonexistent/chromium"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:xdist", "-q",
         "tests/browser/test_screenshots.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_a_missing_chromium_is_a_listed_skip_by_hand_and_a_failure_under_ci():
    by_hand = _browser_test(ci=False)
    assert by_hand.returncode == 0, by_hand.stdout[-2000:]
    # -rs in pytest's addopts: the skip is listed with its reason.
    assert "SKIPPED [1]" in by_hand.stdout
    assert "/nonexistent/chromium is missing (apt-get install chromium)" in by_hand.stdout
    under_ci = _browser_test(ci=True)
    assert under_ci.returncode == 1
    assert "CI=true: the browser tests must run" in under_ci.stdout


def test_the_postgresql_pass_leaves_out_the_tests_that_use_no_database():
    def collected(test_pass: str) -> str:
        env = {**os.environ, "KEYSTAGE_TEST_PASS": test_pass}
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:xdist", "--collect-only", "-q",
             "tests/app/test_test_command.py", "tests/app/test_docs.py"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-2000:]
        return done.stdout

    first, second = collected("sqlite"), collected("postgresql")
    assert "test_test_command.py::test_ci_run_sets_ci_true_itself" in first
    assert "test_test_command.py::" not in second
    assert "tests/app/test_docs.py::" in second  # a test that is not marked runs in both
    ours = first.count("test_test_command.py::")
    assert f"{ours} deselected" in second.splitlines()[-1]
