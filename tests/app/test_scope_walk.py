"""Every URL of the site, as every role, with path parameters naming ANOTHER tenant's real
rows: no page fails, and no page shows, reads or changes another tenant's data for someone who
may not see it. Each URL is fetched, then posted empty and with every real form the tenant's
own users see there (filled with plausible values, so the forms carry the tenant's ids); each
request must load no model instance outside the user's scope (`scoped()` is the judge) and
change no row outside it (every model's rows are compared before and after).

The walk is made in each of `COLLECTIONS` (KS1's, a phonics one and an EYFS profile one):
each tenant's pupils,
check loop, returns and report packs are of that collection, in its own items, so the pages of
every kind of collection are walked with data on them.

A new URL must be added to `PARAMETERS` (how to fill its path parameters) or to `EXEMPT`;
otherwise this test fails, so no page escapes the walk."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

from keystage.engine import definition as definitions
from keystage.web.links import reverse
from tests.builders import SCHOOLS, ctf, eyfsp_pupil, pupil, write_register

pytestmark = pytest.mark.django_db

# Marks on each tenant's data, unmistakable in any page.
LA202_MARKS = ("ZZ-OTHER-TENANT", "OTHERTENANT", "officer202")
LA938_MARKS = ("ZZ-TENANT-938", "TENANTNINETHREEEIGHT", "officer938")

# The collections walked: KS1's, the phonics check's and the EYFS profile's (other collection
# modules: their own items, rules, measures, reports and return layouts).
COLLECTIONS = ("ks1-2023", "phonics-2024", "eyfsp-2024")


@dataclass(frozen=True)
class Tenant:
    """Real ids of one tenant's rows, and the strings that mark its data."""

    code: str
    collection: str  # the id of the collection the tenant's data is of
    batch_id: int
    membership_id: int
    marks: tuple[str, ...]
    pupil_id: int = 0  # one of the tenant's pupil records
    reference: str = ""  # of the tenant's return submission (see _returns)
    bundle: str = ""  # the name of the zip of the tenant's first return build


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
    "password-change": None,
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
    "user-reset-password": lambda t: {"membership_id": t.membership_id},
    "la-two-factor": _la_code,
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
    "la-return-submitted": lambda t: {"code": t.code, "reference": t.reference},
    "la-return-download": lambda t: {"code": t.code, "serial": 1, "file": t.bundle},
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
    "report-open-data-meta": None,
    "report-open-data-zip": None,
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
    "report-distribution-chart": lambda t: {
        "level": "school",
        "code": TENANT_SCHOOLS[t.code],
        "fmt": "svg",
    },
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
    from keystage.web.links import _to_default_collection

    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            # The paths from before there were several collections only redirect to the same
            # page of the default collection (tests/app/test_collections_web.py), which is walked.
            if pattern.callback is not _to_default_collection:
                yield pattern.name, prefix + str(pattern.pattern)


@pytest.fixture
def register_file(tmp_path):
    # The shared register, with names that mark each tenant's schools.
    names = {"100000": "ZZ-OTHER-TENANT Primary", "125002": "ZZ-TENANT-938 Secondary"}
    schools = [(*row[:4], names.get(row[0], row[4]), *row[5:]) for row in SCHOOLS]
    return write_register(tmp_path / "schools.csv", schools=schools)


def walk_pupil(collection_id: str, n: int, la: str, estab: str, surname: str) -> dict:
    """A pupil of the collection, in its own items: KS1's teacher assessments, or a Year 1
    pupil's phonics mark in the check's year (pupil 3's 41 is out of range: an error, so the
    tenant's data is on the Data Errors page of either kind of collection), or a reception
    child's 17 goals (pupil 3 not assessed in one goal alone: an error)."""
    d = definitions.load(collection_id)
    if d.kind == "eyfsp":
        judgements = ["2"] * 17 if n != 3 else ["A"] + ["2"] * 16
        return eyfsp_pupil(n, judgements, year=d.year, la=la, estab=estab, surname=surname)
    if d.kind != "phonics":
        return pupil(n, la=la, estab=estab, surname=surname)
    mark = {1: "36", 2: "20"}.get(n, "41")
    return pupil(n, la=la, estab=estab, surname=surname, nc_year="1", phonics=[mark],
                 year=str(d.year), dob=f"{d.year - 7}-10-14", reading=None, writing=None,
                 maths=None, science=None)  # fmt: skip


def walk_file(collection_id, la, estab, surname, pupils=3) -> bytes:
    """A school's CTF of the collection."""
    rows = [walk_pupil(collection_id, n, la, estab, surname) for n in range(1, pupils + 1)]
    return ctf(rows, la, estab).encode()


def _uploaded_batch(user, name, la, estab, surname) -> int:
    """A web upload by `user` of the default collection's file (the tenants fixture sets the
    default), imported the way the background task does it."""
    from django.conf import settings

    from keystage.submissions.batches import do_create_batch, run_batch

    body = walk_file(settings.KEYSTAGE_COLLECTION, la, estab, surname)
    file = SimpleUploadedFile(name, body, "text/xml")
    batch = do_create_batch(user, [file])
    run_batch(batch.pk)
    return batch.pk


def _returns(members, settings, tmp_path) -> dict[str, dict]:
    """Each tenant's return built (serial 1) and held by the national collection: LA 202's
    uploaded, LA 938's submitted by its approver. Returns {LA code: {"bundle": the build's
    zip, "reference": the submission's}}; LA 202 has not submitted, so its reference is
    LA 938's with its own code (no such submission: its page answers 404 to all)."""
    from keystage.engine.return_writer import bundle_file_name
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
    reference = actions.do_submit_generation(g938, user=members["officer938"]).submission.reference
    d = definitions.load(collection.code)
    bundles = {g.la.code: g.bundle_name for g in (g202, g938)}
    # The zips are named by the collection's definition.
    assert bundles == {code: bundle_file_name(d, la=code, serial=1) for code in ("202", "938")}
    return {
        code: {"bundle": bundles[code], "reference": reference.replace("-938-", f"-{code}-")}
        for code in ("202", "938")
    }


@pytest.fixture
def collection_id() -> str:
    """The collection whose pages are walked (the walk is parametrized over COLLECTIONS)."""
    return COLLECTIONS[0]


@pytest.fixture
def tenants(collection_id, members, settings, tmp_path):
    from keystage.submissions.models import PupilRecord

    settings.KEYSTAGE_DATA_DIR = tmp_path
    # The walked collection is the default one: reverse() and get_collection() name it.
    settings.KEYSTAGE_COLLECTION = collection_id
    if collection_id not in settings.KEYSTAGE_COLLECTIONS:
        settings.KEYSTAGE_COLLECTIONS = [*settings.KEYSTAGE_COLLECTIONS, collection_id]
    la202 = Tenant(
        code="202",
        collection=collection_id,
        batch_id=_uploaded_batch(members["officer202"], "ZZ-OTHER-TENANT.xml", "202", "2003",
                                 "OTHERTENANT"),
        membership_id=members["officer202"].membership.pk,
        marks=LA202_MARKS,
    )  # fmt: skip
    la938 = Tenant(
        code="938",
        collection=collection_id,
        batch_id=_uploaded_batch(members["officer938"], "ZZ-TENANT-938.xml", "938", "4001",
                                 "TENANTNINETHREEEIGHT"),
        membership_id=members["officer938"].membership.pk,
        marks=LA938_MARKS,
    )  # fmt: skip
    _check_loop(members)
    returns = _returns(members, settings, tmp_path)
    pupils = PupilRecord.objects.filter(collection__code=collection_id, is_current=True)
    pupil_ids = {
        code: pupils.filter(surname=surname).order_by("pk").first().pk
        for code, surname in (("202", "OTHERTENANT"), ("938", "TENANTNINETHREEEIGHT"))
    }
    la202 = dataclasses.replace(la202, pupil_id=pupil_ids["202"], **returns["202"])
    la938 = dataclasses.replace(la938, pupil_id=pupil_ids["938"], **returns["938"])
    # The data is really there, so a page that leaked it would show it.
    assert pupils.filter(surname="OTHERTENANT", school__urn="100000").count() == 3
    assert pupils.filter(surname="TENANTNINETHREEEIGHT").count() == 3
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
# Who walks whose ids, and whether they may see them. Each tenant's walkers share that tenant's
# data and its forms (made once); each walks from the same state, rolled back after its walk.
WALKS = {
    "202": [(None, False), ("admin938", False), ("officer938", False),
            ("restricted938", False), ("school938", False), ("national", True)],
    "938": [("admin202", False), ("school202", False), ("restricted938", False),
            ("school938", False)],
}  # fmt: skip

# The users whose pages give the forms the walk posts: each tenant's own users, so the forms
# carry that tenant's ids (its pupils, schools, members) as a hostile user would copy them.
FORM_OWNERS = {"202": ("officer202", "admin202", "school202"),
               "938": ("officer938", "admin938", "school938")}  # fmt: skip

# Pages that show the tenant's data (its schools' names, pupils' surnames, its officer's
# messages) to the national admin in every collection walked: uploads, pupils, errors, the check
# loop, the return, reports.
SHOWS_TENANT = {"upload-batch", "upload-history", "la-dashboard", "la-errors", "la-pupils",
                "la-pupil", "la-checking-school", "school-check", "la-returns", "collected-la",
                "collected-return", "report-pupils", "report-summary", "report-pack-download"}  # fmt: skip

# URLs that answer a file, not a page with forms.
DOWNLOADS = ("-export", "-pdf", "-download", "-chart", "-chase-list")

# Rows a request may change whoever makes it: sessions and django-axes' sign-in records.
NOT_SNAPSHOT = ("sessions.", "axes.", "django_tasks_database.")


class WalkFailed(AssertionError):
    """A page showed, read or changed data of a tenant the user may not see."""


# -- what the walk looks at ---------------------------------------------------------------------


def _models():
    from django.apps import apps

    return [m for m in apps.get_models(include_auto_created=True)  # with many-to-many tables
            if not m._meta.label_lower.startswith(NOT_SNAPSHOT)]  # fmt: skip


def snapshot() -> dict[str, dict]:
    """Every model's rows: {model label: {pk: {column: value}}} (plain SQL: the walk takes one
    before and after every request)."""
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for model in _models():
            meta = model._meta
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(meta.db_table)}")  # noqa: S608
            columns = [c[0] for c in cursor.description]
            rows = (dict(zip(columns, row, strict=True)) for row in cursor.fetchall())
            out[meta.label] = {row[meta.pk.column]: row for row in rows}
    return out


def visible(user) -> dict[str, set]:
    """{model label: pks the user may see} for every model that belongs to an LA or school."""
    from keystage.accounts.models import Membership
    from keystage.accounts.scope import OWNED_BY, membership_of, scoped
    from keystage.submissions.models import ImportBatch
    from keystage.submissions.queries import batches_for

    seen = {m._meta.label: set(scoped(user, m).values_list("pk", flat=True)) for m in OWNED_BY}
    own = membership_of(user)
    if own is not None:  # a restricted officer's own membership names no school of theirs
        seen[Membership._meta.label].add(own.pk)
    # and their own upload batches name no school either: the uploads pages add them back
    seen[ImportBatch._meta.label] |= set(batches_for(user).values_list("pk", flat=True))
    return seen


def changed_rows(before: dict, after: dict) -> dict[str, set]:
    out = {}
    for label in before.keys() | after.keys():
        old, new = before.get(label, {}), after.get(label, {})
        pks = {pk for pk in old.keys() | new.keys() if old.get(pk) != new.get(pk)}
        if pks:
            out[label] = pks
    return out


def foreign_changes(user, before, after, seen_before) -> dict[str, set]:
    """The changed rows the user may not see (before or after the change), and those that point
    at a row the user may not see (their new user's school in another LA, say). A row of a
    model no LA or school owns may change only when it is the user's own (their user row, their
    two-factor device), or joins rows the user may see. Audit rows of the user's own requests
    in their own LA (what they looked at, signing out) are theirs."""
    from django.apps import apps

    from keystage.accounts.scope import membership_of
    from keystage.audit.models import AuditEvent

    changes = changed_rows(before, after)
    if not changes:
        return {}
    seen_after = visible(user)  # rows the user made are theirs
    user_id = getattr(user, "pk", None)
    user_model = apps.get_model(settings_user_model())
    own_la = getattr(membership_of(user), "la_id", None)

    def may_see(label, pk):
        return pk in seen_before[label] or pk in seen_after[label]

    out: dict[str, set] = {}
    for label, pks in changes.items():
        model = apps.get_model(label)
        owned = label in seen_before
        for pk in pks:
            row = after[label].get(pk) or before[label][pk]
            if label == AuditEvent._meta.label and user_id is not None:
                if row["user_id"] == user_id and row["la_id"] in (None, own_la):
                    continue
            refs = [(f.related_model, row[f.column]) for f in model._meta.concrete_fields
                    if f.is_relation and f.many_to_one and row[f.column] is not None]  # fmt: skip
            owned_refs = [(m._meta.label, v) for m, v in refs if m._meta.label in seen_before]
            users = [v for m, v in refs if m is user_model]
            if owned:
                fine = may_see(label, pk)
            elif model is user_model:
                fine = pk == user_id
            else:
                fine = bool(owned_refs) or (user_id is not None and user_id in users)
            fine = fine and all(may_see(rel, v) for rel, v in owned_refs)
            if not fine:
                out.setdefault(label, set()).add(pk)
    return out


def settings_user_model() -> str:
    from django.conf import settings

    return settings.AUTH_USER_MODEL


class RowsRead:
    """Every model instance loaded while the block runs (views read rows as instances)."""

    def __enter__(self):
        from django.db.models.signals import post_init

        self.rows: set[tuple[str, object]] = set()
        post_init.connect(self._seen, dispatch_uid="scope-walk")
        return self

    def _seen(self, sender, instance, **kwargs):
        if instance.pk is not None:
            self.rows.add((sender._meta.label, instance.pk))

    def __exit__(self, *exc):
        from django.db.models.signals import post_init

        post_init.disconnect(dispatch_uid="scope-walk")

    def foreign(self, seen: dict[str, set]) -> list[tuple[str, object]]:
        return sorted(
            ((label, pk) for label, pk in self.rows if label in seen and pk not in seen[label]),
            key=repr,
        )  # fmt: skip


# -- the forms the walk posts -------------------------------------------------------------------


def _plausible(name: str, kind: str) -> str:
    """A value a user could type into a field of this name and type."""
    name = name.lower()
    if name.endswith("day"):
        return "1"
    if name.endswith("month"):
        return "6"
    if name.endswith("year"):
        return "2023"
    if kind == "date":
        return "2023-06-01"
    if kind == "email" or "email" in name:
        return "walk@example.com"
    if kind == "number" or name in ("pupils", "expected", "cohort", "count"):
        return "12"
    if kind == "password" or "password" in name:
        return "Correct-Horse-Battery-9"
    if "upn" in name:
        return "A938200112001"
    if name in ("dob", "date_of_birth"):
        return "2016-01-14"
    return "ZZ walk: plausible text"


def forms_on(html: str, page_url: str, files: dict) -> list[tuple[str, dict]]:
    """(action URL, data) for each POST form of the page, every field filled plausibly: the
    value the page gave, the first choice of a select or radio group, every checkbox ticked,
    `files` for a file field."""
    import lxml.html

    try:
        doc = lxml.html.fromstring(html)
    except Exception:  # noqa: BLE001 - not HTML (a download)
        return []
    out = []
    for form in doc.forms:
        if (form.get("method") or "get").lower() != "post":
            continue
        data: dict = {}
        buttons: list[tuple[str, str]] = []
        for field in form.xpath(".//input|.//select|.//textarea|.//button"):
            name = field.get("name")
            if not name:
                continue
            tag, kind = field.tag, (field.get("type") or "text").lower()
            if tag == "button" or kind in ("submit", "button"):
                if field.get("value") is not None:
                    buttons.append((name, field.get("value")))
            elif tag == "select":
                values = [o.get("value", o.text or "") for o in field.xpath(".//option")]
                chosen = [o.get("value", o.text or "") for o in field.xpath(".//option[@selected]")]
                data[name] = ([v for v in chosen + values if v] or [""])[0]
            elif tag == "textarea":
                data[name] = (field.text or "").strip() or _plausible(name, "text")
            elif kind == "checkbox":
                data.setdefault(name, []).append(field.get("value", "on"))
            elif kind == "radio":
                if name not in data or field.get("checked") is not None:
                    data[name] = field.get("value", "on")
            elif kind == "file":
                data[name] = files[name] if name in files else files["*"]()
            elif kind == "hidden":
                data[name] = field.get("value", "")
            else:
                data[name] = field.get("value") or _plausible(name, kind)
        action = form.get("action") or page_url
        # One post per submit button that says what to do (save, or change the selected).
        for button in dict.fromkeys(buttons) or [None]:
            out.append((action, {**data, **dict([button])} if button else data))
    return out


def _client_for(user):
    from django.test import Client

    from keystage.accounts.two_factor import needs_two_factor
    from tests.app.conftest import verify_two_factor

    c = Client()
    c.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    if needs_two_factor(user):
        verify_two_factor(c, user)
    return c


def tenant_forms(members, tenant, urls: dict[str, str]) -> dict[str, list[dict]]:
    """{URL: [form data]} of the forms each URL's pages show the tenant's own users."""

    def a_file():
        body = walk_file(tenant.collection, tenant.code, TENANT_SCHOOLS[tenant.code][3:],
                         tenant.marks[1], pupils=2)  # fmt: skip
        # Named without the tenant's marks: a user who posts another LA's file sees its name
        # (and that it is refused as that LA's) among their own uploads, which is no leak.
        return SimpleUploadedFile(f"walk-{tenant.code}.xml", body, "text/xml")

    pages = [url for name, url in urls.items() if not name.endswith(DOWNLOADS)]
    found: dict[str, list[dict]] = {}
    keys: set[str] = set()
    for owner in FORM_OWNERS[tenant.code]:
        client = _client_for(members[owner])
        for url in pages:
            response = client.get(url)
            if response.status_code != 200 or getattr(response, "streaming", False):
                continue
            if "html" not in response.get("Content-Type", ""):
                continue
            for action, data in forms_on(response.content.decode(), url, {"*": a_file}):
                path = action.split("?")[0]
                key = repr(sorted((k, getattr(v, "name", v)) for k, v in data.items()))
                if path in urls.values() and key not in keys:
                    keys.add(key)
                    found.setdefault(path, []).append(data)
    return found


def _fresh(data: dict) -> dict:
    # A file is read once per post: give each post its own copy.
    out = {}
    for key, value in data.items():
        if isinstance(value, SimpleUploadedFile):
            value.seek(0)
            value = SimpleUploadedFile(value.name, value.read(), value.content_type)
        out[key] = value
    return out


# -- the walk -----------------------------------------------------------------------------------


LOOKS = ("marks", "reads", "changes")


def walk_urls(tenant: Tenant, names=None) -> dict[str, str]:
    """{URL name: URL} of every URL (or those `names`), filled with the tenant's ids."""
    names = names or sorted({n for n, _ in _patterns(get_resolver().url_patterns)} - set(EXEMPT))
    assert names, "no URLs found"
    urls = {}
    for name in names:
        assert name in PARAMETERS, f"add {name} to PARAMETERS in tests/app/test_scope_walk.py"
        fill = PARAMETERS[name]
        urls[name] = reverse(name, kwargs=fill(tenant) if fill else None)
    return urls


def walk(client, members, tenants, who, whose, may_see, names=None, sign_in=None,
         look=LOOKS, forms=None, shown_on=None) -> int:  # fmt: skip
    """Every URL (or those `names`) as `who`, filled with `whose` ids: GET it, then POST an
    empty form and each real form the tenant's own users see there. Raises WalkFailed when a
    page (or an e-mail) shows the tenant's marks, a request loads a row `who` may not see, or
    changes one (`look` chooses which of these to look for). `forms`: the tenant's forms of
    these URLs when already found (`tenant_forms`); `shown_on`, a set, gets the names of the
    URLs whose pages show the tenant's marks. Returns the requests made."""
    from django.core import mail

    tenant = tenants[whose]
    user = members[who] if who else None
    urls = walk_urls(tenant, names)
    forms = tenant_forms(members, tenant, urls) if forms is None else forms
    seen = visible(user)
    after = snapshot() if not may_see else None
    requests = 0
    for name, url in urls.items():
        posts = [{}, *forms.get(url, [])]
        for method, data in [("get", {}), *(("post", d) for d in posts)]:
            before = after  # nothing else changes rows between two requests
            sent = len(mail.outbox)
            with RowsRead() as read:
                response = getattr(client, method)(url, _fresh(data))
                body = _body(response)
            requests += 1
            status = response.status_code
            where = f"{who} {method.upper()} {url} {sorted(data)}"
            assert status < 500, (where, status)
            shown = [mark for mark in tenant.marks if mark in body]
            if shown and status == 200 and shown_on is not None:
                shown_on.add(name)
            if not may_see:
                if "marks" in look and shown and status == 200:
                    raise WalkFailed(f"{where}: shows {shown} of LA {whose}")
                foreign = read.foreign(seen)
                if "reads" in look and foreign:
                    raise WalkFailed(f"{where}: read rows {who} may not see: {foreign[:5]}")
                after = snapshot()
                changes = foreign_changes(user, before, after, seen)
                if "changes" in look and changes:
                    raise WalkFailed(f"{where}: changed rows {who} may not see: {changes}")
                for message in mail.outbox[sent:]:
                    text = message.subject + message.body
                    if "marks" in look and any(mark in text for mark in tenant.marks):
                        raise WalkFailed(f"{where}: e-mailed {message.to} about LA {whose}")
                if changed_rows(before, after):
                    seen = visible(user)  # the user's own rows changed
            if who and "_auth_user_id" not in client.session:
                (sign_in or (lambda: None))()  # the walk posted to sign-out
    return requests


@pytest.mark.parametrize("collection_id", COLLECTIONS)
@pytest.mark.parametrize("whose", sorted(WALKS))
def test_walk_every_url_with_another_tenants_ids(members, tenants, client, signed_in, whose,
                                                 collection_id):  # fmt: skip
    from django.core import mail
    from django.db import transaction

    from keystage.web.readcache import forget_all

    forms = tenant_forms(members, tenants[whose], walk_urls(tenants[whose]))
    walked = []
    for who, may_see in WALKS[whose]:
        sign_in = (lambda who=who: signed_in(members[who])) if who else client.logout
        # Each walker starts from the same data: what one walk changed (its own rows, or the
        # national admin's changes to the tenant's) is rolled back before the next.
        with transaction.atomic():
            sign_in()
            shown_on: set[str] = set()
            requests = walk(client, members, tenants, who, whose, may_see, sign_in=sign_in,
                            forms=forms, shown_on=shown_on)  # fmt: skip
            if may_see:
                # The national admin really reaches the other tenant's data through these URLs,
                # in this collection's pages of each kind: so a page that leaked it would show it.
                assert SHOWS_TENANT <= shown_on, sorted(SHOWS_TENANT - shown_on)
                page = client.get(reverse("la-errors", kwargs={"code": tenants[whose].code}))
                assert "ZZ-OTHER-TENANT" in _body(page) or "OTHERTENANT" in _body(page)
            transaction.set_rollback(True)
        forget_all()  # the rolled-back audit ids are handed out again (tests/conftest.py)
        mail.outbox.clear()
        client.logout()
        walked.append((who, requests))
    assert [who for who, _ in walked] == [who for who, _ in WALKS[whose]]
    assert all(requests > 100 for _, requests in walked), walked


# -- the walk notices a page that forgets its scope ---------------------------------------------


@pytest.fixture
def unscoped_school_sees(monkeypatch):
    """`la_school_sees` (and the other checking pages) looking their LA up without `scoped()`:
    the mistake the walk must catch."""
    from keystage.checking import views
    from keystage.orgs.models import LocalAuthority

    monkeypatch.setattr(views, "las_for", lambda user: LocalAuthority.objects.all())


@pytest.mark.parametrize(
    "look, found",
    [(("reads",), "read rows officer938 may not see"),
     (("changes",), "changed rows officer938 may not see")],
)  # fmt: skip
def test_the_walk_fails_on_a_page_that_forgets_its_scope(
    members, tenants, signed_in, client, unscoped_school_sees, look, found
):
    signed_in(members["officer938"])
    with pytest.raises(WalkFailed, match=found) as failed:
        walk(client, members, tenants, "officer938", "202", False, names=["la-school-sees"],
             look=look)  # fmt: skip
    assert "/ks1-2023/la/202/school-sees" in str(failed.value)


def test_marks_alone_did_not_notice_the_unscoped_page(
    members, tenants, signed_in, client, unscoped_school_sees
):
    """Why the walk reads rows and compares the database: the page shows no marked string."""
    signed_in(members["officer938"])
    walk(client, members, tenants, "officer938", "202", False, names=["la-school-sees"],
         look=("marks",))  # fmt: skip


def test_a_row_made_to_point_at_another_tenants_row_is_a_foreign_change(members):
    """A change the scope rules alone would call the user's own (a membership of their LA) but
    that names another LA's school fails the walk too."""
    from keystage.orgs.models import School

    admin = members["admin938"]
    seen, before = visible(admin), snapshot()
    membership = members["school938"].membership
    membership.school = School.objects.get(laestab="2022003")
    membership.save()
    assert foreign_changes(admin, before, snapshot(), seen) == {
        "accounts.Membership": {membership.pk}
    }
    assert foreign_changes(admin, before, before, seen) == {}
