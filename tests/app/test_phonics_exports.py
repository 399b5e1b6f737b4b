"""Phonics as KS1 everywhere else (issue 16 item 6): the school's checking report PDF and the
LA's report pack in the check's words, with its mark distributions drawn and every table on
its page; the provisional national figures, the comparison with DfE's published figures and
the open data in the check's measures and columns; and the small-number suppression of KS1's
rows applied to phonics' rows, on pages and in downloads.

The PDFs are read as a reader reads them (pdf_text.py: poppler's pdftotext). The first tests
use the hand-worked cohort of test_phonics_reports.py (its docstring has the sums); the
suppression tests an LA of three schools with few girls and few Year 2 pupils (PUPILS below).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from keystage.checking.actions import do_release
from keystage.orgs.models import School
from keystage.reference import published_phonics
from keystage.reports.models import ReportPack
from keystage.web.links import reverse
from tests.app import pdf_text, test_phonics_reports
from tests.app.test_phonics_import import phonics_pupil
from tests.app.test_phonics_reports import on
from tests.app.test_suppression_pages import THIRD, _xlsx_rows
from tests.builders import SCHOOLS, write_ctf, write_register

pytestmark = pytest.mark.django_db

cohort = test_phonics_reports.cohort  # the fixture: its docstring has the sums

# Words of KS1 that would say a phonics PDF or page still assumes KS1.
KS1_WORDS = re.compile(
    r"\b(KS1|key stage 1|reading|writing|maths|science|greater depth|higher|EXS|GDS)\b", re.I
)


def get(client, name, collection, query="", **kw):
    response = client.get(reverse(name, kwargs={"collection": collection.code, **kw}) + query)
    assert response.status_code == 200, response.content[:500]
    return response


def text(response) -> str:
    body = response.content.decode()
    body = re.sub(r"<script.*?</script>", "", body[body.index("<main") :], flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def read_pdf(data: bytes) -> str:
    """The PDF's text; every word of it lies on its page, and no KS1 word is in it."""
    assert data.startswith(b"%PDF")
    assert pdf_text.outside(data) == []  # a table or chart too wide for the page
    words = " ".join(pdf_text.pages(data))
    assert not KS1_WORDS.search(words), KS1_WORDS.findall(words)
    return words


def allow_comparisons(collection, la="938"):
    from keystage.collection.models import LaCollectionSettings
    from keystage.orgs.models import LocalAuthority

    LaCollectionSettings.objects.update_or_create(
        collection=collection, la=LocalAuthority.objects.get(code=la),
        defaults={"school_sees": "comparisons"},
    )  # fmt: skip


# -- (a) PDFs ---------------------------------------------------------------------------------


def test_the_schools_checking_report_pdf_speaks_of_the_check(cohort, members, signed_in,
                                                             monkeypatch):  # fmt: skip
    p2023, _ = cohort
    on(monkeypatch, dt.date(2023, 7, 3))
    schools = list(School.objects.filter(laestab__in=["9382001", "9382002"]).order_by("laestab"))
    do_release(members["officer938"], p2023, schools)
    allow_comparisons(p2023)
    pdf = get(signed_in(members["school938"]), "school-check-pdf", p2023, laestab="9382002")
    assert "checking-report-9382002" in pdf["Content-Disposition"]
    words = read_pdf(pdf.content)
    assert "Checking report: Downs Infant School Phonics screening check 2023" in words
    # 40, 12 and 33 in Year 1: two met of three; no Year 2 pupil.
    assert "Outcome Year 1 Year 2 re-check Met the expected standard 2 (67%) 0 " \
        "Working towards (below the threshold) 1 (33%) 0" in words  # fmt: skip
    assert "Eligible pupils 3 0 Meeting the expected standard 67% -" in words
    # The LA's figures beside them: beyond the school's own, LA 938's pupils are those of one
    # other school, so the school is shown none of them.
    assert "West Sussex (all its schools, number of pupils not shown (c)) Measure Year 1 " \
        "Year 2 re-check Meeting the expected standard c c" in words  # fmt: skip
    assert "Sex NC year Phonics mark Outcome code" in words
    assert re.search(r"SMITHL AVA 14 October 2016 F Year 1 40 - None No", words)

    # The LA's preview of the other school: Year 1 and the re-check, absent and left pupils.
    pdf = get(signed_in(members["officer938"]), "school-check-pdf", p2023, laestab="9382001")
    words = read_pdf(pdf.content)
    assert "Met the expected standard 2 (40%) 1 (50%)" in words
    assert "Absent (A) 1 (20%) 0 (0%)" in words
    # The pupil who left is counted, apart from the eligible pupils (no share).
    assert "Left before the check (L) 1 0" in words
    assert "Eligible pupils 5 2 Meeting the expected standard 40% 50%" in words
    assert re.search(r"Year 1 - A None No .*Year 1 - L None No .*Year 2 33 - None No", words)


def test_the_las_report_pack_in_phonics_words_with_its_distributions(
    cohort,
    members,
    signed_in,
    monkeypatch,
    settings,
    django_capture_on_commit_callbacks,
):
    p2023, p2024 = cohort
    on(monkeypatch, dt.date(2023, 7, 3))
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    client = signed_in(members["admin938"])
    with django_capture_on_commit_callbacks(execute=True):
        get(client, "report-summary", p2023, level="la", code="938")
        response = client.post(reverse("report-pack-create",
                                       kwargs={"collection": p2023.code, "code": "938"}))  # fmt: skip
    assert response.status_code == 302
    pack = ReportPack.objects.get(collection=p2023)
    assert pack.state == "done", pack.message
    download = get(client, "report-pack-download", p2023, pack_id=pack.pk)
    assert 'filename="phonics-reports-la-938.pdf"' in download["Content-Disposition"]
    pages = pdf_text.pages(download.content)
    read_pdf(download.content)
    # Contents: the LA's summary and gap analysis, then a page per school, with their pages.
    assert pages[0].startswith("Phonics reports: 938 West Sussex")
    assert "Contents Section Page Phonics summary: West Sussex 2 Phonics gap analysis: West " \
        "Sussex 3 Phonics summary: Example Primary School (9382001) 4 Phonics summary: Downs " \
        "Infant School (9382002) 5" in pages[0]  # fmt: skip
    # The LA's summary: its title block, headline, rows by name, its mark distributions.
    assert pages[1].startswith(
        "Local authority 938 Phonics summary: West Sussex Phonics "
        "screening check 2023. Figures counted"
    )
    assert "By the end of Year 2 cannot be worked out: Keystage holds no collection of last " \
        "year's results (phonics-2022)." in pages[1]  # fmt: skip
    assert "Year 1: meeting the expected standard 50.0%* 4 of 8 " in pages[1]  # * small group
    assert "Year 1: pupils at each mark: 7 pupils" in pages[1]
    assert "the dashed line is the threshold, 32" in pages[1]
    # The gap analysis: groups and measures by name.
    assert pages[2].startswith("Local authority 938 Phonics gap analysis: West Sussex")
    assert "Year 1, meeting the expected standard" in pages[2]
    assert re.search(r"Pupil group Pupils West Sussex South East \(gap\) England \(gap\) "
                     r"Girls 5 60.0%", pages[2]), pages[2]  # fmt: skip
    # Each school's page, with its own distribution, numbered as the contents says.
    school = pages[3]
    assert school.startswith("School 9382001, West Sussex Phonics summary: Example Primary School")
    assert "Year 1: pupils at each mark: 4 pupils" in school
    assert "Year 1: meeting the expected standard 40.0%* 2 of 5 50.0%* 4 of 8" in school
    assert school.endswith("Page 4")
    assert pages[4].startswith("School 9382002, West Sussex Phonics summary: Downs Infant School")
    assert len(pages) == 5  # contents, LA summary, gap analysis, two schools: each on its page


def test_the_summary_and_gap_pdfs_draw_their_charts_on_the_first_page(
    cohort,
    members,
    signed_in,
    monkeypatch,
):
    p2023, _ = cohort
    client = signed_in(members["admin938"])
    on(monkeypatch, dt.date(2023, 6, 20))  # before the threshold is published
    pdf = get(client, "report-summary-export", p2023, level="school", code="9382001", fmt="pdf")
    words = read_pdf(pdf.content)
    assert "Year 1: pupils at each mark: 4 pupils, the tallest column 1; the threshold is " \
        "not yet published" in words  # fmt: skip
    assert "dashed line is the threshold" not in words
    assert "The threshold is not yet published; it will be on 26 June 2023." in words
    # The eligible pupils, and no "met" figure yet.
    assert "Year 1: meeting the expected standard – – – –" in words

    on(monkeypatch, dt.date(2023, 7, 3))
    pdf = get(client, "report-summary-export", p2023, level="school", code="9382001", fmt="pdf")
    assert 'filename="phonics-summary-school-9382001.pdf"' in pdf["Content-Disposition"]
    pages = pdf_text.pages(pdf.content)
    words = read_pdf(pdf.content)
    assert len(pages) == 1  # one page
    assert "the dashed line is the threshold, 32" in words
    assert "Year 1: meeting the expected standard 40.0%* 2 of 5" in words
    pdf = get(client, "report-gap-export", p2023, level="school", code="9382001", fmt="pdf")
    first, *_ = pdf_text.pages(pdf.content)
    read_pdf(pdf.content)
    # The first page has the title and the first groups: no empty first page.
    assert first.startswith("School 9382001, West Sussex Phonics gap analysis: Example Primary "
                            "School")  # fmt: skip
    assert "Year 1, meeting the expected standard" in first and "Girls" in first


# -- (b) national figures, published figures, open data ---------------------------------------


def test_national_figures_in_the_checks_measures(cohort, members, signed_in, monkeypatch):
    p2023, p2024 = cohort
    on(monkeypatch, dt.date(2024, 7, 1))
    client = signed_in(members["national"])
    words = text(get(client, "report-national", p2024))
    assert "Phonics screening check 2024 Provisional national and regional figures" in words
    # LA 938 had 11 pupils in phonics 2023, which Keystage holds: its expected pupils. With 5
    # loaded (45%) it is partly loaded, so England has no LA loaded and no estimate; the
    # pooled figures of the pupils loaded are beside it, with their Wilson intervals.
    assert "England Provisional Based on 0 of 153 LAs (0.0% of the expected pupils Keystage " \
        "knows of)." in words  # fmt: skip
    assert "England: Meeting the expected standard Year group Eligible pupils loaded Estimate " \
        "95% interval LAs loaded, together Its interval, pupils independent Mean change since " \
        "last year (points) Year 1 2 – – 50.0% 9.5 to 90.5 – Year 2 re-check 3 – – 66.7% 20.8 " \
        "to 93.9 – By the end of Year 2 5 – – 80.0% 37.6 to 96.4 –" in words  # fmt: skip
    assert "LA Region Expected pupils loaded 938 West Sussex South East 45%" in words
    assert not KS1_WORDS.search(words), KS1_WORDS.findall(words)
    response = get(client, "report-national-export", p2024, fmt="csv")
    assert 'filename="phonics-provisional-national.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert list(rows[0]) == [
        "level", "code", "name", "las", "las_loaded", "las_partly", "las_without_expected",
        "coverage_percent", "las_expected", "schools_loaded", "schools_expected", "pupils",
        "pupils_expected", "subject", "eligible", "met_percent", "met_low", "met_high",
        "met_pooled", "met_pooled_low", "met_pooled_high", "met_mean_change",
        "met_not_like_the_rest", "met_reason",
    ]  # fmt: skip
    assert [(r["subject"], r["eligible"], r["met_percent"], r["met_pooled"]) for r in rows
            if r["level"] == "national"] == [("y1", "2", "", "50.0"), ("y2", "3", "", "66.7"),
                                             ("by_end_y2", "5", "", "80.0")]  # fmt: skip
    england = next(r for r in rows if r["level"] == "national")
    assert (england["las_loaded"], england["las_partly"]) == ("0", "1")
    assert england["met_reason"] == (
        "Only 0 of England's 153 LAs are loaded; a figure needs at least 3."
    )
    sheet = _xlsx_rows(get(client, "report-national-export", p2024, fmt="xlsx").content)
    assert "higher_percent" not in sheet[0] and sheet[2]["subject"] == "by_end_y2"
    words = read_pdf(get(client, "report-national-export", p2024, fmt="pdf").content)
    assert "Phonics provisional national and regional figures" in words
    assert "Year 1" in words and "By the end of Year 2" in words


def test_against_published_figures_and_the_trend(cohort, members, signed_in, monkeypatch):
    p2023, p2024 = cohort
    published = {(r["year"], r["level"], r["code"]): r["y1_met"] for r in published_phonics()}
    # DfE's England figures (spec phonics.md §6), as the reference file has them.
    assert (published[("2023", "national", "970")], published[("2024", "national", "970")]) == (
        "79", "80")  # fmt: skip
    client = signed_in(members["admin938"])
    for collection, day, mine in ((p2023, dt.date(2023, 7, 3), 50), (p2024, dt.date(2024, 7, 1),
                                                                     50)):  # fmt: skip
        on(monkeypatch, day)
        year = str(collection.year)
        words = text(get(client, "report-official", collection))
        theirs = int(published[(year, "la", "938")])
        assert f"Provisional figures against DfE's published {year} figures" in words
        assert "West Sussex Measure Eligible pupils (provisional) Provisional Published " \
            "Difference Year 1: meeting the expected standard" in words  # fmt: skip
        assert f"{mine}% {theirs}% {mine - theirs}" in words
        response = get(client, "report-official-export", collection, fmt="csv")
        assert "phonics-provisional-against-published" in response["Content-Disposition"]
        la = next(r for r in csv_rows(response) if r["level"] == "la")
        assert (la["subject"], la["measure"], la["provisional_percent"],
                la["published_percent"]) == ("y1", "met", str(mine), str(theirs))  # fmt: skip
        # England is the LA's pupils: its figure is shown to the LA unless it rests on fewer
        # than 6 pupils (2024: 2).
        england = next(r for r in csv_rows(response) if r["level"] == "national")
        shown = "c" if int(la["eligible"]) < 6 else str(mine)
        assert (england["provisional_percent"], england["published_percent"]) == (
            shown, published[(year, "national", "970")])  # fmt: skip
        # The published trend on the LA's summary, every year of the file.
        summary = text(get(client, "report-summary", collection, level="la", code="938"))
        assert "Trend against DfE's published figures, 2015 to 2025 Percentage of pupils " \
            "meeting the expected standard" in summary  # fmt: skip
        assert "in the chart" not in summary  # one series: nothing to choose
        # This year's provisional figure sits right after this year's published one.
        trend = " ".join(
            f"{y} {published[(str(y), 'la', '938')]}"
            + (f" {year} provisional {mine}.0" if str(y) == str(year) else "")
            for y in (2022, 2023, 2024)
        )
        assert "West Sussex: % of pupils meeting the expected standard Year Year 1" in summary
        assert trend in summary, trend
        assert not KS1_WORDS.search(summary), KS1_WORDS.findall(summary)


def test_open_data_in_the_ees_phonics_columns(cohort, members, signed_in, monkeypatch):
    _, p2024 = cohort
    on(monkeypatch, dt.date(2024, 7, 1))
    response = get(signed_in(members["admin938"]), "report-open-data", p2024)
    assert 'filename="phonics-provisional-open-data.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    columns = list(rows[0])
    assert [c for c in columns if c.startswith("t_phonics_y1_")] == [
        "t_phonics_y1_eligible_pupils", "t_phonics_y1_met_expected_standard",
        "t_phonics_y1_working_towards_expected_standard", "t_phonics_y1_absent",
        "t_phonics_y1_disapplied",
    ]  # fmt: skip
    assert all(re.fullmatch(r"p?t_phonics_(y1|y2|by_end_y2)_\w+", c) for c in columns[11:])
    la = next(r for r in rows if r["old_la_code"] == "938")
    assert (la["time_period"], la["t_phonics_y1_eligible_pupils"],
            la["t_phonics_by_end_y2_eligible_pupils"], la["t_phonics_by_end_y2_met_expected_standard"],
            la["pt_phonics_by_end_y2_met_expected_standard"]) == ("202324", "2", "5", "4", "80")  # fmt: skip


# -- (c) suppression of small numbers ---------------------------------------------------------

# LA 938's Year 1 pupils by school: (girls, all at the expected standard; boys; boys at it),
# and its Year 2 re-check: (pupils, at the standard). School 9382002 is school938's, 9382001
# restricted938's. LA 938 Year 1: 7 girls (each viewer knows 2 or 4: the other 3 or 5 are too
# few to show), 30 boys, 17 at the standard (56.7%); all 37 pupils, 24 at it (64.9%). Year 2:
# 3 pupils, too few for anyone outside the LA.
PUPILS = {"2002": (4, 5, 5, (2, 1)), "2001": (2, 12, 6, (1, 1)), "2003": (1, 13, 6, (0, 0))}
LA_BOYS, LA_ALL = "56.7", "64.9"
VIEWERS = {"school938": "9382002", "restricted938": "9382001"}


@pytest.fixture
def register_file(tmp_path):
    return write_register(tmp_path / "schools.csv", schools=[*SCHOOLS, THIRD])


@pytest.fixture
def few(loaded, members, tmp_path, settings, monkeypatch):
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.actions import get_collection
    from keystage.submissions.importing import import_paths

    settings.KEYSTAGE_COLLECTIONS = [*settings.KEYSTAGE_COLLECTIONS, "phonics-2023"]
    on(monkeypatch, dt.date(2023, 7, 3))
    for estab, (girls, boys, boys_met, (y2, y2_met)) in PUPILS.items():
        rows = []
        for n in range(1, girls + boys + y2 + 1):
            if n > girls + boys:  # the re-check
                mark, year, sex = ("35" if n - girls - boys <= y2_met else "20"), "2", "F"
            else:
                is_boy = n > girls
                met = not is_boy or n - girls <= boys_met
                mark, year, sex = ("35" if met else "20"), "1", ("M" if is_boy else "F")
            rows.append(phonics_pupil(n, [mark], nc_year=year, estab=estab, sex=sex,
                                      surname=f"PUPIL{chr(65 + n % 26)}{chr(65 + n // 26)}"))  # fmt: skip
        path = write_ctf(tmp_path / f"938{estab}_CTF_938LLLL_001.xml", rows, estab=estab)
        [r] = import_paths([str(path)], collection_code="phonics-2023", jobs=1)
        assert r.outcome == "accepted", r.reason
    collection = get_collection("phonics-2023")
    rebuild_facts(collection)
    allow_comparisons(collection)
    return collection


@pytest.fixture(params=["protected", "no-op"])
def protect(request, monkeypatch):
    """ "protected": the real secondary suppression; "no-op": `_protect` does nothing, and the
    LA's boys' figure must then be seen (each test fails without the suppression it checks)."""
    if request.param == "no-op":
        monkeypatch.setattr("keystage.reports.queries._protect", lambda mine: None)
    return request.param


def _shown(protect, shown: bool, where: str):
    if protect == "protected":
        assert not shown, f"{where}: the LA's boys' figure gives its few girls away"
    else:
        assert shown, f"{where}: without secondary suppression the boys' figure must show"


@pytest.mark.parametrize("who", VIEWERS)
def test_summary_shows_c_for_the_las_few_re_checked_pupils(few, members, signed_in, who):
    client = signed_in(members[who])
    laestab = VIEWERS[who]
    words = text(get(client, "report-summary", few, level="school", code=laestab))
    # The LA's Year 1 rests on enough pupils beyond the school's own; its re-check does not.
    assert re.search(rf"Year 1: meeting the expected standard [\d.]+% \d+ of \d+ {LA_ALL}% "
                     rf"24 of 37 ", words), words  # fmt: skip
    assert re.search(r"Year 2 re-check: meeting the expected standard [\d.]+% \d of \d c ", words)
    rows = csv_rows(get(client, "report-summary-export", few, level="school", code=laestab,
                        fmt="csv"))  # fmt: skip
    la = {r["subject"]: r for r in rows if r["level"] == "la"}
    assert (la["y1"]["eligible"], la["y1"]["met_percent"]) == ("37", LA_ALL)
    assert (la["y2"]["eligible"], la["y2"]["met"], la["y2"]["met_percent"]) == ("c", "c", "c")
    own = next(r for r in rows if r["level"] == "school" and r["subject"] == "y2")
    assert own["met_percent"] != "c"  # the school's own few pupils: its own to see
    # The checking report's LA figures, as the school sees them.
    do_release(members["officer938"], few, [School.objects.get(laestab=laestab)])
    words = read_pdf(get(client, "school-check-pdf", few, laestab=laestab).content)
    assert "Measure Year 1 Year 2 re-check Meeting the expected standard 65% c" in words
    assert "Figures marked c are not shown" in words


@pytest.mark.parametrize("who", VIEWERS)
def test_gap_page_and_downloads_suppress_the_few_girls_and_the_boys_with_them(
    few, members, signed_in, protect, who
):
    client = signed_in(members[who])
    kw = {"level": "school", "code": VIEWERS[who]}
    body = text(get(client, "report-gap", few, **kw))
    assert "Girls" in body and "Boys" in body
    # The LA's girls: too few beyond the school's.
    assert re.search(r"Girls \(n = \d+\) (Fewer than 10 pupils: treat with caution )?"
                     r"[\d.]+% c ", body)  # fmt: skip
    _shown(protect, f"{LA_BOYS}%" in body, f"{who} page")
    boys = next(r for r in csv_rows(get(client, "report-gap-export", few, fmt="csv", **kw))
                if (r["group"], r["subject"]) == ("sex:M", "y1"))  # fmt: skip
    _shown(protect, boys["la_percent"] == LA_BOYS, f"{who} CSV")
    if protect == "protected":
        assert (boys["la_percent"], boys["la_gap"]) == ("c", "c")
    sheet = _xlsx_rows(get(client, "report-gap-export", few, fmt="xlsx", **kw).content)
    boys = next(r for r in sheet if (r["group"], r["subject"]) == ("sex:M", "y1"))
    _shown(protect, boys["la_percent"] == LA_BOYS, f"{who} Excel")
    words = read_pdf(get(client, "report-gap-export", few, fmt="pdf", **kw).content)
    # The table of the sexes: the school's figure, then the LA's and its gap.
    assert re.search(r"Girls \d+ [\d.]+%\*? c \(c\) ", words), words
    _shown(protect, re.search(rf"Boys \d+ [\d.]+%\*? {LA_BOYS}% \([+-]?[\d.]+\) ", words) is not None,
           f"{who} PDF")  # fmt: skip


def test_national_figures_suppress_the_few_re_checked_pupils(few, members, signed_in):
    # England's pupils are LA 938's. Its admin knows them all, but the re-check's 3 are too few
    # to show; a school knows its own, and the rest come from one LA: it is shown nothing.
    for who, y1 in (("school938", "c"), ("admin938", LA_ALL)):
        client = signed_in(members[who])
        words = text(get(client, "report-national", few))
        # One LA loaded: no estimate (–), the pooled figure of its pupils and its interval, and
        # the mean change since last year (none for the re-check: DfE publishes none).
        assert re.search(
            rf"Year 1 (37 – – {y1}% [\d.]+ to [\d.]+ [+-]?[\d.]+|c – – c c c) "
            r"Year 2 re-check c – – c c – ",
            words,
        ), words
        rows = csv_rows(get(client, "report-national-export", few, fmt="csv"))
        england = {r["subject"]: r for r in rows if r["level"] == "national"}
        assert england["y1"]["met_pooled"] == y1 and england["y1"]["met_percent"] == ""
        assert [england["y2"][k] for k in ("eligible", "met_pooled", "met_pooled_low")] == (
            ["c"] * 3
        )
        # The open data: England's row has a suppressed figure, so every count in it is "c".
        rows = csv_rows(get(client, "report-open-data", few))
        england = next(r for r in rows if r["geographic_level"] == "National")
        assert {england[c] for c in rows[0] if "phonics" in c} == {"c"}
    la = next(r for r in rows if r["old_la_code"] == "938")  # the LA's own row, for its admin
    assert (la["t_phonics_y1_eligible_pupils"], la["t_phonics_y2_eligible_pupils"]) == ("37", "3")
    # The collection team sees every figure.
    rows = csv_rows(get(signed_in(members["national"]), "report-national-export", few, fmt="csv"))
    england = {r["subject"]: r for r in rows if r["level"] == "national"}
    assert (england["y2"]["eligible"], england["y2"]["met_pooled"]) == ("3", "66.7")
