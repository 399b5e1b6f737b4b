"""Issue 18: the report PDFs as a head teacher reads them (pdftotext, and each page drawn to PNG
by poppler's pdftoppm), one colour per comparator on charts, pages and PDFs alike, the trend
on a time axis in years, and the LA pack's progress.

Set KEYSTAGE_PDF_PNG_DIR to keep the pages drawn (they are otherwise drawn into the test's
temporary directory)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from keystage.orgs.models import LocalAuthority
from keystage.reports import charts, palette
from keystage.reports.models import ReportPack
from keystage.web.links import reverse
from tests.app import pdf_text
from tests.app.test_phonics_reports import (
    cohort,  # noqa: F401 - the phonics fixture
    on,
)
from tests.app.test_reports import imported  # noqa: F401 - the KS1 fixture

pytestmark = pytest.mark.django_db

CSS = Path(__file__).resolve().parents[2] / "src/keystage/web/static/keystage/reports.css"

# What a reader must never meet outside the code columns: the downloads' field names, pupil
# groups by their keys, areas by their level's key.
RAW = re.compile(
    r"\b(\w+_percent|\w+_gap|las_loaded|mean_change|la_change|laestab|subject|"
    r"(sex|term|fsm|sen|eal|ethnicity):\w+|(la|national|region|school) \d{3})\b"
)


# -- colours ----------------------------------------------------------------------------------


def test_one_colour_per_comparator_legible_on_white_and_the_same_on_the_pages():
    css = CSS.read_text()
    for level, colour in palette.COMPARATORS.items():
        assert palette.contrast(colour) >= 3, (level, colour)  # WCAG 1.4.11
        assert f".keystage-swatch--{level} {{ background: {colour}; }}" in css
    assert len(set(palette.COMPARATORS.values())) == 4
    # A chart draws a series in its area's colour, whatever its place among the series.
    svg = charts.grouped_bars("t", ["Girls"], [("England", [50.0], "national"),
                                               ("Kent", [40.0], "la")]).decode()  # fmt: skip
    assert svg.index(palette.COMPARATORS["national"]) < svg.index(palette.COMPARATORS["la"])


# -- the trend's time axis --------------------------------------------------------------------


def test_the_trend_spaces_its_years_as_years_and_leaves_the_missing_ones_as_gaps():
    svg = charts.line_chart("Reading", [2018, 2019, 2022, 2023],
                            [("England", [75, 75, 67, 68], "national")]).decode()  # fmt: skip
    ticks = [int(y) for y in re.findall(r">(20\d\d)</text>", svg)]
    assert ticks == [2018, 2019, 2020, 2021, 2022, 2023]  # every year on the axis, not 4 slots
    assert svg.count("No figures") == 1  # one band: 2020 and 2021
    # The line breaks there: two pieces of line (two moves of the pen), not one through the gap.
    colour = palette.COMPARATORS["national"]
    lines = re.findall(r'<path d="([^"]+)"[^>]*style="fill: none; stroke: ' + colour, svg)
    assert any(d.count("M") == 2 for d in lines), lines


# -- the PDFs ---------------------------------------------------------------------------------


def _png_pages(data: bytes, where: Path, stem: str) -> list[Path]:
    """The PDF's pages drawn at 60 dpi (pdftoppm), as a reader sees them."""
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm is missing (poppler-utils)", pytrace=False)
        pytest.skip("pdftoppm is missing (apt-get install poppler-utils; scripts/setup does)")
    where.mkdir(parents=True, exist_ok=True)
    (where / f"{stem}.pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(where / f"{stem}.pdf"),
                    str(where / stem)], check=True)  # fmt: skip
    return sorted(where.glob(f"{stem}-*.png"))


def _drawn(png: Path) -> bool:
    """Whether the page has anything drawn above its footer (a blank first page has not)."""
    from PIL import Image, ImageOps

    with Image.open(png) as image:
        body = image.convert("L").crop((0, 0, image.width, int(image.height * 0.9)))
        return ImageOps.invert(body).getbbox() is not None


def _read(data: bytes, where: Path, stem: str) -> list[str]:
    """The PDF's pages: each with words beyond its footer and drawn on, nothing off the page,
    and no field name or key where words belong."""
    assert data.startswith(b"%PDF")
    pages = pdf_text.pages(data)
    assert pdf_text.outside(data) == []  # every column fits A4 portrait
    drawn = _png_pages(data, where, stem)
    assert len(drawn) == len(pages)
    for n, (text, png) in enumerate(zip(pages, drawn, strict=True), start=1):
        assert len(re.sub(r"Page \d+( of \d+)?", "", text).split()) > 12, f"{stem} page {n}"
        assert _drawn(png), f"{stem} page {n} is blank"
        assert not RAW.search(text), (stem, n, RAW.findall(text))
    return pages


def _pdfs(region: str) -> dict[str, tuple[str, str, dict]]:
    """Every kind of report PDF: (who asks, URL name, its parameters)."""
    return {
        "school-summary": ("admin938", "report-summary-export",
                           {"level": "school", "code": "9382001", "fmt": "pdf"}),
        "school-gap": ("admin938", "report-gap-export",
                       {"level": "school", "code": "9382001", "fmt": "pdf"}),
        "la-summary": ("admin938", "report-summary-export",
                       {"level": "la", "code": "938", "fmt": "pdf"}),
        "la-gap": ("admin938", "report-gap-export", {"level": "la", "code": "938", "fmt": "pdf"}),
        "region-summary": ("admin938", "report-summary-export",
                           {"level": "region", "code": region, "fmt": "pdf"}),
        "england-summary": ("national", "report-summary-export",
                            {"level": "england", "code": "970", "fmt": "pdf"}),
        "pupils": ("admin938", "report-pupils-export", {"code": "9382001", "fmt": "pdf"}),
        "national": ("national", "report-national-export", {"fmt": "pdf"}),
        "official": ("admin938", "report-official-export", {"fmt": "pdf"}),
    }  # fmt: skip


def _every_pdf(collection, members, signed_in, where: Path) -> dict[str, list[str]]:
    region = LocalAuthority.objects.get(code="938").region.dfe_code
    out = {}
    for stem, (who, name, kw) in _pdfs(region).items():
        client = signed_in(members[who])
        response = client.get(reverse(name, kwargs={"collection": collection.code, **kw}))
        assert response.status_code == 200, (stem, response.content[:300])
        out[stem] = _read(response.content, where, f"{collection.code}-{stem}")
    return out


def _where(tmp_path) -> Path:
    return Path(os.environ.get("KEYSTAGE_PDF_PNG_DIR") or tmp_path / "png")


def test_every_ks1_pdf_reads_in_words_on_a4_portrait(imported, members, signed_in, tmp_path):  # noqa: F811
    pages = _every_pdf(imported, members, signed_in, _where(tmp_path))
    summary = pages["school-summary"]
    assert len(summary) == 1  # a one-page school summary
    # The title block: the school, its LAESTAB and LA, the collection, when, provisional.
    assert re.match(r"School 9382001, West Sussex KS1 summary: Example Primary School Key stage "
                    r"1 teacher assessment 2023\. Figures counted \d+ \w+ \d{4} at [\d:]+[ap]m\. "
                    r"PROVISIONAL", summary[0]), summary[0]  # fmt: skip
    # Headline with its comparators, every measure by name, suppressed figures footnoted.
    assert "Reading, writing and maths combined: expected standard or above" in summary[0]
    assert "English reading: expected standard or above" in summary[0]
    assert "c: not shown (suppressed)" in summary[0]
    # The LA's summary and gap analysis come straight away (they were only in the pack).
    assert pages["la-summary"][0].startswith("Local authority 938 KS1 summary: West Sussex")
    assert pages["la-gap"][0].startswith("Local authority 938 KS1 gap analysis: West Sussex")
    # The official comparison names its levels.
    assert "England" in pages["official"][0] and "Local authority" in pages["official"][0]
    # The national figures: one table per measure, every column on the page.
    national = " ".join(pages["national"])
    assert "Expected standard or above Area Subject LAs loaded LAs" in national
    assert "Greater depth Area Subject" in national


def test_every_phonics_pdf_reads_in_words_on_a4_portrait(cohort, members, signed_in, tmp_path,  # noqa: F811
                                                         monkeypatch):  # fmt: skip
    p2023, p2024 = cohort
    on(monkeypatch, dt.date(2024, 7, 1))
    pages = _every_pdf(p2024, members, signed_in, _where(tmp_path))
    summary = pages["school-summary"]
    assert len(summary) == 1
    assert summary[0].startswith("School 9382001, West Sussex Phonics summary: Example Primary "
                                 "School Phonics screening check 2024.")  # fmt: skip
    # The school's own trend across the years Keystage holds (2023 and 2024), beside the
    # published series.
    assert re.search(r"Example Primary School \(Keystage\)( –)+ [\d.]+ [\d.]+ –", summary[0])
    assert "West Sussex (published)" in summary[0]


# -- the pack's progress ----------------------------------------------------------------------


def test_the_pack_page_shows_how_many_schools_are_ready(imported, members, signed_in):  # noqa: F811
    from django.utils import timezone

    la = LocalAuthority.objects.get(code="938")
    pack = ReportPack.objects.create(collection=imported, la=la, requested_at=timezone.now(),
                                     state="running", schools_done=40, schools_total=228)  # fmt: skip
    client = signed_in(members["admin938"])
    body = client.get(reverse("report-pack", kwargs={"pack_id": pack.pk})).content.decode()
    assert "40 of 228 schools ready" in " ".join(body.split())
    pack.schools_done = 228
    pack.save()
    body = client.get(reverse("report-pack", kwargs={"pack_id": pack.pk})).content.decode()
    assert "All 228 schools ready: laying out the pages" in " ".join(body.split())
