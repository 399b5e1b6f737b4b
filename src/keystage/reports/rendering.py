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


def pdf_bytes(title: str, sections: list[dict]) -> bytes:
    """A PDF of `sections`: each {"title", "fields", "rows", "charts", "note"}."""
    from weasyprint import HTML

    html = render_to_string(
        "reports/pdf.html",
        {"title": title, "sections": sections, "made_at": timezone.localtime()},
    )
    return HTML(string=html).write_pdf()


def section(title, fields, rows, *, charts_=(), note="") -> dict:
    shown = [[("" if r.get(f) is None else r.get(f)) for f in fields] for r in rows]
    return {"title": title, "fields": list(fields), "rows": shown, "charts": list(charts_),
            "note": note}  # fmt: skip


def pdf_response(request, stem, title, fields, rows, context) -> HttpResponse:
    charts_ = _gap_charts(context["gap"]) if "gap" in context else []
    note = (
        "Provisional figures from the files loaded so far. Figures marked c are suppressed "
        "because they rest on too few pupils to be shown outside their school or LA."
    )
    data = pdf_bytes(title, [section(title, fields, list(rows), charts_=charts_, note=note)])
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
        area_list = queries.la_area(la)
        word = queries.words(collection)[1]
        sections = [
            section(f"{word} summary: {la.name}", queries.SUMMARY_FIELDS,
                    queries.summary(collection, viewer=viewer, area_list=area_list)),
            section(f"{word} gap analysis: {la.name}", queries.GAP_FIELDS,
                    queries.gap(collection, viewer=viewer, area_list=area_list)),
        ]  # fmt: skip
        with_data = Fact.objects.filter(
            collection=collection, level="school", la=la, group="all"
        ).values("school_id")
        for school in School.objects.filter(pk__in=with_data).select_related("la__region"):
            rows = queries.summary(collection, viewer=viewer, area_list=queries.school_area(school))
            sections.append(
                section(
                    f"{word} summary: {school.laestab} {school.name}", queries.SUMMARY_FIELDS, rows
                )
            )
        pack.pdf = pdf_bytes(f"{word} reports: {la.code} {la.name}", sections)
        pack.state = ReportPack.State.DONE
    except Exception as e:  # the page says it failed; the log has the detail
        log.exception("report pack %s failed", pack_id)
        pack.state = ReportPack.State.FAILED
        pack.message = f"The PDF could not be made ({type(e).__name__}). Try again, or tell the collection team."
    pack.finished_at = timezone.now()
    pack.save(update_fields=["pdf", "state", "message", "finished_at"])
