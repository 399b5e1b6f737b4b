"""`keystage demo`: users of every role with working passwords, uploads on several June days
(one rejected), and a second run that reuses everything."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from keystage.accounts.models import Membership, Role
from keystage.cli import main
from keystage.collection.models import LaCollectionSettings
from keystage.reports.models import Fact
from keystage.returns.models import CollectedReturn, ReturnGeneration
from keystage.submissions.models import Upload
from keystage.web.links import reverse

pytestmark = pytest.mark.django_db


def test_demo_seeds_users_of_every_role_and_days_of_uploads(
    settings, tmp_path, capsys, client, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    settings.DATA_DIR = tmp_path / "data"
    settings.UPLOAD_STORE = tmp_path / "data" / "uploads"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.delenv("KEYSTAGE_SITE_URL", raising=False)
    # Two small LAs keep this quick; the demo's own default is 938, 202 and 826.
    with django_capture_on_commit_callbacks(execute=True):  # e-mails go after their commit
        assert main(["demo", "--la", "202", "--la", "201", "--port", "8123"]) == 0
    out = capsys.readouterr().out

    # The batches are listed under a heading, each day with its files' outcomes.
    batches = out.split("Batches uploaded (one a day, as the LA officer):\n")[1].split("\n\n")[0]
    assert batches.splitlines()[0].startswith("  5 June 2023: ")
    assert len(batches.splitlines()) == 4 and "1 rejected" in batches.splitlines()[-1]
    # Every page printed, and every link in the e-mails it sent, is at the address it prints.
    assert "Sign in at http://127.0.0.1:8123/ with a user above" in out
    printed = re.findall(r"https?://\S+", out)
    assert printed and all(u.startswith("http://127.0.0.1:8123/") for u in printed)
    assert mailoutbox, "the demo's release and send-back send e-mails"
    mailed = [u for m in mailoutbox for u in re.findall(r"https?://\S+", m.body)]
    assert mailed and all(u.startswith("http://127.0.0.1:8123/") for u in mailed), mailed

    roles = set(Membership.objects.values_list("role", flat=True))
    assert roles == {r.value for r in Role}
    assert Membership.objects.filter(is_approver=True, la__code="202").exists()
    restricted = Membership.objects.get(role=Role.LA_RESTRICTED)
    assert restricted.schools.count() == 2

    days = {u.uploaded_at.date().isoformat() for u in Upload.objects.all()}
    assert len(days) >= 3 and all(d.startswith("2023-06-") for d in days)
    assert Upload.objects.filter(state="rejected", file_name__contains="broken").exists()
    assert Upload.objects.filter(state="current").count() > 10

    lines = (settings.DATA_DIR / "demo-users.txt").read_text().splitlines()[1:]
    passwords = {u: p for u, p, _ in (line.split("\t") for line in lines)}
    for username, password in passwords.items():
        assert f"{username}" in out and password in out
        assert get_user_model().objects.get(username=username).check_password(password)
    assert "authenticator key" in out

    # A school user signs in with the printed password and sees their school's upload page.
    school_user = Membership.objects.get(role=Role.SCHOOL_USER).user.username
    response = client.post(
        reverse("sign-in"), {"username": school_user, "password": passwords[school_user]}
    )
    assert response.status_code == 302
    assert client.get(reverse("upload")).status_code == 200

    # Report figures are there before any task worker runs, and the school sees comparisons.
    assert Fact.objects.filter(level="la", area_code="202").exists()
    assert LaCollectionSettings.objects.get(la__code="202").school_sees == "comparisons"
    assert client.get(
        reverse("report-summary", kwargs={"level": "england", "code": "970"})
    ).status_code == 200  # fmt: skip

    # The main LA's return is built and submitted, one school return authorised and one with
    # errors sent back; the second LA's is loaded but not submitted: the national dashboard
    # shows each state.
    assert ReturnGeneration.objects.filter(la__code="202").count() == 1
    statuses = dict(
        CollectedReturn.objects.filter(la__code="202").values_list("status").annotate(n=Count("id"))
    )
    assert statuses.get("authorised") == 1 and statuses.get("submitted", 0) > 0
    sent_back = CollectedReturn.objects.get(la__code="202", status="returned")
    assert sent_back.errors > 0 and "errors remain" in sent_back.sent_back_reason
    assert set(CollectedReturn.objects.filter(la__code="201").values_list("status", flat=True)) == {
        "loaded"
    }

    # The pages to open are printed for each user.
    assert "/ks1-2023/national" in out and "/ks1-2023/la/202/returns" in out
    assert (
        f"/ks1-2023/schools/{Membership.objects.get(role=Role.SCHOOL_USER).school.laestab}/check"
        in out
    )

    counts = [M.objects.count() for M in (Upload, ReturnGeneration, CollectedReturn, Fact)]
    statuses_before = list(CollectedReturn.objects.values_list("status", flat=True))
    # Again, with --serve on another address: reuses everything, then serves there.
    served = []
    monkeypatch.setattr("keystage.cli.cmd_serve", lambda args: served.append(args) or 0)
    assert main(["demo", "--la", "202", "--la", "201", "--port", "9001", "--serve"]) == 0
    again = capsys.readouterr().out
    assert [M.objects.count() for M in (Upload, ReturnGeneration, CollectedReturn, Fact)] == counts
    assert list(CollectedReturn.objects.values_list("status", flat=True)) == statuses_before
    assert all(p in again for p in passwords.values())
    assert "uploads of the first run are kept" in again
    assert "http://127.0.0.1:9001/ks1-2023/la/202/returns" in again and "8123" not in again
    assert [(a.host, a.port) for a in served] == [("127.0.0.1", 9001)]
    # Django's development server and one task worker (docs/adr/0008-production-server.md).
    assert served[0].dev and served[0].task_workers == 1 and not served[0].no_worker


def test_demo_with_a_first_la_too_small_is_a_usage_error(settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path / "data"
    settings.UPLOAD_STORE = tmp_path / "data" / "uploads"
    assert main(["demo", "--la", "201"]) == 2  # City of London: one school
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "201" in err[0] and "--la 938" in err[0]
