"""Every URL of the site, as every role, with path parameters naming ANOTHER tenant's real
rows: no page fails, and no page shows another tenant's data to someone who may not see it.

A new URL must be added to `PARAMETERS` (how to fill its path parameters) or to `EXEMPT`;
otherwise this test fails, so no page escapes the walk."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.builders import SCHOOLS, ctf, pupil, write_register

pytestmark = pytest.mark.django_db

# Marks on each tenant's data, unmistakable in any page.
LA202_MARKS = ("ZZ-OTHER-TENANT", "OTHERTENANT", "officer202")
LA938_MARKS = ("ZZ-TENANT-938", "TENANTNINETHREEEIGHT", "officer938")


@dataclass(frozen=True)
class Tenant:
    """Real ids of one tenant's rows, and the strings that mark its data."""

    code: str
    batch_id: int
    membership_id: int
    marks: tuple[str, ...]
    pupil_id: int = 0  # one of the tenant's pupil records


def _la_code(t: Tenant) -> dict:
    return {"code": t.code}


# A school of each tenant with pupils (and, for the check loop, released reports and messages).
TENANT_SCHOOLS = {"202": "2022003", "938": "9384001"}


def _school(t: Tenant) -> dict:
    return {"laestab": TENANT_SCHOOLS[t.code]}


def _la_school(t: Tenant) -> dict:
    return {"code": t.code, "laestab": TENANT_SCHOOLS[t.code]}


# URL name -> the path parameters, filled from the other tenant. Add every new URL here.
PARAMETERS = {
    "home": None,
    "sign-in": None,
    "sign-out": None,
    "two-factor-setup": None,
    "two-factor-verify": None,
    "upload": None,
    "upload-batch": lambda t: {"batch_id": t.batch_id},
    "upload-batch-status": lambda t: {"batch_id": t.batch_id},
    "upload-history": None,
    "dashboard": None,
    "la-dashboard": _la_code,
    "la-chase-list": lambda t: {"code": t.code, "fmt": "csv"},
    "la-school-deadline": _la_code,
    "la-expected-cohorts": _la_code,
    "la-errors": _la_code,
    "la-audit": _la_code,
    "users": None,
    "user-create": None,
    "user-detail": lambda t: {"membership_id": t.membership_id},
    "user-approver": lambda t: {"membership_id": t.membership_id},
    "user-deactivate": lambda t: {"membership_id": t.membership_id},
    "la-pupils": _la_code,
    "la-pupil-add": _la_code,
    "la-pupil": lambda t: {"code": t.code, "pupil_id": t.pupil_id},
    "la-pupil-explain": lambda t: {"code": t.code, "pupil_id": t.pupil_id},
    "la-pupil-remove": lambda t: {"code": t.code, "pupil_id": t.pupil_id},
    "la-pupil-resolve": lambda t: {"code": t.code, "pupil_id": t.pupil_id},
    "la-pupil-restore": lambda t: {"code": t.code, "pupil_id": t.pupil_id},
    "la-checking": _la_code,
    "la-checking-remind": _la_code,
    "la-checking-release": _la_code,
    "la-checking-school": _la_school,
    "la-school-sees": _la_code,
    "school-check": _school,
    "school-check-pdf": _school,
    "school-check-confirm": _school,
    "school-check-query": _school,
    "la-returns": _la_code,
    "la-return-build": _la_code,
    "la-return-upload": _la_code,
    "la-return-submit-loaded": _la_code,
    "la-return-submit": lambda t: {"code": t.code, "serial": 1},
    "la-return-submitted": lambda t: {"code": t.code, "reference": f"KS1-2023-{t.code}-001"},
    "la-return-download": lambda t: {
        "code": t.code,
        "serial": 1,
        "file": f"{t.code}_KS1_2023_001.zip",
    },
    "national-dashboard": None,
    "national-dashboard-export": lambda t: {"fmt": "csv"},
    "collected-la": _la_code,
    "collected-la-authorise": _la_code,
    "collected-return": lambda t: {"code": t.code, "laestab": RETURN_SCHOOLS[t.code]},
    "collected-return-authorise": lambda t: {"code": t.code, "laestab": RETURN_SCHOOLS[t.code]},
    "collected-return-send-back": lambda t: {"code": t.code, "laestab": RETURN_SCHOOLS[t.code]},
    # reports: another tenant's school and LA pages, and a PDF pack of its LA
    "reports": None,
    "report-national": None,
    "report-national-export": lambda t: {"fmt": "csv"},
    "report-official": None,
    "report-official-export": lambda t: {"fmt": "csv"},
    "report-open-data": None,
    "report-pupils": lambda t: {"code": TENANT_SCHOOLS[t.code]},
    "report-pupils-export": lambda t: {"code": TENANT_SCHOOLS[t.code], "fmt": "csv"},
    "report-pack-create": _la_code,
    "report-pack": lambda t: {"pack_id": _report_pack(t)},
    "report-pack-download": lambda t: {"pack_id": _report_pack(t)},
    "report-summary": lambda t: {"level": "school", "code": TENANT_SCHOOLS[t.code]},
    "report-summary-export": lambda t: {"level": "la", "code": t.code, "fmt": "csv"},
    "report-gap": lambda t: {"level": "la", "code": t.code},
    "report-gap-export": lambda t: {
        "level": "school",
        "code": TENANT_SCHOOLS[t.code],
        "fmt": "csv",
    },
    "report-gap-chart": lambda t: {"level": "school", "code": TENANT_SCHOOLS[t.code], "fmt": "svg"},
    "report-trend-chart": lambda t: {"level": "la", "code": t.code, "fmt": "svg"},
}
# The school of each tenant whose return the national collection holds (see _returns).
RETURN_SCHOOLS = {"202": "2022003", "938": "9384001"}


def _report_pack(t) -> int:
    """A finished PDF of the tenant's LA reports (made once, on first use)."""
    from django.utils import timezone

    from keystage.orgs.models import LocalAuthority
    from keystage.reports.models import ReportPack
    from keystage.submissions.actions import get_collection

    la = LocalAuthority.objects.get(code=t.code)
    pack = ReportPack.objects.filter(la=la).first() or ReportPack.objects.create(
        collection=get_collection(), la=la, requested_at=timezone.now(), state="done",
        pdf=b"%PDF-1.4 " + " ".join(t.marks).encode(),
    )  # fmt: skip
    return pack.pk


# URLs deliberately not walked (static files, an admin site), each with its reason.
EXEMPT: dict[str, str] = {}


def _patterns(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield pattern.name, prefix + str(pattern.pattern)


@pytest.fixture
def register_file(tmp_path):
    # The shared register, with names that mark each tenant's schools.
    names = {"100000": "ZZ-OTHER-TENANT Primary", "125002": "ZZ-TENANT-938 Secondary"}
    schools = [(*row[:4], names.get(row[0], row[4]), *row[5:]) for row in SCHOOLS]
    return write_register(tmp_path / "schools.csv", schools=schools)


def _uploaded_batch(user, name, la, estab, surname) -> int:
    """A web upload by `user`, imported the way the background task does it."""
    from keystage.submissions.batches import do_create_batch, run_batch

    pupils = [pupil(n, la=la, estab=estab, surname=surname) for n in range(1, 4)]
    file = SimpleUploadedFile(name, ctf(pupils, la, estab).encode(), "text/xml")
    batch = do_create_batch(user, [file])
    run_batch(batch.pk)
    return batch.pk


def _returns(members, settings, tmp_path) -> None:
    """Each tenant's return built (serial 1) and held by the national collection: LA 202's
    uploaded, LA 938's submitted by its approver."""
    from keystage.orgs.models import LocalAuthority
    from keystage.returns import actions
    from keystage.submissions.actions import get_collection

    settings.DATA_DIR = tmp_path
    collection = get_collection()
    la202, la938 = LocalAuthority.objects.get(code="202"), LocalAuthority.objects.get(code="938")
    g202 = actions.do_build_return(la202, collection, user=members["officer202"], confirm=True)
    files = [(f["name"], actions.generation_path(g202, f["name"]).read_bytes()) for f in g202.files]
    actions.do_upload_returns(la202, collection, files, user=members["officer202"])
    g938 = actions.do_build_return(la938, collection, user=members["officer938"], confirm=True)
    actions.do_submit_generation(g938, user=members["officer938"])


@pytest.fixture
def tenants(members, settings, tmp_path):
    from keystage.submissions.models import PupilRecord

    settings.KEYSTAGE_DATA_DIR = tmp_path
    la202 = Tenant(
        code="202",
        batch_id=_uploaded_batch(members["officer202"], "ZZ-OTHER-TENANT.xml", "202", "2003",
                                 "OTHERTENANT"),
        membership_id=members["officer202"].membership.pk,
        marks=LA202_MARKS,
    )  # fmt: skip
    la938 = Tenant(
        code="938",
        batch_id=_uploaded_batch(members["officer938"], "ZZ-TENANT-938.xml", "938", "4001",
                                 "TENANTNINETHREEEIGHT"),
        membership_id=members["officer938"].membership.pk,
        marks=LA938_MARKS,
    )  # fmt: skip
    _check_loop(members)
    _returns(members, settings, tmp_path)
    pupil_ids = {
        code: PupilRecord.objects.filter(surname=surname).order_by("pk").first().pk
        for code, surname in (("202", "OTHERTENANT"), ("938", "TENANTNINETHREEEIGHT"))
    }
    la202 = dataclasses.replace(la202, pupil_id=pupil_ids["202"])
    la938 = dataclasses.replace(la938, pupil_id=pupil_ids["938"])
    # The data is really there, so a page that leaked it would show it.
    assert PupilRecord.objects.filter(surname="OTHERTENANT", school__urn="100000").count() == 3
    assert PupilRecord.objects.filter(surname="TENANTNINETHREEEIGHT").count() == 3
    return {"202": la202, "938": la938}


def _check_loop(members) -> None:
    """Checking reports released to each tenant's school, with messages that mark the tenant."""
    from keystage.checking.actions import do_release, do_reply, do_send_query
    from keystage.submissions.actions import get_collection

    collection = get_collection()
    for officer in ("officer202", "officer938"):
        (release,) = do_release(members[officer], collection)
        do_reply(members[officer], collection, release.school, body=f"{officer} answer")
    school202 = release.school.__class__.objects.get(laestab="2022003")
    do_send_query(members["school202"], collection, school202, body="ZZ-OTHER-TENANT query")


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_every_url_has_a_way_to_fill_its_parameters():
    missing = [
        f"{name or '(unnamed)'} ({route})"
        for name, route in _patterns(get_resolver().url_patterns)
        if name not in PARAMETERS and name not in EXEMPT
    ]
    assert not missing, (
        "A new URL without coverage fails the test: add it to PARAMETERS in "
        f"tests/app/test_scope_walk.py (or to EXEMPT, with the reason): {missing}"
    )


# (who, whose data fills the parameters, may they see it?). LA 938's restricted officer
# (school 125000) and school user (school 125001) walk LA 938's own URLs too: school 125002's
# upload is their LA's, but not theirs.
WALKS = [
    (None, "202", False),
    ("national", "202", True),
    ("admin938", "202", False),
    ("officer938", "202", False),
    ("restricted938", "202", False),
    ("school938", "202", False),
    ("admin202", "938", False),
    ("school202", "938", False),
    ("restricted938", "938", False),
    ("school938", "938", False),
]


@pytest.mark.parametrize("who, whose, may_see", WALKS)
def test_walk_every_url_with_another_tenants_ids(
    members, tenants, client, signed_in, who, whose, may_see
):
    tenant = tenants[whose]
    sign_in = (lambda: signed_in(members[who])) if who else client.logout
    sign_in()
    names = sorted({name for name, _ in _patterns(get_resolver().url_patterns)} - set(EXEMPT))
    assert names, "no URLs found"
    for name in names:
        assert name in PARAMETERS, f"add {name} to PARAMETERS in tests/app/test_scope_walk.py"
        fill = PARAMETERS[name]
        url = reverse(name, kwargs=fill(tenant) if fill else None)
        for method in ("get", "post"):
            response = getattr(client, method)(url, {})
            status = response.status_code
            assert status < 500, (who, method, url, status)
            if status == 200 and not may_see:
                body = _body(response)
                shown = [mark for mark in tenant.marks if mark in body]
                assert not shown, f"{who} sees {shown} of LA {whose} at {method.upper()} {url}"
            if who and "_auth_user_id" not in client.session:
                sign_in()  # the walk posted to sign-out
    if may_see:
        # The national admin really reaches the other tenant's data through these URLs.
        body = _body(client.get(reverse("la-errors", kwargs={"code": tenant.code})))
        assert "ZZ-OTHER-TENANT" in body or "OTHERTENANT" in body
