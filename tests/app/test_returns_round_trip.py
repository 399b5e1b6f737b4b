"""Round trip: the generated national sample for three LAs is imported, cleaned (every query
explained), built into returns, uploaded to the national collection, validated, submitted and
authorised; the collector then holds exactly the pupils and outcomes the LAs hold."""

from __future__ import annotations

import pytest

from keystage.cli import main
from keystage.engine.collections.ks1 import synthetic
from keystage.orgs.models import LocalAuthority
from keystage.returns import actions
from keystage.returns.models import CollectedFinding, CollectedPupil, CollectedReturn
from keystage.submissions.models import Finding, PupilRecord

LAS = ["201", "420", "857"]  # City of London, Isles of Scilly, Rutland: 18 schools


def _pupils(model, la) -> set[tuple]:
    return {
        (
            laestab,
            upn,
            surname,
            forename,
            dob,
            sex,
            tuple(sorted((k, v.strip().upper()) for k, v in outcomes.items())),
        )
        for laestab, upn, surname, forename, dob, sex, outcomes in model.objects.filter(
            la=la, is_current=True
        ).values_list("school__laestab", "upn", "surname", "forename", "dob", "sex", "outcomes")
    }


@pytest.mark.django_db
def test_collector_holds_what_the_las_hold(tmp_path, settings, capsys, fast_hashing):
    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.submissions.actions import get_collection

    settings.DATA_DIR = tmp_path / "data"
    settings.UPLOAD_STORE = tmp_path / "store"
    out = tmp_path / "generated"
    summary = synthetic.generate(out, las=LAS, error_rate=0, seed=11)
    assert main(["init"]) == 0
    assert main(["schools", "load", str(summary.register)]) == 0
    assert main(["import", "--quiet", *(str(out / code) for code in LAS)]) == 0
    capsys.readouterr()
    collection = get_collection()
    national = do_create_member(
        "collector", password="Correct-Horse-Battery-9", role=Role.NATIONAL_ADMIN
    ).user

    for code in LAS:
        la = LocalAuthority.objects.get(code=code)
        approver = do_create_member(
            f"approver{code}",
            password="Correct-Horse-Battery-9",
            role=Role.LA_OFFICER,
            la=la,
            is_approver=True,
        ).user
        # Cleaning: nothing is wrong (error rate 0); every query is confirmed with a note.
        assert not Finding.objects.filter(la=la, is_current=True, severity="error").exists()
        Finding.objects.filter(la=la, is_current=True, severity="query").update(
            explanation=f"Confirmed with the school ({code})"
        )
        generation = actions.do_build_return(la, collection, user=approver)
        assert not generation.confirmed_open_items
        if code == LAS[0]:  # submitted from within Keystage: one action loads and submits
            result = actions.do_submit_generation(generation, user=approver)
        else:  # uploaded as files (the zip), as any system's return would be, then submitted
            bundle = actions.generation_path(generation)
            result = actions.do_upload_returns(
                la, collection, [(bundle.name, bundle.read_bytes())], user=approver
            )
            actions.do_submit_la(la, collection, user=approver)
        assert len(result.schools) == generation.school_count
        assert len(actions.do_authorise_la(la, collection, user=national).will) == (
            generation.school_count
        )

    for code in LAS:
        la = LocalAuthority.objects.get(code=code)
        held_by_la = _pupils(PupilRecord, la)
        assert held_by_la, code
        assert _pupils(CollectedPupil, la) == held_by_la, code
        # Queries the LA explained arrive explained; the collector finds no error.
        assert not CollectedFinding.objects.filter(la=la, is_current=True, severity="error")
        assert not CollectedFinding.objects.filter(
            la=la, is_current=True, severity="query", explanation=""
        ).exists()
        la_queries = Finding.objects.filter(
            la=la, is_current=True, severity="query", pupil__isnull=False
        ).count()
        collected_queries = CollectedFinding.objects.filter(
            la=la, is_current=True, severity="query", pupil__isnull=False
        ).count()
        assert collected_queries == la_queries, code
        assert set(CollectedReturn.objects.filter(la=la).values_list("status", flat=True)) == {
            "authorised"
        }
