"""The school check loop: the LA releases checking reports, the school confirms its data or
sends a query, the LA answers; who may do each, the e-mails sent, the states the dashboard
shows, and the report on screen and as PDF."""

from __future__ import annotations

import re
import zlib

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from keystage.audit.models import AuditEvent, record
from keystage.checking import actions, queries
from keystage.checking.models import Confirmation, Message, Release
from keystage.checking.queries import CheckState
from keystage.collection.actions import do_set_school_sees
from keystage.engine import words
from keystage.orgs.models import LocalAuthority, School
from keystage.reports.facts import rebuild_facts
from keystage.submissions.models import PupilRecord, Upload
from keystage.web.links import reverse
from tests.app.collection_data import seed
from tests.builders import expect_to_submit

pytestmark = pytest.mark.django_db

OUTCOMES = {
    "CLEAN1": {"reading": "GDS", "writing": "EXS", "maths": "EXS", "science": "EXS"},
    "CLEAN2": {"reading": "WTS", "writing": "WTS", "maths": "EXS", "science": "HNM"},
    "CLEAN3": {"reading": "EXS", "writing": "EXS", "maths": "GDS", "science": "EXS"},
}


@pytest.fixture
def schools(loaded, members):
    """LA 938's schools from collection_data (9382001 clean with three pupils with outcomes,
    9382002 the school938 user's, with errors), users with e-mail addresses, and a school user
    of the clean school."""
    from django.contrib.auth import get_user_model

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role

    found = seed(loaded)
    for surname, outcomes in OUTCOMES.items():
        PupilRecord.objects.filter(surname=surname).update(outcomes=outcomes)
    for name, user in members.items():
        get_user_model().objects.filter(pk=user.pk).update(email=f"{name}@example.org")
    members["head938"] = do_create_member(
        "head938", role=Role.SCHOOL_USER, school=found["clean"], email="head938@example.org",
        password="Correct-Horse-Battery-9",
    ).user  # fmt: skip
    for user in members.values():
        user.refresh_from_db()
    return found


def release(user, collection, *schools, note=""):
    return actions.do_release(user, collection, list(schools) or None, note=note)


def state(user, collection, school) -> CheckState:
    return queries.check_statuses(user, collection, [school])[school.pk].state


# -- actions and who may do them --------------------------------------------------------------


def test_release_to_one_school_tells_its_users(
    schools, members, loaded, django_capture_on_commit_callbacks
):
    clean = schools["clean"]
    with django_capture_on_commit_callbacks(execute=True):
        (made,) = release(members["officer938"], loaded, clean, note="Reply by 30 June")
    assert made.school == clean and made.is_current and made.note == "Reply by 30 June"
    assert [m.to for m in mail.outbox] == [["head938@example.org"]]
    assert clean.name in mail.outbox[0].subject
    assert "Reply by 30 June" in mail.outbox[0].body
    assert f"/ks1-2023/schools/{clean.laestab}/check" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="checking.released")
    assert event.school == clean and event.user == members["officer938"]
    assert state(members["officer938"], loaded, clean) == CheckState.RELEASED
    assert state(members["officer938"], loaded, schools["errors"]) == CheckState.NOT_RELEASED


def test_nothing_is_e_mailed_when_the_release_fails(
    schools, members, loaded, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(PermissionDenied):
        release(members["officer938"], loaded, schools["clean"], schools["camden"])
    assert mail.outbox == []
    assert not Release.objects.exists()


def test_release_to_all_takes_the_schools_with_data_the_user_works_on(schools, members, loaded):
    made = release(members["officer938"], loaded)
    assert sorted(r.school.laestab for r in made) == ["9382001", "9382002", "9382004"]
    # A restricted officer releases only to their own school (9382001).
    made = release(members["restricted938"], loaded)
    assert [r.school.laestab for r in made] == ["9382001"]


def test_a_new_release_supersedes_the_last_and_asks_for_a_new_confirmation(
    schools, members, loaded
):
    clean = schools["clean"]
    first = release(members["officer938"], loaded, clean)[0]
    actions.do_confirm(members["head938"], loaded, clean, name="Ann Head", job_title="Headteacher")
    assert state(members["officer938"], loaded, clean) == CheckState.CONFIRMED
    second = release(members["admin938"], loaded, clean)[0]
    first.refresh_from_db()
    assert not first.is_current and second.is_current
    assert Release.objects.filter(school=clean).count() == 2
    assert state(members["officer938"], loaded, clean) == CheckState.RELEASED


@pytest.mark.parametrize("who", ["national", "school938", "head938", "admin202", "officer202"])
def test_only_the_las_users_release(schools, members, loaded, who):
    with pytest.raises(PermissionDenied):
        release(members[who], loaded, schools["clean"])
    assert not Release.objects.exists()


def test_a_restricted_officer_releases_only_to_their_schools(schools, members, loaded):
    with pytest.raises(PermissionDenied, match="Downs Infant"):
        release(members["restricted938"], loaded, schools["errors"])
    assert release(members["restricted938"], loaded, schools["clean"])


def test_school_confirms_and_the_la_is_told(
    schools, members, loaded, django_capture_on_commit_callbacks
):
    clean = schools["clean"]
    release(members["officer938"], loaded, clean)
    with django_capture_on_commit_callbacks(execute=True):
        c = actions.do_confirm(
            members["head938"], loaded, clean, name=" Ann Head ", job_title="Headteacher"
        )
    assert (c.name, c.job_title, c.confirmed_by) == ("Ann Head", "Headteacher", members["head938"])
    assert c.release == Release.objects.get(school=clean, is_current=True)
    assert c.confirmed_at is not None
    # LA admins and officers of 938, and the restricted officer who works on this school.
    assert sorted(m.to[0] for m in mail.outbox) == [
        "admin938@example.org", "officer938@example.org", "restricted938@example.org",
    ]  # fmt: skip
    assert "Ann Head (Headteacher)" in mail.outbox[0].body
    assert AuditEvent.objects.get(action="checking.confirmed").detail["job_title"] == "Headteacher"
    status = queries.check_statuses(members["officer938"], loaded, [clean])[clean.pk]
    assert status.state == CheckState.CONFIRMED
    assert status.detail.startswith("Ann Head, Headteacher, ")


def test_restricted_officer_of_another_school_is_not_told(
    schools, members, loaded, django_capture_on_commit_callbacks
):
    errors = schools["errors"]
    release(members["officer938"], loaded, errors)
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_confirm(members["school938"], loaded, errors, name="Bo", job_title="Head")
    assert sorted(m.to[0] for m in mail.outbox) == [
        "admin938@example.org",
        "officer938@example.org",
    ]


def test_confirming_needs_a_release_a_name_and_the_schools_own_user(schools, members, loaded):
    clean = schools["clean"]
    with pytest.raises(ValidationError, match="not been released"):
        actions.do_confirm(members["head938"], loaded, clean, name="Ann", job_title="Head")
    release(members["officer938"], loaded, clean)
    with pytest.raises(ValidationError, match="name and job title"):
        actions.do_confirm(members["head938"], loaded, clean, name="Ann", job_title=" ")
    for who in ("school938", "officer938", "admin938", "national", "school202"):
        with pytest.raises(PermissionDenied):
            actions.do_confirm(members[who], loaded, clean, name="Ann", job_title="Head")
    assert not Confirmation.objects.exists()


def test_query_and_answer(schools, members, loaded, django_capture_on_commit_callbacks):
    clean = schools["clean"]
    upn = PupilRecord.objects.get(surname="CLEAN2").upn
    release(members["officer938"], loaded, clean)
    mail.outbox.clear()
    with pytest.raises(ValidationError, match="not a pupil"):
        actions.do_send_query(members["head938"], loaded, clean, body="x", upns=["A999"])
    # Another school's pupil is not this school's to query.
    other = PupilRecord.objects.get(surname="QUERYSON").upn
    with pytest.raises(ValidationError, match=other):
        actions.do_send_query(members["head938"], loaded, clean, body="x", upns=[other])
    with django_capture_on_commit_callbacks(execute=True):
        m = actions.do_send_query(members["head938"], loaded, clean,
                                  body="Writing should be EXS", upns=[upn.lower()])  # fmt: skip
    assert m.from_school and m.upns == [upn] and m.author_name == "head938"
    assert sorted(x.to[0] for x in mail.outbox) == [
        "admin938@example.org", "officer938@example.org", "restricted938@example.org",
    ]  # fmt: skip
    assert upn in mail.outbox[0].body and "Writing should be EXS" in mail.outbox[0].body
    assert state(members["officer938"], loaded, clean) == CheckState.QUERY

    mail.outbox.clear()
    with pytest.raises(PermissionDenied):
        actions.do_reply(members["officer202"], loaded, clean, body="No")
    with pytest.raises(PermissionDenied):
        actions.do_reply(members["national"], loaded, clean, body="No")
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_reply(members["officer938"], loaded, clean, body="Fixed, please check again")
    assert [x.to for x in mail.outbox] == [["head938@example.org"]]
    assert state(members["officer938"], loaded, clean) == CheckState.RELEASED
    assert list(Message.objects.values_list("from_school", flat=True)) == [True, False]
    assert {e.action for e in AuditEvent.objects.filter(action__startswith="checking.query")} == {
        "checking.query_sent", "checking.query_answered",
    }  # fmt: skip


def test_a_school_user_queries_only_their_own_school(schools, members, loaded):
    release(members["officer938"], loaded)
    with pytest.raises(PermissionDenied):
        actions.do_send_query(members["school938"], loaded, schools["clean"], body="x")
    with pytest.raises(PermissionDenied):
        actions.do_send_query(members["officer938"], loaded, schools["clean"], body="x")


def test_data_changed_after_the_confirmation(schools, members, loaded):
    clean = schools["clean"]
    release(members["officer938"], loaded, clean)
    actions.do_confirm(members["head938"], loaded, clean, name="Ann", job_title="Head")
    assert state(members["admin938"], loaded, clean) == CheckState.CONFIRMED
    # An edit of one of the school's pupils (from the cleaning grid) after the confirmation.
    record("pupil.edited", user=members["officer938"], la=clean.la, school=clean)
    assert state(members["admin938"], loaded, clean) == CheckState.CHANGED


def test_a_new_file_after_the_confirmation_is_data_changed(schools, members, loaded):
    clean = schools["clean"]
    release(members["officer938"], loaded, clean)
    actions.do_confirm(members["head938"], loaded, clean, name="Ann", job_title="Head")
    Upload.objects.filter(school=clean).update(uploaded_at=timezone.now())
    assert state(members["admin938"], loaded, clean) == CheckState.CHANGED


# -- the dashboard ----------------------------------------------------------------------------


def _words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_reminders_go_to_the_schools_that_owe_a_check(
    schools, members, loaded, django_capture_on_commit_callbacks
):
    clean, queries_school, errors = schools["clean"], schools["queries"], schools["errors"]
    release(members["officer938"], loaded)  # all three schools with data
    # 9382001 confirmed, then its data changed; 9382002 sent a query; 9382004 did nothing.
    actions.do_confirm(members["head938"], loaded, clean, name="Ann Head", job_title="Head")
    record("pupil.edited", user=members["officer938"], la=clean.la, school=clean)
    actions.do_send_query(members["school938"], loaded, errors, body="Pupil 2 left in May")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        reminded = actions.do_remind(members["officer938"], loaded, note="By Friday, please")
    assert [s.laestab for s in reminded] == ["9382001", "9382004"]  # not the one that queried
    assert [m.to for m in mail.outbox] == [["head938@example.org"]]  # 9382004 has no users
    body = mail.outbox[0].body
    assert mail.outbox[0].subject.startswith("Reminder: ") and clean.name in mail.outbox[0].subject
    assert "Ann Head (Head) confirmed the data on" in body and "changed since" in body
    assert "By Friday, please" in body and f"/ks1-2023/schools/{clean.laestab}/check" in body
    events = AuditEvent.objects.filter(action="checking.reminded").order_by("school__laestab")
    assert [(e.school.laestab, e.detail["state"]) for e in events] == [
        ("9382001", "changed"), ("9382004", "released")
    ]  # fmt: skip
    status = queries.check_statuses(members["officer938"], loaded, [queries_school])
    assert "; reminded " in status[queries_school.pk].detail
    actions.do_remind(members["admin938"], loaded)
    assert Release.objects.get(school=queries_school, is_current=True).reminders == 2
    status = queries.check_statuses(members["officer938"], loaded, [queries_school])
    assert status[queries_school.pk].detail.endswith("(2 reminders)")
    # Once the school confirms, it is not reminded again.
    actions.do_confirm(members["head938"], loaded, clean, name="Ann Head", job_title="Head")
    assert clean not in actions.do_remind(members["officer938"], loaded)


@pytest.mark.parametrize("who", ["national", "school938", "head938", "admin202"])
def test_only_the_las_checkers_remind(schools, members, loaded, who):
    release(members["officer938"], loaded)
    if who == "admin202":  # another LA's admin reminds their own schools: none of these
        assert actions.do_remind(members[who], loaded) == []
    else:
        with pytest.raises(PermissionDenied):
            actions.do_remind(members[who], loaded)
    assert not Release.objects.filter(reminded_at__isnull=False).exists()


def test_a_restricted_officer_reminds_only_their_schools(schools, members, loaded):
    release(members["officer938"], loaded)
    assert [s.laestab for s in actions.do_remind(members["restricted938"], loaded)] == ["9382001"]


def test_la_reminds_through_the_page(
    schools, members, loaded, signed_in, django_capture_on_commit_callbacks
):
    client = signed_in(members["officer938"])
    page_url = reverse("la-checking", kwargs={"code": "938"})
    assert "No school is waiting to check its data" in _text(client.get(page_url))
    release(members["officer938"], loaded, schools["clean"])
    page = _text(client.get(page_url))
    assert "1 school has not confirmed" in page and "Send a reminder to 1 school" in page
    remind = reverse("la-checking-remind", kwargs={"code": "938"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(remind, {"note": "Thank you"}, follow=True)
    page = _text(response)
    assert "Reminder sent to 1 school: Example Primary School" in page
    assert "; reminded " in page
    assert "Thank you" in mail.outbox[-1].body
    assert client.get(remind).status_code == 405
    school_user = signed_in(members["school938"])
    assert school_user.post(remind, {}).status_code in (403, 404)


def _text(response) -> str:
    return _words(response.content.decode())


def test_dashboard_shows_each_schools_check(schools, members, loaded, signed_in):
    from keystage.collection.queries import SchoolState, school_rows

    release(members["officer938"], loaded, schools["clean"], schools["queries"])
    actions.do_confirm(members["head938"], loaded, schools["clean"], name="Ann Head",
                       job_title="Headteacher")  # fmt: skip
    la = LocalAuthority.objects.get(code="938")
    rows = {r.laestab: r for r in school_rows(members["officer938"], la, loaded)}
    assert rows["9382001"].state == SchoolState.CHECKED
    assert rows["9382004"].state == SchoolState.QUERIES  # released, not confirmed
    assert rows["9382004"].check.state == CheckState.RELEASED
    assert rows["9382002"].check.state == CheckState.NOT_RELEASED

    client = signed_in(members["officer938"])
    page = _text(client.get(reverse("la-dashboard", kwargs={"code": "938"})))
    assert "Checked by school" in page
    assert "Ann Head, Headteacher" in page
    assert "Reports released" in page and "Not released" in page
    assert "Schools that checked and confirmed their data 1" in page
    page = _text(client.get(reverse("la-dashboard", kwargs={"code": "938"}), {"state": "checked"}))
    assert "Example Primary School" in page and "Queries Only Primary" not in page


# -- pages ------------------------------------------------------------------------------------


def _release_page(client, data):
    return client.post(reverse("la-checking-release", kwargs={"code": "938"}), data)


def test_la_releases_to_selected_schools_through_a_confirmation_page(
    schools, members, loaded, signed_in, django_capture_on_commit_callbacks
):
    client = signed_in(members["officer938"])
    url = reverse("la-checking", kwargs={"code": "938"})
    page = _text(client.get(url))
    assert "Example Primary School" in page and "Camden" not in page
    response = _release_page(client, {"release": "selected"})
    assert "Select the schools to release checking reports to" in _text(response)
    assert 'href="#id_schools"' in response.content.decode()
    assert 'id="id_schools"' in response.content.decode()  # the link reaches a checkbox
    response = _release_page(client, {"release": "selected", "schools": ["2022003"]})
    assert "2022003 is not one of your schools" in _text(response)
    assert not Release.objects.exists()

    response = _release_page(client, {"release": "selected", "schools": ["9382001"]})
    page = _text(response)
    assert response.status_code == 200 and not Release.objects.exists()
    assert "Release checking reports to 1 school?" in page
    assert "9382001 Example Primary School" in page and "Warning" in page
    assert "Queries Only Primary" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = _release_page(
            client,
            {"release": "selected", "schools": ["9382001"], "note": "Hi", "confirm": "yes"},
        )
    assert response.status_code == 302
    assert Release.objects.get().school == schools["clean"]
    assert AuditEvent.objects.get(action="checking.released").school == schools["clean"]
    assert len(mail.outbox) == 1 and "Hi" in mail.outbox[0].body
    page = _text(client.get(response.url))
    assert "Checking reports released to 1 school: Example Primary School" in page


def test_release_to_every_school_in_a_filter_goes_through_a_confirmation_page(
    schools, members, loaded, signed_in, django_capture_on_commit_callbacks
):
    client = signed_in(members["officer938"])
    release(members["officer938"], loaded, schools["queries"])
    # "Clean and not yet released": 9382001 only (9382002 has errors, 9382004 is released).
    response = _release_page(client, {"release": "filter", "state": "clean_not_released"})
    page = _text(response)
    assert "Release checking reports to 1 school?" in page
    assert "clean schools whose reports are not yet released" in page
    assert "9382001 Example Primary School" in page and "9382002" not in page
    assert Release.objects.filter(is_current=True).count() == 1  # nothing released yet

    # Every school with data (no filter): three schools, one of them released before.
    response = _release_page(client, {"release": "filter"})
    page = _text(response)
    assert "Release checking reports to 3 schools?" in page
    assert "1 school has had reports released before" in page
    for laestab in ("9382001", "9382002", "9382004"):
        assert f'name="schools" value="{laestab}"' in response.content.decode()
    assert "9382006" not in page  # its only file was rejected: nothing to release
    with django_capture_on_commit_callbacks(execute=True):
        response = _release_page(
            client,
            {"release": "selected", "confirm": "yes", "state": "clean_not_released",
             "from": "filter", "schools": ["9382001", "9382002", "9382004"]},
        )  # fmt: skip
    assert response.status_code == 302 and "state=clean_not_released" in response.url
    current = Release.objects.filter(is_current=True)
    assert sorted(current.values_list("school__laestab", flat=True)) == [
        "9382001", "9382002", "9382004"
    ]  # fmt: skip
    assert AuditEvent.objects.filter(action="checking.released").count() == 4
    last = AuditEvent.objects.filter(action="checking.released").order_by("-id").first()
    assert last.detail["schools_released_together"] == 3
    assert last.detail["chosen_by"] == (
        "every school with data in the filter: Clean and not yet released"
    )
    assert "Checking reports released to 3 schools" in _text(client.get(response.url))


def test_a_filter_without_schools_to_release_says_so(schools, members, loaded, signed_in):
    client = signed_in(members["officer938"])
    response = _release_page(client, {"release": "filter", "state": "confirmed"})
    assert "No school this filter shows has data to release yet" in _text(response)
    assert not Release.objects.exists()


def test_a_too_long_message_is_refused_on_the_confirmation_page(
    schools, members, loaded, signed_in
):
    client = signed_in(members["officer938"])
    data = {"release": "selected", "schools": ["9382001"], "confirm": "yes", "note": "x" * 5001}
    page = _text(_release_page(client, data))
    assert "Release checking reports to 1 school?" in page
    assert "The message to schools must be 5000 characters or fewer" in page
    assert not Release.objects.exists()


@pytest.mark.parametrize("who", ["national", "school938", "admin202"])
def test_who_may_not_release_through_the_page(schools, members, loaded, signed_in, who):
    client = signed_in(members[who])
    for data in ({"release": "filter"}, {"release": "filter", "confirm": "yes"},
                 {"release": "selected", "schools": ["9382001"], "confirm": "yes"}):  # fmt: skip
        assert _release_page(client, data).status_code in (403, 404)
    assert not Release.objects.exists()


def _rows(page_html: str) -> list[str]:
    """The LAESTABs of the schools table's rows, in order."""
    return re.findall(r'<span class="govuk-hint govuk-!-margin-0">(\d{7})</span>', page_html)


def test_the_checks_page_filters_by_check_state_and_school_name(
    schools, members, loaded, signed_in
):
    release(members["officer938"], loaded, schools["clean"], schools["queries"], schools["errors"])
    actions.do_confirm(members["head938"], loaded, schools["clean"], name="Ann Head",
                       job_title="Headteacher")  # fmt: skip
    actions.do_send_query(members["school938"], loaded, schools["errors"], body="Wrong")
    client = signed_in(members["officer938"])
    url = reverse("la-checking", kwargs={"code": "938"})

    def shown(**params):
        return _rows(client.get(url, params).content.decode())

    everyone = shown()
    assert everyone == ["9382001", "9382002", "9382004", "9382005", "9382006"]
    assert shown(state="confirmed") == ["9382001"]
    assert shown(state="query") == ["9382002"]
    assert shown(state="released") == ["9382004"]
    assert shown(state="no_data") == ["9382005", "9382006"]
    assert shown(state="clean_not_released") == []
    assert shown(q="queries only") == ["9382004"]
    assert shown(q="938200", state="no_data") == ["9382005", "9382006"]
    page = _text(client.get(url, {"state": "query"}))
    assert "1 school of 5: schools with a query" in page
    assert "Query from school (1)" in page and "No data yet (2)" in page
    # Hostile or unknown filters: every school, the search shown escaped.
    assert shown(state="'; drop table", q="") == everyone
    response = client.get(url, {"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)" not in response.content.decode()
    assert "No schools match this filter" in _text(response)
    # The data changed after the confirmation.
    record("pupil.edited", user=members["officer938"], la=schools["clean"].la_id,
           school=schools["clean"])  # fmt: skip
    assert shown(state="changed") == ["9382001"] and shown(state="confirmed") == []


def test_the_checks_page_is_paged_with_the_actions_at_the_top(schools, members, loaded, signed_in):
    la = LocalAuthority.objects.get(code="938")
    many = School.objects.bulk_create(
        School(urn=f"13{n:04d}", la=la, estab=f"{3000 + n}", laestab=f"938{3000 + n}",
               name=f"Many Primary {n:02d}")
        for n in range(60)
    )  # fmt: skip
    expect_to_submit(many, loaded)
    client = signed_in(members["officer938"])
    url = reverse("la-checking", kwargs={"code": "938"})
    html = client.get(url, {"state": "no_data"}).content.decode()
    assert len(_rows(html)) == 50
    assert "Schools 1 to 50 of 62" in _words(html)
    assert "/ks1-2023/la/938/checking?state=no_data&amp;page=2" in html
    second = client.get(url, {"state": "no_data", "page": "2"}).content.decode()
    assert len(_rows(second)) == 12 and "Schools 51 to 62 of 62" in _words(second)
    assert len(_rows(client.get(url, {"page": "999"}).content.decode())) == 15  # the last page
    # The release buttons come before the list, with the count of the whole filter, not the
    # page.
    everyone = client.get(url).content.decode()
    assert "Release to all 3 schools with data" in _words(everyone)
    assert everyone.index("Release to selected schools") < everyone.index("<table")
    assert everyone.index('id="remind"') < everyone.index("<table")
    # Releasing to the filter takes schools on every page, not only the one shown.
    School.objects.filter(laestab="9383059").update(name="Zed Primary")
    from tests.app.collection_data import _pupil, _upload

    _pupil(_upload(loaded, School.objects.get(laestab="9383059")), 1, surname="ZED")
    page = _text(_release_page(client, {"release": "filter", "state": "clean_not_released"}))
    assert "Release checking reports to 2 schools?" in page and "9383059 Zed Primary" in page


def test_school_sees_not_released_yet(schools, members, loaded, signed_in):
    client = signed_in(members["head938"])
    url = reverse("school-check", kwargs={"laestab": "9382001"})
    page = _text(client.get(url))
    assert "has not released your checking reports yet" in page
    assert "CLEAN1" not in page
    pdf = reverse("school-check-pdf", kwargs={"laestab": "9382001"})
    assert client.get(pdf).status_code == 403
    confirm = reverse("school-check-confirm", kwargs={"laestab": "9382001"})
    assert client.get(confirm).status_code == 403


def test_school_check_page_lists_its_pupils_and_summary(schools, members, loaded, signed_in):
    release(members["officer938"], loaded, schools["clean"])
    client = signed_in(members["head938"])
    page = _text(client.get(reverse("school-check", kwargs={"laestab": "9382001"})))
    for surname in OUTCOMES:
        assert surname in page
    assert "QUERYSON" not in page and "ASKEW" not in page
    # Reading: GDS, WTS, EXS -> 67% at the expected standard or above, 33% greater depth.
    assert "Expected standard or above (EXS+) 67% 67% 100% 67%" in page
    assert "Greater depth (GDS) 33% 0% 33% -" in page
    assert "Expected standard or above in all three 2 (67%)" in page
    assert "West Sussex (all its schools" not in page  # no comparisons unless the LA allows
    assert AuditEvent.objects.filter(action="view.checking_report").exists()
    # Another school's report: not found.
    other = reverse("school-check", kwargs={"laestab": "9382002"})
    assert client.get(other).status_code == 404


def _comparisons(members, loaded, schools):
    rebuild_facts(loaded)
    la = LocalAuthority.objects.get(code="938")
    do_set_school_sees(la, loaded, "comparisons", user=members["admin938"])
    release(members["officer938"], loaded, schools["clean"])


def test_comparisons_add_the_las_figures(schools, members, loaded, signed_in, settings):
    # LA 938: 6 pupils, 3 of them the clean school's, the other 3 from two other schools. With
    # a threshold of 3 nothing is revealed by difference, so the LA's figures are shown.
    settings.KEYSTAGE_REPORT_MIN_PUPILS = 3
    _comparisons(members, loaded, schools)
    page = _text(
        signed_in(members["head938"]).get(reverse("school-check", kwargs={"laestab": "9382001"}))
    )
    assert "West Sussex (all its schools, 6 pupils)" in page
    # Reading GDS, WTS, EXS and 3 pupils with no valid code: 2 of 6 at EXS+, 1 of 6 at GDS.
    assert "Expected standard or above (EXS+) 33% 33% 50% 33%" in page
    assert "Greater depth (GDS) 17% 0% 17% -" in page
    assert "Figures marked c are not shown" not in page


def test_comparisons_never_reveal_another_schools_pupils(
    schools, members, loaded, signed_in, settings, monkeypatch
):
    """An LA with two schools with data: the clean school (7 pupils) and one other with 2. The
    LA's 9 pupils are over the threshold of 6, but the LA's figure less the clean school's own
    would give away the other school's 2 pupils: every LA figure is "c" for the clean school,
    on screen and in the PDF, also in an LA officer's preview of the school's report."""
    from keystage.checking import views

    settings.KEYSTAGE_REPORT_MIN_PUPILS = 6
    PupilRecord.objects.filter(surname="ASKEW").delete()  # the third school's only pupil
    upload = Upload.objects.get(school=schools["clean"], state="current")
    for n in range(4, 8):
        PupilRecord.objects.create(
            upload=upload, collection=loaded, school=upload.school, la=upload.la, line=n,
            upn=f"9382001{n:03d}X", surname=f"CLEAN{n}", forename="EVE", dob="2016-01-14",
            sex="F", outcomes=OUTCOMES["CLEAN3"],
        )  # fmt: skip
    PupilRecord.objects.filter(school=schools["errors"]).update(outcomes=OUTCOMES["CLEAN1"])
    _comparisons(members, loaded, schools)
    url = reverse("school-check", kwargs={"laestab": "9382001"})
    for who in ("head938", "officer938"):
        page = _text(signed_in(members[who]).get(url))
        assert "West Sussex (all its schools, number of pupils not shown (c))" in page
        assert "Expected standard or above (EXS+) c c c c" in page
        assert "Greater depth (GDS) c c c -" in page
        assert "Expected standard or above in all three 6 (86%) c" in page
        assert "Figures marked c are not shown: they rest on fewer than 6 pupils" in page
    seen = {}
    monkeypatch.setattr(views, "render_pdf", lambda html: seen.setdefault("html", html) and b"%PDF")
    signed_in(members["head938"]).get(reverse("school-check-pdf", kwargs={"laestab": "9382001"}))
    pdf = _words(seen["html"])
    assert "Expected standard or above (EXS+) c c c c" in pdf
    assert "number of pupils not shown (c)" in pdf


def test_the_pupil_list_marks_pupils_the_la_added_or_edited(schools, members, loaded, signed_in):
    from keystage.engine import upn as upns
    from keystage.submissions import cleaning

    officer = members["officer938"]
    clean2 = PupilRecord.objects.get(surname="CLEAN2")
    clean3 = PupilRecord.objects.get(surname="CLEAN3")
    cleaning.do_edit_pupil(officer, clean2.pk, clean2.version, {"writing": "EXS"}, reason="Call")
    cleaning.do_add_pupil(
        officer, schools["clean"],
        {"upn": upns.make("938", "2001", "16", "050"), "surname": "NEWTON", "forename": "ADA",
         "dob": "2016-01-14", "sex": "F", "reading": "EXS"},
        reason="Left out of the export",
    )  # fmt: skip
    cleaning.do_remove_pupil(officer, clean3.pk, clean3.version, reason="Left in May")
    release(officer, loaded, schools["clean"])
    page = _text(
        signed_in(members["head938"]).get(reverse("school-check", kwargs={"laestab": "9382001"}))
    )
    assert re.search(r"NEWTON ADA .*? Added by LA", page)
    assert re.search(r"CLEAN2 AVA .*? Edited by LA", page)
    assert re.search(r"CLEAN1 AVA .*? None No ", page)
    assert "CLEAN3" not in page  # removed by the LA: not current, not listed


def test_the_checking_report_as_pdf(schools, members, loaded, signed_in):
    release(members["officer938"], loaded, schools["clean"])
    response = signed_in(members["head938"]).get(
        reverse("school-check-pdf", kwargs={"laestab": "9382001"})
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "checking-report-9382001" in response["Content-Disposition"]
    pdf = response.content
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5000
    # WeasyPrint makes a bookmark of each heading; its title is plain text in the PDF.
    text = b"".join(
        zlib.decompress(m) for m in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
        if m[:1] == b"x"
    )  # fmt: skip
    assert b"Checking report: Example Primary School" in text
    assert b"Pupil list" in text


def test_the_pdf_holds_only_the_schools_pupils(schools, members, loaded, signed_in, monkeypatch):
    from keystage.checking import views

    seen = {}
    monkeypatch.setattr(views, "render_pdf", lambda html: seen.setdefault("html", html) and b"%PDF")
    release(members["officer938"], loaded)
    signed_in(members["head938"]).get(reverse("school-check-pdf", kwargs={"laestab": "9382001"}))
    html = seen["html"]
    assert all(s in html for s in OUTCOMES)
    assert "QUERYSON" not in html and "ASKEW" not in html and "CAMDENER" not in html


def test_school_confirms_through_the_page(
    schools, members, loaded, signed_in, django_capture_on_commit_callbacks
):
    release(members["officer938"], loaded, schools["clean"])
    client = signed_in(members["head938"])
    url = reverse("school-check-confirm", kwargs={"laestab": "9382001"})
    page = _text(client.post(url, {"name": "Ann Head"}))
    assert "Enter your job title, for example Headteacher" in page
    assert "Select that you confirm the data is correct" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"name": "Ann Head", "job_title": "Headteacher",
                                     "correct": "on"})  # fmt: skip
    assert response.status_code == 302
    assert Confirmation.objects.get().name == "Ann Head"
    assert len(mail.outbox) == 3
    page = _text(client.get(reverse("school-check", kwargs={"laestab": "9382001"})))
    assert "Checked by school" in page and "Ann Head, Headteacher" in page


def test_school_queries_and_la_answers_through_the_pages(schools, members, loaded, client,
                                                         signed_in):  # fmt: skip
    release(members["officer938"], loaded, schools["clean"])
    upn = PupilRecord.objects.get(surname="CLEAN2").upn
    signed_in(members["head938"])
    url = reverse("school-check-query", kwargs={"laestab": "9382001"})
    assert "CLEAN2" in _text(client.get(url))
    assert "Enter your message" in _text(client.post(url, {"upns": [upn]}))
    assert client.post(url, {"upns": [upn], "body": "CLEAN2 is EXS in writing"}).status_code == 302
    signed_in(members["officer938"])
    thread = reverse("la-checking-school", kwargs={"code": "938", "laestab": "9382001"})
    page = _text(client.get(thread))
    assert "CLEAN2 is EXS in writing" in page and upn in page and "Query from school" in page
    assert client.post(thread, {"body": "Corrected"}).status_code == 302
    signed_in(members["head938"])
    page = _text(client.get(reverse("school-check", kwargs={"laestab": "9382001"})))
    assert "Corrected" in page and "West Sussex (officer938)" in page


def test_la_users_preview_but_do_not_confirm(schools, members, loaded, signed_in):
    client = signed_in(members["officer938"])
    page = _text(client.get(reverse("school-check", kwargs={"laestab": "9382001"})))
    assert "Not released to the school yet" in page and "CLEAN1" in page
    release(members["officer938"], loaded, schools["clean"])
    url = reverse("school-check-confirm", kwargs={"laestab": "9382001"})
    assert client.post(url, {"name": "A", "job_title": "B", "correct": "on"}).status_code == 403
    assert not Confirmation.objects.exists()


def test_the_la_sets_what_schools_see(schools, members, loaded, signed_in):
    from keystage.collection.visibility import school_sees

    la = LocalAuthority.objects.get(code="938")
    url = reverse("la-school-sees", kwargs={"code": "938"})
    for who in ("restricted938", "national", "school938"):  # may read it, not change it
        client = signed_in(members[who])
        assert client.get(url).status_code == (403 if who == "school938" else 200)
        assert client.post(url, {"school_sees": "comparisons"}).status_code == 403
    client = signed_in(members["officer938"])
    assert "Select what your schools may see" in _text(client.post(url, {"school_sees": "all"}))
    assert client.post(url, {"school_sees": "provisional"}).status_code == 302
    assert school_sees(loaded, la) == "provisional"
    assert AuditEvent.objects.filter(action="collection.school_sees_set").count() == 1
    assert signed_in(members["admin202"]).get(url).status_code == 404


def test_another_las_users_see_none_of_its_checks(schools, members, loaded):
    # Queries read within scope: LA 202's officer sees none of LA 938's releases.
    release(members["officer938"], loaded)
    statuses = queries.check_statuses(
        members["officer202"], loaded, School.objects.filter(la__code="938")
    )
    assert {s.state for s in statuses.values()} == {CheckState.NOT_RELEASED}


def test_dates_on_the_checks_pages_are_in_words(schools, members, loaded, signed_in):
    import datetime as dt

    (made,) = release(members["officer938"], loaded, schools["clean"])
    at = dt.datetime(2023, 6, 19, 13, 5, tzinfo=dt.UTC)
    Release.objects.filter(pk=made.pk).update(released_at=at)
    expected = words.long_datetime(timezone.localtime(at))  # "19 June 2023 at 2:05pm"
    assert expected.startswith("19 June 2023 at ") and expected.endswith("pm")
    client = signed_in(members["officer938"])
    for name, kwargs in (("la-checking", {"code": "938"}),
                         ("la-checking-school", {"code": "938", "laestab": "9382001"})):  # fmt: skip
        page = _text(client.get(reverse(name, kwargs=kwargs)))
        assert expected in page
        assert "19 Jun 2023" not in page and "2023-06-19" not in page


def test_release_again_from_a_schools_page_goes_through_the_confirmation(
    schools, members, loaded, signed_in
):
    client = signed_in(members["officer938"])
    page = client.get(reverse("la-checking-school", kwargs={"code": "938", "laestab": "9382001"}))
    html = page.content.decode()
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>((?:(?!</form>).)*Release the '
                     r"reports to Example Primary School)", html, re.S)  # fmt: skip
    assert form, "no release button on the school's page"
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(2)))
    fields["release"] = "selected"
    response = client.post(form.group(1), fields)
    assert response.status_code == 200
    assert "Release checking reports to 1 school?" in _text(response)
    assert "9382001 Example Primary School" in _text(response)
    assert not Release.objects.exists()
