"""Downloads of report tables as CSV or Excel. Every text cell goes through `formula_safe` and
is written as a string, so a name such as "=HYPERLINK(...)" is never run by a spreadsheet."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import xlsxwriter
from django.http import HttpResponse

from keystage.output import formula_safe, write_csv

FORMATS = ("csv", "xlsx")


def csv_response(file_stem: str, fields: Sequence[str], rows: Iterable[dict]) -> HttpResponse:
    out = io.StringIO()
    write_csv(out, fields, rows)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{file_stem}.csv"'
    return response


def xlsx_bytes(sheet_name: str, fields: Sequence[str], rows: Iterable[dict]) -> bytes:
    out = io.BytesIO()
    # strings_to_formulas off: xlsxwriter would otherwise turn "=..." text into a formula.
    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = book.add_worksheet(sheet_name[:31])
    bold = book.add_format({"bold": True})
    for col, name in enumerate(fields):
        sheet.write_string(0, col, name, bold)
    for n, row in enumerate(rows, start=1):
        for col, name in enumerate(fields):
            value = row.get(name, "")
            if isinstance(value, bool) or value is None:
                value = "" if value is None else ("yes" if value else "no")
            if isinstance(value, int | float):
                sheet.write_number(n, col, value)
            else:
                sheet.write_string(n, col, str(formula_safe(str(value))))
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()


def xlsx_response(file_stem: str, fields: Sequence[str], rows: Iterable[dict]) -> HttpResponse:
    response = HttpResponse(
        xlsx_bytes(file_stem, fields, rows),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{file_stem}.xlsx"'
    return response


def download(fmt: str, file_stem: str, fields: Sequence[str], rows: Iterable[dict]):
    if fmt == "xlsx":
        return xlsx_response(file_stem, fields, rows)
    return csv_response(file_stem, fields, rows)
