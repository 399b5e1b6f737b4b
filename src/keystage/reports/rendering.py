"""PDFs of reports (WeasyPrint, print CSS, A4 portrait): what an adviser puts in front of a head
teacher. Each PDF opens with a title block (the school or LA, the collection, when its figures
were counted, provisional or final); a summary has its headline figure beside its comparators,
every measure with comparators, bars of its figures in the comparators' colours (`palette`),
its published trend and its distributions over a scale; a gap analysis has a chart and a table per kind
of pupil group; other reports are tables headed in words. Footnotes say what "c", "–" and a
small group mean. An LA's pack (`make_pack`, a task) is a contents page, the LA's summary and
gap analysis, then one page per school.

The pack is made from figures counted once: every school's figures in one read
(`queries.figures` of all the LA's schools), the LA's, region's and England's once, and the
charts that do not depend on the school (the published trend, the LA's own) drawn once; a
school's page draws its bars and distributions in HTML, not with matplotlib (a quarter of a
second a chart), so an LA of 228 schools is one WeasyPrint document made in seconds
(bench/report_pack.py, docs/performance.md)."""

from __future__ import annotations

import base64
import logging
import os
import re

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from keystage.engine import definition as definitions
from keystage.engine.words import sentence_start
from keystage.reports import charts, group_gaps, palette, queries
from keystage.reports.disclosure import SUPPRESSED, threshold

log = logging.getLogger(__name__)


def _reliable(collection) -> int:
    """The fewest eligible pupils a figure may rest on before a PDF marks it as a small group
    (the definition's `[groups] reliable_pupils`, as the pages: `group_gaps.settings`)."""
    return group_gaps.settings(definitions.load(collection.code)).reliable_pupils


LEVEL_NAMES = {"school": "School", "la": "Local authority", "region": "Region",
               "national": "England"}  # fmt: skip


def bar_chart(groups: list[dict], heads: list[dict], width: int = 510) -> dict:
    """Where each bar of a PDF's bar chart goes: one row of bars per group (a subject, a pupil
    group), one bar per area in its colour with its figure beside it; a figure not shown ("c",
    "–") has no bar. The template draws it as an inline SVG (`reports/pdf.html`, `bars`):
    a chart of its own boxes would cost WeasyPrint a layout per bar, and matplotlib a quarter of
    a second per chart (a pack draws one per school). `width`: the width it is shown at, in
    points (a full A4 column is about 510), so its words are drawn at their size."""
    import textwrap

    bar, step = 6, 7.5
    label_width = int(width * 0.3)
    track = width - label_width - 34
    y, rows = 4, []
    for g in groups:
        lines = textwrap.wrap(g["label"], int(label_width / 4.1)) or [g["label"]]
        top = y
        bars = []
        for n, (c, h) in enumerate(zip(g["cells"], heads, strict=True)):
            percent = c.get("percent")
            length = round(track * percent / 100, 1) if isinstance(percent, int | float) else 0
            bars.append({"y": top + n * step, "width": length, "colour": h["colour"],
                         "text": c["text"], "text_x": label_width + length + 3})  # fmt: skip
        height = max(len(bars) * step, len(lines) * 10)
        rows.append({"y": top, "lines": [(top + 8 + 10 * i, line) for i, line in enumerate(lines)],
                     "bars": bars, "rule": top + height + 2})  # fmt: skip
        y = top + height + 4
    return {"width": width, "height": y, "x": label_width, "bar": bar,
            "rows": rows, "track": track}  # fmt: skip


def _svg_uri(data: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii")


# -- the title block ---------------------------------------------------------------------------


def title_block(collection, area, place=None) -> dict:
    """Who and what the PDF is about: the school (its LAESTAB and LA) or the LA, the
    collection, when its figures were last counted, and whether they are provisional."""
    from keystage.operations.retention import pupil_data_deleted

    caption = LEVEL_NAMES.get(area.level, "")
    if area.level == "school":
        la_name = place.la.name if place is not None else ""
        caption = f"School {area.code}" + (f", {la_name}" if la_name else "")
    elif area.level == "la":
        caption = f"Local authority {area.code}"
    counted = queries.data_as_of(collection)
    return {
        "name": area.name,
        "caption": caption,
        "collection": collection.name,
        "as_of": timezone.localtime(counted) if counted else None,
        "final": pupil_data_deleted(collection),
    }


# -- a summary ---------------------------------------------------------------------------------


def _cell(figure, level, reliable: int) -> dict:
    """A figure as a PDF shows it: "60.0%" with "3 of 5", "c", "–" or "no pupils"; small
    groups marked."""
    out = {"level": level, "colour": palette.colour(level)}
    if figure is None or figure.count is None:
        return {**out, "text": "–", "percent": None}
    if figure.hidden:
        return {**out, "text": SUPPRESSED, "percent": None}
    if figure.percent is None:
        return {**out, "text": "no pupils", "percent": None}
    percent = queries.rounded(figure.percent, queries.PLACES)
    return {**out, "text": f"{percent}%", "percent": percent,
            "detail": f"{figure.count:,} of {figure.eligible:,}",
            "small": figure.eligible < reliable}  # fmt: skip


def summary_section(collection, area_list, found, *, place=None, trend=None,
                    distributions=True) -> dict:  # fmt: skip
    """A summary page of `area_list[0]` with its comparators, from `queries.figures` already
    read (`found`: {(level, code): {"all": AreaFigures}}). `trend`: the trend block
    (`trend_block`), drawn or as a table; `distributions`: draw the distributions over the collection's scale."""
    labels = queries.subject_labels(collection)
    measure_labels = queries.measure_labels(collection)
    reliable = _reliable(collection)
    columns = [(a, found.get((a.level, a.code), {}).get("all")) for a in area_list]
    main = columns[0][1]
    heads = [{"name": a.name, "level": a.level, "colour": palette.colour(a.level),
              "caption": LEVEL_NAMES[a.level]} for a, _ in columns]  # fmt: skip
    pupils = {"label": "Pupils", "cells": [
        {"text": "–"} if f is None else
        ({"text": SUPPRESSED} if f.pupils_hidden else {"text": f"{f.pupils:,}"})
        for _, f in columns
    ]}  # fmt: skip
    rows, bars = [pupils], []
    for subject in queries.subject_keys(collection):
        for measure in queries.MEASURES:
            figures_ = [f.subjects.get(subject, {}).get(measure) if f else None
                        for _, f in columns]  # fmt: skip
            if measure == "higher" and all(fig is None for fig in figures_):
                continue
            cells = [_cell(fig, a.level, reliable)
                     for fig, (a, _) in zip(figures_, columns, strict=True)]  # fmt: skip
            label = f"{labels[subject]}: {measure_labels[measure]}"
            rows.append({"label": label, "cells": cells})
            if measure == "met":
                bars.append({"label": labels[subject], "cells": cells})
    # Rows that are averages (the profile's goals at the expected level), after the headlines.
    for i, (label, values) in enumerate(queries.average_rows(collection, [f for _, f in columns])):
        cells = [{"text": "–" if v is None else (v if v == SUPPRESSED else f"{v:.1f}")}
                 for v in values]  # fmt: skip
        rows.insert(3 + i, {"label": label, "cells": cells})
    headline_key = queries.headline(collection)
    headline = next((r for r in rows if r["label"].startswith(labels[headline_key] + ":")), None)
    own = queries.own_reports(collection)
    notes = list(own.notes(main.measures)) if main is not None else []
    shown = queries.distributions(collection, main) if distributions else []
    return {
        "kind": "summary",
        "title": f"{queries.words(collection)[1]} summary",
        "block": title_block(collection, area_list[0], place),
        "anchor": f"{area_list[0].level}-{area_list[0].code}",
        "heads": heads,
        "headline": headline,
        "measure_phrase": measure_labels["met"],
        "rows": rows,
        "bars": bars,
        "distributions": [_columns(d) for d in shown],
        "trend": trend,
        "published_places": queries.published_places(collection),
        "notes": notes,
        "has_figures": main is not None,
        "small": any(c.get("small") for r in rows for c in r["cells"]),
        "small_group": reliable,
        "suppressed": any(c.get("text") == SUPPRESSED for r in rows for c in r["cells"]),
    }


def _columns(d: dict, width: int = 510, height: int = 34) -> dict:
    """A distribution over the collection's scale as a PDF draws it (inline SVG,
    `reports/pdf.html`): a column per point, its height the point's pupils as a share of the
    tallest column, ticks every 5 points
    and a dashed line at the threshold."""
    points = sorted(d["marks"].items())
    tallest = max([n for _, n in points] + [1])
    step = width / max(len(points), 1)
    columns = [{"x": round(i * step + 0.4, 1), "width": round(step - 0.8, 1),
                "height": round(height * n / tallest, 1), "y": round(height - height * n / tallest, 1),
                "point": m, "tick": m % 5 == 0, "centre": round(i * step + step / 2, 1)}
               for i, (m, n) in enumerate(points) if n or m % 5 == 0]  # fmt: skip
    line = next((round(i * step, 1) for i, (m, _) in enumerate(points) if m == d["threshold"]),
                None)  # fmt: skip
    return {"label": f"{d['label']}: pupils at each {d['unit']}", "unit": d["unit"],
            "columns": columns, "threshold": d["threshold"], "threshold_x": line,
            "pupils": d["pupils"], "tallest": tallest, "width": width, "height": height}  # fmt: skip


def trend_lines(collection, area_list, held, key: str | None = None):
    """(key, title, label, years, series) of the trend of one row of the reports (`key`, by
    default the headline's, or the first with a published series): Keystage's own figures of
    the first area across the years it holds (`queries.held_years`, drawn dashed), then DfE's
    published series of each area DfE publishes (LA, region, England); None when there is
    nothing to draw. `series` are (name, {year: value}, level, style)."""
    keys = queries.trend_subjects(collection)
    if not keys:
        return None
    if key not in keys:
        key = queries.headline(collection) if queries.headline(collection) in keys else keys[0]
    column = f"{key}_met"
    # Only the years comparable with this year's are drawn (the EYFS profile's older framework
    # is in the page's tables, marked, but a line through it would join different measures).
    first = queries.comparable_from(collection) or 0
    published = [r for r in queries.trend(collection, area_list) if int(r["year"]) >= first]
    lines = []
    area = area_list[0]
    own = held.get((area.level, area.code), {})
    if any(isinstance(v.get(column), int | float) for v in own.values()):
        lines.append((f"{area.name} (Keystage)", {y: v[column] for y, v in own.items()},
                      area.level, "dashed"))  # fmt: skip
    for a in area_list:
        values = {int(r["year"]): r[column] for r in published
                  if (r["level"], r["code"]) == (a.level, a.code)}  # fmt: skip
        if values:
            lines.append((f"{a.name} (published)", values, a.level, "solid"))
    if not lines:
        return None
    years = sorted({y for _, values, _, _ in lines for y in values})
    labels = queries.subject_labels(collection)
    phrase = queries.own_reports(collection).TREND_PHRASE
    label = f"{labels[key]}: % of pupils {phrase}"
    return key, f"{label}, {years[0]} to {years[-1]}", label, years, lines


def trend_chart(title, years, lines, *, fmt="svg", narrow=False) -> bytes:
    """The trend's line chart (`trend_lines`), on a time axis in years."""
    series = [(name, [values.get(y) for y in years], level, style)
              for name, values, level, style in lines]  # fmt: skip
    return charts.line_chart(title, years, series, fmt=fmt, narrow=narrow)


def trend_block(collection, area_list, held, *, draw: bool = True) -> dict | None:
    """The trend of the headline row (`trend_lines`) as a PDF shows it: its chart (when
    `draw`) and a table of its figures by year. None when there is nothing to show."""
    found = trend_lines(collection, area_list, held)
    if found is None:
        return None
    key, title, label, years, lines = found
    # The table has a column for each year with a figure (the chart shows the others as gaps).
    years = [y for y in years if any(values.get(y) is not None for _, values, _, _ in lines)]
    return {
        "title": title,
        "label": label,
        "column": f"{key}_met",
        # Drawn at the width it is shown (half the page), so its words stay readable.
        "chart": _svg_uri(trend_chart(title, years, lines, narrow=True)) if draw else None,
        "years": years,
        "rows": [
            {
                "name": name,
                "colour": palette.colour(level),
                "dashed": style == "dashed",
                "values": [values.get(y) for y in years],
            }
            for name, values, level, style in lines
        ],  # fmt: skip
    }


# -- a gap analysis ----------------------------------------------------------------------------


def gap_section(collection, area, comparators, dimensions, *, subject_label, measure_label,
                place=None, between=()) -> dict:  # fmt: skip
    """A gap analysis: per kind of pupil group its bars (the area and its comparators in their
    colours, drawn in HTML) and a table of each group's percentage and its gap to each
    comparator; then, with `between` (the page's `between_groups` tables), the gaps between
    groups within each area (girls minus boys...) and the area's gap against England's."""
    reliable = _reliable(collection)
    out = []
    for d in dimensions:
        title = f"{subject_label}, {measure_label}, by {d['label'].lower()}"
        categories = [r.get("label") or queries.group_label(r["group"]) for r in d["rows"]]
        series = [(area.name, [r["area_percent"] for r in d["rows"]], area.level)]
        series += [(c.name, [r.get(f"{c.level}_percent") for r in d["rows"]], c.level)
                   for c in comparators]  # fmt: skip
        bars = [{"label": label, "cells": [
                    {"percent": v if isinstance(v, int | float) else None, "text": _percent(v)}
                    for v in values]}
                for label, values in zip(categories, zip(*(v for _, v, _ in series),
                                                         strict=True), strict=True)]  # fmt: skip
        rows = []
        for r, label in zip(d["rows"], categories, strict=True):
            # A figure on too few pupils to rely on (the row's `small`, by level, as the gap
            # analysis marks them: group_gaps.dimensions) is starred and footnoted.
            small = r["small"]
            cells = [{"text": _percent(r["area_percent"]), "small": small.get(area.level)}]
            for c in comparators:
                gap = r.get(f"{c.level}_gap")
                cells.append({"text": _percent(r.get(f"{c.level}_percent")), "gap": _gap(gap),
                              "small": small.get(c.level)})  # fmt: skip
            rows.append({"label": label, "cells": cells,
                         "n": r.get("n", r.get("area_eligible"))})  # fmt: skip
        out.append({"label": d["label"], "title": title, "bars": bars, "rows": rows})
    return {
        "kind": "gap",
        "title": f"{queries.words(collection)[1]} gap analysis",
        "subtitle": f"{subject_label}, {measure_label}",
        "block": title_block(collection, area, place),
        "anchor": f"gap-{area.level}-{area.code}",
        "heads": [
            {"name": a.name, "colour": palette.colour(a.level)} for a in [area, *comparators]
        ],  # fmt: skip
        "area": area.name,
        "dimensions": out,
        "between": [
            {
                "heading": t["heading"],
                "rows": [
                    {
                        "label": r["label"],
                        "cells": [
                            _signed(r.get(f"{a.level}_gap"))
                            + ("*" if r.get(f"{a.level}_small") else "")
                            for a in [area, *comparators]
                        ],
                        "vs_national": _signed(r.get("vs_national")),
                    }
                    for r in t["rows"]
                ],
            }
            for t in between
        ],
        "between_heads": [a.name for a in [area, *comparators]],
        "has_n": any(r["n"] is not None for d in out for r in d["rows"]),
        "small": any(c.get("small") for d in out for r in d["rows"] for c in r["cells"]),
        "small_group": reliable,
        "suppressed": any(
            SUPPRESSED in (c["text"], c.get("gap"))
            for d in out
            for r in d["rows"]
            for c in r["cells"]
        ),  # fmt: skip
    }


def _signed(v) -> str:
    """A gap in points as the page shows it: "+4.5", "-1.9", "0.0", "c" or "–"."""
    if isinstance(v, int | float):
        return f"{v:+.1f}" if v else "0.0"
    return "–" if v is None else str(v)


def _percent(v) -> str:
    return "–" if v is None else (SUPPRESSED if v == SUPPRESSED else f"{v}%")


def _gap(v) -> str:
    if v is None:
        return "–"
    if v == SUPPRESSED:
        return SUPPRESSED
    return f"+{v}" if v > 0 else f"{v}"


# -- a table of any report ---------------------------------------------------------------------


def labelled(collection, rows) -> list[dict]:
    """Rows as a PDF shows them to a reader: each row of the reports (a KS1 subject, a phonics
    year group), pupil group, measure and level by its name ("Year 1", "Girls", "expected
    standard or above", "England"), not by the key the CSV keeps."""
    subjects = queries.subject_labels(collection)
    measures = queries.measure_labels(collection)
    out = []
    for r in rows:
        r = dict(r)
        if "subject" in r:
            r["subject"] = subjects.get(r["subject"], r["subject"])
        if "group" in r:
            r["group"] = r.get("label") or queries.group_label(r["group"])
        if "measure" in r:
            r["measure"] = measures.get(r["measure"], r["measure"])
        if "level" in r:
            r["level"] = LEVEL_NAMES.get(r["level"], r["level"])
        out.append(r)
    return out


def section(title, fields, rows, *, note="", collection=None, subtitle="", caption="",
            headings=None) -> dict:  # fmt: skip
    """A table of `rows` under `title`, its columns headed in words (`heading`, or
    `headings`' own); with `collection`, its rows named in the collection's words
    (`labelled`). Several tables under one title: `tables_section`."""
    headings = headings or {}
    if collection is not None:
        rows = labelled(collection, rows)
    shown = [[("–" if r.get(f) is None else r.get(f)) for f in fields] for r in rows]
    numeric = [all(isinstance(r.get(f), int | float) or r.get(f) in (None, SUPPRESSED)
                   for r in rows) for f in fields]  # fmt: skip
    return {"kind": "table", "title": title, "subtitle": subtitle,
            "fields": [headings.get(f) or heading(f, collection) for f in fields],
            "numeric": numeric, "rows": shown, "note": note, "narrow": len(fields) > 9,
            "caption": caption,
            "suppressed": any(v == SUPPRESSED for r in shown for v in r)}  # fmt: skip


def tables_section(title, tables: list[dict], *, subtitle="", note="") -> dict:
    """Several tables (`section`s) under one title, each headed by its caption."""
    return {"kind": "table", "title": title, "subtitle": subtitle, "note": note,
            "tables": tables, "suppressed": any(t["suppressed"] for t in tables)}  # fmt: skip


# A table column's heading for people (a download keeps the field names, which scripts read).
HEADINGS = {
    "level": "Level",
    "code": "Code",
    "name": "Area",
    "area": "Area",
    "group": "Pupil group",
    "measure": "Measure",
    "pupils": "Pupils",
    "eligible": "Eligible pupils",
    "las": "LAs",
    "las_loaded": "LAs loaded",
    "las_expected": "LAs expected",
    "coverage_percent": "Expected pupils loaded %",
    "schools_loaded": "Schools loaded",
    "schools_expected": "Schools expected",
    "pupils_expected": "Pupils expected",
    "provisional_percent": "Provisional %",
    "published_percent": "Published %",
    "difference": "Difference (points)",
    "area_percent": "Area %",
    "la_percent": "LA %",
    "la_gap": "Gap to the LA (points)",
    "region_percent": "Region %",
    "region_gap": "Gap to the region (points)",
    "national_percent": "England %",
    "national_gap": "Gap to England (points)",
    "laestab": "LAESTAB",
    "upn": "UPN",
    "surname": "Surname",
    "forename": "Forename",
    "dob": "Date of birth",
    "sex": "Sex",
    "errors": "Errors",
    "queries": "Queries",
    "la_change": "Changed by the LA",
}
_MEASURE_SUFFIXES = {"": "{}", "percent": "{} %", "low": "{}: 95% interval from",
                     "high": "{}: 95% interval to", "pooled": "{}: LAs loaded, together %",
                     "mean_change": "{}: mean change (points)"}  # fmt: skip


def heading(field: str, collection=None) -> str:
    """What a PDF's column is headed: "Eligible pupils", the row heading of the collection
    ("Subject", "Year group") for `subject`, a measure in the collection's words ("Expected
    standard or above %"), an item of the collection by its label ("Reading")."""
    if field == "subject" and collection is not None:
        return queries.row_heading(collection)
    if field in HEADINGS:
        return HEADINGS[field]
    if collection is not None:
        items = {s.key: s.label for s in definitions.load(collection.code).subjects}
        if field in items:
            return items[field]
    measure, _, rest = field.partition("_")
    labels = queries.measure_labels(collection) if collection is not None else {}
    if measure in labels:
        label = sentence_start(labels[measure])
        pattern = _MEASURE_SUFFIXES.get(rest)
        return pattern.format(label) if pattern else f"{label}: {rest.replace('_', ' ')}"
    return field.replace("_", " ").capitalize()


# -- documents ---------------------------------------------------------------------------------


def document_html(title: str, sections: list[dict], *, contents=None, first_page: int = 1,
                  total: bool = True) -> str:  # fmt: skip
    """The HTML of a PDF of `sections`: with `contents` ([(title, page)]) a contents page;
    its pages numbered from `first_page`, "of N" only when `total` (one document alone)."""
    html = render_to_string("reports/pdf.html", {
        "title": title, "footer": _css_string(title), "sections": sections, "made_at": timezone.localtime(),
        "threshold": threshold(), "contents": contents,
        "palette": palette, "bar_chart": bar_chart, "first_page": first_page, "total": total,
    })  # fmt: skip
    # The template's indentation between tags is no text of the page, only boxes to lay out.
    return _BETWEEN_TAGS.sub("><", html)


_BETWEEN_TAGS = re.compile(r">\s+<")


def _css_string(text: str):
    """`text` as the inside of a CSS string in the page's <style> (the footer's title): raw
    text there, so not HTML-escaped ("DfE's", not "DfE&#39;s"), with what could end the string
    or the style written as CSS escapes."""
    from markupsafe import Markup

    escaped = "".join(f"\\{ord(ch):x} " if ch in '\\"<>&\n' else ch for ch in text)
    return Markup(escaped)  # noqa: S704 - every character that could end the string is escaped


def pdf_bytes(title: str, sections: list[dict]) -> bytes:
    """A PDF of `sections` (summaries, gap analyses, tables)."""
    from weasyprint import HTML

    return HTML(string=document_html(title, sections)).write_pdf()


def pdf_response(stem: str, title: str, sections: list[dict]) -> HttpResponse:
    data = pdf_bytes(title, sections)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{stem}.pdf"'
    return response


# -- an LA's pack ------------------------------------------------------------------------------

# Schools laid out together, in a process of their own when there are more than this.
CHUNK = 20
# Lines of the contents that fit its page (the pack's contents page is laid out once when its
# guess of its own length is right).
CONTENTS_LINES = 52


def _processes() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def make_pack(pack_id: int) -> None:
    """Make an LA's report pack as the user who asked for it would see it: a contents page,
    the LA's summary and gap analysis, then a page per school, its progress (schools laid out
    of all) written as it goes. The school pages are laid out CHUNK at a time on every core
    (`pdf_worker`), numbered from where they start, and the parts joined (pypdf) with a
    bookmark per section."""
    from keystage.orgs.models import School
    from keystage.reports.disclosure import viewer_for
    from keystage.reports.models import Fact, ReportPack

    pack = ReportPack.objects.select_related("la__region", "collection", "requested_by").get(
        pk=pack_id
    )
    pack.state = ReportPack.State.RUNNING
    pack.save(update_fields=["state"])
    try:
        collection, la = pack.collection, pack.la
        viewer = viewer_for(pack.requested_by)
        with_data = Fact.objects.filter(
            collection=collection, level="school", la=la, group="all"
        ).values("school_id")
        schools = list(
            School.objects.filter(pk__in=with_data).select_related("la__region").order_by("laestab")
        )
        pack.schools_total, pack.schools_done = len(schools), 0
        pack.save(update_fields=["schools_total", "schools_done"])
        area_list = queries.la_area(la)
        school_areas = [queries.school_area(s)[0] for s in schools]
        # Every school's figures and years in one read each; the comparators' once.
        found = queries.figures(collection, school_areas + area_list, ["all"], viewer)
        held = queries.held_years(collection, school_areas, viewer)
        comparators = trend_block(collection, area_list, {}, draw=False)
        pages = [school_page(collection, school, [area, *area_list], found, held, comparators)
                 for school, area in zip(schools, school_areas, strict=True)]  # fmt: skip

        def progress(done):
            pack.schools_done = done
            pack.save(update_fields=["schools_done"])

        title = f"{queries.words(collection)[1]} reports: {la.code} {la.name}"
        pack.pdf = pack_pdf(title, la_sections(collection, la, viewer), pages, progress)
        pack.state = ReportPack.State.DONE
    except Exception as e:  # the page says it failed; the log has the detail
        log.exception("report pack %s failed", pack_id)
        pack.state = ReportPack.State.FAILED
        pack.message = f"The PDF could not be made ({type(e).__name__}). Try again, or tell the collection team."
    pack.finished_at = timezone.now()
    pack.save(update_fields=["pdf", "state", "message", "finished_at"])


def _entry(s: dict) -> str:
    name = s["block"]["name"]
    code = s["block"]["caption"].partition(",")[0].removeprefix("School ")
    return f"{s['title']}: {name}" + (f" ({code})" if s.get("page") else "")


def pack_pdf(title: str, front: list[dict], pages: list[dict], progress=None) -> bytes:
    """The pack's PDF: a contents page, the `front` sections (the LA's), then `pages` (a
    school's each, one page), numbered throughout; `progress(n)` after each group of schools
    is laid out."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from weasyprint import HTML

    from keystage.reports.pdf_worker import lay_out

    chunks = [pages[i : i + CHUNK] for i in range(0, len(pages), CHUNK)]
    pool = None
    if len(chunks) > 1 and _processes() > 1:  # started now: it imports while the front is laid out
        pool = ProcessPoolExecutor(_processes(), mp_context=get_context("spawn"))
    try:
        contents_pages = max(1, -(-(len(front) + len(pages)) // CONTENTS_LINES))
        for _ in range(3):  # the contents' own length, guessed, then known
            first = contents_pages + 1
            front_doc = HTML(string=document_html(title, front, first_page=first,
                                                  total=False)).render()  # fmt: skip
            starts = {}
            for n, page in enumerate(front_doc.pages):
                for anchor in page.anchors:
                    starts.setdefault(anchor, first + n)
            at = first + len(front_doc.pages)
            entries = [(_entry(s), starts.get(s["anchor"], first)) for s in front]
            entries += [(_entry(s), at + n) for n, s in enumerate(pages)]
            contents_doc = HTML(string=document_html(title, [], contents=entries,
                                                     total=False)).render()  # fmt: skip
            if len(contents_doc.pages) == contents_pages:
                break
            contents_pages = len(contents_doc.pages)
        htmls = [document_html(title, chunk, first_page=at + i * CHUNK, total=False)
                 for i, chunk in enumerate(chunks)]  # fmt: skip
        laid_out = []
        results = pool.map(lay_out, htmls) if pool is not None else map(lay_out, htmls)
        for i, (data, count) in enumerate(results):
            laid_out.append((data, count))
            if progress is not None:
                progress(min(len(pages), (i + 1) * CHUNK))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if any(count != len(chunk) for (_, count), chunk in zip(laid_out, chunks, strict=True)):
        # A school's page ran over: lay them out as one, numbered on (the contents may be off).
        log.warning("a school's page of %r ran over one page", title)
        data, _ = lay_out(document_html(title, pages, first_page=at, total=False))
        laid_out = [(data, len(pages))]
    return _join(contents_doc.write_pdf(), front_doc.write_pdf(), [d for d, _ in laid_out],
                 entries)  # fmt: skip


def _join(contents: bytes, front: bytes, parts: list[bytes], entries) -> bytes:
    """The parts as one PDF, with a bookmark for each entry of the contents."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for data in (contents, front, *parts):
        writer.append(io.BytesIO(data), import_outline=False)  # the sections are bookmarked below
    for name, page in entries:
        if page - 1 < len(writer.pages):
            writer.add_outline_item(title=name, page_number=page - 1)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def la_sections(collection, la, viewer) -> list[dict]:
    """An LA's summary (with its trend drawn) and its gap analysis of the headline row."""
    area_list = queries.la_area(la)
    found = queries.figures(collection, area_list, ["all"], viewer)
    trend = trend_block(collection, area_list, queries.held_years(collection, area_list[:1],
                                                                  viewer))  # fmt: skip
    out = [summary_section(collection, area_list, found, place=la, trend=trend)]
    subject, measure = queries.headline(collection), "met"
    # The LA's gap analysis of the headline row, as its page and PDF give it.
    report = group_gaps.gap_report(collection, area_list, viewer)
    dimensions = group_gaps.dimensions(report, [a.level for a in area_list], subject, measure)
    if dimensions:
        out.append(gap_section(
            collection, area_list[0], area_list[1:], dimensions, place=la,
            subject_label=queries.subject_labels(collection)[subject],
            measure_label=queries.measure_labels(collection)[measure],
            between=group_gaps.between_tables(report, subject,
                                              dict(queries.measure_headings(collection))),
        ))  # fmt: skip
    return out


def school_page(collection, school, area_list, found, held, comparators) -> dict:
    """One school's page of a pack: its summary with its comparators and, when Keystage holds
    more than this year of it, its own figures across those years. The comparators' published
    series are the same on every school's page, so they are drawn once, on the LA's."""
    trend = None
    own = held.get(("school", school.laestab), {})
    if comparators is not None and len(own) > 1:
        years = sorted(own)
        trend = {**comparators, "chart": None, "years": years, "see_la": True,
                 "title": f"{comparators['label']}, {years[0]} to {years[-1]}",
                 "rows": [{"name": f"{school.name} (Keystage)", "dashed": True,
                           "colour": palette.colour("school"),
                           "values": [own[y].get(comparators["column"]) for y in years]}]}  # fmt: skip
    section_ = summary_section(collection, area_list, found, place=school, trend=trend)
    section_["page"] = True
    return section_
