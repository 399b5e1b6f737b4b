"""The LA dashboard: each school's state, the counts, filters and sorting, the chase list
downloads, the LA's deadline, expected pupils per school, and who may see what."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keystage.audit.models import AuditEvent
from keystage.collection import queries
from keystage.collection.models import ExpectedCohort, LaCollectionSettings
from keystage.collection.queries import SchoolState, school_state
from keystage.orgs.models import LocalAuthority
from keystage.web.links import reverse
from tests.app.collection_data import seed

pytestmark = pytest.mark.django_db


@pytest.fixture
def schools(loaded, members):
    return seed(loaded)


def dashboard(client, code="938", **params):
    return client.get(reverse("la-dashboard", kwargs={"code": code}), params)


def laestabs_in_table(page: str) -> list[str]:
    # the first cell of each row is a header cell holding the LAESTAB
    return re.findall(r'<th scope="row" class="govuk-table__header">\s*(\d{7})', page)


def test_state_function():
    assert school_state(received=False, errors=0, queries=0) == SchoolState.NOT_RECEIVED
    # every file rejected: not received, in a state of its own
    assert school_state(received=False, errors=1, queries=0, rejected=True) == SchoolState.REJECTED
    assert school_state(received=True, errors=1, queries=0, rejected=True) == SchoolState.ERRORS
    assert school_state(received=True, errors=2, queries=5) == SchoolState.ERRORS
    assert school_state(received=True, errors=0, queries=1) == SchoolState.QUERIES
    assert school_state(received=True, errors=0, queries=0) == SchoolState.CLEAN


def test_each_schools_state_is_computed(schools, members, loaded):
    la = LocalAuthority.objects.get(code="938")
    rows = {r.laestab: r for r in queries.school_rows(members["admin938"], la, loaded)}
    assert {k: r.state for k, r in rows.items()} == {
        "9382001": SchoolState.CLEAN,
        "9382002": SchoolState.ERRORS,
        "9382004": SchoolState.QUERIES,
        "9382005": SchoolState.NOT_RECEIVED,
        "9382006": SchoolState.REJECTED,
    }  # the secondary school is neither expected nor has sent a file
    assert (rows["9382002"].errors, rows["9382002"].queries, rows["9382002"].pupils) == (2, 1, 2)
    assert rows["9382006"].received is False and rows["9382006"].errors == 1
    assert queries.counts(list(rows.values())) == {
        "expected": 5, "received": 3, "not_yet": 2, "errors": 1, "queries": 1, "clean": 1,
        "checked": 0, "rejected": 1, "not_received": 1, "unexpected": 0, "pupils": 6,
        "shortfall": 0,
    }  # fmt: skip


def test_a_school_that_sends_a_file_unexpectedly_is_listed(schools, members, loaded):
    from tests.app.collection_data import _upload

    _upload(loaded, schools["secondary"])
    la = LocalAuthority.objects.get(code="938")
    rows = {r.laestab: r for r in queries.school_rows(members["admin938"], la, loaded)}
    assert rows["9384001"].state == SchoolState.CLEAN and not rows["9384001"].expected


def test_dashboard_page_shows_dates_counts_and_every_school(schools, signed_in, members):
    response = dashboard(signed_in(members["officer938"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>West Sussex dashboard - Keystage</title>" in page
    assert page.count("<h1") == 1
    assert "12 June 2023" in page and "27 June 2023" in page and "21 July 2023" in page
    assert "Schools expected to submit" in page and "<caption" in page
    assert laestabs_in_table(page) == ["9382001", "9382002", "9382004", "9382005", "9382006"]
    for label in ("Not received", "File rejected", "Received with errors", "Queries to explain",
                  "Clean"):  # fmt: skip
        assert label in page
    assert "Camden" not in page
    # an officer does not set the deadline or see the audit log
    assert reverse("la-school-deadline", kwargs={"code": "938"}) not in page
    assert reverse("la-audit", kwargs={"code": "938"}) not in page


def test_filters_and_sorting(schools, signed_in, members):
    client = signed_in(members["officer938"])
    assert laestabs_in_table(dashboard(client, state="queries").content.decode()) == ["9382004"]
    assert laestabs_in_table(dashboard(client, state="chase").content.decode()) == [
        "9382002", "9382005", "9382006",
    ]  # fmt: skip
    assert laestabs_in_table(dashboard(client, state="rejected").content.decode()) == ["9382006"]
    assert laestabs_in_table(dashboard(client, q="silent").content.decode()) == ["9382005"]
    assert laestabs_in_table(dashboard(client, q="9382002").content.decode()) == ["9382002"]
    by_name = laestabs_in_table(dashboard(client, sort="name").content.decode())
    assert by_name == ["9382002", "9382001", "9382004", "9382006", "9382005"]
    by_errors = laestabs_in_table(dashboard(client, sort="errors", dir="desc").content.decode())
    assert by_errors[0] == "9382002"
    by_state = laestabs_in_table(dashboard(client, sort="state").content.decode())
    assert by_state == ["9382005", "9382006", "9382002", "9382004", "9382001"]
    # nonsense parameters fall back to the defaults instead of failing
    page = dashboard(client, state="nope", sort="nope").content.decode()
    assert len(laestabs_in_table(page)) == 5
    assert 'aria-sort="ascending"' in page


def test_chase_list_csv(schools, signed_in, members):
    client = signed_in(members["officer938"])
    response = client.get(reverse("la-chase-list", kwargs={"code": "938", "fmt": "csv"}))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["laestab"] for r in rows] == ["9382002", "9382005", "9382006"]
    assert rows[1]["state"] == "Not received" and rows[0]["errors"] == "2"
    assert rows[2]["state"] == "File rejected" and rows[2]["pupils"] == "0"


def progress_counts(page: str) -> dict[str, int]:
    """The Progress table of the dashboard: its row labels and counts."""
    table = page[page.index('id="progress"') : page.index("</table>", page.index('id="progress"'))]
    cells = re.findall(r"<th[^>]*>((?:(?!</th>).)*)</th>\s*<td[^>]*>\s*(\d+)\s*</td>", table, re.S)
    return {re.sub(r"<[^>]+>", "", label).strip(): int(n) for label, n in cells}


def test_every_count_on_the_dashboard_adds_up_to_the_expected_schools(
    schools, signed_in, members, loaded
):
    """A school whose only file was rejected is not received (nothing usable is held): its own
    state, counted with the schools that sent nothing, and in the chase list."""
    from tests.app.collection_data import _upload

    _upload(loaded, schools["secondary"])  # sent a file, though not expected to: apart
    page = dashboard(signed_in(members["officer938"])).content.decode()
    shown = progress_counts(page)
    states = ("Schools with errors", "Schools with queries to explain", "Clean schools",
              "Schools that checked and confirmed their data",
              "Schools whose files were all rejected", "Schools that have sent nothing")  # fmt: skip
    assert shown["Schools expected to submit"] == 5
    assert sum(shown[s] for s in states) == shown["Schools expected to submit"]
    assert shown["Received"] + shown["Not yet received"] == shown["Schools expected to submit"]
    assert sum(shown[s] for s in states[:4]) == shown["Received"] == 3
    assert (shown["Schools whose files were all rejected"], shown["Not yet received"]) == (1, 2)
    assert "Schools not expected to submit that sent a file" in page
    # each state's count is the number of rows its filter lists
    client = signed_in(members["officer938"])
    for state, label in (("rejected", states[4]), ("not_received", states[5]),
                         ("errors", states[0])):  # fmt: skip
        listed = laestabs_in_table(dashboard(client, state=state).content.decode())
        assert len(listed) == shown[label], state
    row = page[page.index("9382006") :]
    row = row[: row.index("</tr>")]
    assert "File rejected" in row and "Received with errors" not in row
    assert "/ks1-2023/la/938/errors?school=9382006" in row  # why it was rejected


def test_chase_list_xlsx_is_formula_safe(schools, signed_in, members):
    schools["not_received"].name = "=1+2 Primary"
    schools["not_received"].save()
    client = signed_in(members["officer938"])
    response = client.get(reverse("la-chase-list", kwargs={"code": "938", "fmt": "xlsx"}))
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        strings = book.read("xl/sharedStrings.xml").decode()
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "<t>'=1+2 Primary</t>" in strings and "<t>=1+2" not in strings
    assert "Rejected Primary" in strings and "Example Primary School" not in strings
    assert "<t>File rejected</t>" in strings  # its only file was rejected: still to chase
    assert "<f>" not in sheet


def test_an_unknown_download_format_is_not_found(schools, signed_in, members):
    client = signed_in(members["officer938"])
    assert client.get("/ks1-2023/la/938/chase-list.pdf").status_code == 404


def test_la_admin_sets_the_deadline_for_schools(schools, signed_in, members, loaded):
    client = signed_in(members["admin938"])
    url = reverse("la-school-deadline", kwargs={"code": "938"})
    page = client.get(url).content.decode()
    assert page.count("<h1") == 1 and '<label class="govuk-label govuk-date-input__label"' in page
    response = client.post(url, {"day": "30", "month": "6", "year": "2023"})
    assert response.status_code == 302
    assert LaCollectionSettings.objects.get(la__code="938").school_deadline.isoformat() == (
        "2023-06-30"
    )
    event = AuditEvent.objects.get(action="collection.school_deadline_set")
    assert event.actor == "admin938" and event.la.code == "938"
    page = dashboard(client).content.decode()
    assert "30 June 2023" in page and "Schools&#39; deadline set to 30 June 2023" in page
    # 202 still has the suggested date
    assert "27 June 2023" in dashboard(signed_in(members["admin202"]), "202").content.decode()


def test_deadline_form_explains_what_is_wrong(schools, signed_in, members):
    client = signed_in(members["admin938"])
    url = reverse("la-school-deadline", kwargs={"code": "938"})
    for data, message in [
        ({"day": "31", "month": "2", "year": "2023"}, "must be a real date"),
        ({"day": "1", "month": "", "year": "2023"}, "must include a day, month and year"),
        ({"day": "1", "month": "9", "year": "2023"}, "on or before the national deadline"),
    ]:
        page = client.post(url, data).content.decode()
        assert "There is a problem" in page and message in page
        assert "<title>Error: " in page
    assert not LaCollectionSettings.objects.exists()


def test_only_admins_set_the_deadline(schools, signed_in, members):
    url = reverse("la-school-deadline", kwargs={"code": "938"})
    assert signed_in(members["officer938"]).post(url, {"day": "1"}).status_code == 403
    assert signed_in(members["admin202"]).get(url).status_code == 404


def cohort_file(text: str, name="expected.csv"):
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_expected_pupils_upload_flags_a_shortfall(schools, signed_in, members, loaded):
    client = signed_in(members["officer938"])
    url = reverse("la-expected-cohorts", kwargs={"code": "938"})
    page = client.get(url).content.decode()
    assert page.count("<h1") == 1 and 'for="id_file"' in page
    # 9382001 sent 3 pupils of 10 expected (a shortfall); 9382002 sent 2 of 2 (URN column)
    response = client.post(url, {"file": cohort_file("LAESTAB,Expected pupils\n9382001,10\n")})
    assert response.status_code == 302
    response = client.post(url, {"file": cohort_file("URN,expected_pupils\n125001,2\n")})
    assert response.status_code == 302
    assert dict(ExpectedCohort.objects.values_list("school__laestab", "pupils")) == {
        "9382001": 10, "9382002": 2,
    }  # fmt: skip
    assert AuditEvent.objects.filter(action="collection.expected_cohorts_loaded").count() == 2
    la = LocalAuthority.objects.get(code="938")
    rows = {r.laestab: r for r in queries.school_rows(members["officer938"], la, loaded)}
    assert rows["9382001"].shortfall and not rows["9382002"].shortfall
    page = dashboard(client).content.decode()
    assert "3 of 10 expected" in page and "Fewer than expected" in page
    assert laestabs_in_table(dashboard(client, state="shortfall").content.decode()) == ["9382001"]
    # exactly at the threshold is not a shortfall; the threshold is a setting
    ExpectedCohort.objects.filter(school__laestab="9382001").update(pupils=3)
    assert not queries.school_rows(members["officer938"], la, loaded)[0].shortfall


def test_shortfall_threshold_is_a_setting(schools, members, loaded, settings):
    la = LocalAuthority.objects.get(code="938")
    ExpectedCohort.objects.create(la=la, school=schools["clean"], collection=loaded, pupils=4)
    assert queries.school_rows(members["officer938"], la, loaded)[0].shortfall  # 3 < 3.6
    settings.KEYSTAGE_COHORT_SHORTFALL_SHARE = 0.5
    assert not queries.school_rows(members["officer938"], la, loaded)[0].shortfall


def test_a_wrong_expected_pupils_file_stores_nothing(schools, signed_in, members):
    client = signed_in(members["admin938"])
    url = reverse("la-expected-cohorts", kwargs={"code": "938"})
    text = "LAESTAB,Expected pupils\n9382001,10\n2022003,5\n9382002,lots\n"
    page = client.post(url, {"file": cohort_file(text)}).content.decode()
    assert "There is a problem" in page
    assert "line 3: LAESTAB 2022003 is not a school of West Sussex" in page
    assert "line 4: expected pupils for 9382002 must be a whole number, not lots" in page
    page = client.post(url, {"file": cohort_file("name,count\nx,1\n")}).content.decode()
    assert "needs a column LAESTAB (or URN)" in page
    assert not ExpectedCohort.objects.exists()
    assert not AuditEvent.objects.filter(action="collection.expected_cohorts_loaded").exists()


# -- who may see what -------------------------------------------------------------------------


def test_another_las_dashboard_is_not_found(schools, signed_in, members):
    client = signed_in(members["officer202"])
    assert dashboard(client, "938").status_code == 404
    assert client.get("/ks1-2023/la/938/chase-list.csv").status_code == 404
    assert client.get(reverse("la-expected-cohorts", kwargs={"code": "938"})).status_code == 404
    assert dashboard(client, "999").status_code == 404
    assert dashboard(client, "202").status_code == 200


def test_restricted_officer_sees_only_their_schools(schools, signed_in, members):
    client = signed_in(members["restricted938"])
    page = dashboard(client).content.decode()
    assert laestabs_in_table(page) == ["9382001"]
    assert "Downs Infant School" not in page
    rows = list(
        csv.DictReader(io.StringIO(client.get("/ks1-2023/la/938/chase-list.csv").content.decode()))
    )
    assert rows == []  # their one school is clean
    assert client.get(reverse("la-expected-cohorts", kwargs={"code": "938"})).status_code == 403


def test_school_users_cannot_see_the_dashboard(schools, signed_in, members):
    client = signed_in(members["school938"])
    assert dashboard(client).status_code == 403
    # the entry page sends them to their school's Data Errors report instead
    assert client.get(reverse("dashboard"))["Location"] == "/ks1-2023/la/938/errors"
    assert client.get("/ks1-2023/la/938/chase-list.csv").status_code == 403
    assert dashboard(client, "202").status_code == 404


def test_users_without_a_role_see_nothing(schools, signed_in, members):
    client = signed_in(members["nobody"])
    assert dashboard(client).status_code == 404
    assert client.get(reverse("dashboard"))["Location"] == reverse("home")


def test_dashboard_entry_page(schools, signed_in, members):
    client = signed_in(members["officer938"])
    assert client.get(reverse("dashboard"))["Location"] == "/ks1-2023/la/938/dashboard"
    client = signed_in(members["national"])
    page = client.get(reverse("dashboard")).content.decode()
    assert page.count("<h1") == 1 and '<label class="govuk-label govuk-label--s" for="la">' in page
    assert (
        client.get(reverse("dashboard"), {"la": "202"})["Location"] == "/ks1-2023/la/202/dashboard"
    )
    assert client.get(reverse("dashboard"), {"la": "999"}).status_code == 404
    assert dashboard(client, "938").status_code == 200


def test_home_page_links_to_the_las_pages(schools, signed_in, members):
    page = signed_in(members["admin938"]).get(reverse("home")).content.decode()
    for name in ("la-dashboard", "la-errors", "la-audit"):
        assert reverse(name, kwargs={"code": "938"}) in page
    page = signed_in(members["officer938"]).get(reverse("home")).content.decode()
    assert "/ks1-2023/la/938/dashboard" in page and "/ks1-2023/la/938/audit" not in page
