"""Users of every role in two LAs (938 with three schools, 202 with one), and helpers to sign
them in through the real pages."""

from __future__ import annotations

import pytest

STRONG_PASSWORD = "Correct-Horse-Battery-9"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """A database migrated once per test process, copied for each test whose processes need a
    database of their own (tests.app.worker_processes.MigratedTemplate)."""
    from tests.app.worker_processes import MigratedTemplate

    template = MigratedTemplate(tmp_path_factory.mktemp("migrated"))
    yield template
    template.close()


@pytest.fixture
def fast_hashing(settings):
    # Argon2 takes ~0.15 s a hash by design; tests that are not about hashing use a fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def members(loaded, fast_hashing):
    """One user per role. Keys name the role and where it works; `nobody` has no membership."""
    from django.contrib.auth import get_user_model

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.orgs.models import LocalAuthority, School

    la938, la202 = LocalAuthority.objects.get(code="938"), LocalAuthority.objects.get(code="202")
    s1, s2 = School.objects.get(urn="125000"), School.objects.get(urn="125001")
    s202 = School.objects.get(urn="100000")

    def make(name, **kw):
        return do_create_member(name, password=STRONG_PASSWORD, **kw).user

    users = {
        "national": make("national", role=Role.NATIONAL_ADMIN),
        "admin938": make("admin938", role=Role.LA_ADMIN, la=la938),
        "officer938": make("officer938", role=Role.LA_OFFICER, la=la938, is_approver=True),
        "restricted938": make("restricted938", role=Role.LA_RESTRICTED, la=la938, schools=[s1]),
        "school938": make("school938", role=Role.SCHOOL_USER, school=s2),
        "admin202": make("admin202", role=Role.LA_ADMIN, la=la202),
        "officer202": make("officer202", role=Role.LA_OFFICER, la=la202),
        "school202": make("school202", role=Role.SCHOOL_USER, school=s202),
    }
    nobody = get_user_model()(username="nobody")
    nobody.set_password(STRONG_PASSWORD)
    nobody.save()
    users["nobody"] = nobody
    return users


def verify_two_factor(client, user):
    """Mark the client's session as having passed two-factor sign-in with a new device."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


@pytest.fixture
def signed_in(client):
    """signed_in(user) -> a client signed in as `user`, past two-factor sign-in if needed."""
    from keystage.accounts.two_factor import needs_two_factor

    def sign_in(user):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        if needs_two_factor(user):
            verify_two_factor(client, user)
        return client

    return sign_in


@pytest.fixture
def la938(loaded, members, settings, tmp_path, capsys):
    """LA 938 with two schools' files imported: 9382001 clean, 9382002 with one query."""
    from keystage.cli import main
    from keystage.orgs.models import LocalAuthority
    from tests.builders import ctf, pupil

    settings.DATA_DIR = tmp_path / "data"
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.xml").write_text(ctf([pupil(n) for n in range(1, 4)]), encoding="utf-8")
    odd = [pupil(n, estab="2002", forename="BEN") for n in range(1, 3)]
    odd[0]["reading"] = "Q"  # KS1-T13: a query until explained
    (folder / "b.xml").write_text(ctf(odd, estab="2002"), encoding="utf-8")
    assert main(["import", "--quiet", str(folder)]) == 0
    capsys.readouterr()
    return LocalAuthority.objects.get(code="938")
