"""`keystage demo`: users of every role with working passwords, uploads on several June days
(one rejected), and a second run that reuses everything."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count
from django.urls import reverse

from keystage.accounts.models import Membership, Role
from keystage.cli import main
from keystage.collection.models import LaCollectionSettings
from keystage.reports.models import Fact
from keystage.returns.models import CollectedReturn, ReturnGeneration
from keystage.submissions.models import Upload

pytestmark = pytest.mark.django_db


def test_demo_seeds_users_of_every_role_and_days_of_uploads(settings, tmp_path, capsys, client):
    settings.DATA_DIR = tmp_path / "data"
    settings.UPLOAD_STORE = tmp_path / "data" / "uploads"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Two small LAs keep this quick; the demo's own default is 938, 202 and 826.
    assert main(["demo", "--la", "202", "--la", "201"]) == 0
    out = capsys.readouterr().out

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
    assert "/national" in out and "/la/202/returns" in out
    assert f"/schools/{Membership.objects.get(role=Role.SCHOOL_USER).school.laestab}/check" in out

    counts = [M.objects.count() for M in (Upload, ReturnGeneration, CollectedReturn, Fact)]
    statuses_before = list(CollectedReturn.objects.values_list("status", flat=True))
    assert main(["demo", "--la", "202", "--la", "201"]) == 0  # again: reuses everything
    again = capsys.readouterr().out
    assert [M.objects.count() for M in (Upload, ReturnGeneration, CollectedReturn, Fact)] == counts
    assert list(CollectedReturn.objects.values_list("status", flat=True)) == statuses_before
    assert all(p in again for p in passwords.values())
