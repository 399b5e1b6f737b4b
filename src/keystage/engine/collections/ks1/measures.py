"""KS1's measures behind the entry point every collection's `measures` module has (the
functions and signatures of `collections/phonics/measures.py`). KS1's figures are those of
`engine/measures.py`, which reads everything from the definition; KS1 reads nothing beyond this
year's records, so the cross-year arguments are accepted and not used."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from typing import Any

from keystage.engine import measures as shared
from keystage.engine.definition import Definition
from keystage.engine.measures import UNKNOWN, Counts, EesColumn, Needs, settings
from keystage.engine.records import PupilRecord

__all__ = [
    "UNKNOWN",
    "Counts",
    "count_by_group",
    "count_pupils",
    "ees_columns",
    "ees_row",
    "from_json",
    "headlines",
    "measures",
    "needs",
    "settings",
    "to_json",
]

Pupils = Iterable[Mapping[str, str]] | Iterable[PupilRecord]


def needs(definition: Definition) -> Needs:
    """KS1's measures read only this year's records."""
    return Needs()


def count_pupils(
    pupils: Pupils,
    definition: Definition,
    *,
    last_year: Mapping[str, Any] | None = None,
    other_collection: Iterable[Any] | None = None,
) -> Counts:
    return shared.count_pupils(pupils, definition)


def count_by_group(
    pupils: Iterable[PupilRecord],
    definition: Definition,
    group_of: Callable[[PupilRecord], Iterable[str]],
    *,
    last_year: Mapping[str, Any] | None = None,
    other_collection: Iterable[Any] | None = None,
) -> dict[str, Counts]:
    """`count_pupils` for each pupil group `group_of(record)` puts a record in."""
    members: dict[str, list[PupilRecord]] = {}
    for pupil in pupils:
        for group in group_of(pupil):
            members.setdefault(group, []).append(pupil)
    return {group: shared.count_pupils(found, definition) for group, found in members.items()}


def measures(
    counts: Counts, definition: Definition, *, as_of: dt.date | None = None
) -> dict[str, Any]:
    return shared.measures(counts, definition)


def ees_row(
    counts: Counts,
    definition: Definition,
    *,
    keystage_columns: bool = True,
    as_of: dt.date | None = None,
) -> dict[str, int]:
    return shared.ees_row(counts, definition, keystage_columns=keystage_columns)


def ees_columns(definition: Definition, *, keystage_columns: bool = True) -> list[EesColumn]:
    """The columns of `ees_row` with their words for the EES metadata file."""
    from keystage.engine.collections.ks1.reports import COMBINED_LABEL

    return shared.ees_columns(
        definition, combined_label=COMBINED_LABEL, keystage_columns=keystage_columns
    )


def headlines(
    counts: Counts, definition: Definition, *, as_of: dt.date | None = None
) -> list[tuple[str, str]]:
    """The figures a person checks before sending these pupils on (the return's check your
    answers page): (label, words) per subject with eligible pupils, then the combined measure,
    in the words of the summary report ("expected standard or above", "greater depth")."""
    from keystage.engine.collections.ks1.reports import COMBINED_LABEL, MEASURE_LABELS

    found = measures(counts, definition)
    labels = {s.key: s.label for s in definition.subjects}
    out = []

    def words(m: Mapping[str, Any]) -> str:
        text = f"{m['eligible']} eligible, {m['met']} {MEASURE_LABELS['met']} "
        text += f"({shared.rounded(m['met_percent'])}%)"
        if m.get("higher") is not None:
            text += f", {m['higher']} {MEASURE_LABELS['higher']} "
            text += f"({shared.rounded(m['higher_percent'])}%)"
        return text

    for key, m in found["subjects"].items():
        if m["eligible"]:
            out.append((labels[key], words(m)))
    if found["combined"]["eligible"] and found["combined"]["subjects"]:
        out.append((COMBINED_LABEL, words(found["combined"])))
    return out


def to_json(counts: Counts) -> dict[str, Any]:
    return asdict(counts)


def from_json(data: Mapping[str, Any]) -> Counts:
    """The `Counts` of `to_json`; zero counts (which bulk-written fact rows keep) dropped."""
    return Counts(
        pupils=data["pupils"],
        codes={k: {c: n for c, n in v.items() if n}
               for k, v in data["codes"].items() if any(v.values())},
        combined_eligible=data["combined_eligible"],
        combined_met=data["combined_met"],
        combined_higher=data["combined_higher"],
    )  # fmt: skip
