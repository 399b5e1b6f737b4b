"""Writing tables as text, JSON or CSV for the command line (and CSV downloads)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from typing import TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: object) -> object:
    """Spreadsheets run a cell that starts with = + - @ as a formula; a pupil's name must
    never do that, so such text gets a leading apostrophe (shown by Excel, never run)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(out: TextIO, fields: Sequence[str], rows: Iterable[dict]) -> int:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(fields)
    n = 0
    for r in rows:
        w.writerow([formula_safe(r.get(f, "")) for f in fields])
        n += 1
    return n


def write_json(out: TextIO, fields: Sequence[str], rows: Iterable[dict]) -> int:
    items = [{f: r.get(f, "") for f in fields} for r in rows]
    json.dump(items, out, ensure_ascii=False, indent=1)
    out.write("\n")
    return len(items)


def write_table(out: TextIO, fields: Sequence[str], rows: Iterable[dict], fmt: str) -> int:
    if fmt == "csv":
        return write_csv(out, fields, rows)
    if fmt == "json":
        return write_json(out, fields, rows)
    rows = list(rows)
    widths = {f: max([len(f)] + [len(str(r.get(f, ""))) for r in rows]) for f in fields}
    out.write("  ".join(f.ljust(widths[f]) for f in fields).rstrip() + "\n")
    for r in rows:
        out.write("  ".join(str(r.get(f, "")).ljust(widths[f]) for f in fields).rstrip() + "\n")
    return len(rows)
