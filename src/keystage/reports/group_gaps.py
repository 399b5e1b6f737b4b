"""The gap analysis page's figures: each pupil group's figures against the comparators'
(`queries.gap`), with the pupils each rests on and whether there are too few to rely on, and
the gaps between groups within each area (girls minus boys, FSM minus not FSM...).

Which groups are compared and how few pupils are too few to rely on are the collection's
definition's (`[groups]`, docs/definitions.md); what the groups' codes mean is shared reference
data (reference/pupil_groups.toml). Everything is worked out from the facts `queries.figures`
has already read and kept, and the result is kept until the facts change
(web/readcache.py), so the page costs no query per group."""

from __future__ import annotations

from dataclasses import dataclass

from keystage.engine import definition as definitions
from keystage.engine.definition import Definition
from keystage.reports import disclosure, queries
from keystage.reports.disclosure import SUPPRESSED, Viewer
from keystage.reports.models import Fact

DEFAULT_RELIABLE_PUPILS = 10


@dataclass(frozen=True)
class Pair:
    """Two sides compared within an area: the first's percentage minus the second's. A side
    of several groups counts their pupils together (SEN: EHC plan and SEN support)."""

    key: str  # what the CSV calls it: "sex:F minus sex:M"
    label: str  # "Girls minus boys"
    first: tuple[str, ...]
    second: tuple[str, ...]


@dataclass(frozen=True)
class GroupSettings:
    reliable_pupils: int
    pairs: tuple[Pair, ...]


def settings(definition: Definition) -> GroupSettings:
    """The definition's `[groups]`: `reliable_pupils` (default 10) and its `[[groups.gaps]]`,
    each with a `label` and the groups of its `first` and `second` side. A malformed entry
    raises ValueError naming the definition and the entry."""
    raw = definition.raw.get("groups", {})
    where = f"definition {definition.id}: [groups]"
    reliable = raw.get("reliable_pupils", DEFAULT_RELIABLE_PUPILS)
    if not isinstance(reliable, int) or isinstance(reliable, bool) or reliable < 1:
        raise ValueError(f"{where} reliable_pupils must be a whole number of pupils, 1 or more")
    pairs = []
    for n, entry in enumerate(raw.get("gaps", []), 1):
        sides = []
        for side in ("first", "second"):
            groups = entry.get(side)
            if not groups or not all(isinstance(g, str) and ":" in g for g in groups):
                raise ValueError(f'{where} gaps entry {n}: {side} must list groups such as "sex:F"')
            sides.append(tuple(groups))
        if not isinstance(entry.get("label"), str) or not entry["label"]:
            raise ValueError(f"{where} gaps entry {n} needs a label")
        key = f"{' + '.join(sides[0])} minus {' + '.join(sides[1])}"
        pairs.append(Pair(key, entry["label"], sides[0], sides[1]))
    return GroupSettings(reliable, tuple(pairs))


# -- reading the figures --------------------------------------------------------------------


@dataclass(frozen=True)
class GapReport:
    """What the page, its downloads and its charts show (read it, never change it: it is
    kept and shared).

    `rows`: `queries.gap`'s rows (GAP_EXPORT_FIELDS), each group against the comparators;
    `small`: {(level, group, subject, measure)} of the shown figures resting on fewer than
    `reliable_pupils` pupils; `pairs`: the gaps between groups (`between_groups`)."""

    rows: list[dict]
    small: frozenset
    pairs: list[dict]
    reliable_pupils: int


def gap_report(collection, area_list: list[queries.Area], viewer: Viewer) -> GapReport:
    """The gap analysis of `area_list[0]` against the rest, for this viewer; kept until the
    facts change."""
    from keystage.web.readcache import kept

    parts = (
        "gap-report", collection.pk, queries.facts_stamp(collection), disclosure.threshold(),
        str(queries.today()), [(a.level, a.code) for a in area_list],
        (viewer.everything, sorted(viewer.la_ids), sorted(viewer.school_ids)),
    )  # fmt: skip
    return kept(parts, lambda: _gap_report(collection, area_list, viewer))


def _gap_report(collection, area_list, viewer) -> GapReport:
    definition = definitions.load(collection.code)
    found_settings = settings(definition)
    area = area_list[0]
    groups = queries.ordered_groups(
        Fact.objects.filter(
            collection=collection, level=area.level, area_code=area.code
        ).values_list("group", flat=True)
    )
    rows = queries.gap(collection, viewer=viewer, area_list=area_list, groups=groups)
    found = queries.figures(collection, area_list, groups, viewer)
    small = set()
    for (level, _), by_group in found.items():
        for group, figures in by_group.items():
            for subject, by_measure in figures.subjects.items():
                for measure, figure in by_measure.items():
                    if _is_small(figure, found_settings.reliable_pupils):
                        small.add((level, group, subject, measure))
    pairs = between_groups(collection, area_list, found, found_settings)
    return GapReport(rows, frozenset(small), pairs, found_settings.reliable_pupils)


def dimensions(report: GapReport, levels: list[str], subject: str, measure: str) -> list[dict]:
    """The report's rows of one report row and measure by kind of pupil group, as the page, its
    PDF and the LA's pack show them: [{key, label, rows}], each row with `label` (the group in
    words) and `small` ({level: whether that figure rests on too few pupils})."""
    out: dict[str, list[dict]] = {}
    for r in report.rows:
        if r["subject"] == subject and r["measure"] == measure:
            r = {
                **r, "label": queries.group_label(r["group"]),
                "small": {lv: (lv, r["group"], subject, measure) in report.small
                          for lv in levels},
            }  # fmt: skip
            out.setdefault(queries.dimension_of(r["group"]), []).append(r)
    return [{"key": d, "label": queries.dimension_label(d), "rows": rows}
            for d, rows in out.items()]  # fmt: skip


def between_tables(report: GapReport, subject: str, headings: dict[str, str]) -> list[dict]:
    """The gaps between groups of one report row, a table per measure of `headings`
    ({measure: its heading}): [{measure, heading, rows}]."""
    out: dict[str, list[dict]] = {}
    for r in report.pairs:
        if r["subject"] == subject and r["measure"] in headings:
            out.setdefault(r["measure"], []).append(r)
    return [{"measure": m, "heading": headings[m], "rows": rows} for m, rows in out.items()]


def _is_small(figure: queries.Figure | None, reliable: int) -> bool:
    """A figure shown that rests on fewer pupils than can be relied on (none has no pupils)."""
    return figure is not None and not figure.hidden and 0 < figure.eligible < reliable


def _side(collection, by_group: dict, groups: tuple[str, ...]) -> dict | None:
    """{subject: {measure: Figure}} of the pupils of these groups together, or None when the
    area has none of them. With several groups, a figure is hidden when any of its groups'
    is (their sum, less one group shown, would give that group away)."""
    present = [by_group[g] for g in groups if g in by_group]
    if not present:
        return None
    if len(present) == 1:
        return present[0].subjects
    definition, module = queries._measures_of(collection)
    total = sum((f.counts for f in present), module.Counts())
    m = module.measures(total, definition, as_of=queries.today())
    out = queries._subject_figures(collection, m)
    for subject, by_measure in out.items():
        for measure, figure in by_measure.items():
            if figure is not None:
                figure.hidden = any(
                    (f.subjects.get(subject, {}).get(measure) or figure).hidden for f in present
                )
    return out


def between_groups(collection, area_list, found, found_settings: GroupSettings) -> list[dict]:
    """One row per pair, report row and measure. For each area of `area_list` (by level:
    `school_`, `la_`, `region_`, `national_`): each side's percentage and its pupils
    (`_first_percent`, `_first_eligible`, `_second_...`), the gap in percentage points
    (`_gap`, from the unrounded percentages, rounded as the figures are) and whether either
    side has fewer pupils than can be relied on (`_small`); and `vs_national`, the first
    area's gap minus England's. "c" for a figure suppressed for the viewer and every gap
    worked out from one; None where an area has no pupils on a side."""
    reliable = found_settings.reliable_pupils
    sides = {
        (a.level, pair.key): (
            _side(collection, found.get((a.level, a.code), {}), pair.first),
            _side(collection, found.get((a.level, a.code), {}), pair.second),
        )
        for a in area_list
        for pair in found_settings.pairs
    }
    out = []
    for pair in found_settings.pairs:
        for subject in queries.subject_keys(collection):
            for measure in queries.MEASURES:
                row = {"pair": pair.key, "label": pair.label, "subject": subject,
                       "measure": measure}  # fmt: skip
                gaps = {}
                for a in area_list:
                    first, second = sides[(a.level, pair.key)]
                    one = (first or {}).get(subject, {}).get(measure)
                    two = (second or {}).get(subject, {}).get(measure)
                    gaps[a.level] = _gap(one, two)
                    row.update({
                        f"{a.level}_first_eligible": _n(one),
                        f"{a.level}_first_percent": None if one is None else one.shown_percent,
                        f"{a.level}_second_eligible": _n(two),
                        f"{a.level}_second_percent": None if two is None else two.shown_percent,
                        f"{a.level}_gap": _shown(gaps[a.level]),
                        f"{a.level}_small": _is_small(one, reliable) or _is_small(two, reliable),
                    })  # fmt: skip
                if all(g is None for g in gaps.values()):
                    continue  # no such measure in this row (science has no greater depth)
                mine = gaps[area_list[0].level]
                theirs = gaps.get("national")
                if mine is None or theirs is None or area_list[0].level == "national":
                    row["vs_national"] = None
                elif SUPPRESSED in (mine, theirs):
                    row["vs_national"] = SUPPRESSED
                else:
                    row["vs_national"] = queries.rounded(mine - theirs, queries.PLACES)
                out.append(row)
    return out


def _n(figure):
    return None if figure is None else figure.shown_eligible


def _gap(one, two):
    """The unrounded gap of two figures; "c" when either is hidden; None without both."""
    if one is None or two is None:
        return None
    if one.hidden or two.hidden:
        return SUPPRESSED
    if one.percent is None or two.percent is None:
        return None
    return one.percent - two.percent


def _shown(gap):
    return gap if gap is None or gap == SUPPRESSED else queries.rounded(gap, queries.PLACES)
