"""The collector sends a school return back to its LA: who may, what it needs, what the LA sees
and is told, and how the return comes back to be submitted again."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from keystage.audit.models import AuditEvent
from keystage.returns import actions, queries
from keystage.returns.models import CollectedReturn
from keystage.web.links import reverse
from tests.app.returns_data import explain_everything

pytestmark = pytest.mark.django_db

REASON = "Pupil 3's date of birth is a year out: please check with the school and resubmit."


@pytest.fixture
def submitted(la938, loaded, members):
    """LA 938's return built (queries explained) and submitted: two school returns."""
    explain_everything(la938)
    g = actions.do_build_return(la938, loaded, user=members["officer938"])
    actions.do_submit_generation(g, user=members["officer938"])
    return g


def _held(laestab="9382001") -> CollectedReturn:
    return CollectedReturn.objects.select_related("school", "la").get(school__laestab=laestab)


def _url(name, laestab="9382001"):
    return reverse(name, kwargs={"code": "938", "laestab": laestab})


def test_only_a_national_admin_sends_back_and_says_why(submitted, members):
    cr = _held()
    for who in ("officer938", "admin938", "school938", "officer202"):
        with pytest.raises(PermissionDenied):
            actions.do_send_back(cr, reason=REASON, user=members[who])
    for blank in ("", "   \n "):
        with pytest.raises(actions.ReturnRefused, match="Say why"):
            actions.do_send_back(cr, reason=blank, user=members["national"])
    with pytest.raises(actions.ReturnRefused, match="2000"):
        actions.do_send_back(cr, reason="x" * 2001, user=members["national"])
    assert _held().status == "submitted"
    assert not AuditEvent.objects.filter(action="return.sent_back").exists()


def test_sending_back_withdraws_authorisation_and_tells_the_la(
    submitted, la938, loaded, members, django_capture_on_commit_callbacks
):
    members["officer938"].email = "data@la938.example.org"
    members["officer938"].save()
    members["officer202"].email = "data@la202.example.org"
    members["officer202"].save()
    cr = _held()
    actions.do_authorise_return(cr, user=members["national"])
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_send_back(cr, reason=f"  {REASON}  ", user=members["national"])
    cr = _held()
    assert cr.status == "returned"
    assert cr.authorised_at is None and cr.authorised_by is None
    assert (cr.sent_back_reason, cr.sent_back_by) == (REASON, members["national"])
    event = AuditEvent.objects.get(action="return.sent_back")
    assert event.detail["reason"] == REASON and event.detail["previous_status"] == "authorised"
    # Only this LA's people are told, with the reason and where to act.
    assert [m.to for m in mail.outbox] == [["data@la938.example.org"]]
    assert REASON in mail.outbox[0].body and "/ks1-2023/la/938/returns" in mail.outbox[0].body
    assert "9382001" in mail.outbox[0].subject
    # The LA is "sent back" on the dashboard, whatever its other returns are.
    assert queries.la_rows(type(la938).objects.filter(code="938"), loaded)[0].state == "returned"
    # A loaded return (or one already sent back) cannot be sent back.
    with pytest.raises(actions.ReturnRefused, match="only a submitted or authorised"):
        actions.do_send_back(cr, reason=REASON, user=members["national"])
    # It cannot be authorised or re-submitted until the LA loads a corrected file.
    with pytest.raises(actions.ReturnRefused, match="not submitted"):
        actions.do_authorise_return(cr, user=members["national"])
    with pytest.raises(actions.ReturnRefused, match="sent back by the national collection"):
        actions.do_submit_la(la938, loaded, user=members["officer938"])


def test_the_la_corrects_and_submits_again(submitted, la938, loaded, members):
    actions.do_send_back(_held(), reason=REASON, user=members["national"])
    g = actions.do_build_return(la938, loaded, user=members["officer938"])
    actions.do_submit_generation(g, user=members["officer938"])
    cr = _held()
    assert cr.status == "submitted" and cr.versions.count() == 2
    assert cr.sent_back_reason == REASON  # what was asked stays readable
    actions.do_authorise_return(cr, user=members["national"])
    assert _held().status == "authorised"


def test_upload_after_send_back_is_amended(submitted, la938, loaded, members):
    actions.do_send_back(_held(), reason=REASON, user=members["national"])
    content = actions.generation_path(submitted, submitted.files[0]["name"]).read_bytes()
    actions.do_upload_returns(la938, loaded, [("fixed.xml", content)], user=members["admin938"])
    assert _held().status == "amended"
    actions.do_submit_la(la938, loaded, user=members["officer938"])
    assert _held().status == "submitted"


def test_pages_send_back_and_show_the_reason(submitted, members, signed_in):
    client = signed_in(members["national"])
    page = client.get(_url("collected-return")).content.decode()
    assert "Send back to the LA" in page
    # No reason: the page says what to do, nothing changes.
    response = client.post(_url("collected-return-send-back"), {"reason": "  "})
    assert response.status_code == 400
    body = response.content.decode()
    assert "There is a problem" in body and "Enter why the return is sent back" in body
    assert _held().status == "submitted"
    response = client.post(_url("collected-return-send-back"), {"reason": REASON}, follow=True)
    body = response.content.decode()
    assert "is sent back to" in body and "Sent back to the LA" in body
    assert "Pupil 3&#39;s date of birth is a year out" in body  # the reason, escaped
    assert "Sent back to the LA: Pupil 3" in body  # in the history
    assert "Send back to the LA</button>" not in body  # no second send-back
    national = client.get(reverse("national-dashboard")).content.decode()
    assert "Sent back to the LA" in national
    # The LA's officer sees the reason on the LA's return page; cannot send back.
    la = signed_in(members["officer938"])
    returns_page = la.get(reverse("la-returns", kwargs={"code": "938"})).content.decode()
    assert "Sent back by the national collection" in returns_page
    assert "Pupil 3&#39;s date of birth" in returns_page
    assert (
        la.post(_url("collected-return-send-back", "9382002"), {"reason": REASON}).status_code
        == 403
    )
    assert la.post(_url("collected-return-send-back", "9382002"), {}).status_code == 403
    assert _held("9382002").status == "submitted"
    # Another LA's officer cannot reach it at all.
    other = signed_in(members["officer202"])
    assert other.post(_url("collected-return-send-back"), {"reason": REASON}).status_code == 404
