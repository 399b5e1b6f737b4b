"""Cleaning pupil records: edits re-run the rules and the LA-wide duplicate checks, every change
is in the pupil's trail with old and new values, a stale save is refused, queries are
confirmed with an explanation that survives re-validation, pupils are added and removed with
a reason, and a later school file that disagrees with an LA edit shows a conflict."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from keystage.audit.models import AuditEvent
from keystage.collection import queries as dashboard
from keystage.engine import upn as upns
from keystage.orgs.models import LocalAuthority, School
from keystage.submissions import cleaning
from keystage.submissions.importing import import_paths
from keystage.submissions.models import Finding, PupilChange, PupilRecord, Upload
from keystage.web.links import reverse
from tests.builders import ctf, pupil

pytestmark = pytest.mark.django_db

SHARED_UPN = upns.make("938", "2002", "16", "077")


def _pupils_2001(**changes) -> list[dict]:
    """School 9382001: pupil 1 has an invalid code (error), pupil 2 an unusual date of birth
    (query), pupil 3 a UPN that a pupil of 9382002 has too (duplicate), pupil 5 a bad sex."""
    rows = [
        pupil(1, reading="BLW"),
        pupil(2, dob="2015-01-01"),
        pupil(3, upn=SHARED_UPN),
        pupil(4),
        pupil(5, sex="X"),
    ]
    for n, over in changes.items():
        rows[int(n[1:]) - 1].update(over)
    return rows


def _import(tmp_path, name, pupils, estab="2001", user=None):
    path = tmp_path / name
    path.write_text(ctf(pupils, "938", estab), encoding="utf-8")
    return import_paths([str(path)], jobs=1, user=user)


@pytest.fixture
def cleaning_data(members, tmp_path):
    _import(tmp_path, "2001.xml", _pupils_2001())
    _import(tmp_path, "2002.xml", [pupil(1, estab="2002", upn=SHARED_UPN, surname="OTHER")],
            estab="2002")  # fmt: skip
    return members


def _p(n: int, estab="2001") -> PupilRecord:
    return PupilRecord.objects.get(school__laestab=f"938{estab}", is_current=True,
                                   surname=pupil(n)["surname"] if estab == "2001" else "OTHER")  # fmt: skip


def _rules(p: PupilRecord) -> set[str]:
    return set(Finding.objects.filter(pupil=p, is_current=True).values_list("rule", flat=True))


def _school_row(user, laestab):
    la = LocalAuthority.objects.get(code="938")
    from keystage.submissions.actions import get_collection

    rows = dashboard.school_rows(user, la, get_collection())
    return next(r for r in rows if r.laestab == laestab)


# -- re-validation -------------------------------------------------------------------------------


def test_fixing_a_bad_code_clears_its_error_and_the_counts(cleaning_data):
    officer = cleaning_data["officer938"]
    p1 = _p(1)
    assert "KS1-T07" in _rules(p1)
    upload = p1.upload
    errors_before = upload.error_count
    dashboard_before = _school_row(officer, "9382001").errors

    result = cleaning.do_edit_pupil(officer, p1.pk, p1.version, {"reading": "EXS"},
                                    reason="Checked with the school")  # fmt: skip

    assert result.changed == {"reading": ("BLW", "EXS")}
    p1.refresh_from_db()
    assert p1.outcomes["reading"] == "EXS" and p1.version == 2
    assert "KS1-T07" not in _rules(p1)
    upload.refresh_from_db()
    assert upload.error_count == errors_before - 1
    assert _school_row(officer, "9382001").errors == dashboard_before - 1


def test_introducing_a_bad_value_adds_its_error(cleaning_data):
    officer = cleaning_data["officer938"]
    p4 = _p(4)
    assert _rules(p4) == set()
    cleaning.do_edit_pupil(officer, p4.pk, p4.version, {"reading": ""})
    assert _rules(p4) == {"KS1-T01"}  # reading missing
    assert (
        Upload.objects.get(pk=p4.upload_id).error_count
        == Finding.objects.filter(
            upload_id=p4.upload_id, is_current=True, severity="error", scope__in=("pupil", "school")
        ).count()
    )


def test_a_value_outside_the_definitions_choices_is_refused(cleaning_data):
    officer = cleaning_data["officer938"]
    p4 = _p(4)
    with pytest.raises(cleaning.EditRefused, match="English reading must be one of GDS, EXS"):
        cleaning.do_edit_pupil(officer, p4.pk, p4.version, {"reading": "BLW"})
    p4.refresh_from_db()
    assert p4.outcomes["reading"] == "EXS" and p4.version == 1


def test_fixing_one_of_two_duplicate_upns_clears_the_finding_on_both(cleaning_data):
    officer = cleaning_data["officer938"]
    p3, other = _p(3), _p(1, estab="2002")
    assert "KS1-P03" in _rules(p3) and "KS1-P03" in _rules(other)

    new_upn = upns.make("938", "2001", "16", "099")
    cleaning.do_edit_pupil(officer, p3.pk, p3.version, {"upn": new_upn.lower()})

    p3.refresh_from_db()
    assert p3.upn == new_upn
    assert "KS1-P03" not in _rules(p3)
    assert "KS1-P03" not in _rules(other)
    # And putting it back brings the duplicate back on both.
    cleaning.do_edit_pupil(officer, p3.pk, p3.version, {"upn": SHARED_UPN})
    assert "KS1-P03" in _rules(p3) and "KS1-P03" in _rules(other)


# -- the audit trail ------------------------------------------------------------------------------


def test_every_kind_of_change_is_recorded_with_old_and_new_values(cleaning_data, tmp_path):
    officer = cleaning_data["officer938"]
    p1, p2, p5 = _p(1), _p(2), _p(5)

    cleaning.do_edit_pupil(officer, p1.pk, p1.version, {"reading": "EXS", "surname": "SMYTHE"},
                           reason="Phoned the school")  # fmt: skip
    done = cleaning.do_edit_pupils(officer, [(p5.pk, p5.version, {"sex": "F"})],
                                   reason="Bulk fix")  # fmt: skip
    assert len(done) == 1
    query = Finding.objects.get(pupil=p2, rule="KS1-P11")
    cleaning.do_explain_query(officer, query.pk, "Pupil was held back a year")
    added = cleaning.do_add_pupil(
        officer, School.objects.get(laestab="9382001"),
        {"upn": upns.make("938", "2001", "16", "050"), "surname": "NEWTON", "forename": "ADA",
         "dob": "14/01/2016", "sex": "F", "reading": "EXS", "writing": "EXS", "maths": "EXS",
         "science": "EXS"},
        reason="Joined after the school's export",
    )  # fmt: skip
    cleaning.do_remove_pupil(officer, p2.pk, p2.version + 0, reason="Left in May")

    rows = {
        (c.source, c.field): c
        for c in PupilChange.objects.filter(school__laestab="9382001").order_by("id")
    }
    edit = rows[("edit", "reading")]
    assert (edit.old, edit.new, edit.reason, edit.by, edit.upn) == (
        "BLW", "EXS", "Phoned the school", officer, p1.upn)  # fmt: skip
    assert (rows[("edit", "surname")].old, rows[("edit", "surname")].new) == (p1.surname, "SMYTHE")
    assert (rows[("edit", "sex")].old, rows[("edit", "sex")].new) == ("X", "F")
    assert rows[("edit", "sex")].reason == "Bulk fix"
    assert rows[("explained", "KS1-P11")].new == "Pupil was held back a year"
    assert rows[("added", "pupil")].new == f"NEWTON, ADA ({added.upn})"
    assert rows[("added", "pupil")].reason == "Joined after the school's export"
    assert added.dob == "2016-01-14"
    assert rows[("removed", "pupil")].old.startswith(p2.surname)
    assert rows[("removed", "pupil")].reason == "Left in May"
    actions = set(
        AuditEvent.objects.filter(school__laestab="9382001").values_list("action", flat=True)
    )
    assert {"pupil.edited", "query.explained", "pupil.added", "pupil.removed"} <= actions

    # A later file is in the trail too: what it changed, against the record with the edits.
    _import(tmp_path, "2001-v2.xml", _pupils_2001(p4={"maths": "WTS"}))
    from keystage.submissions.grid import trail

    p4 = _p(4)
    entries = trail(officer, p4)
    assert [(e.field, e.old, e.new) for e in entries if e.source.startswith("School's file 2001-v2")] == [
        ("Mathematics", "GDS", "WTS")
    ]  # fmt: skip


# -- no lost updates -----------------------------------------------------------------------------


def test_a_save_made_on_an_older_version_is_refused_and_nothing_is_lost(cleaning_data):
    admin, officer = cleaning_data["admin938"], cleaning_data["officer938"]
    p1 = _p(1)
    opened = p1.version  # both open the pupil

    cleaning.do_edit_pupil(admin, p1.pk, opened, {"reading": "EXS"})
    with pytest.raises(cleaning.StaleEdit) as refused:
        cleaning.do_edit_pupil(officer, p1.pk, opened, {"reading": "WTS", "forename": "BEA"})

    assert "admin938 changed English reading from BLW to EXS" in refused.value.message
    assert [c.new for c in refused.value.changes] == ["EXS"]
    p1.refresh_from_db()
    assert p1.outcomes["reading"] == "EXS" and p1.forename == "AVA"
    assert PupilChange.objects.filter(pupil=p1).count() == 1
    # Saved again on the version they were shown, it goes through.
    cleaning.do_edit_pupil(officer, p1.pk, refused.value.pupil.version, {"reading": "WTS"})
    p1.refresh_from_db()
    assert p1.outcomes["reading"] == "WTS"


def test_a_save_of_several_pupils_saves_nothing_when_one_is_stale(cleaning_data):
    """One form, one save: a stale pupil among several refuses the lot, and says which."""
    officer = cleaning_data["officer938"]
    p1, p4 = _p(1), _p(4)
    cleaning.do_edit_pupil(cleaning_data["admin938"], p1.pk, p1.version, {"forename": "BO"})
    with pytest.raises(cleaning.EditsRefused) as refused:
        cleaning.do_edit_pupils(
            officer, [(p1.pk, 1, {"science": "HNM"}), (p4.pk, 1, {"science": "HNM"})]
        )
    [stale] = refused.value.refusals
    assert isinstance(stale, cleaning.StaleEdit) and stale.pupil.pk == p1.pk
    p1.refresh_from_db()
    p4.refresh_from_db()
    assert p1.outcomes["science"] == "EXS" and p1.forename == "BO"
    assert p4.outcomes["science"] == "EXS" and p4.version == 1  # not saved either
    assert not PupilChange.objects.filter(pupil=p4).exists()
    assert not AuditEvent.objects.filter(action="pupil.edited", object_id=str(p4.pk)).exists()


# -- who may change pupil records -----------------------------------------------------------------


@pytest.mark.parametrize(
    "who, estab, allowed",
    [
        ("admin938", "2001", True),
        ("officer938", "2002", True),
        ("restricted938", "2001", True),  # their own school
        ("restricted938", "2002", False),
        ("school938", "2002", False),  # a school sees its pupils but does not edit them
        ("national", "2001", False),  # read-only
        ("admin202", "2001", False),
        ("nobody", "2001", False),
    ],
)
def test_who_may_edit(cleaning_data, who, estab, allowed):
    p = _p(1, estab)
    user = cleaning_data[who]
    if allowed:
        cleaning.do_edit_pupil(user, p.pk, p.version, {"forename": "ZED"})
        p.refresh_from_db()
        assert p.forename == "ZED"
        return
    with pytest.raises(PermissionDenied):
        cleaning.do_edit_pupil(user, p.pk, p.version, {"forename": "ZED"})
    with pytest.raises(PermissionDenied):
        cleaning.do_remove_pupil(user, p.pk, p.version, reason="x")
    with pytest.raises(PermissionDenied):
        cleaning.do_add_pupil(user, p.school, {"upn": "X"}, reason="x")
    p.refresh_from_db()
    assert p.forename != "ZED" and p.is_current
    assert not PupilChange.objects.exists()


# -- queries ---------------------------------------------------------------------------------------


def test_an_explanation_survives_revalidation_while_the_query_still_fires(cleaning_data):
    officer = cleaning_data["officer938"]
    p2 = _p(2)
    query = Finding.objects.get(pupil=p2, rule="KS1-P11", is_current=True)
    queries_before = _school_row(officer, "9382001").queries
    cleaning.do_explain_query(officer, query.pk, "Held back a year: agreed with the LA")
    assert _school_row(officer, "9382001").queries == queries_before - 1  # nothing to chase

    cleaning.do_edit_pupil(officer, p2.pk, p2.version, {"forename": "ANNA"})
    again = Finding.objects.get(pupil=p2, rule="KS1-P11", is_current=True)
    assert again.explanation == "Held back a year: agreed with the LA"
    assert again.explained_by == officer
    assert _school_row(officer, "9382001").queries == queries_before - 1

    p2.refresh_from_db()
    cleaning.do_edit_pupil(officer, p2.pk, p2.version, {"dob": "2016-01-14"})
    assert not Finding.objects.filter(pupil=p2, rule="KS1-P11", is_current=True).exists()


def test_errors_cannot_be_explained(cleaning_data):
    error = Finding.objects.get(pupil=_p(1), rule="KS1-T07")
    with pytest.raises(cleaning.EditRefused, match="errors cannot be explained"):
        cleaning.do_explain_query(cleaning_data["officer938"], error.pk, "It is fine")
    error.refresh_from_db()
    assert error.explanation == ""


def test_an_explanation_goes_with_the_pupil_into_a_later_file(cleaning_data, tmp_path):
    officer = cleaning_data["officer938"]
    query = Finding.objects.get(pupil=_p(2), rule="KS1-P11", is_current=True)
    cleaning.do_explain_query(officer, query.pk, "Held back a year")
    _import(tmp_path, "2001-v2.xml", _pupils_2001(p4={"maths": "WTS"}))
    again = Finding.objects.get(pupil=_p(2), rule="KS1-P11", is_current=True)
    assert again.pk != query.pk and again.explanation == "Held back a year"


# -- adding and removing pupils ---------------------------------------------------------------------


def test_adding_and_removing_a_pupil_needs_a_reason_and_is_flagged(cleaning_data):
    officer = cleaning_data["officer938"]
    school = School.objects.get(laestab="9382001")
    values = {"upn": upns.make("938", "2001", "16", "050"), "surname": "NEWTON",
              "forename": "ADA", "dob": "2016-01-14", "sex": "F", "reading": "EXS"}  # fmt: skip
    with pytest.raises(cleaning.EditRefused, match="Enter why"):
        cleaning.do_add_pupil(officer, school, values, reason=" ")
    added = cleaning.do_add_pupil(officer, school, values, reason="Missing from the export")
    assert added.flag == "added" and added.is_current
    assert _rules(added) == {"KS1-T02", "KS1-T03", "KS1-T04"}  # the other results are missing
    assert Upload.objects.get(pk=added.upload_id).pupil_count == 6

    with pytest.raises(cleaning.EditRefused, match="Enter why"):
        cleaning.do_remove_pupil(officer, added.pk, added.version, reason="")
    cleaning.do_remove_pupil(officer, added.pk, added.version, reason="Added by mistake")
    added.refresh_from_db()
    assert added.flag == "removed" and not added.is_current
    assert not Finding.objects.filter(pupil=added, is_current=True).exists()
    assert Upload.objects.get(pk=added.upload_id).pupil_count == 5
    # Put back, the pupil is again one the LA added, with their checks run again.
    cleaning.do_restore_pupil(officer, added.pk, added.version, reason="Not a mistake after all")
    added.refresh_from_db()
    assert added.flag == "added" and added.is_current
    assert _rules(added) == {"KS1-T02", "KS1-T03", "KS1-T04"}
    assert Upload.objects.get(pk=added.upload_id).pupil_count == 6


def test_removing_a_duplicate_clears_the_cohort_finding_on_the_other(cleaning_data):
    officer = cleaning_data["officer938"]
    p3 = _p(3)
    cleaning.do_remove_pupil(officer, p3.pk, p3.version, reason="Left the school")
    assert "KS1-P03" not in _rules(_p(1, estab="2002"))


# -- a later file that disagrees with an LA edit --------------------------------------------------


def test_a_later_file_that_disagrees_with_an_edit_shows_a_conflict(cleaning_data, tmp_path):
    officer = cleaning_data["officer938"]
    p1, p5 = _p(1), _p(5)
    cleaning.do_edit_pupil(officer, p1.pk, p1.version, {"reading": "EXS"}, reason="Phoned")
    cleaning.do_edit_pupil(officer, p5.pk, p5.version, {"sex": "F"})

    # The school's new file: pupil 1's reading differs from the edit; pupil 5 fixed the same way.
    _import(tmp_path, "2001-v2.xml", _pupils_2001(p1={"reading": "WTS"}, p5={"sex": "F"}))

    new1 = _p(1)
    assert new1.outcomes["reading"] == "WTS"  # the file is stored as sent
    conflict = PupilChange.objects.get(conflict="open")
    assert (conflict.pupil, conflict.field, conflict.old, conflict.new) == (
        new1,
        "reading",
        "EXS",
        "WTS",
    )
    assert conflict.reason == "Phoned"
    from keystage.submissions.grid import counts_for

    assert counts_for([new1.pk])[new1.pk].conflicts == 1

    cleaning.do_resolve_conflict(officer, conflict.pk, "edit")
    new1.refresh_from_db()
    assert new1.outcomes["reading"] == "EXS"
    conflict.refresh_from_db()
    assert conflict.conflict == "reapplied" and conflict.resolved_by == officer


def test_a_later_file_bringing_back_a_removed_pupil_shows_a_conflict(cleaning_data, tmp_path):
    officer = cleaning_data["officer938"]
    p4 = _p(4)
    cleaning.do_remove_pupil(officer, p4.pk, p4.version, reason="Left in May")
    _import(tmp_path, "2001-v2.xml", _pupils_2001(p1={"reading": "WTS"}))
    back = _p(4)
    conflict = PupilChange.objects.get(conflict="open")
    assert conflict.pupil == back and conflict.field == "pupil"
    cleaning.do_resolve_conflict(officer, conflict.pk, "file")
    back.refresh_from_db()
    assert back.is_current


def test_a_later_file_that_gives_the_pupil_a_new_upn_still_finds_the_edit(cleaning_data, tmp_path):
    """The school's new file gives pupil 4 a new UPN and names the old one as FormerUPN: the
    LA's edit and the explained query follow the pupil, and the upload counts one pupil
    changed, not one removed and one added."""
    officer = cleaning_data["officer938"]
    p2, p4 = _p(2), _p(4)
    cleaning.do_edit_pupil(officer, p4.pk, p4.version, {"maths": "EXS"}, reason="Phoned")
    query = Finding.objects.get(pupil=p2, is_current=True, severity="query")
    cleaning.do_explain_query(officer, query.pk, "Born early, kept back a year")
    new_upn, new_upn2 = upns.make("938", "2001", "16", "104"), upns.make("938", "2001", "16", "102")
    results = _import(tmp_path, "2001-v2.xml", _pupils_2001(
        p2={"upn": new_upn2, "former_upn": p2.upn},
        p4={"upn": new_upn, "former_upn": p4.upn, "maths": "GDS"},
    ))  # fmt: skip
    changes = Upload.objects.get(pk=results[0].upload_id).changes
    assert changes["added"] == [] and changes["removed"] == []
    assert {"upn": new_upn, "fields": ["upn", "maths"], "former_upn": p4.upn} in changes["changed"]
    new4 = _p(4)
    assert (new4.upn, new4.outcomes["maths"]) == (new_upn, "GDS")  # stored as sent
    conflict = PupilChange.objects.get(conflict="open")
    assert (conflict.pupil, conflict.field, conflict.old, conflict.new) == (
        new4,
        "maths",
        "EXS",
        "GDS",
    )
    # The explanation of pupil 2's query went with them to their new UPN.
    again = Finding.objects.get(pupil=_p(2), is_current=True, severity="query")
    assert again.explanation == "Born early, kept back a year"
    # The pupil's trail runs across the change of UPN: the LA's edit, then the school's file.
    from keystage.submissions.grid import trail

    entries = [(e.field, e.old, e.new) for e in trail(officer, new4)]
    assert ("Mathematics", "GDS", "EXS") in entries  # the LA's edit of the old record
    assert ("UPN", p4.upn, new_upn) in entries  # the school's new file


# -- the pages --------------------------------------------------------------------------------------


def test_the_grid_saves_a_page_and_shows_the_new_counts(cleaning_data, signed_in):
    client = signed_in(cleaning_data["officer938"])
    url = reverse("la-pupils", kwargs={"code": "938"})
    page = client.get(url, {"school": "9382001", "show": "errors"})
    body = page.content.decode()
    assert page.status_code == 200
    p1 = _p(1)
    assert f'name="{p1.pk}-reading"' in body and "BLW (not valid)" in body
    assert _p(4).surname not in body  # no errors: filtered out

    form = {"row": [str(p1.pk)], f"v-{p1.pk}": "1", f"o-{p1.pk}": '{"reading": "BLW"}',
            f"{p1.pk}-reading": "EXS", "reason": "Phoned", "action": "save"}  # fmt: skip
    saved = client.post(url + "?school=9382001&show=errors", form)
    assert saved.status_code == 302
    p1.refresh_from_db()
    assert p1.outcomes["reading"] == "EXS"
    after = client.get(saved["Location"]).content.decode()
    assert f"Saved 1 change to 1 pupil: {p1.surname}, {p1.forename} (English reading)." in after
    assert f'data-pupil="{p1.pk}"' not in after  # no errors left: the filter leaves them out

    # Bulk: one item for the selected pupils.
    p4, p5 = _p(4), _p(5)
    bulk = {"row": [str(p4.pk), str(p5.pk)], f"v-{p4.pk}": "1", f"v-{p5.pk}": "1",
            "selected": [str(p4.pk), str(p5.pk)], "bulk_field": "science", "bulk_value": "hnm",
            "action": "bulk"}  # fmt: skip
    assert client.post(url, bulk).status_code == 302
    assert {p.outcomes["science"] for p in PupilRecord.objects.filter(pk__in=[p4.pk, p5.pk])} == {
        "HNM"
    }


def test_the_grid_refuses_a_stale_row_and_keeps_what_was_typed(cleaning_data, signed_in):
    p1 = _p(1)
    cleaning.do_edit_pupil(cleaning_data["admin938"], p1.pk, 1, {"reading": "EXS"})
    client = signed_in(cleaning_data["officer938"])
    form = {"row": [str(p1.pk)], f"v-{p1.pk}": "1", f"o-{p1.pk}": '{"reading": "BLW"}',
            f"{p1.pk}-reading": "GDS", "action": "save"}  # fmt: skip
    response = client.post(reverse("la-pupils", kwargs={"code": "938"}), form)
    body = response.content.decode()
    assert response.status_code == 409
    assert (
        "changed by someone else" in body
        and "admin938 changed English reading from BLW to EXS" in body
    )
    assert '<option value="GDS" selected>' in body  # what the officer chose is still there
    p1.refresh_from_db()
    assert p1.outcomes["reading"] == "EXS"


def test_school_users_see_their_pupils_read_only(cleaning_data, signed_in):
    client = signed_in(cleaning_data["school938"])
    url = reverse("la-pupils", kwargs={"code": "938"})
    body = client.get(url).content.decode()
    assert "OTHER" in body and _p(1).surname not in body  # only their school (9382002)
    assert "Save changes" not in body and "<input" not in body.split('id="grid-count"')[1]
    other = _p(1, estab="2002")
    assert (
        client.post(url, {"row": [str(other.pk)], f"{other.pk}-forename": "X"}).status_code == 403
    )
    page = client.get(reverse("la-pupil", kwargs={"code": "938", "pupil_id": other.pk}))
    assert page.status_code == 200 and "Changes to this pupil" in page.content.decode()
    hidden = client.get(reverse("la-pupil", kwargs={"code": "938", "pupil_id": _p(1).pk}))
    assert hidden.status_code == 404


def test_the_pupil_page_shows_the_trail_and_explains_a_query(cleaning_data, signed_in):
    officer = cleaning_data["officer938"]
    client = signed_in(officer)
    p2 = _p(2)
    url = reverse("la-pupil", kwargs={"code": "938", "pupil_id": p2.pk})
    # (The file's name may break after "_" and ".": <wbr> in the trail.)
    body = client.get(url).content.decode().replace("<wbr>", "")
    assert "KS1-P11" in body and "Confirm correct" in body and "School&#39;s file 2001.xml" in body
    query = Finding.objects.get(pupil=p2, rule="KS1-P11")
    explained = client.post(url + "/explain", {"finding": query.pk, "explanation": "Held back"})
    assert explained.status_code == 302
    saved = client.post(url, {"version": "1", "orig": '{"forename": "AVA"}', "forename": "AVRIL",
                              "reason": "Spelling"})  # fmt: skip
    assert saved.status_code == 302
    body = client.get(url).content.decode()
    assert "Confirmed correct" in body and "Held back" in body
    report = client.get(reverse("la-errors", kwargs={"code": "938"})).content.decode()
    assert f'href="{url}"' in report and "Confirmed correct: Held back" in report
    assert "AVRIL" in body and "Spelling" in body and "officer938" in body

    stale = client.post(url, {"version": "1", "orig": '{"forename": "AVA"}', "forename": "AVA-MAE"})
    text = stale.content.decode()
    assert stale.status_code == 409
    assert "officer938 changed Forename from AVA to AVRIL" in text
    assert 'value="AVA-MAE"' in text


def test_grid_filters_by_rule_and_a_restricted_officer_sees_only_their_school(
    cleaning_data, signed_in
):
    client = signed_in(cleaning_data["restricted938"])  # school 9382001 only
    url = reverse("la-pupils", kwargs={"code": "938"})
    body = client.get(url).content.decode()
    assert _p(1).surname in body and "OTHER" not in body
    assert "Downs Infant School" not in body  # 9382002: not even in the school filter
    only_sex = client.get(url, {"rule": "KS1-P13"}).content.decode()
    assert _p(5).surname in only_sex and _p(1).surname not in only_sex
    assert "1 pupil with errors." in only_sex


def test_adding_a_pupil_through_the_page_needs_a_reason(cleaning_data, signed_in):
    client = signed_in(cleaning_data["officer938"])
    url = reverse("la-pupil-add", kwargs={"code": "938"})
    form = {"school": "9382001", "upn": upns.make("938", "2001", "16", "050"),
            "surname": "NEWTON", "forename": "ADA", "dob": "2016-01-14", "sex": "F",
            "reading": "EXS", "writing": "EXS", "maths": "EXS", "science": "EXS"}  # fmt: skip
    refused = client.post(url, form)
    assert refused.status_code == 400 and "Enter why the LA is adding" in refused.content.decode()
    assert 'value="NEWTON"' in refused.content.decode()  # what was typed is kept
    added = client.post(url, {**form, "reason": "Left out of the export"})
    assert added.status_code == 302
    page = client.get(added["Location"]).content.decode()
    assert "Added by the LA" in page and "Left out of the export" in page
    grid_page = client.get(reverse("la-pupils", kwargs={"code": "938"}), {"show": "added"})
    assert "NEWTON" in grid_page.content.decode()
    assert "1 pupil added by the LA." in grid_page.content.decode()


def test_a_pupil_the_la_added_stays_when_the_next_file_leaves_them_out(cleaning_data, tmp_path):
    officer = cleaning_data["officer938"]
    school = School.objects.get(laestab="9382001")
    values = {"upn": upns.make("938", "2001", "16", "050"), "surname": "NEWTON",
              "forename": "ADA", "dob": "2015-01-01", "sex": "F", "reading": "EXS",
              "writing": "EXS", "maths": "EXS", "science": "EXS"}  # fmt: skip
    cleaning.do_add_pupil(officer, school, values, reason="Left out of the export")
    _import(tmp_path, "2001-v2.xml", _pupils_2001(p4={"maths": "WTS"}))
    kept = PupilRecord.objects.get(surname="NEWTON", is_current=True)
    assert kept.flag == "added" and kept.upload.file_name == "2001-v2.xml"
    assert _rules(kept) == {"KS1-P11"}  # its checks were run again
    assert kept.upload.pupil_count == 6


# -- the grid's errors (GOV.UK error summary linking to the cell, message on the cell) -------------


def _grid_form(*rows) -> dict:
    """A grid POST: each row (pupil, {field: value as typed}) with its version and the values
    the page showed."""
    import json

    form = {"row": [], "action": "save"}
    for p, typed in rows:
        shown = {name: cleaning.value_of(p, name) for name in typed}
        form["row"].append(str(p.pk))
        form[f"v-{p.pk}"] = str(p.version)
        form[f"o-{p.pk}"] = json.dumps(shown)
        form.update({f"{p.pk}-{name}": value for name, value in typed.items()})
    return form


def _who(p: PupilRecord) -> str:
    return f"{p.surname}, {p.forename} ({p.upn})"


def test_the_grid_opens_on_the_pupils_with_errors_and_can_show_all(cleaning_data, signed_in):
    client = signed_in(cleaning_data["officer938"])
    url = reverse("la-pupils", kwargs={"code": "938"})
    body = client.get(url, {"school": "9382001"}).content.decode()
    with_errors = [_p(1), _p(3), _p(5)]  # bad code, duplicate UPN, bad sex
    assert all(_who(p).split(" (")[0] in body for p in with_errors)
    assert _p(4).surname not in body and _p(2).surname not in body  # clean, and a query only
    assert "3 pupils with errors." in body and 'id="grid-default"' in body
    assert '<option value="errors" selected>' in body
    everyone = client.get(url, {"school": "9382001", "show": "all"}).content.decode()
    assert _p(4).surname in everyone and "5 pupils." in everyone
    assert 'id="grid-default"' not in everyone
    # Paging keeps the choice: the links name the filter the page shows.
    assert "show=all" in everyone.split('id="grid-default"')[0] or "5 pupils." in everyone
    # A school with no errors left opens on all its pupils.
    for p in with_errors:
        cleaning.do_remove_pupil(cleaning_data["officer938"], p.pk, p.version, reason="Left")
    clean = client.get(url, {"school": "9382001"}).content.decode()
    assert "2 pupils." in clean and _p(4).surname in clean and 'id="grid-default"' not in clean


def test_the_grid_marks_each_cell_in_error_with_the_rules_title(cleaning_data, signed_in):
    from keystage.engine.rules import RULES

    client = signed_in(cleaning_data["officer938"])
    p1, p4 = _p(1), _p(4)
    body = client.get(
        reverse("la-pupils", kwargs={"code": "938"}), {"show": "all"}
    ).content.decode()
    row = body.split(f'data-pupil="{p1.pk}"')[1].split("</tr>")[0]
    reading = (
        row.split(f'id="{p1.pk}-reading"')[0].rsplit("<td", 1)[1]
        + row.split(f'id="{p1.pk}-reading"')[1].split("</td>")[0]
    )
    assert "govuk-select--error" in reading and "keystage-cell--error" in reading
    assert f'<span class="govuk-visually-hidden">Error:</span> {RULES["KS1-T07"].title}' in reading
    assert f'aria-describedby="{p1.pk}-reading-rules"' in body
    clean_row = body.split(f'data-pupil="{p4.pk}"')[1].split("</tr>")[0]
    assert "--error" not in clean_row and "Error:" not in clean_row


def test_an_invalid_row_beside_a_valid_one_saves_nothing_and_names_the_cell(
    cleaning_data, signed_in
):
    client = signed_in(cleaning_data["officer938"])
    p1, p4 = _p(1), _p(4)
    form = _grid_form((p4, {"forename": "BEATRIX"}), (p1, {"reading": "ZZZ", "dob": "31/02/2016"}))
    response = client.post(reverse("la-pupils", kwargs={"code": "938"}) + "?show=all", form)
    body = response.content.decode()
    assert response.status_code == 409
    p1.refresh_from_db()
    p4.refresh_from_db()
    assert p4.forename == "AVA" and p4.version == 1  # the valid row was not saved either
    assert p1.outcomes["reading"] == "BLW" and p1.version == 1
    assert not PupilChange.objects.exists()
    summary = body.split('class="govuk-error-summary"')[1].split("</div>\n</div>")[0]
    assert "Nothing was saved" in summary
    assert f'href="#{p1.pk}-reading">Pupil {_who(p1)}: English reading must be one of' in summary
    assert f'href="#{p1.pk}-dob">Pupil {_who(p1)}: Date of birth must be a real date' in summary
    assert 'href="#grid"' not in body
    # The bad cell: the GOV.UK error border and its message, above the field.
    cell = body.split(f'id="{p1.pk}-reading-error"')[0].rsplit("<td", 1)[1]
    assert "govuk-form-group--error" in cell
    assert f'id="{p1.pk}-reading-error"><span class="govuk-visually-hidden">Error:</span>' in body
    # Every typed value is still on the form, the invalid ones too.
    assert f'id="{p4.pk}-forename" name="{p4.pk}-forename" type="text" value="BEATRIX"' in body
    assert 'value="31/02/2016"' in body and '<option value="ZZZ" selected>ZZZ (not valid)' in body
    assert "<title>Error: Pupil records" in body


def test_a_saved_grid_says_what_was_saved(cleaning_data, signed_in):
    client = signed_in(cleaning_data["officer938"])
    p1, p5 = _p(1), _p(5)
    form = _grid_form((p1, {"reading": "EXS", "forename": "AVERY"}), (p5, {"sex": "F"}))
    saved = client.post(reverse("la-pupils", kwargs={"code": "938"}), form)
    assert saved.status_code == 302
    page = client.get(saved["Location"]).content.decode()
    p1.refresh_from_db()
    assert (
        f"Saved 3 changes to 2 pupils: {p1.surname}, AVERY (Forename, English reading); "
        f"{p5.surname}, {p5.forename} (Sex). Their checks have been run again."
    ) in page.replace("&#39;", "'")


# -- the pupil page's forms: error summary linking to the field, message on the field ------------


def test_the_pupil_pages_forms_put_the_error_on_the_field(cleaning_data, signed_in):
    client = signed_in(cleaning_data["officer938"])
    p2 = _p(2)
    url = reverse("la-pupil", kwargs={"code": "938", "pupil_id": p2.pk})
    query = Finding.objects.get(pupil=p2, rule="KS1-P11")
    refused = client.post(url + "/explain", {"finding": query.pk, "explanation": "  "})
    body = refused.content.decode()
    assert refused.status_code == 409
    assert f'href="#explanation-{query.pk}">Enter why the value is correct' in body
    assert f'id="explanation-{query.pk}-error"' in body and "govuk-textarea--error" in body

    bad = client.post(url, {"version": "1", "orig": '{"dob": "2015-01-01"}', "dob": "2016-13-40"})
    body = bad.content.decode()
    assert bad.status_code == 409
    assert 'href="#dob">Date of birth must be a real date' in body
    assert 'id="dob-error"' in body and "govuk-input--error" in body
    assert 'value="2016-13-40"' in body  # what was typed is kept


def test_the_pupil_page_names_each_rule_and_offers_the_next_pupil_with_an_error(
    cleaning_data, signed_in
):
    from keystage.engine.rules import RULES

    client = signed_in(cleaning_data["officer938"])
    p1, p3, p5 = _p(1), _p(3), _p(5)  # the pupils of 9382001 with errors, in the grid's order
    other = _p(1, estab="2002")  # the duplicate UPN's other half, in the next school
    page = client.get(reverse("la-pupil", kwargs={"code": "938", "pupil_id": p1.pk}))
    body = page.content.decode()
    assert f"KS1-T07 {RULES['KS1-T07'].title}" in body
    assert cleaning.LA_CAN_CORRECT in body
    link = reverse("la-pupil", kwargs={"code": "938", "pupil_id": p3.pk})
    assert f'id="next-error" href="{link}">Next pupil with an error' in body
    # From the grid of one school, the next stays in that school and comes round again.
    within = client.get(
        reverse("la-pupil", kwargs={"code": "938", "pupil_id": p5.pk}), {"school": "9382001"}
    ).content.decode()
    first = reverse("la-pupil", kwargs={"code": "938", "pupil_id": p1.pk})
    assert f'href="{first}?school=9382001">Next pupil with an error' in within
    # Across the LA, after the last pupil of one school comes the next school's.
    across = client.get(reverse("la-pupil", kwargs={"code": "938", "pupil_id": p5.pk}))
    after = reverse("la-pupil", kwargs={"code": "938", "pupil_id": other.pk})
    assert f'href="{after}">Next pupil with an error' in across.content.decode()


# -- removing a pupil (a confirmation page) and putting them back ------------------------------------


def test_removing_a_pupil_goes_through_a_confirmation_page(cleaning_data, signed_in):
    client = signed_in(cleaning_data["officer938"])
    p4 = _p(4)
    page = client.get(reverse("la-pupil", kwargs={"code": "938", "pupil_id": p4.pk}))
    remove = reverse("la-pupil-remove", kwargs={"code": "938", "pupil_id": p4.pk})
    body = page.content.decode()
    assert f'href="{remove}"' in body and f'action="{remove}"' not in body  # a link, not a form
    confirm = client.get(remove)
    text = confirm.content.decode()
    assert confirm.status_code == 200
    assert f"Are you sure you want to remove {_who(p4)}?" in text
    assert "govuk-warning-text" in text and "You can put the pupil back" in text
    assert 'name="remove_reason"' in text and "Yes, remove this pupil" in text
    assert "data-prevent-double-click" in text
    p4.refresh_from_db()
    assert p4.is_current  # looking at the page removes nothing

    refused = client.post(remove, {"version": "1", "remove_reason": " "})
    body = refused.content.decode()
    assert refused.status_code == 400 and _p(4).is_current
    assert 'href="#remove_reason">Enter why the LA is removing this pupil' in body
    assert 'id="remove_reason-error"' in body and "govuk-textarea--error" in body

    done = client.post(remove, {"version": "1", "remove_reason": "Left in May"})
    assert done.status_code == 302
    p4.refresh_from_db()
    assert not p4.is_current and p4.flag == "removed"
    assert "was removed from the collection" in client.get(done["Location"]).content.decode()


def test_a_removed_pupil_can_be_put_back_from_their_page(
    cleaning_data, signed_in, django_capture_on_commit_callbacks
):
    officer = cleaning_data["officer938"]
    client = signed_in(officer)
    p3, other = _p(3), _p(1, estab="2002")  # p3 shares its UPN with the other school's pupil
    cleaning.do_remove_pupil(officer, p3.pk, p3.version, reason="Left in May")
    assert "KS1-P03" not in _rules(other) and _rules(p3) == set()
    url = reverse("la-pupil", kwargs={"code": "938", "pupil_id": p3.pk})
    page = client.get(url).content.decode()
    assert "removed from the collection by officer938" in page and "Left in May" in page
    assert "Put the pupil back" in page

    restore = reverse("la-pupil-restore", kwargs={"code": "938", "pupil_id": p3.pk})
    refused = client.post(restore, {"version": "2", "restore_reason": ""})
    body = refused.content.decode()
    assert refused.status_code == 409
    assert 'href="#restore_reason">Enter why the LA is putting this pupil back' in body
    assert 'id="restore_reason-error"' in body
    p3.refresh_from_db()
    assert not p3.is_current

    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(restore, {"version": "2", "restore_reason": "Came back in June"})
    assert done.status_code == 302
    p3.refresh_from_db()
    assert p3.is_current and p3.flag == "" and p3.version == 3
    assert "KS1-P03" in _rules(p3) and "KS1-P03" in _rules(other)  # the LA's checks re-ran
    assert Upload.objects.get(pk=p3.upload_id).pupil_count == 5
    [queued] = DBTaskResult.objects.filter(task_path__endswith="rebuild_facts_task")
    assert queued.args_kwargs["args"] == [p3.collection_id, [p3.school_id]]  # figures rebuilt
    change = PupilChange.objects.get(pupil=p3, source="restored")
    assert (change.reason, change.by, change.new) == ("Came back in June", officer, _who(p3))
    event = AuditEvent.objects.get(action="pupil.restored")
    assert event.detail["reason"] == "Came back in June" and event.school.laestab == "9382001"
    after = client.get(done["Location"]).content.decode()
    assert "is back in the collection" in after and "Pupil put back" in after
    # Putting back twice is refused, not done twice.
    again = client.post(restore, {"version": "3", "restore_reason": "Again"})
    assert again.status_code == 409
    assert PupilChange.objects.filter(source="restored").count() == 1


def test_a_pupil_put_back_is_no_conflict_when_the_next_file_has_them(cleaning_data, tmp_path):
    officer = cleaning_data["officer938"]
    p4 = _p(4)
    cleaning.do_remove_pupil(officer, p4.pk, p4.version, reason="Left in May")
    p4.refresh_from_db()
    cleaning.do_restore_pupil(officer, p4.pk, p4.version, reason="Came back")
    _import(tmp_path, "2001-v2.xml", _pupils_2001(p1={"reading": "WTS"}))
    assert not PupilChange.objects.filter(conflict="open").exists()


def test_only_a_removed_pupil_of_the_current_file_can_be_put_back(cleaning_data, tmp_path):
    officer = cleaning_data["officer938"]
    p4 = _p(4)
    with pytest.raises(cleaning.EditRefused, match="not a removed pupil"):
        cleaning.do_restore_pupil(officer, p4.pk, p4.version, reason="x")
    cleaning.do_remove_pupil(officer, p4.pk, p4.version, reason="Left in May")
    # The school's next file leaves the pupil out: the removed record is of an older file.
    rows = [r for i, r in enumerate(_pupils_2001()) if i != 3]
    _import(tmp_path, "2001-v2.xml", rows)
    p4.refresh_from_db()
    with pytest.raises(cleaning.EditRefused, match="has sent a newer file"):
        cleaning.do_restore_pupil(officer, p4.pk, p4.version, reason="Came back")
    with pytest.raises(PermissionDenied):
        cleaning.do_restore_pupil(cleaning_data["school938"], p4.pk, p4.version, reason="x")


def test_a_forged_grid_save_changes_nothing_and_shows_nothing_of_another_la(
    cleaning_data, signed_in, tmp_path
):
    """Hostile input: another LA's pupil among the rows, broken hidden fields, markup in a
    name. Nothing is saved, nothing of the other LA is shown, and the markup stays text."""
    path = tmp_path / "202.xml"
    path.write_text(ctf([pupil(1, la="202", estab="2003", surname="CAMDENER")], "202", "2003"))
    import_paths([str(path)], jobs=1)
    foreign = PupilRecord.objects.get(surname="CAMDENER")
    client = signed_in(cleaning_data["officer938"])
    p1, p4 = _p(1), _p(4)
    PupilRecord.objects.filter(pk=p1.pk).update(surname="<img src=x onerror=alert(1)>")
    p1.refresh_from_db()
    form = _grid_form((p4, {"forename": "BEATRIX"}), (p1, {"reading": "ZZZ"}))
    form["row"] += [str(foreign.pk), "not-a-number"]
    form.update({f"v-{foreign.pk}": "1", f"o-{foreign.pk}": "[1, 2]", f"{foreign.pk}-surname": "X"})
    form[f"v-{p4.pk}"] = "one"  # not a version: refused as stale, not a crash
    response = client.post(reverse("la-pupils", kwargs={"code": "938"}) + "?show=all", form)
    body = response.content.decode()
    assert response.status_code == 409
    foreign.refresh_from_db()
    p4.refresh_from_db()
    assert foreign.surname == "CAMDENER" and p4.forename == "AVA"
    assert "CAMDENER" not in body and f"You cannot change pupil record {foreign.pk}" in body
    assert "<img src=x" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert f'href="#{p4.pk}-forename">' in body  # the stale row's changed cell
    # Another LA's removed pupil cannot be put back through this LA's pages.
    restore = reverse("la-pupil-restore", kwargs={"code": "938", "pupil_id": foreign.pk})
    assert client.post(restore, {"version": "1", "restore_reason": "x"}).status_code == 404
    remove = reverse("la-pupil-remove", kwargs={"code": "202", "pupil_id": foreign.pk})
    assert client.get(remove).status_code == 404


def test_a_bulk_change_with_a_bad_value_or_no_pupils_says_where(cleaning_data, signed_in):
    client = signed_in(cleaning_data["officer938"])
    url = reverse("la-pupils", kwargs={"code": "938"}) + "?show=all"
    p4, p5 = _p(4), _p(5)
    rows = {"row": [str(p4.pk), str(p5.pk)], f"v-{p4.pk}": "1", f"v-{p5.pk}": "1",
            "action": "bulk", "bulk_field": "science"}  # fmt: skip
    bad = client.post(url, {**rows, "selected": [str(p4.pk), str(p5.pk)], "bulk_value": "ZZ"})
    body = bad.content.decode()
    assert bad.status_code == 409
    assert 'href="#bulk-value">New value: Science must be one of' in body
    assert 'id="bulk-value-error"' in body and 'value="ZZ"' in body
    assert {p.outcomes["science"] for p in PupilRecord.objects.filter(pk__in=[p4.pk, p5.pk])} == {
        "EXS"
    }
    none = client.post(url, {**rows, "bulk_value": "HNM"}).content.decode()
    assert f'href="#select-{p4.pk}">Select the pupils to change' in none


def test_the_grid_ignores_rows_that_are_not_pupil_ids(cleaning_data, signed_in):
    """A tampered form's row "²" (which str.isdigit() accepts and int() refuses) changes
    nothing and fails nothing; the real row beside it is saved."""
    client = signed_in(cleaning_data["officer938"])
    url = reverse("la-pupils", kwargs={"code": "938"})
    p1 = _p(1)
    form = {"row": ["²", str(p1.pk)], f"v-{p1.pk}": "1", f"o-{p1.pk}": '{"reading": "BLW"}',
            f"{p1.pk}-reading": "EXS", "reason": "Phoned", "action": "save",
            "selected": ["²"]}  # fmt: skip
    saved = client.post(url + "?school=9382001&show=errors", form)
    assert saved.status_code == 302
    p1.refresh_from_db()
    assert p1.outcomes["reading"] == "EXS"
