"""A test run leaves the tracked screenshots in docs/screenshots alone: check_page saves its
screenshots in the run's own folder; only scripts/screenshots refreshes the docs' ones."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.browser.conftest import DOCS_SCREENSHOTS, ROOT


def _tracked_shots() -> dict[str, tuple[int, str]]:
    return {
        p.name: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in sorted(DOCS_SCREENSHOTS.glob("*.png"))
    }


def test_check_page_saves_outside_the_tracked_tree(transactional_db, live_server, page, check_page,
                                                   screenshot_dir):  # fmt: skip
    if os.environ.get("KEYSTAGE_SCREENSHOTS"):
        assert screenshot_dir == DOCS_SCREENSHOTS.resolve()  # scripts/screenshots: on purpose
        return
    before = _tracked_shots()
    assert "sign-in.png" in before
    page.goto(f"{live_server.url}/sign-in")
    check_page(page, "sign-in")
    saved = screenshot_dir / "sign-in.png"
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert not Path(screenshot_dir).resolve().is_relative_to(ROOT)
    assert _tracked_shots() == before
