"""What each role may see: nobody sees another LA's or another school's rows, whatever the
model, and a model without a scope rule cannot be asked about at all."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from keystage.accounts import scope
from keystage.accounts.actions import do_create_member, do_set_restricted_schools
from keystage.accounts.models import Membership, Role
from keystage.audit.models import AuditEvent
from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.models import Finding, PupilRecord, Upload

pytestmark = pytest.mark.django_db

TENANT_MODELS = (LocalAuthority, School, Upload, PupilRecord, Finding, AuditEvent, Membership)


@pytest.fixture
def tenant_rows(loaded, members):
    """For every school: an upload, a pupil, a finding and an audit row. Plus rows that belong
    to an LA but no school (a rejected file, a cohort finding, an LA event) and to neither."""
    now = timezone.now()
    for school in School.objects.select_related("la"):
        upload = Upload.objects.create(
            collection=loaded, school=school, la=school.la, file_name=f"{school.urn}.xml",
            sha256=school.urn * 10, size=1, uploaded_at=now, state="current",
        )  # fmt: skip
        pupil = PupilRecord.objects.create(
            upload=upload, collection=loaded, school=school, la=school.la, line=1,
            upn=f"A{school.urn}", surname="SMITH", forename="AVA", dob="2016-01-14", sex="F",
        )  # fmt: skip
        Finding.objects.create(
            collection=loaded, upload=upload, school=school, la=school.la, pupil=pupil,
            scope="pupil", rule="KS1-T07", severity="error", field="reading", message="x",
        )  # fmt: skip
        AuditEvent.objects.create(action="upload.accepted", la=school.la, school=school)
    la938 = LocalAuthority.objects.get(code="938")
    rejected = Upload.objects.create(
        collection=loaded, la=la938, file_name="unknown.xml", sha256="f" * 64, size=1,
        uploaded_at=now, state="rejected",
    )  # fmt: skip
    Upload.objects.create(
        collection=loaded, file_name="nowhere.xml", sha256="e" * 64, size=1, uploaded_at=now,
        state="rejected",
    )  # fmt: skip
    Finding.objects.create(
        collection=loaded, upload=rejected, la=la938, scope="cohort", rule="KS1-C01",
        severity="query", field="upn", message="x",
    )  # fmt: skip
    AuditEvent.objects.create(action="la.event", la=la938)
    AuditEvent.objects.create(action="national.event")


def _owner(obj) -> tuple[str | None, str | None]:
    """(LA code, URN) a row belongs to, read from the row itself rather than from scope."""
    if isinstance(obj, LocalAuthority):
        return obj.code, None
    if isinstance(obj, School):
        return obj.la.code, obj.urn
    return (obj.la.code if obj.la_id else None, obj.school.urn if obj.school_id else None)


# role key -> may this user see a row owned by (la, urn)?
EXPECTED = {
    "national": lambda la, urn, model: True,
    "admin938": lambda la, urn, model: la == "938",
    "officer938": lambda la, urn, model: la == "938",
    "restricted938": lambda la, urn, model: (
        la == "938" and (urn == "125000" or model is LocalAuthority)
    ),
    "school938": lambda la, urn, model: (
        la == "938" and (urn == "125001" or model is LocalAuthority)
    ),
    "admin202": lambda la, urn, model: la == "202",
    "officer202": lambda la, urn, model: la == "202",
    "school202": lambda la, urn, model: (
        la == "202" and (urn == "100000" or model is LocalAuthority)
    ),
    "nobody": lambda la, urn, model: False,
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_each_role_sees_exactly_its_own_rows(tenant_rows, members, who):
    user = members[who]
    for model in TENANT_MODELS:
        everything = list(model.objects.all())
        assert everything, f"the fixture made no {model.__name__} rows"
        want = {o.pk for o in everything if EXPECTED[who](*_owner(o), model)}
        got = set(scope.scoped(user, model).values_list("pk", flat=True))
        assert got == want, f"{who} sees the wrong {model.__name__} rows"
        if who != "national":
            assert got != {o.pk for o in everything}, "only a national admin sees everything"


def test_anonymous_and_inactive_users_see_nothing(tenant_rows, members):
    admin = members["national"]
    admin.is_active = False
    admin.save()
    for model in TENANT_MODELS:
        assert not scope.scoped(AnonymousUser(), model).exists()
        assert not scope.scoped(None, model).exists()
        assert not scope.scoped(admin, model).exists()


def test_scoped_narrows_a_queryset_it_is_given(tenant_rows, members):
    errors = Finding.objects.filter(severity="error")
    rows = scope.scoped(members["school202"], errors)
    assert {f.school.urn for f in rows} == {"100000"}
    assert all(f.severity == "error" for f in rows)


def test_las_and_schools_for_each_role(tenant_rows, members):
    def codes(user):
        return sorted(scope.las_for(user).values_list("code", flat=True))

    def urns(user):
        return sorted(scope.schools_for(user).values_list("urn", flat=True))

    assert len(codes(members["national"])) == LocalAuthority.objects.count()
    assert codes(members["officer938"]) == ["938"]
    assert urns(members["officer938"]) == ["125000", "125001", "125002"]
    assert urns(members["restricted938"]) == ["125000"]
    assert (codes(members["school202"]), urns(members["school202"])) == (["202"], ["100000"])
    assert (codes(members["nobody"]), urns(members["nobody"])) == ([], [])


def test_a_school_of_another_la_never_widens_a_restricted_officers_scope(tenant_rows, members):
    membership = members["restricted938"].membership
    camden = School.objects.get(urn="100000")
    with pytest.raises(ValidationError, match="not in"):
        do_set_restricted_schools(membership, [camden])
    membership.schools.add(camden)  # written around the action, as a bug might
    assert sorted(scope.schools_for(members["restricted938"]).values_list("urn", flat=True)) == [
        "125000"
    ]
    assert not scope.scoped(members["restricted938"], Upload).filter(school=camden).exists()


def test_a_model_without_a_scope_rule_is_refused(members):
    from keystage.submissions.models import Collection

    with pytest.raises(LookupError, match="OWNED_BY"):
        scope.scoped(members["national"], Collection)


def test_every_model_owned_by_an_la_or_school_has_a_scope_rule():
    """Hygiene: a new model with a foreign key to an LA or a school must say how it is scoped."""
    missing = []
    for model in apps.get_models():
        if not model.__module__.startswith("keystage."):
            continue
        owned = model in (LocalAuthority, School) or any(
            isinstance(f, models.ForeignKey | models.ManyToManyField)
            and f.related_model in (LocalAuthority, School)
            for f in model._meta.get_fields()
            if not f.auto_created
        )
        if owned and model not in scope.OWNED_BY:
            missing.append(model.__name__)
    assert not missing, f"add to keystage.accounts.scope.OWNED_BY: {missing}"


# -- memberships: the organisation must fit the role -----------------------------------------


def test_roles_need_the_right_organisation(loaded):
    la938 = LocalAuthority.objects.get(code="938")
    camden_school = School.objects.get(urn="100000")
    with pytest.raises(ValidationError, match="Choose the LA"):
        do_create_member("a", role=Role.LA_OFFICER)
    with pytest.raises(ValidationError, match="Choose the school"):
        do_create_member("b", role=Role.SCHOOL_USER, la=la938)
    with pytest.raises(ValidationError, match="school's LA"):
        do_create_member("c", role=Role.SCHOOL_USER, la=la938, school=camden_school)
    with pytest.raises(ValidationError, match="no LA or school"):
        do_create_member("d", role=Role.NATIONAL_ADMIN, la=la938)
    with pytest.raises(ValidationError, match="Only LA users"):
        do_create_member("e", role=Role.SCHOOL_USER, school=camden_school, is_approver=True)
    with pytest.raises(ValidationError, match="Only LA restricted"):
        do_create_member("f", role=Role.LA_OFFICER, la=la938, schools=[camden_school])
    school_user = do_create_member("g", role=Role.SCHOOL_USER, school=camden_school)
    assert school_user.la == camden_school.la  # filled in from the school
    assert Membership.objects.count() == 1  # nothing half-made by the refusals


def test_the_database_refuses_a_role_without_its_organisation(loaded, django_user_model):
    user = django_user_model.objects.create(username="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, role=Role.LA_ADMIN)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=user, role=Role.NATIONAL_ADMIN, is_approver=True)
