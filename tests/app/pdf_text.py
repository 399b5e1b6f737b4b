"""What a reader sees in a PDF: its text page by page, and the words drawn outside their page
(a table too wide for it). Read with poppler's pdftotext, which scripts/setup installs; without
it the tests that read PDFs are skipped, or fail under CI=true."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess

import pytest


def _pdftotext() -> str:
    found = shutil.which("pdftotext")
    if found is None:
        message = "pdftotext is missing (apt-get install poppler-utils; scripts/setup does)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: the PDF tests must run)", pytrace=False)
        pytest.skip(message)
    return found


def _run(data: bytes, *options: str) -> str:
    done = subprocess.run([_pdftotext(), *options, "-", "-"], input=data, capture_output=True,
                          check=True)  # fmt: skip
    return done.stdout.decode("utf-8")


def pages(data: bytes) -> list[str]:
    """The text of each page in the order it is drawn (a table's cells row by row, a cell's
    lines together), its words separated by single spaces; a word broken at a hyphen at the
    end of a line ("re-" "check") is read whole."""
    found = re.sub(r"(?<=[A-Za-z])-\n", "-", _run(data, "-raw"))
    return [" ".join(page.split()) for page in found.split("\f")[:-1]]


def outside(data: bytes) -> list[str]:
    """Words drawn (even in part) beyond the edges of their page, as "page N: word"."""
    out = []
    found = _run(data, "-bbox")
    for n, (width, height, body) in enumerate(re.findall(
        r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', found, re.S
    ), start=1):  # fmt: skip
        for x0, y0, x1, y1, word in re.findall(
            r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)</word>',
            body,
        ):
            if (
                float(x0) < 0
                or float(y0) < 0
                or float(x1) > float(width)
                or float(y1) > float(height)
            ):
                out.append(f"page {n}: {html.unescape(word)}")
    return out
