"""Where the benchmarks write their figures: a block of docs/performance.md between two markers
(`<!-- NAME:start -->` ... `<!-- NAME:end -->`), replaced by each `--write-docs` run, or added
at the end under its heading the first time."""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs" / "performance.md"


def write_block(name: str, heading: str, lines: list[str]) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Performance\n"
    block = "\n".join([start, *lines, end])
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
    DOCS.write_text(text, encoding="utf-8")
