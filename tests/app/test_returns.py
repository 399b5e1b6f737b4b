"""The statutory return and the national collection, as LA users and the collector use them:
building with open items, serial numbers, downloads, uploads from other systems (and hostile
ones), who may submit and authorise, amended-after-submission, the national dashboard."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from lxml import etree

from keystage.cli import main
from keystage.engine import definition
from keystage.engine.return_reader import schema_for
from keystage.orgs.models import LocalAuthority
from keystage.returns import actions, queries
from keystage.returns.models import (
    CollectedFinding,
    CollectedPupil,
    CollectedReturn,
    CollectedReturnVersion,
    ReturnGeneration,
)
from keystage.web.links import reverse
from tests.app.returns_data import explain_everything

pytestmark = pytest.mark.django_db


def _held():
    """Everything the collection holds, to show an upload changed nothing."""
    return (
        list(CollectedReturn.objects.values_list("school_id", "status", "current_id", "errors")),
        CollectedReturnVersion.objects.count(),
        CollectedPupil.objects.filter(is_current=True).count(),
        CollectedFinding.objects.filter(is_current=True).count(),
    )


def test_build_lists_open_items_and_writes_only_when_confirmed(la938, loaded, members):
    officer = members["officer938"]
    with pytest.raises(actions.OpenItems) as e:
        actions.do_build_return(la938, loaded, user=officer)
    assert [i["rule"] for i in e.value.items] == ["KS1-T13"]
    assert not ReturnGeneration.objects.exists()
    g1 = actions.do_build_return(la938, loaded, user=officer, confirm=True)
    assert (g1.serial, g1.school_count, g1.pupil_count) == (1, 2, 5)
    assert g1.confirmed_open_items and g1.unexplained_queries == 1
    explain_everything(la938)
    g2 = actions.do_build_return(la938, loaded, user=officer)
    assert g2.serial == 2 and not g2.confirmed_open_items
    schema = schema_for(definition.load())
    names = [f["name"] for f in g2.files]
    assert names == ["9382001_KS1_2023_002.xml", "9382002_KS1_2023_002.xml"]
    for name in names:
        root = etree.parse(str(actions.generation_path(g2, name))).getroot()
        schema.assertValid(root)
        assert root.findtext("Header/Source/SerialNo") == "2"
    # the explanation travels with the pupil
    b = etree.parse(str(actions.generation_path(g2, names[1]))).getroot()
    assert b.findtext(".//QueryExplanation/Explanation") == "Checked with the school"
    with zipfile.ZipFile(actions.generation_path(g2)) as z:
        assert sorted(z.namelist()) == names
    # a school user cannot build
    with pytest.raises(PermissionDenied):
        actions.do_build_return(la938, loaded, user=members["school938"], confirm=True)


def test_build_page_asks_for_confirmation_and_downloads_again(la938, members, signed_in):
    client = signed_in(members["officer938"])
    page = client.get(reverse("la-returns", kwargs={"code": "938"}))
    body = page.content.decode()
    assert (
        "0 errors in West Sussex&#39;s data are still open and 1 query has no explanation" in body
    )
    # open items counted by rule, each leading to the Data Errors report for that rule
    assert "Open items by rule" in body
    assert f'href="{reverse("la-errors", kwargs={"code": "938"})}?rule=KS1-T13">KS1-T13</a>' in body
    # Not ticked: the GOV.UK error pattern, a summary linking to the box and a message on it.
    response = client.post(reverse("la-return-build", kwargs={"code": "938"}), {})
    assert response.status_code == 400
    html = etree.HTML(response.content)
    summary = html.xpath('//div[contains(@class, "govuk-error-summary")]//a')
    assert [a.get("href") for a in summary] == ["#confirm"]
    assert "Tick the box to confirm" in summary[0].text
    assert html.xpath('//input[@id="confirm"]'), "the summary links to the checkbox"
    group = html.xpath('//input[@id="confirm"]/ancestor::div[contains(@class, "govuk-form-group")]')
    assert "govuk-form-group--error" in group[0].get("class")
    message = group[0].xpath('.//p[contains(@class, "govuk-error-message")]')
    assert "Tick the box to confirm" in "".join(message[0].itertext())
    assert html.xpath("//title")[0].text.startswith("Error: ")
    assert not ReturnGeneration.objects.exists()
    client.post(reverse("la-return-build", kwargs={"code": "938"}), {"confirm": "on"})
    g = ReturnGeneration.objects.get()
    url = reverse("la-return-download", kwargs={"code": "938", "serial": 1, "file": g.bundle_name})
    download = client.get(url)
    assert download.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()
    bad = reverse("la-return-download", kwargs={"code": "938", "serial": 1, "file": "..%2Fx"})
    assert client.get(bad).status_code == 404
    # another LA's user cannot see it
    other = signed_in(members["officer202"])
    assert other.get(url).status_code == 404


def test_cli_builds_only_with_yes(la938, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["return", "build", "--la", "938", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "KS1-T13" in err and "--yes" in err
    assert (
        main(["return", "build", "--la", "938", "--out", str(out), "--yes", "--format", "json"])
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "9382001_KS1_2023_001.xml",
        "9382002_KS1_2023_001.xml",
        "938_KS1_2023_001.zip",
    ]
    assert '"serial": 1' in capsys.readouterr().out
    assert main(["return", "build", "--la", "999", "--out", str(out)]) == 2


def _submit_and_authorise_flow(la938, loaded, members):
    explain_everything(la938)
    g = actions.do_build_return(la938, loaded, user=members["officer938"])
    return g


def test_only_an_approver_submits_and_only_a_national_admin_authorises(la938, loaded, members):
    g = _submit_and_authorise_flow(la938, loaded, members)
    for who in ("admin938", "school938", "national", "officer202"):
        with pytest.raises(PermissionDenied):
            actions.do_submit_generation(g, user=members[who])
    assert not CollectedReturn.objects.exists()
    result = actions.do_submit_generation(g, user=members["officer938"])
    assert sorted(result.schools) == ["9382001", "9382002"]
    held = {cr.school.laestab: cr for cr in CollectedReturn.objects.select_related("school")}
    assert {cr.status for cr in held.values()} == {"submitted"}
    assert held["9382002"].queries == 1 and held["9382002"].unexplained == 0
    for who in ("officer938", "admin938"):
        with pytest.raises(PermissionDenied):
            actions.do_authorise_return(held["9382001"], user=members[who])
    assert len(actions.do_authorise_la(la938, loaded, user=members["national"]).will) == 2
    assert set(CollectedReturn.objects.values_list("status", flat=True)) == {"authorised"}


def test_errors_and_unexplained_queries_block_authorisation(la938, loaded, members):
    g = actions.do_build_return(la938, loaded, user=members["officer938"], confirm=True)
    actions.do_submit_generation(g, user=members["officer938"])
    b = CollectedReturn.objects.get(school__laestab="9382002")
    assert b.unexplained == 1
    with pytest.raises(actions.ReturnRefused, match="without an explanation"):
        actions.do_authorise_return(b, user=members["national"])
    # Authorising the LA authorises the clean school return and leaves the other, saying why.
    plan = actions.do_authorise_la(la938, loaded, user=members["national"])
    assert [cr.school.laestab for cr in plan.will] == ["9382001"]
    assert [(cr.school.laestab, why) for cr, why in plan.will_not] == [
        ("9382002", "it has 1 query without an explanation")
    ]
    a = CollectedReturn.objects.get(school__laestab="9382001")
    assert a.status == "authorised"
    assert CollectedReturn.objects.get(school__laestab="9382002").status == "submitted"


def _return_file(la938, loaded, members, laestab="9382001") -> bytes:
    explain_everything(la938)
    g = actions.do_build_return(la938, loaded, user=members["officer938"])
    name = next(f["name"] for f in g.files if f["laestab"] == laestab)
    return actions.generation_path(g, name).read_bytes()


def test_reupload_replaces_keeps_history_and_marks_amended(la938, loaded, members, signed_in):
    g = _submit_and_authorise_flow(la938, loaded, members)
    actions.do_submit_generation(g, user=members["officer938"])
    content = actions.generation_path(g, g.files[0]["name"]).read_bytes()
    changed = content.replace(b"<Result>GDS</Result>", b"<Result>EXS</Result>", 1)
    result = actions.do_upload_returns(
        la938, loaded, [("mine.xml", changed)], user=members["admin938"]
    )
    assert result.replaced == ["9382001"]
    cr = CollectedReturn.objects.get(school__laestab="9382001")
    assert cr.status == "amended"
    assert list(cr.versions.values_list("number", "file_name")) == [
        (2, "mine.xml"),
        (1, g.files[0]["name"]),
    ]
    assert CollectedPupil.objects.filter(school=cr.school, is_current=True).count() == 3
    page = (
        signed_in(members["admin938"])
        .get(reverse("collected-return", kwargs={"code": "938", "laestab": "9382001"}))
        .content.decode()
    )
    assert "Amended after submission" in page and "mine.xml" in page
    assert "Version 2 loaded from mine.xml" in page and "Submitted with 0 errors" in page


def _zip(members_: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members_.items():
            z.writestr(name, data)
    return out.getvalue()


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.xml", b"\0" * 50_000_000)
    return out.getvalue()


HOSTILE = {
    "malformed": lambda good: [("bad.xml", good[:-50])],
    "wrong LA in header": lambda good: [
        ("la.xml", good.replace(b"<LEA>938</LEA>", b"<LEA>202</LEA>", 1))
    ],
    "wrong collection": lambda good: [
        ("c.xml", good.replace(b"<Collection>KS1</Collection>", b"<Collection>KS2</Collection>"))
    ],
    "wrong year": lambda good: [
        ("y.xml", good.replace(b"<Year>2023</Year>", b"<Year>2022</Year>", 1))
    ],
    "duplicate schools": lambda good: [("one.xml", good), ("two.xml", good)],
    "zip bomb": lambda good: [("bomb.zip", _bomb())],
    "zip path traversal": lambda good: [
        ("trav.zip", _zip({"ok.xml": good, "../../evil.xml": good}))
    ],
    "xxe": lambda good: [
        (
            "x.xml",
            good.replace(
                b"?>\n", b'?>\n<!DOCTYPE KS1 [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n', 1
            ),
        )
    ],
}
REASONS = {
    "malformed": "not well-formed",
    "wrong LA in header": "LA 938",
    "wrong collection": "Collection",
    "wrong year": "Year",
    "duplicate schools": "also in one.xml",
    "zip bomb": "zip bomb",
    "zip path traversal": "outside the zip",
    "xxe": "DOCTYPE",
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_uploads_are_refused_and_change_nothing(kind, la938, loaded, members, signed_in):
    good = _return_file(la938, loaded, members)
    actions.do_upload_returns(la938, loaded, [("first.xml", good)], user=members["officer938"])
    before = _held()
    files = HOSTILE[kind](good)
    client = signed_in(members["officer938"])
    response = client.post(
        reverse("la-return-upload", kwargs={"code": "938"}),
        {"files": [SimpleUploadedFile(name, data) for name, data in files]},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was loaded" in body
    assert REASONS[kind] in body, body[body.find("error-summary") :][:1500]
    assert _held() == before
    from keystage.audit.models import AuditEvent

    refused = AuditEvent.objects.filter(action="return.upload_refused").get()
    assert refused.actor == "officer938" and refused.detail["reasons"]


def test_duplicate_upns_across_the_las_return_are_errors(la938, loaded, members):
    explain_everything(la938)
    g = actions.do_build_return(la938, loaded, user=members["officer938"])
    a = actions.generation_path(g, g.files[0]["name"]).read_bytes()
    b = actions.generation_path(g, g.files[1]["name"]).read_bytes()
    upn_a = etree.fromstring(a).findtext(".//Pupil/UPN")
    upn_b = etree.fromstring(b).findtext(".//Pupil/UPN")
    actions.do_upload_returns(
        la938,
        loaded,
        [("a.xml", a), ("b.xml", b.replace(upn_b.encode(), upn_a.encode()))],
        user=members["officer938"],
    )
    p03 = CollectedFinding.objects.filter(is_current=True, rule="KS1-P03")
    assert {f.school.laestab for f in p03} == {"9382001", "9382002"}
    assert CollectedReturn.objects.get(school__laestab="9382001").errors == 1


def test_national_dashboard_lists_every_la_and_exports_safely(la938, loaded, members, signed_in):
    g = _submit_and_authorise_flow(la938, loaded, members)
    actions.do_submit_generation(g, user=members["officer938"])
    LocalAuthority.objects.filter(code="202").update(name='=HYPERLINK("http://x","y")')
    client = signed_in(members["national"])
    page = client.get(reverse("national-dashboard") + "?sort=pupils&dir=desc").content.decode()
    assert "Every LA (153)" in page and "Submitted" in page
    assert page.index("West Sussex") < page.index("Camden") if "Camden" in page else True
    response = client.get(reverse("national-dashboard-export", kwargs={"fmt": "csv"}))
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 153
    row938 = next(r for r in rows if r["la"] == "938")
    assert (row938["state"], row938["schools"], row938["pupils"]) == ("Submitted", "2", "5")
    assert row938["deadline"] == "2023-07-21"
    assert next(r for r in rows if r["la"] == "202")["name"].startswith("'=")
    # filtered to one state: the page and its download hold only those LAs
    page = client.get(reverse("national-dashboard") + "?state=submitted").content.decode()
    assert "LAs submitted (1)" in page and "West Sussex" in page and "Camden" not in page
    page = client.get(reverse("national-dashboard") + "?state=none").content.decode()
    assert "LAs no return yet (152)" in page and "West Sussex" not in page
    export = reverse("national-dashboard-export", kwargs={"fmt": "csv"}) + "?state=submitted"
    rows = list(csv.DictReader(io.StringIO(client.get(export).content.decode("utf-8-sig"))))
    assert [r["la"] for r in rows] == ["938"]
    xlsx = client.get(reverse("national-dashboard-export", kwargs={"fmt": "xlsx"}))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    # anyone else is sent to their own pages, and cannot export
    for who, goes_to in (("officer938", "/ks1-2023/la/938/returns"), ("school938", "/")):
        other = signed_in(members[who])
        assert other.get(reverse("national-dashboard"))["Location"] == goes_to
        export = reverse("national-dashboard-export", kwargs={"fmt": "csv"})
        assert other.get(export).status_code == 403


def test_the_deadline_reads_as_days_until_it_is_long_past():
    assert [queries.deadline_text(d) for d in (3, 1, 0, -1, -5, -61)] == [
        "3 days to go", "1 day to go", "due today", "passed 1 day ago", "passed 5 days ago",
        "closed",
    ]  # fmt: skip
