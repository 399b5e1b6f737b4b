"""The checking report as PDF: WeasyPrint renders the report's own HTML template. Nothing is
fetched while rendering (no network, no files): the template carries its styles inline."""

from __future__ import annotations


def _refuse(url: str, *args, **kwargs):
    raise ValueError(f"the checking report PDF fetches nothing ({url})")


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported here: it loads Pango, which only PDFs need

    return HTML(string=html, url_fetcher=_refuse).write_pdf()
