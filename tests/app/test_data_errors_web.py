"""The Data Errors report in the web: grouped by school and pupil, filters, counts per rule,
pages, formula-safe CSV and Excel downloads, an audit row for each view, and scope."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest

from keystage.accounts.actions import do_set_restricted_schools
from keystage.audit.models import AuditEvent
from keystage.collection import views
from keystage.submissions.queries import REPORT_FIELDS, data_errors
from keystage.web.links import reverse
from tests.app.collection_data import FORMULA_NAME, seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def schools(loaded, members):
    return seed(loaded)


def errors_page(client, code="938", **params):
    return client.get(reverse("la-errors", kwargs={"code": code}), params)


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_report_groups_rows_by_school_and_pupil(schools, signed_in, members):
    response = errors_page(signed_in(members["officer938"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Data Errors report - West Sussex - Keystage</title>" in page
    assert page.count("<h1") == 1
    # one table per school, captioned with the school, in LAESTAB order; then the rule counts
    assert page.index("9382002 Downs Infant School") < page.index("9382004 Queries Only Primary")
    assert page.index("9382004 Queries Only Primary") < page.index("9382006 Rejected Primary")
    assert "Rows per rule" in page
    assert "QUERYSON, CAL (9382002002X)" in page
    assert "=HYPERLINK(&#34;http://x.example&#34;,&#34;click&#34;), BEN" in page
    assert "File rejected: not a CTF or CSV file" in page
    assert "Camden" not in page
    for name in ("school", "rule", "severity", "pupils"):
        assert f'for="{name}"' in page  # every filter has a label


def test_filters(schools, signed_in, members):
    client = signed_in(members["officer938"])
    page = errors_page(client, school="9382004").content.decode()
    assert "ASKEW" in page and "QUERYSON" not in page
    page = errors_page(client, rule="KS1-T12").content.decode()
    assert "QUERYSON" in page and "ASKEW" not in page and "Writing invalid" not in page
    page = errors_page(client, severity="query").content.decode()
    assert "QUERYSON" in page and "ASKEW" in page and "Writing invalid" not in page
    page = errors_page(client, severity="error").content.decode()
    assert "QUERYSON" not in page and "Writing invalid" in page and "broken.xml" in page
    page = errors_page(client, pupils="queries").content.decode()
    assert "ASKEW" in page and "QUERYSON" in page and "Writing invalid" not in page
    page = errors_page(client, pupils="errors").content.decode()
    assert "Writing invalid" in page and "ASKEW" not in page
    # a school outside the user's scope is ignored rather than shown
    page = errors_page(client, school="2022003").content.decode()
    assert "Camden" not in page and "ASKEW" in page


def test_counts_per_rule(schools, signed_in, members):
    page = errors_page(signed_in(members["officer938"])).content.decode()
    table = page[page.index("Rows per rule") : page.index("</table>", page.index("Rows per rule"))]
    assert "KS1-T07" in table and "KS1-P07" in table and "KS1-F01" in table
    cells = table.split("KS1-T07", 1)[1]
    assert ">2<" in cells.split("</tr>")[0].replace("\n", "").replace(" ", "")


def test_big_reports_are_paged(schools, signed_in, members, monkeypatch):
    monkeypatch.setattr(views, "ERRORS_PER_PAGE", 2)
    client = signed_in(members["officer938"])
    page = errors_page(client, severity="error").content.decode()
    assert 'class="govuk-pagination' in page and "page=2" in page and "severity=error" in page
    second = errors_page(client, severity="error", page=2).content.decode()
    assert "broken.xml" in second and "Writing invalid" not in second


def test_csv_export_is_formula_safe(schools, signed_in, members):
    response = errors_page(signed_in(members["officer938"]), format="csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="data-errors-938.csv"' in response["Content-Disposition"]
    rows = csv_rows(response)
    assert tuple(rows[0]) == REPORT_FIELDS
    assert {r["laestab"] for r in rows} == {"9382002", "9382004", "9382006"}
    assert "'" + FORMULA_NAME in {r["surname"] for r in rows}
    assert FORMULA_NAME not in {r["surname"] for r in rows}


def test_xlsx_export_is_formula_safe(schools, signed_in, members):
    response = errors_page(signed_in(members["officer938"]), format="xlsx", severity="error")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        strings = book.read("xl/sharedStrings.xml").decode()
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<t>'" + FORMULA_NAME + "</t>" in strings  # text with a leading apostrophe
    assert "<t>" + FORMULA_NAME not in strings
    assert "<f>" not in sheet and "<f " not in sheet
    assert "QUERYSON" not in strings  # the severity filter applies to the download


def test_viewing_and_downloading_are_audited(schools, signed_in, members):
    client = signed_in(members["officer938"])
    errors_page(client, school="9382002", severity="error")
    event = AuditEvent.objects.get(action="view.data_errors")
    assert (event.actor, event.la.code, event.school.laestab) == ("officer938", "938", "9382002")
    assert event.detail["filters"] == {"school": "9382002", "severity": "error"}
    errors_page(client, format="xlsx")
    event = AuditEvent.objects.get(action="export.data_errors")
    assert event.detail["format"] == "xlsx" and event.school is None


def test_scoped_query_matches_the_cli_for_an_la_officer(schools, members, loaded):
    cli = list(data_errors(loaded, la="938"))
    web = list(data_errors(loaded, la="938", for_user=members["officer938"]))
    assert web == cli
    assert list(data_errors(loaded, for_user=None)) == []  # None is nobody, not everybody


def test_another_las_report_is_not_found(schools, signed_in, members):
    client = signed_in(members["officer202"])
    assert errors_page(client).status_code == 404
    assert errors_page(client, format="csv").status_code == 404
    assert not AuditEvent.objects.filter(action__endswith="data_errors").exists()
    page = errors_page(client, "202").content.decode()
    assert "CAMDENER" in page and "ASKEW" not in page


def test_restricted_officer_sees_only_assigned_schools(schools, signed_in, members):
    do_set_restricted_schools(members["restricted938"].membership, [schools["errors"]])
    client = signed_in(members["restricted938"])
    page = errors_page(client).content.decode()
    assert "QUERYSON" in page and "ASKEW" not in page and "broken.xml" not in page
    rows = csv_rows(errors_page(client, format="csv"))
    assert {r["laestab"] for r in rows} == {"9382002"}


def test_school_user_sees_only_their_school(schools, signed_in, members):
    client = signed_in(members["school938"])  # Downs Infant School, 9382002
    rows = csv_rows(errors_page(client, format="csv"))
    assert rows and {r["laestab"] for r in rows} == {"9382002"}
    assert errors_page(client, "202").status_code == 404


def test_each_rule_is_named_and_says_who_corrects_it_in_the_grids_words(
    schools, signed_in, members
):
    from keystage.engine.rules import RULES
    from keystage.submissions import cleaning

    client = signed_in(members["officer938"])
    page = errors_page(client).content.decode()
    for rule in ("KS1-T07", "KS1-F01", "KS1-T12"):
        assert f'<strong class="app-nowrap">{rule}</strong> {RULES[rule].title}' in page
    counts = page[page.index("Rows per rule") : page.index("</table>", page.index("Rows per rule"))]
    assert RULES["KS1-T07"].title in counts and "Who corrects" in counts
    # Who corrects what: the same words as the pupil grid, from one place.
    file_row = page.split("File rejected: not a CTF or CSV file")[0].rsplit("<tr", 1)[1]
    assert cleaning.SCHOOL_TO_CORRECT in file_row
    pupil_row = page.split("Writing invalid")[0].rsplit("<tr", 1)[1]
    assert cleaning.LA_CAN_CORRECT in pupil_row
    grid_page = client.get(reverse("la-pupils", kwargs={"code": "938"})).content.decode()
    assert cleaning.LA_CAN_CORRECT in grid_page and cleaning.SCHOOL_TO_CORRECT.lower() in grid_page
    # The field is named as the grid names it.
    assert "English writing" in pupil_row

    rows = csv_rows(errors_page(client, format="csv"))
    by_rule = {r["rule"]: r for r in rows}
    assert by_rule["KS1-T07"]["rule_title"] == RULES["KS1-T07"].title
    assert by_rule["KS1-T07"]["who_corrects"] == cleaning.LA_CAN_CORRECT
    assert by_rule["KS1-F01"]["who_corrects"] == cleaning.SCHOOL_TO_CORRECT
    assert by_rule["KS1-T12"]["who_corrects"] == cleaning.LA_TO_CONFIRM
    response = errors_page(client, format="xlsx")
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        strings = book.read("xl/sharedStrings.xml").decode()
    assert "<t>who_corrects</t>" in strings and f"<t>{cleaning.LA_CAN_CORRECT}</t>" in strings
    assert f"<t>{RULES['KS1-F01'].title}</t>" in strings
