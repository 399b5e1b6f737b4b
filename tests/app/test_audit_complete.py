"""Every state-changing action writes its audit row, with the right event name and actor.

The actions are found by introspection: every public `do_*` function defined in a module of a
Django app (actions.py, cleaning.py, batches.py...). Each must have a way to run it in
`SCENARIOS` (which returns the event it must write and who must be named as its actor) or a
reason in `NO_AUDIT_ROW`; otherwise the test fails, so a new action cannot skip the log."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keystage.audit.models import AuditEvent
from tests.app.returns_data import explain_everything
from tests.builders import ctf, pupil, write_register

pytestmark = pytest.mark.django_db

NOT_ACTIONS = ("views", "urls", "forms", "models", "apps", "admin", "migrations", "tests")


def discovered_actions() -> dict[str, object]:
    """{"app.module.do_name": function} for every `do_*` function defined in an app module."""
    from django.apps import apps

    found = {}
    for config in apps.get_app_configs():
        if not config.name.startswith("keystage."):
            continue
        app = config.label
        package = config.module
        for info in pkgutil.iter_modules(package.__path__):
            if info.ispkg or info.name in NOT_ACTIONS:
                continue
            module = importlib.import_module(f"{config.name}.{info.name}")
            for name, fn in inspect.getmembers(module, inspect.isfunction):
                if name.startswith("do_") and fn.__module__ == module.__name__:
                    found[f"{app}.{info.name}.{name}"] = fn
    # Operations (retention, backup) are run by an operator, not a Django app of their own.
    import keystage.operations as operations

    for info in pkgutil.iter_modules(operations.__path__):
        module = importlib.import_module(f"keystage.operations.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("do_") and fn.__module__ == module.__name__:
                found[f"operations.{info.name}.{name}"] = fn
    return found


@dataclass
class World:
    """LA 938 with two schools' files imported (9382002 has a query), users of every role."""

    members: dict
    collection: object
    la: object
    tmp_path: Path

    def school(self, laestab: str):
        from keystage.orgs.models import School

        return School.objects.get(laestab=laestab)

    def pupil(self, laestab="9382001"):
        from keystage.submissions.models import PupilRecord

        return PupilRecord.objects.filter(school__laestab=laestab, is_current=True).first()

    def released(self):
        from keystage.checking.actions import do_release

        return do_release(self.members["officer938"], self.collection)


def _user(w, name):
    return w.members[name]


# -- how to run each action: returns (event, the user named as actor, or None for the CLI) ----


def _create_member(w):
    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role

    do_create_member("newbie", role=Role.LA_OFFICER, la=w.la, by=_user(w, "admin938"))
    return "account.created", _user(w, "admin938")


def _set_restricted(w):
    from keystage.accounts.actions import do_set_restricted_schools

    m = _user(w, "restricted938").membership
    do_set_restricted_schools(m, [w.school("9382001")], by=_user(w, "admin938"))
    return "account.schools_set", _user(w, "admin938")


def _sign_in(w):
    from keystage.accounts.actions import do_record_sign_in

    do_record_sign_in(_user(w, "school938"))
    return "account.signed_in", _user(w, "school938")


def _sign_out(w):
    from keystage.accounts.actions import do_record_sign_out

    do_record_sign_out(_user(w, "school938"))
    return "account.signed_out", _user(w, "school938")


def _two_factor(w):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from keystage.accounts.actions import do_confirm_two_factor

    user = _user(w, "officer938")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=False)
    do_confirm_two_factor(user, device)
    return "account.two_factor_set_up", user


def _set_approver(w):
    from keystage.accounts.actions import do_set_approver

    do_set_approver(_user(w, "officer938").membership, False, by=_user(w, "admin938"))
    return "account.approver_set", _user(w, "admin938")


def _deactivate(w):
    from keystage.accounts.actions import do_deactivate_member

    do_deactivate_member(_user(w, "school938").membership, by=_user(w, "admin938"))
    return "account.deactivated", _user(w, "admin938")


def _change_password(w):
    from keystage.accounts.actions import do_change_password

    do_change_password(_user(w, "school938"), "Purple-Kettle-Orbit-42")
    return "account.password_changed", _user(w, "school938")


def _reset_password(w):
    from keystage.accounts.actions import do_reset_password

    do_reset_password(_user(w, "officer938").membership, by=_user(w, "admin938"))
    return "account.password_reset", _user(w, "admin938")


def _session_end(w):
    from keystage.accounts.actions import do_record_session_end

    do_record_session_end(_user(w, "school938"), "idle")
    return "account.session_ended", _user(w, "school938")


def _two_factor_for(w):
    from keystage.accounts.actions import do_set_two_factor_for

    do_set_two_factor_for(w.la, "la_staff", by=_user(w, "admin938"))
    return "account.two_factor_policy_set", _user(w, "admin938")


def _release(w):
    w.released()
    return "checking.released", _user(w, "officer938")


def _remind(w):
    from keystage.checking.actions import do_remind

    w.released()
    assert do_remind(_user(w, "officer938"), w.collection), "nobody to remind"
    return "checking.reminded", _user(w, "officer938")


def _confirm(w):
    from keystage.checking.actions import do_confirm

    w.released()
    do_confirm(_user(w, "school938"), w.collection, w.school("9382002"), name="Ann Head",
               job_title="Head teacher")  # fmt: skip
    return "checking.confirmed", _user(w, "school938")


def _send_query(w):
    from keystage.checking.actions import do_send_query

    w.released()
    do_send_query(_user(w, "school938"), w.collection, w.school("9382002"), body="Pupil 2?")
    return "checking.query_sent", _user(w, "school938")


def _reply(w):
    from keystage.checking.actions import do_reply

    w.released()
    do_reply(_user(w, "officer938"), w.collection, w.school("9382001"), body="Fixed it")
    return "checking.query_answered", _user(w, "officer938")


def _school_deadline(w):
    import datetime as dt

    from keystage.collection.actions import do_set_school_deadline

    do_set_school_deadline(w.la, w.collection, dt.date(2023, 6, 1), user=_user(w, "admin938"))
    return "collection.school_deadline_set", _user(w, "admin938")


def _expected_cohorts(w):
    from keystage.collection.actions import do_store_expected_cohorts

    do_store_expected_cohorts(w.la, w.collection, [(w.school("9382001"), 30)],
                              user=_user(w, "officer938"), file_name="cohorts.csv")  # fmt: skip
    return "collection.expected_cohorts_loaded", _user(w, "officer938")


def _record_view(w):
    from keystage.collection.actions import do_record_view

    do_record_view("view.pupil_list", user=_user(w, "officer938"), la=w.la)
    return "view.pupil_list", _user(w, "officer938")


def _school_sees(w):
    from keystage.collection.actions import do_set_school_sees

    do_set_school_sees(w.la, w.collection, "comparisons", user=_user(w, "admin938"))
    return "collection.school_sees_set", _user(w, "admin938")


def _load_register(w):
    from keystage.orgs.actions import do_load_register

    do_load_register(write_register(w.tmp_path / "again.csv"))
    return "register.loaded", None


def _load_settings(w):
    from keystage.orgs.actions import do_load_settings

    register = w.tmp_path / "settings.csv"
    register.write_text("URN,LA (code),SettingName\n512345,938,Little Acorns\n", "utf-8")
    do_load_settings(register)
    return "settings.loaded", None


def _refresh_expected(w):
    from keystage.orgs.actions import do_refresh_expected
    from keystage.orgs.models import ExpectedSchool

    ExpectedSchool.objects.filter(school__laestab="9382001").delete()  # as for a new collection
    assert do_refresh_expected() == 1
    return "register.expected_refreshed", None


def _request_pack(w):
    from keystage.reports.actions import do_request_pack

    do_request_pack(_user(w, "officer938"), w.collection, w.la)
    return "reports.pack_requested", _user(w, "officer938")


def _generation(w, confirm=True):
    from keystage.returns.actions import do_build_return

    return do_build_return(w.la, w.collection, user=_user(w, "officer938"), confirm=confirm)


def _build_return(w):
    _generation(w)
    return "return.generated", _user(w, "officer938")


def _upload_returns(w):
    from keystage.returns.actions import do_upload_returns, generation_path

    g = _generation(w)
    files = [(f["name"], generation_path(g, f["name"]).read_bytes()) for f in g.files]
    AuditEvent.objects.all().delete()  # only what the upload writes
    do_upload_returns(w.la, w.collection, files, user=_user(w, "officer938"))
    return "return.loaded", _user(w, "officer938")


def _submit_la(w):
    from keystage.returns.actions import do_submit_la

    explain_everything(w.la)
    _upload_returns(w)  # what an LA does with a return made by another system
    AuditEvent.objects.all().delete()
    do_submit_la(w.la, w.collection, user=_user(w, "officer938"))
    return "return.submitted", _user(w, "officer938")


def _submit_generation(w):
    from keystage.returns.actions import do_submit_generation

    explain_everything(w.la)
    g = _generation(w)
    AuditEvent.objects.all().delete()
    do_submit_generation(g, user=_user(w, "officer938"))
    return "return.submitted", _user(w, "officer938")


def _held(w):
    from keystage.returns.models import CollectedReturn

    _submit_generation(w)
    AuditEvent.objects.all().delete()
    return CollectedReturn.objects.select_related("la", "school").filter(la=w.la).first()


def _authorise_return(w):
    from keystage.returns.actions import do_authorise_return

    do_authorise_return(_held(w), user=_user(w, "national"))
    return "return.authorised", _user(w, "national")


def _authorise_la(w):
    from keystage.returns.actions import do_authorise_la

    _held(w)
    do_authorise_la(w.la, w.collection, user=_user(w, "national"))
    return "return.authorised", _user(w, "national")


def _send_back(w):
    from keystage.returns.actions import do_send_back

    do_send_back(_held(w), reason="Pupil 3's date of birth is wrong", user=_user(w, "national"))
    return "return.sent_back", _user(w, "national")


def _store_files(w):
    from keystage.submissions.importing import import_paths

    path = w.tmp_path / "again.xml"
    path.write_text(ctf([pupil(n) for n in range(1, 6)]), "utf-8")
    (result,) = import_paths([str(path)], jobs=1, user=_user(w, "officer938"))
    assert result.outcome != "rejected", result
    return f"upload.{result.outcome}", _user(w, "officer938")


def _edit_pupil(w):
    from keystage.submissions.cleaning import do_edit_pupil

    p = w.pupil()
    do_edit_pupil(_user(w, "officer938"), p.pk, p.version, {"sex": "F" if p.sex == "M" else "M"},
                  reason="Phoned the school")  # fmt: skip
    return "pupil.edited", _user(w, "officer938")


def _edit_pupils(w):
    from keystage.submissions.cleaning import do_edit_pupils

    p = w.pupil()
    done = do_edit_pupils(
        _user(w, "officer938"), [(p.pk, p.version, {"sex": "F" if p.sex == "M" else "M"})]
    )
    assert done
    return "pupil.edited", _user(w, "officer938")


def _explain(w):
    from keystage.submissions.cleaning import do_explain_query
    from keystage.submissions.models import Finding

    finding = Finding.objects.filter(la=w.la, severity="query", is_current=True).first()
    do_explain_query(_user(w, "officer938"), finding.pk, "Checked with the school")
    return "query.explained", _user(w, "officer938")


def _add_pupil(w):
    from keystage.submissions.cleaning import do_add_pupil, editable_fields, value_of

    template = w.pupil()
    values = {name: value_of(template, name) for name in editable_fields(w.collection)}
    values.update(upn=pupil(9)["upn"], surname="ADDED", forename="NEW")
    do_add_pupil(_user(w, "officer938"), w.school("9382001"), values, reason="Joined in May")
    return "pupil.added", _user(w, "officer938")


def _remove_pupil(w):
    from keystage.submissions.cleaning import do_remove_pupil

    p = w.pupil()
    do_remove_pupil(_user(w, "officer938"), p.pk, p.version, reason="Left the school")
    return "pupil.removed", _user(w, "officer938")


def _restore_pupil(w):
    from keystage.submissions.cleaning import do_remove_pupil, do_restore_pupil

    p = w.pupil()
    removed = do_remove_pupil(_user(w, "officer938"), p.pk, p.version, reason="Left the school")
    removed.refresh_from_db()
    do_restore_pupil(_user(w, "officer938"), removed.pk, removed.version, reason="Came back")
    return "pupil.restored", _user(w, "officer938")


def _resolve_conflict(w):
    from keystage.submissions.cleaning import do_edit_pupil, do_resolve_conflict
    from keystage.submissions.importing import import_paths
    from keystage.submissions.models import PupilChange, PupilRecord

    officer = _user(w, "officer938")
    p = PupilRecord.objects.get(upn=pupil(1)["upn"], is_current=True)
    edited = "WTS" if p.outcomes["reading"] == "EXS" else "EXS"
    do_edit_pupil(officer, p.pk, p.version, {"reading": edited}, reason="Phoned")
    rows = [pupil(n) for n in range(1, 4)]  # the school sends its value again
    rows[1]["forename"] = "CHANGED"
    path = w.tmp_path / "a-v2.xml"
    path.write_text(ctf(rows), encoding="utf-8")
    import_paths([str(path)], jobs=1)
    conflict = PupilChange.objects.get(conflict="open")
    AuditEvent.objects.all().delete()
    do_resolve_conflict(officer, conflict.pk, "file")
    return "pupil.conflict_resolved", officer


def _batch_files(estab="2001"):
    rows = [pupil(n, estab=estab) for n in range(1, 3)]
    return [SimpleUploadedFile("web.xml", ctf(rows, "938", estab).encode(), "text/xml")]


def _create_batch(w):
    from keystage.submissions.batches import do_create_batch

    do_create_batch(_user(w, "officer938"), _batch_files())
    return "batch.created", _user(w, "officer938")


def _start_batch(w):
    from keystage.submissions.batches import do_start_batch

    do_start_batch(_user(w, "officer938"), _batch_files())
    return "batch.created", _user(w, "officer938")


def _apply_retention(w):
    from django.test import override_settings
    from django.utils import timezone

    from keystage.operations.retention import do_apply_retention

    with override_settings(KEYSTAGE_RETENTION_YEARS="0"):  # past its retention today
        do_apply_retention(timezone.localdate())
    return "retention.deleted", None


# Every action found -> how to run it. Add a new action here (it must write its audit row).
SCENARIOS = {
    "accounts.actions.do_create_member": _create_member,
    "accounts.actions.do_set_restricted_schools": _set_restricted,
    "accounts.actions.do_record_sign_in": _sign_in,
    "accounts.actions.do_record_sign_out": _sign_out,
    "accounts.actions.do_confirm_two_factor": _two_factor,
    "accounts.actions.do_set_approver": _set_approver,
    "accounts.actions.do_deactivate_member": _deactivate,
    "accounts.actions.do_change_password": _change_password,
    "accounts.actions.do_reset_password": _reset_password,
    "accounts.actions.do_record_session_end": _session_end,
    "accounts.actions.do_set_two_factor_for": _two_factor_for,
    "checking.actions.do_release": _release,
    "checking.actions.do_remind": _remind,
    "checking.actions.do_confirm": _confirm,
    "checking.actions.do_send_query": _send_query,
    "checking.actions.do_reply": _reply,
    "collection.actions.do_set_school_deadline": _school_deadline,
    "collection.actions.do_store_expected_cohorts": _expected_cohorts,
    "collection.actions.do_record_view": _record_view,
    "collection.actions.do_set_school_sees": _school_sees,
    "orgs.actions.do_load_register": _load_register,
    "orgs.actions.do_load_settings": _load_settings,
    "orgs.actions.do_refresh_expected": _refresh_expected,
    "reports.actions.do_request_pack": _request_pack,
    "returns.actions.do_build_return": _build_return,
    "returns.actions.do_upload_returns": _upload_returns,
    "returns.actions.do_submit_la": _submit_la,
    "returns.actions.do_submit_generation": _submit_generation,
    "returns.actions.do_authorise_return": _authorise_return,
    "returns.actions.do_authorise_la": _authorise_la,
    "returns.actions.do_send_back": _send_back,
    "submissions.actions.do_store_files": _store_files,
    "submissions.cleaning.do_edit_pupil": _edit_pupil,
    "submissions.cleaning.do_edit_pupils": _edit_pupils,
    "submissions.cleaning.do_explain_query": _explain,
    "submissions.cleaning.do_add_pupil": _add_pupil,
    "submissions.cleaning.do_remove_pupil": _remove_pupil,
    "submissions.cleaning.do_restore_pupil": _restore_pupil,
    "submissions.cleaning.do_resolve_conflict": _resolve_conflict,
    "submissions.batches.do_create_batch": _create_batch,
    "submissions.batches.do_start_batch": _start_batch,
    "operations.retention.do_apply_retention": _apply_retention,
}

# Actions that write no audit row of their own, each with the reason.
NO_AUDIT_ROW = {
    "orgs.actions.do_load_reference": "loads the regions and LAs shipped with the product "
    "(the same rows every time), before anyone can sign in",
    "submissions.actions.do_refresh_cohort_checks": "re-derives cohort findings after an "
    "import or edit, each of which writes its own audit row",
}


def test_every_action_has_a_scenario_or_a_reason():
    found = set(discovered_actions())
    assert len(found) > 20, "introspection found too few actions"
    missing = sorted(found - set(SCENARIOS) - set(NO_AUDIT_ROW))
    assert not missing, (
        "A new action must write its audit row and be run by tests/app/test_audit_complete.py: "
        f"add it to SCENARIOS (or to NO_AUDIT_ROW with the reason): {missing}"
    )
    gone = sorted((set(SCENARIOS) | set(NO_AUDIT_ROW)) - found)
    assert not gone, f"these actions no longer exist; remove them from the test: {gone}"


@pytest.fixture
def world(la938, loaded, members, tmp_path, settings):
    settings.DATA_DIR = tmp_path / "data"
    settings.KEYSTAGE_DATA_DIR = tmp_path / "data"
    return World(members=members, collection=loaded, la=la938, tmp_path=tmp_path)


def check_audited(world, scenario) -> AuditEvent:
    """Run the scenario; it must write its event naming the acting user (or the CLI)."""
    AuditEvent.objects.all().delete()
    event, actor = scenario(world)
    rows = list(AuditEvent.objects.filter(action=event))
    written = sorted(set(AuditEvent.objects.values_list("action", flat=True)))
    assert rows, f"no audit row {event!r} was written (only {written})"
    for row in rows:
        if actor is None:
            assert row.user_id is None and row.actor.startswith("cli"), (event, row.actor)
        else:
            assert (row.user_id, row.actor) == (actor.pk, actor.get_username()), (event, row.actor)
    return rows[0]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_action_writes_its_audit_row(world, name):
    check_audited(world, SCENARIOS[name])


@pytest.mark.parametrize(
    "name, module, event",
    [
        ("orgs.actions.do_load_register", "keystage.orgs.actions", "register.loaded"),
        ("returns.actions.do_build_return", "keystage.returns.actions", "return.generated"),
        ("submissions.cleaning.do_resolve_conflict", "keystage.submissions.cleaning",
         "pupil.conflict_resolved"),
    ],
)  # fmt: skip
def test_the_walk_notices_an_action_without_its_audit_row(world, monkeypatch, name, module,
                                                          event):  # fmt: skip
    """The audit rows the issue deleted on purpose: with that one row not written, the check
    fails."""
    from keystage.audit import models as audit

    real = audit.record

    def record_all_but(action, **kw):
        if action != event:
            real(action, **kw)

    monkeypatch.setattr(f"{module}.record", record_all_but)
    with pytest.raises(AssertionError, match="no audit row"):
        check_audited(world, SCENARIOS[name])
