"""Laying out part of a PDF in a process of its own (WeasyPrint only, no Django): an LA's pack
lays out its school pages a group at a time on every core (`rendering.make_pack`)."""

from __future__ import annotations


def lay_out(html: str) -> tuple[bytes, int]:
    """(the PDF of `html`, its number of pages)."""
    from weasyprint import HTML

    document = HTML(string=html).render()
    return document.write_pdf(), len(document.pages)
