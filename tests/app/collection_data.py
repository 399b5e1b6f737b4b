"""Rows for the dashboard and report pages: in LA 938 one school in each state, and in LA 202
a school with an error that no 938 user may see."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from keystage.orgs.models import LocalAuthority, School
from keystage.submissions.models import Finding, PupilRecord, Upload
from tests.builders import expect_to_submit

FORMULA_NAME = '=HYPERLINK("http://x.example","click")'


def _upload(collection, school, state="current", at=None, name=None, reason=""):
    return Upload.objects.create(
        collection=collection, school=school, la=school.la, file_name=name or f"{school.urn}.xml",
        sha256=f"{school.urn}{state}".ljust(64, "0"), size=1, state=state, reason=reason,
        uploaded_at=at or timezone.now(),
    )  # fmt: skip


def _pupil(upload, n, surname="SMITH", forename="AVA"):
    return PupilRecord.objects.create(
        upload=upload, collection=upload.collection, school=upload.school, la=upload.la,
        line=n, upn=f"{upload.school.laestab}{n:03d}X", surname=surname, forename=forename,
        dob="2016-01-14", sex="F",
    )  # fmt: skip


def _finding(pupil, rule, severity, field="reading", value="BLW", message="Check this"):
    return Finding.objects.create(
        collection=pupil.collection, upload=pupil.upload, school=pupil.school, la=pupil.la,
        pupil=pupil, scope="pupil", rule=rule, severity=severity, field=field, value=value,
        message=message,
    )  # fmt: skip


def seed(collection) -> dict[str, School]:
    """Schools by state (laestab in brackets):
    clean (9382001), errors (9382002), queries (9382004), not_received (9382005),
    rejected (9382006, its only file was rejected), secondary (9384001, not expected, silent),
    camden (2022003, in LA 202, with an error)."""
    la938 = LocalAuthority.objects.get(code="938")

    def extra(urn, estab, name):
        school = School.objects.create(
            urn=urn, la=la938, estab=estab, laestab=f"938{estab}", name=name
        )
        expect_to_submit(school, collection)
        return school

    schools = {
        "clean": School.objects.get(urn="125000"),
        "errors": School.objects.get(urn="125001"),
        "secondary": School.objects.get(urn="125002"),
        "queries": extra("125003", "2004", "Queries Only Primary"),
        "not_received": extra("125004", "2005", "Silent Primary"),
        "rejected": extra("125005", "2006", "Rejected Primary"),
        "camden": School.objects.get(urn="100000"),
    }
    expect_to_submit(School.objects.filter(urn__in=["125000", "125001", "100000"]), collection)
    expect_to_submit(School.objects.filter(urn="125002"), collection, expected=False)

    up = _upload(collection, schools["clean"])
    for n in range(1, 4):
        _pupil(up, n, surname=f"CLEAN{n}")

    up = _upload(collection, schools["errors"])
    bad = _pupil(up, 1, surname=FORMULA_NAME, forename="BEN")
    odd = _pupil(up, 2, surname="QUERYSON", forename="CAL")
    _finding(bad, "KS1-T07", "error", value="BLW", message="Reading is not a valid code")
    _finding(bad, "KS1-T07", "error", field="writing", value="XYZ", message="Writing invalid")
    _finding(odd, "KS1-T12", "query", field="maths", value="GDS", message="Explain this spread")

    up = _upload(collection, schools["queries"])
    _finding(_pupil(up, 1, surname="ASKEW"), "KS1-P07", "query", field="dob", value="2015-01-01",
             message="Pupil is older than usual")  # fmt: skip

    _upload(collection, schools["rejected"], state="rejected", name="broken.xml",
            reason="not a CTF or CSV file",
            at=timezone.now() - dt.timedelta(hours=1))  # fmt: skip

    up = _upload(collection, schools["camden"])
    _finding(_pupil(up, 1, surname="CAMDENER"), "KS1-T07", "error", message="Camden error")
    for s in schools.values():
        s.refresh_from_db()
    return schools
