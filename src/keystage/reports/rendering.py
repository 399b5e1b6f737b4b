"""PDFs of reports (WeasyPrint): a report's table, with its charts when it has them, and an LA's
report pack (its summary, its gap analysis and every school's summary) made by a task."""

from __future__ import annotations

import base64
import logging

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from keystage.reports import charts, queries

log = logging.getLogger(__name__)


def _svg_uri(data: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii")


def _gap_charts(gap: dict) -> list[dict]:
    from keystage.reports.views import _gap_chart_data

    out = []
    for d in gap["dimensions"]:
        title, categories, series = _gap_chart_data(gap, d["key"])
        out.append(
            {"label": d["label"], "src": _svg_uri(charts.grouped_bars(title, categories, series))}
        )
    return out


def _distribution_charts(distributions: list[dict], area_name: str) -> list[dict]:
    """The distribution charts of a summary (`queries.distributions`), as on its page."""
    out = []
    for d in distributions:
        title = f"{d['label']}: pupils at each {d['unit']}, {area_name}"
        data = charts.distribution(title, d["marks"], d["threshold"], unit=d["unit"])
        out.append({"label": title, "src": _svg_uri(data)})
    return out


def labelled(collection, rows) -> list[dict]:
    """Rows as a PDF shows them to a reader: each row of the reports (a KS1 subject, a phonics
    year group), pupil group and measure by its name ("Year 1", "Girls", "meeting the
    expected standard"), not by the key the CSV keeps."""
    subjects = queries.subject_labels(collection)
    measures = queries.measure_labels(collection)
    out = []
    for r in rows:
        r = dict(r)
        if "subject" in r:
            r["subject"] = subjects.get(r["subject"], r["subject"])
        if "group" in r:
            r["group"] = queries.group_label(r["group"])
        if "measure" in r:
            r["measure"] = measures.get(r["measure"], r["measure"])
        out.append(r)
    return out


def pdf_bytes(title: str, sections: list[dict]) -> bytes:
    """A PDF of `sections`: each {"title", "fields", "rows", "charts", "note"}."""
    from weasyprint import HTML

    html = render_to_string(
        "reports/pdf.html",
        {"title": title, "sections": sections, "made_at": timezone.localtime()},
    )
    return HTML(string=html).write_pdf()


def section(title, fields, rows, *, charts_=(), note="", collection=None) -> dict:
    """A table of `rows` under `title`; with `collection`, its rows and its "subject" column
    are named in the collection's words (`labelled`; "Year group" for phonics)."""
    if collection is not None:
        rows = labelled(collection, rows)
    shown = [[("" if r.get(f) is None else r.get(f)) for f in fields] for r in rows]
    headings = [heading(f, collection) for f in fields]
    return {"title": title, "fields": headings, "rows": shown, "charts": list(charts_),
            "note": note}  # fmt: skip


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
    "las_loaded": "LAs loaded",
    "las_expected": "LAs expected",
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
}
_MEASURE_SUFFIXES = {"": "{}", "percent": "{} %", "low": "{}: 95% interval from",
                     "high": "{}: 95% interval to"}  # fmt: skip


def heading(field: str, collection=None) -> str:
    """What a PDF's column is headed: "Eligible pupils", the row heading of the collection
    ("Subject", "Year group") for `subject`, a measure in the collection's words ("Expected
    standard or above %")."""
    if field == "subject" and collection is not None:
        return queries.row_heading(collection)
    if field in HEADINGS:
        return HEADINGS[field]
    measure, _, rest = field.partition("_")
    labels = queries.measure_labels(collection) if collection is not None else {}
    if measure in labels:
        label = labels[measure][:1].upper() + labels[measure][1:]
        pattern = _MEASURE_SUFFIXES.get(rest)
        return pattern.format(label) if pattern else f"{label}: {rest.replace('_', ' ')}"
    return field.replace("_", " ").capitalize()


NOTE = (
    "Provisional figures from the files loaded so far. Figures marked c are suppressed "
    "because they rest on too few pupils to be shown outside their school or LA."
)


def pdf_response(request, stem, title, fields, rows, context) -> HttpResponse:
    """A report's table as a PDF, with its charts: a gap analysis' bar charts, a summary's
    distributions (phonics' marks), and the summary's notes on what it cannot show yet (or the
    context's own `note`)."""
    charts_, note = [], NOTE
    if "gap" in context:
        charts_ = _gap_charts(context["gap"])
    if "summary" in context:
        summary = context["summary"]
        charts_ = _distribution_charts(summary["distributions"], summary["area"].name)
        note = " ".join([NOTE, *summary["notes"]])
    if context.get("note"):
        note = " ".join([NOTE, context["note"]])
    data = pdf_bytes(title, [section(title, fields, list(rows), charts_=charts_, note=note,
                                     collection=context.get("collection"))])  # fmt: skip
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{stem}.pdf"'
    return response


def make_pack(pack_id: int) -> None:
    """Make an LA's report pack as the user who asked for it would see it."""
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
        word = queries.words(collection)[1]
        fields = queries.fields_for(collection, queries.SUMMARY_FIELDS)

        def summary(title, area_list):
            rows = queries.summary(collection, viewer=viewer, area_list=area_list)
            found = queries.figures(collection, area_list[:1], ["all"], viewer)
            main = found.get((area_list[0].level, area_list[0].code), {}).get("all")
            own = queries.own_reports(collection)
            return section(
                title, fields, rows, collection=collection,
                charts_=_distribution_charts(queries.distributions(collection, main),
                                             area_list[0].name),
                note=" ".join(own.notes(main.measures)) if main is not None else "",
            )  # fmt: skip

        area_list = queries.la_area(la)
        sections = [
            summary(f"{word} summary: {la.name}", area_list),
            section(f"{word} gap analysis: {la.name}", queries.GAP_FIELDS,
                    queries.gap(collection, viewer=viewer, area_list=area_list),
                    collection=collection),
        ]  # fmt: skip
        with_data = Fact.objects.filter(
            collection=collection, level="school", la=la, group="all"
        ).values("school_id")
        schools = School.objects.filter(pk__in=with_data).select_related("la__region")
        for school in schools.order_by("laestab"):
            sections.append(
                summary(f"{word} summary: {school.laestab} {school.name}",
                        queries.school_area(school))
            )  # fmt: skip
        pack.pdf = pdf_bytes(f"{word} reports: {la.code} {la.name}", sections)
        pack.state = ReportPack.State.DONE
    except Exception as e:  # the page says it failed; the log has the detail
        log.exception("report pack %s failed", pack_id)
        pack.state = ReportPack.State.FAILED
        pack.message = f"The PDF could not be made ({type(e).__name__}). Try again, or tell the collection team."
    pack.finished_at = timezone.now()
    pack.save(update_fields=["pdf", "state", "message", "finished_at"])
