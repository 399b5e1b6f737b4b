"""`keystage demo`: users of every role with working passwords, uploads on several June days
(one rejected); a second run that reuses everything and, now that the service offers phonics,
adds the phonics screening check of 2023 and 2024 for the same LAs; a third that reuses that."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from keystage.accounts.models import Membership, Role
from keystage.checking.models import Release
from keystage.cli import main
from keystage.collection.models import LaCollectionSettings
from keystage.demo import EYFSP, PHONICS
from keystage.reports import queries
from keystage.reports.models import Fact
from keystage.returns.models import CollectedReturn, ReturnGeneration
from keystage.submissions.actions import get_collection
from keystage.submissions.models import Finding, PupilRecord, Upload
from keystage.web.links import reverse

pytestmark = pytest.mark.django_db


def test_demo_seeds_users_of_every_role_and_days_of_uploads(
    settings, tmp_path, capsys, client, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    settings.DATA_DIR = tmp_path / "data"
    settings.UPLOAD_STORE = tmp_path / "data" / "uploads"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.delenv("KEYSTAGE_SITE_URL", raising=False)
    # A service that offers no phonics or EYFS profile collection first: the demo seeds KS1 only.
    without = [c for c in settings.KEYSTAGE_COLLECTIONS
               if not c.startswith(("phonics-", "eyfsp-"))]  # fmt: skip
    settings.KEYSTAGE_COLLECTIONS = without
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
    # No phonics: it says why and how to add it, and prints no page the service would refuse.
    assert "Phonics screening check, the same LAs:\n  none: this service does not offer" in out
    assert "EYFS profile, the same LAs and two settings of the first:\n  none: this service " \
        "does not offer eyfsp-2024" in out  # fmt: skip
    assert "/phonics-" not in out and "/eyfsp-" not in out
    assert not PupilRecord.objects.exclude(collection__code="ks1-2023")

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

    ks1 = get_collection("ks1-2023")

    def ks1_counts():
        return [M.objects.filter(collection=ks1).count()
                for M in (Upload, ReturnGeneration, CollectedReturn, Fact)]  # fmt: skip

    counts = ks1_counts()
    statuses_before = list(CollectedReturn.objects.values_list("status", flat=True))
    # Again, now that the service offers phonics and the EYFS profile, with --serve on another
    # address: reuses everything of KS1, adds phonics 2023 and 2024 and EYFSP 2024, then serves.
    settings.KEYSTAGE_COLLECTIONS = [*without, *PHONICS, EYFSP]
    mailoutbox.clear()
    served = []
    monkeypatch.setattr("keystage.cli.cmd_serve", lambda args: served.append(args) or 0)
    with django_capture_on_commit_callbacks(execute=True):
        assert main(["demo", "--la", "202", "--la", "201", "--port", "9001", "--serve"]) == 0
    again = capsys.readouterr().out
    assert ks1_counts() == counts
    assert list(CollectedReturn.objects.values_list("status", flat=True)) == statuses_before
    assert all(p in again for p in passwords.values())
    assert "uploads of the first run are kept" in again
    assert "http://127.0.0.1:9001/ks1-2023/la/202/returns" in again and "8123" not in again
    assert [(a.host, a.port) for a in served] == [("127.0.0.1", 9001)]
    # Django's development server and one task worker (docs/adr/0008-production-server.md).
    assert served[0].dev and served[0].task_workers == 1 and not served[0].no_worker

    # Phonics: both years' pupils in each demo LA, the later year's Year 2 pupils those of
    # the earlier year's Year 1 who did not meet the standard (the same UPNs), found by the
    # checks across years.
    p2023, p2024 = (get_collection(code) for code in PHONICS)
    for code in PHONICS:
        pupils = PupilRecord.objects.filter(collection__code=code, is_current=True)
        for la in ("202", "201"):
            assert pupils.filter(la__code=la).exists(), (code, la)
        name = get_collection(code).name
        line = next(x for x in again.splitlines() if x.startswith(f"  {name}:"))
        assert f"{pupils.count():,} pupils; " in line and "accepted" in line
    year2 = set(PupilRecord.objects.filter(collection=p2024, is_current=True, nc_year="2")
                .values_list("upn", flat=True))  # fmt: skip
    year1_before = set(PupilRecord.objects.filter(collection=p2023, is_current=True, nc_year="1")
                       .values_list("upn", flat=True))  # fmt: skip
    assert len(year2 & year1_before) > 0.9 * len(year2)
    across_years = Finding.objects.filter(collection=p2024, is_current=True,
                                          rule__in=["PSC-R08", "PSC-R09"], pupil__isnull=False)  # fmt: skip
    assert across_years.filter(la__code="202").exists()
    assert not Finding.objects.filter(collection=p2023, rule__in=["PSC-R08", "PSC-R09"]).exists()

    # The figures are counted: 2024's "by the end of Year 2" from 2023's Year 1 results.
    area = queries.Area("la", "202", "")
    shown = {}
    for c in (p2023, p2024):
        found = queries.figures(c, [area], ["all"])[("la", "202")]["all"].subjects
        shown[c.code] = {k: (v["met"].count, v["met"].eligible) for k, v in found.items()}
    assert all(shown[c][g][1] > 0 for c in PHONICS for g in ("y1", "y2")), shown
    assert shown["phonics-2023"]["by_end_y2"][1] == 0  # 2022's results are not held
    met, eligible = shown["phonics-2024"]["by_end_y2"]
    assert eligible > 0 and met > shown["phonics-2024"]["y1"][0], shown

    # The LA officer signs in with the printed password and sees the three figures on the
    # phonics 2024 summary page printed for them.
    officer = Membership.objects.get(role=Role.LA_OFFICER).user.username
    summary = reverse("report-summary", kwargs={"level": "la", "code": "202",
                                                "collection": "phonics-2024"})  # fmt: skip
    assert "Phonics 2024 summary report" in again and f"http://127.0.0.1:9001{summary}" in again
    client.post(reverse("sign-in"), {"username": officer, "password": passwords[officer]})
    theirs = re.split(r"\n  (?=\S)", again.split(f"\n  {officer}\n")[1])[0]
    printed = re.findall(r"http://127\.0\.0\.1:9001(/phonics-2024/\S+)", theirs)
    assert len(printed) == 3 and all(client.get(u).status_code == 200 for u in printed), printed
    response = client.get(summary)
    assert response.status_code == 200
    body = response.content.decode()
    for group in ("y1", "y2", "by_end_y2"):
        count, of = shown["phonics-2024"][group]
        # "1,376 of 1,639", thousands separated as GOV.UK writes numbers
        assert f"{count:,} of {of:,}" in body, group
    assert shown["phonics-2024"]["y1"][1] >= 1000  # so the commas are really looked for
    assert "By the end of Year 2" in body

    # The phonics 2024 checking reports released to the demo school, its e-mail linking to
    # that collection's page; the main LA's phonics 2024 return built, not submitted.
    school = Membership.objects.get(role=Role.SCHOOL_USER).school
    assert Release.objects.filter(collection=p2024, school=school).exists()
    [mail] = [m for m in mailoutbox if p2024.name in m.subject]
    check = reverse("school-check", kwargs={"laestab": school.laestab, "collection": p2024.code})
    assert f"http://127.0.0.1:9001{check}" in mail.body
    assert ReturnGeneration.objects.filter(collection=p2024, la__code="202").count() == 1
    assert not CollectedReturn.objects.filter(collection=p2024).exists()

    # The EYFS profile: each LA's schools' files and the first LA's setting's file imported,
    # the settings on its dashboard, its figures counted and its pages printed and answering.
    children = PupilRecord.objects.filter(collection__code=EYFSP, is_current=True)
    assert children.filter(la__code="201").exists()
    assert children.filter(school__laestab="512345").count() == 8
    line = next(x for x in again.splitlines() if x.startswith("  Early years foundation"))
    assert f"{children.count():,} children; " in line and "accepted" in line
    eyfsp_pages = re.findall(r"http://127\.0\.0\.1:9001(/eyfsp-2024/\S+)", theirs)
    assert len(eyfsp_pages) == 3, eyfsp_pages
    assert all(client.get(u).status_code == 200 for u in eyfsp_pages), eyfsp_pages
    dashboard = client.get(eyfsp_pages[0]).content.decode()
    assert "Little Acorns Day Nursery" in dashboard and "Busy Bees Pre-school" in dashboard
    gld = queries.figures(get_collection(EYFSP), [area], ["all"])[("la", "202")]["all"]
    assert gld.subjects["gld"]["met"].eligible > 500

    # A third run keeps the phonics uploads, releases, returns and figures as they are.
    everything = [M.objects.count() for M in (Upload, Release, ReturnGeneration, Fact)]
    assert main(["demo", "--la", "202", "--la", "201", "--port", "9001"]) == 0
    third = capsys.readouterr().out
    assert [M.objects.count() for M in (Upload, Release, ReturnGeneration, Fact)] == everything
    pupils = PupilRecord.objects.filter(collection=p2024, is_current=True).count()
    assert f"{p2024.name}: {pupils:,} pupils; the uploads of an earlier run are kept" in third


def test_demo_with_a_first_la_too_small_is_a_usage_error(settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path / "data"
    settings.UPLOAD_STORE = tmp_path / "data" / "uploads"
    assert main(["demo", "--la", "201"]) == 2  # City of London: one school
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "201" in err[0] and "--la 938" in err[0]


def test_demo_into_a_collection_that_is_not_ks1_is_a_usage_error(settings, tmp_path, capsys):
    """The demo's school files are KS1's: asked to put them into phonics, it says how to get
    the phonics demo instead of importing files that collection would refuse."""
    from keystage.submissions.models import Upload

    settings.DATA_DIR = tmp_path / "data"
    settings.UPLOAD_STORE = tmp_path / "data" / "uploads"
    assert main(["demo", "--collection", "phonics-2024"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Phonics screening check 2024" in err[0], err
    assert "without --collection" in err[0]
    assert not Upload.objects.exists()
