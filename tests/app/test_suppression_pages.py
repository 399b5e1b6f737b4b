"""Secondary suppression as a school user and a restricted officer see it: on the gap page, in its
CSV, Excel and PDF downloads and in its chart, an LA's boys' figure is suppressed ("c") when
the girls' figure is, since "all pupils" minus the boys would give the girls away.

Every test runs twice: with the real `reports.queries._protect` and with it made a no-op. With
the no-op each surface must show the boys' figure, so each test is seen to fail without the
secondary suppression it checks."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from keystage.web.links import reverse
from tests.builders import SCHOOLS, ctf, pupil, write_register

pytestmark = pytest.mark.django_db

THIRD = ("125003", "938", "West Sussex", "2003", "Hill Primary School", "Community school",
         "Primary", "Open")  # fmt: skip

# LA 938's pupils by school: (girls, boys, boys at the expected standard in reading). Everyone
# else is at the expected standard in every subject. School 9382002 is school938's, 9382001
# restricted938's.
PUPILS = {"2002": (4, 5, 5), "2001": (2, 12, 6), "2003": (1, 13, 6)}
# LA 938: 7 girls (every viewer here knows 2 or 4 of them: the other 3 or 5 are too few to
# show), 30 boys with 17 at the expected standard in reading: 56.7%, from three schools.
LA_BOYS_READING = "56.7"

VIEWERS = {"school938": "9382002", "restricted938": "9382001"}


@pytest.fixture
def register_file(tmp_path):
    return write_register(tmp_path / "schools.csv", schools=[*SCHOOLS, THIRD])


@pytest.fixture
def la_with_few_girls(loaded, members, tmp_path):
    from keystage.collection.models import LaCollectionSettings
    from keystage.orgs.models import LocalAuthority
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.importing import import_paths

    paths = []
    for estab, (girls, boys, boys_met) in PUPILS.items():
        rows = []
        for n in range(1, girls + boys + 1):
            is_boy = n > girls
            met = not is_boy or n - girls <= boys_met
            rows.append(pupil(n, estab=estab, sex="M" if is_boy else "F",
                              surname=f"PUPIL{chr(65 + n % 26)}{chr(65 + n // 26)}",
                              reading="EXS" if met else "WTS", writing="EXS", maths="EXS"))  # fmt: skip
        path = tmp_path / f"{estab}.xml"
        path.write_text(ctf(rows, "938", estab), encoding="utf-8")
        paths.append(str(path))
    results = import_paths(paths, jobs=1)
    assert [r.outcome for r in results] == ["accepted"] * 3, results
    rebuild_facts(loaded)
    LaCollectionSettings.objects.update_or_create(
        collection=loaded, la=LocalAuthority.objects.get(code="938"),
        defaults={"school_sees": "comparisons"},
    )  # fmt: skip
    return loaded


@pytest.fixture(params=["protected", "no-op"])
def protect(request, monkeypatch):
    """ "protected": the real secondary suppression; "no-op": `_protect` does nothing, and the
    boys' figure must then be seen (the test would fail without secondary suppression)."""
    if request.param == "no-op":
        monkeypatch.setattr("keystage.reports.queries._protect", lambda mine: None)
    return request.param


def _url(name, laestab, **kw):
    return reverse(name, kwargs={"level": "school", "code": laestab, **kw})


def _query(measure="met"):
    return f"?subject=reading&measure={measure}"


def _boys_row(rows):
    (row,) = [r for r in rows if (r["group"], r["subject"], r["measure"]) == ("sex:M", "reading",
                                                                             "met")]  # fmt: skip
    return row


def _expect(protect, shown: bool, where: str):
    if protect == "protected":
        assert not shown, f"{where}: the LA's boys' figure gives the suppressed girls away"
    else:
        assert shown, f"{where}: without secondary suppression the boys' figure must show"


@pytest.fixture
def client_of(members, signed_in):
    return lambda who: signed_in(members[who])


@pytest.mark.parametrize("who", VIEWERS)
def test_gap_page(la_with_few_girls, client_of, protect, who):
    laestab = VIEWERS[who]
    response = client_of(who).get(_url("report-gap", laestab) + _query())
    assert response.status_code == 200
    body = response.content.decode()
    assert "Boys" in body and "Girls" in body
    _expect(protect, f"{LA_BOYS_READING}%" in body or f">{LA_BOYS_READING}<" in body, who)


@pytest.mark.parametrize("who", VIEWERS)
def test_gap_csv(la_with_few_girls, client_of, protect, who):
    response = client_of(who).get(_url("report-gap-export", VIEWERS[who], fmt="csv"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    boys = _boys_row(rows)
    girls = next(r for r in rows if (r["group"], r["subject"], r["measure"]) == ("sex:F",
                                                                               "reading", "met"))  # fmt: skip
    assert girls["la_percent"] == "c"  # primary suppression, whatever `_protect` does
    _expect(protect, boys["la_percent"] != "c", f"{who} CSV {boys}")
    if protect == "protected":
        assert boys["la_gap"] == "c"  # a gap worked out from a suppressed figure
    else:
        assert boys["la_percent"] == LA_BOYS_READING


@pytest.mark.parametrize("who", VIEWERS)
def test_gap_excel(la_with_few_girls, client_of, protect, who):
    response = client_of(who).get(_url("report-gap-export", VIEWERS[who], fmt="xlsx"))
    boys = _boys_row(_xlsx_rows(response.content))
    _expect(protect, boys["la_percent"] != "c", f"{who} Excel {boys}")


@pytest.mark.parametrize("who", VIEWERS)
def test_gap_pdf(la_with_few_girls, client_of, protect, who, monkeypatch):
    from keystage.reports import rendering

    sources = []
    real = rendering.render_to_string

    def keep(template, context=None, *args, **kw):
        html = real(template, context, *args, **kw)
        sources.append(html)
        return html

    monkeypatch.setattr(rendering, "render_to_string", keep)
    response = client_of(who).get(_url("report-gap-export", VIEWERS[who], fmt="pdf"))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    (html,) = sources  # what the PDF was made from: its bars (inline SVG) and its tables
    assert "<th>Boys</th>" in html and ">Boys</text>" in html  # the group as a reader names it
    _expect(protect, f">{LA_BOYS_READING}%" in html, f"{who} PDF")


def _xlsx_rows(data: bytes) -> list[dict]:
    """The first sheet of a workbook as dicts of its header row (strings and numbers)."""
    from lxml import etree

    ns = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        strings = [
            "".join(si.itertext())
            for si in etree.fromstring(book.read("xl/sharedStrings.xml")).findall("x:si", ns)
        ]
        sheet = etree.fromstring(book.read("xl/worksheets/sheet1.xml"))
    table = []
    for row in sheet.iterfind(".//x:sheetData/x:row", ns):
        cells = {}
        for c in row.findall("x:c", ns):
            column = "".join(ch for ch in c.get("r") if ch.isalpha())
            v = c.findtext("x:v", default="", namespaces=ns)
            cells[column] = strings[int(v)] if c.get("t") == "s" else v
        table.append(cells)
    header, *rows = table
    return [{header[k]: row.get(k, "") for k in header} for row in rows]


def _chart_texts(html: str) -> list[str]:
    """The text of the SVG charts embedded in the PDF's HTML (as data: URIs)."""
    import base64
    import re

    return [base64.b64decode(m).decode("utf-8")
            for m in re.findall(r"data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)", html)]  # fmt: skip


@pytest.mark.parametrize("who", VIEWERS)
def test_gap_chart(la_with_few_girls, client_of, protect, who):
    url = _url("report-gap-chart", VIEWERS[who], fmt="svg") + _query() + "&dimension=sex"
    response = client_of(who).get(url)
    assert response.status_code == 200
    svg = response.content.decode()
    assert "Boys" in svg
    _expect(protect, f"{LA_BOYS_READING}%" in svg, f"{who} chart")


def test_the_la_sees_its_own_boys_figure(la_with_few_girls, client_of, protect):
    """The figure the tests look for is the LA's boys' figure: its own officer sees it."""
    response = client_of("officer938").get(_url("report-gap-export", "9382001", fmt="csv"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert _boys_row(rows)["la_percent"] == LA_BOYS_READING
