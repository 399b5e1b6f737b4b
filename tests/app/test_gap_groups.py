"""Gap analysis worked by hand: pupil groups in words with their sizes, small groups marked, the
gaps between groups within each area (girls minus boys, FSM minus not FSM, SEN minus no SEN,
first language other than English minus English) against England's, and suppression, from the
files through the facts to the page, its CSV and its chart.

Every figure below is worked out by hand from the pupils listed (reading, expected standard or
above: EXS met, WTS not)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from keystage.reports.facts import rebuild_facts
from keystage.reports.models import Fact
from keystage.submissions.importing import import_paths
from keystage.web.links import reverse
from tests.app import pdf_text
from tests.app.test_facts import region_code
from tests.builders import pupil, write_ctf

pytestmark = pytest.mark.django_db


def _pupils(rows, estab, la="938"):
    """(sex, reading, FSM start date or "", SEN provision, first language, ethnicity) rows."""
    return [
        pupil(n, la=la, estab=estab, sex=sex, reading=reading, fsm=fsm, sen=sen, eal=eal,
              ethnicity=ethnicity, surname=f"PUPIL{chr(65 + n)}")
        for n, (sex, reading, fsm, sen, eal, ethnicity) in enumerate(rows, 1)
    ]  # fmt: skip


FSM = "2019-09-01"
# School 9382001: 7 girls (5 met), 5 boys (2 met); 3 FSM (2 met), 9 not (5 met); SEN: 1 EHC
# plan and 3 SEN support (none met), 8 no SEN (7 met); 3 other than English (1 met), 9 English
# (6 met). White British 7 (one written as the extended code WENG, White English), Pakistani 3,
# Black African 1 (written BNGN, Nigerian), Chinese 1.
SCHOOL_A = _pupils([
    ("F", "EXS", FSM, "N", "ENG", "WBRI"),
    ("F", "EXS", FSM, "N", "ENG", "WBRI"),
    ("F", "WTS", FSM, "K", "OTH", "APKN"),
    ("F", "EXS", "", "N", "ENG", "WENG"),
    ("F", "EXS", "", "N", "OTH", "APKN"),
    ("F", "WTS", "", "K", "ENG", "WBRI"),
    ("F", "EXS", "", "N", "ENG", "BNGN"),
    ("M", "EXS", "", "N", "ENG", "WBRI"),
    ("M", "WTS", "", "E", "ENG", "WBRI"),
    ("M", "WTS", "", "N", "OTH", "APKN"),
    ("M", "EXS", "", "N", "ENG", "WBRI"),
    ("M", "WTS", "", "K", "ENG", "CHNE"),
], "2001")  # fmt: skip
# School 9382002: girls 3 of 3, boys 1 of 3; FSM 1 of 2; all English, no SEN, White British.
SCHOOL_B = _pupils([
    ("F", "EXS", "", "N", "ENG", "WBRI"),
    ("F", "EXS", "", "N", "ENG", "WBRI"),
    ("F", "EXS", "", "N", "ENG", "WBRI"),
    ("M", "EXS", FSM, "N", "ENG", "WBRI"),
    ("M", "WTS", FSM, "N", "ENG", "WBRI"),
    ("M", "WTS", "", "N", "ENG", "WBRI"),
], "2002")  # fmt: skip
# Camden 2022003: 2 girls and 2 boys, all met; no FSM, no SEN, English, White British.
CAMDEN = _pupils([("F", "EXS", "", "N", "ENG", "WBRI")] * 2 + [("M", "EXS", "", "N", "ENG",
                                                                 "WBRI")] * 2, "2003", la="202")  # fmt: skip


@pytest.fixture
def grouped(loaded, tmp_path):
    files = [
        write_ctf(tmp_path / "a.xml", SCHOOL_A),
        write_ctf(tmp_path / "b.xml", SCHOOL_B, estab="2002"),
        write_ctf(tmp_path / "c.xml", CAMDEN, la="202", estab="2003"),
    ]
    assert [r.outcome for r in import_paths([str(f) for f in files], jobs=1)] == ["accepted"] * 3
    rebuild_facts(loaded)
    return loaded


def page(client, name, query="", **kw):
    response = client.get(reverse(name, kwargs=kw) + (f"?{query}" if query else ""))
    assert response.status_code == 200, response.content[:500]
    return response


def words(response) -> str:
    body = response.content.decode()
    body = body[body.index("<main") :]
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


READING = "subject=reading&measure=met"


def test_the_facts_count_extended_codes_as_their_main_code_and_the_ethnic_groups(grouped):
    def pupils(group, code="9382001", level="school"):
        found = Fact.objects.filter(level=level, area_code=code, group=group).first()
        return found.pupils if found else 0

    assert pupils("ethnicity:WBRI") == 7  # WENG counted as White British
    assert pupils("ethnicity:WENG") == 0
    assert (pupils("ethnicity:BAFR"), pupils("ethnicity:BNGN")) == (1, 0)
    assert pupils("ethnic_group:white") == 7 and pupils("ethnic_group:asian") == 3
    # A CTF lists FSM only for the pupils who have it: the rest are not eligible.
    assert (pupils("fsm:Y"), pupils("fsm:N")) == (3, 9)
    assert (pupils("sen:E"), pupils("sen:K"), pupils("sen:N")) == (1, 3, 8)
    assert (pupils("eal:OTH"), pupils("eal:ENG")) == (3, 9)
    assert pupils("fsm:N", "970", "national") == 17


def test_groups_in_words_with_their_sizes_and_the_small_ones_marked(grouped, members, signed_in):
    client = signed_in(members["national"])
    text = words(page(client, "report-gap", READING, level="school", code="9382001"))
    caution = "Fewer than 10 pupils: treat with caution"
    # Girls: 5 of 7 (71.4%); LA 938 8 of 10 (80.0%, -8.6 points), England 10 of 12.
    sex = section(text, "Sex: English reading", "Term of birth:")
    assert f"Girls (n = 7) {caution} 71.4% 80.0% n = 10 (-8.6 percentage points gap )" in sex
    # Boys: 2 of 5; LA 938 3 of 8, too few to rely on as well.
    assert (
        f"Boys (n = 5) {caution} 40.0% 37.5% n = 8 (+2.5 percentage points gap ) "
        "Treat with caution : fewer than 10 pupils" in sex
    )
    assert "All pupils (n = 12) 58.3%" in text  # 7 of 12: enough pupils, no mark
    ethnicity = section(text, "Ethnicity: English reading", "All content is available")
    assert f"White British (n = 7) {caution} 71.4%" in ethnicity  # WENG among them
    assert f"Black African (n = 1) {caution} 100.0%" in ethnicity
    assert f"Chinese (n = 1) {caution} 0.0%" in ethnicity
    assert "Pakistani (n = 3)" in ethnicity
    groups = section(text, "Ethnic group: English reading", "Ethnicity: English reading")
    assert "White (n = 7)" in groups and "Asian (n = 3)" in groups
    assert "Free school meals: English reading" in text
    assert "Eligible for free school meals (n = 3)" in text
    assert "Education, health and care plan (n = 1)" in text and "SEN support (n = 3)" in text
    assert "Other than English (n = 3)" in text
    for code in ("WBRI", "APKN", "BAFR", "CHNE", "eal:OTH", "fsm:Y"):
        assert code not in text


def test_gaps_between_groups_for_the_school_la_and_england(grouped, members, signed_in):
    client = signed_in(members["national"])
    text = words(page(client, "report-gap", READING, level="school", code="9382001"))
    table = section(text, "Expected standard or above: gap between groups", "All pupils:")
    pp = "percentage points"
    # Girls minus boys: school 71.43 - 40.00 = +31.4; LA 938 80.0 - 37.5 = +42.5 (the region
    # holds only LA 938); England 83.33 - 50.00 = +33.3; the school's minus England's -1.9.
    caution = "Treat with caution : fewer than 10 pupils"  # a side of fewer than 10 pupils
    assert (
        f"Girls minus boys +31.4 {pp} 71.4% (n = 7) against 40.0% (n = 5) {caution} "
        f"+42.5 {pp} 80.0% (n = 10) against 37.5% (n = 8) {caution} +42.5 {pp}"
    ) in table
    assert f"+33.3 {pp} 83.3% (n = 12) against 50.0% (n = 10) -1.9 {pp}" in table
    # FSM 2 of 3 minus not FSM 5 of 9: +11.1; LA 3/5 - 8/13: -1.5; England 3/5 - 12/17: -10.6.
    row = section(table, "Free school meals minus", "SEN (EHC plan")
    assert re.findall(rf"[-+]\d+\.\d {pp}", row) == [f"+11.1 {pp}", f"-1.5 {pp}", f"-1.5 {pp}",
                                                    f"-10.6 {pp}", f"+21.7 {pp}"]  # fmt: skip
    # SEN (EHC plan and SEN support together: 0 of 4) minus no SEN (7 of 8): -87.5; LA: 0 of
    # 4 against 11 of 14: -78.6; England 0/4 against 15/18: -83.3; -87.5 - -83.33 = -4.2.
    row = section(table, "SEN (EHC plan", "First language")
    assert "0.0% (n = 4) against 87.5% (n = 8)" in row
    assert re.findall(rf"[-+]\d+\.\d {pp}", row) == [f"-87.5 {pp}", f"-78.6 {pp}", f"-78.6 {pp}",
                                                    f"-83.3 {pp}", f"-4.2 {pp}"]  # fmt: skip
    # Other than English 1 of 3 minus English 6 of 9: -33.3; LA 1/3 - 10/15: -33.3; England
    # 1/3 - 14/19: -40.4; -33.33 - -40.35 = +7.0.
    row = section(table, "First language other than English minus English", "Greater depth")
    assert re.findall(rf"[-+]\d+\.\d {pp}", row) == [f"-33.3 {pp}", f"-33.3 {pp}", f"-33.3 {pp}",
                                                    f"-40.4 {pp}", f"+7.0 {pp}"]  # fmt: skip


def test_the_gap_pdf_gives_the_gaps_between_groups_as_the_page(grouped, members, signed_in):
    client = signed_in(members["national"])
    pdf = page(client, "report-gap-export", READING, level="school", code="9382001", fmt="pdf")
    assert pdf_text.outside(pdf.content) == []
    text = " ".join(" ".join(pdf_text.pages(pdf.content)).split())
    between = text[text.index("Gaps between groups") :]
    # The same gaps as the page (above): the school, its LA, the region, England, and the
    # school's minus England's; a side of fewer than 10 pupils starred.
    assert "Girls minus boys +31.4* +42.5* +42.5* +33.3 -1.9" in between, between
    assert "Free school meals minus not free school meals +11.1* -1.5* -1.5* -10.6* +21.7" \
        in between  # fmt: skip
    assert "fewer than 10 eligible pupils: treat with caution" in text


def test_the_csv_keeps_codes_and_gives_each_figures_pupils(grouped, members, signed_in):
    client = signed_in(members["national"])
    response = page(client, "report-gap-export", level="school", code="9382001", fmt="csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    got = {(r["group"], r["subject"], r["measure"]): r for r in rows}
    girls = got[("sex:F", "reading", "met")]
    assert (girls["area_eligible"], girls["area_percent"]) == ("7", "71.4")
    assert (girls["la_eligible"], girls["national_eligible"]) == ("10", "12")
    assert got[("ethnicity:WBRI", "reading", "met")]["area_eligible"] == "7"
    assert got[("ethnic_group:black", "reading", "met")]["area_percent"] == "100.0"


def test_one_pupil_groups_and_the_gaps_worked_from_them_are_suppressed(grouped, members, signed_in):
    # LA 938's admin on its region: the region's pupils are all LA 938's, so figures resting on
    # 6 pupils or more are shown; the 1-pupil groups are "c". England is the region and one
    # other LA (Camden), which taking the region away would give away: every figure is "c".
    client = signed_in(members["admin938"])
    region = region_code("938")
    text = words(page(client, "report-gap", READING, level="region", code=region))
    ethnicity = section(text, "Ethnicity: English reading", "All content is available")
    assert "Black African (n = c) c" in ethnicity and "Chinese (n = c) c" in ethnicity
    assert "White British (n = 13) 69.2%" in ethnicity  # 9 of 13: shown, no mark
    table = section(text, "Expected standard or above: gap between groups", "All pupils:")
    pp = "percentage points"
    assert f"Girls minus boys +42.5 {pp} 80.0% (n = 10) against 37.5% (n = 8)" in table
    # FSM: 5 pupils, too few; not FSM then goes too (it is all pupils minus FSM); SEN and
    # first language other than English likewise: each gap is "c".
    for pair, after in (("Free school meals minus", "SEN (EHC plan"),
                        ("SEN (EHC plan", "First language"),
                        ("First language other than English minus", "Greater depth")):  # fmt: skip
        row = section(table, pair, after)
        assert re.findall(r"\S+ percentage points", row) == [f"c {pp}"] * 3, row
    assert "83.3%" not in table  # England's figures


def test_the_chart_names_groups_in_words_and_marks_the_small_ones(grouped, members, signed_in):
    client = signed_in(members["national"])
    svg = page(client, "report-gap-chart", READING + "&dimension=ethnicity", level="school",
               code="9382001", fmt="svg").content.decode()  # fmt: skip
    for label in ("White British (n = 7)", "Black African (n = 1)", "Pakistani (n = 3)"):
        assert label in svg
    assert "fewer than 10 pupils: treat with caution" in svg
    assert "100 *" in svg  # Black African's bar, marked
    # Every word at least 11 px where the page shows it: drawn at its size (in points, 4/3 px
    # each), as wide as the page's half column (450 px at 1280 px) or a phone's (288 px).
    for query, column in ((READING, 450), (READING + "&size=narrow", 288)):
        svg = page(client, "report-gap-chart", query + "&dimension=ethnicity",
                   level="school", code="9382001", fmt="svg").content.decode()  # fmt: skip
        width = float(re.search(r'<svg[^>]*width="([\d.]+)pt"', svg).group(1))
        scale = min(column, width * 4 / 3) / width
        sizes = [float(s) for s in re.findall(r"font-size: ?([\d.]+)px", svg)]
        sizes += [float(s) for s in re.findall(r"font: ?([\d.]+)px", svg)]
        assert sizes and min(sizes) * scale >= 11, (query, min(sizes), scale)


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ({"reliable_pupils": 0}, "reliable_pupils must be a whole number of pupils, 1 or more"),
        ({"gaps": [{"label": "Girls minus boys", "first": ["F"], "second": ["sex:M"]}]},
         'gaps entry 1: first must list groups such as "sex:F"'),
        ({"gaps": [{"first": ["sex:F"], "second": ["sex:M"]}]}, "gaps entry 1 needs a label"),
    ],
)  # fmt: skip
def test_a_malformed_groups_table_is_refused_naming_the_definition(groups, message):
    import dataclasses

    from keystage.engine import definition
    from keystage.reports.group_gaps import settings

    broken = dataclasses.replace(definition.load("ks1-2024"), raw={"groups": groups})
    with pytest.raises(ValueError, match="definition ks1-2024: \\[groups\\]") as found:
        settings(broken)
    assert message in str(found.value)


def test_every_collection_compares_its_groups_by_the_reference_datas_codes():
    from keystage.engine import definition
    from keystage.reference.groups import pupil_groups
    from keystage.reports.group_gaps import settings

    known = pupil_groups().dimensions
    for name in definition.available():
        found = settings(definition.load(name))
        # The four pairs of KS1 and phonics; the EYFS profile's adds autumn- and summer-born.
        pairs = 5 if name.startswith("eyfsp") else 4
        assert found.reliable_pupils == 10 and len(found.pairs) == pairs, name
        for pair in found.pairs:
            for group in (*pair.first, *pair.second):
                key, _, code = group.partition(":")
                assert code in known[key].codes, (name, group)
