"""The audit log page: an LA's events for its admins (and national admins), newest first,
filtered by action and paged; nobody else sees it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from keystage.audit.models import AuditEvent
from keystage.collection import views
from keystage.orgs.models import LocalAuthority, School
from keystage.web.links import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(loaded, members):
    la938, la202 = LocalAuthority.objects.get(code="938"), LocalAuthority.objects.get(code="202")
    school = School.objects.get(urn="125001")
    now = timezone.now()
    AuditEvent.objects.all().delete()  # the members' own "account.created" rows
    AuditEvent.objects.create(at=now - dt.timedelta(hours=3), actor="first", la=la938,
                              action="upload.accepted", school=school,
                              detail={"file_name": "downs.xml", "pupils": 30})  # fmt: skip
    AuditEvent.objects.create(at=now - dt.timedelta(hours=2), actor="second", la=la938,
                              action="collection.school_deadline_set",
                              detail={"school_deadline": "2023-06-30"})  # fmt: skip
    AuditEvent.objects.create(at=now - dt.timedelta(hours=1), actor="third", la=la938,
                              action="view.data_errors", detail={"filters": {"rule": "KS1-T07"}})  # fmt: skip
    AuditEvent.objects.create(at=now, actor="camden-person", la=la202, action="upload.accepted")
    AuditEvent.objects.create(at=now, actor="national-job", action="national.event")


def audit(client, code="938", **params):
    return client.get(reverse("la-audit", kwargs={"code": code}), params)


def actors(page: str) -> list[str]:
    return re.findall(r">\s*(first|second|third|camden-person|national-job)\s*<", page)


def test_la_admin_sees_their_las_events_newest_first(events, signed_in, members):
    response = audit(signed_in(members["admin938"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<title>Audit log - West Sussex - Keystage</title>" in page
    assert page.count("<h1") == 1 and "<caption" in page and 'for="action"' in page
    assert actors(page) == ["third", "second", "first"]
    assert "9382002 Downs Infant School" in page
    assert "file name: downs.xml; pupils: 30" in page and "filters: rule=KS1-T07" in page


def test_filter_by_action(events, signed_in, members):
    page = audit(signed_in(members["admin938"]), action="upload.accepted").content.decode()
    assert actors(page) == ["first"]
    # an unknown action shows everything rather than failing
    page = audit(signed_in(members["admin938"]), action="nope").content.decode()
    assert actors(page) == ["third", "second", "first"]


def test_the_log_is_paged(events, signed_in, members, monkeypatch):
    monkeypatch.setattr(views, "AUDIT_PER_PAGE", 2)
    client = signed_in(members["admin938"])
    page = audit(client).content.decode()
    assert actors(page) == ["third", "second"] and "page=2" in page
    assert actors(audit(client, page=2).content.decode()) == ["first"]


def test_national_admin_sees_any_las_log(events, signed_in, members):
    client = signed_in(members["national"])
    assert actors(audit(client, "202").content.decode()) == ["camden-person"]
    assert actors(audit(client).content.decode()) == ["third", "second", "first"]


def test_others_cannot_see_the_log(events, signed_in, members):
    for who in ("officer938", "restricted938", "school938"):
        assert audit(signed_in(members[who])).status_code == 403, who
    for who in ("admin202", "officer202", "school202"):
        assert audit(signed_in(members[who])).status_code == 404, who
    assert audit(signed_in(members["nobody"])).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(events, client):
    response = audit(client)
    assert response.status_code == 302 and reverse("sign-in") in response["Location"]


def _words(html: str) -> str:
    """The page's text as a reader sees it (no tags, so no option values)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_events_are_shown_in_words(events, signed_in, members):
    page = _words(audit(signed_in(members["admin938"])).content.decode())
    for words in ("File accepted", "Deadline for schools set", "Data Errors report viewed"):
        assert words in page
    assert "upload.accepted" not in page and "view.data_errors" not in page
    assert "school deadline: 30 June 2023" in page and "2023-06-30" not in page
    assert "All events" in page  # the filter lists events in words too
    assert not re.search(r"\b\d{4}-\d{2}-\d{2}\b", page)  # no ISO dates anywhere


def test_the_log_downloads_in_words(events, signed_in, members):
    import csv
    import io

    client = signed_in(members["admin938"])
    response = audit(client, format="csv")
    assert response.status_code == 200 and "audit-log-938" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["who"] for r in rows] == ["third", "second", "first"]  # LA 938's only
    assert rows[2]["event"] == "File accepted" and rows[2]["event_name"] == "upload.accepted"
    assert rows[2]["laestab"] == "9382002" and "pupils: 30" in rows[2]["detail"]
    assert rows[1]["detail"] == "school deadline: 30 June 2023"
    assert " at " in rows[0]["when"] and not re.match(r"\d{4}-", rows[0]["when"])
    one = list(csv.DictReader(io.StringIO(audit(client, format="csv", action="view.data_errors")
                                          .content.decode("utf-8-sig"))))  # fmt: skip
    assert [r["who"] for r in one] == ["third"]
    assert audit(client, format="xlsx").status_code == 200
    assert audit(client, format="exe").status_code == 404
    assert audit(signed_in(members["officer938"]), format="csv").status_code == 403


def _event_names_the_code_writes() -> tuple[set[str], list[str]]:
    """Every event name passed to `record`, `audit_row` or `do_record_view` in the source: string
    constants, either branch of `a if b else c`, a local variable set to those, and f-strings
    whose one variable is such a local. Returns (names, calls it could not read)."""
    import ast
    from pathlib import Path

    import keystage

    position = {"record": 0, "do_record_view": 0, "audit_row": 2}
    names: set[str] = set()
    unread: list[str] = []
    for path in Path(keystage.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            params = {a.arg for a in func.args.args + func.args.kwonlyargs}
            assigned: dict[str, list[ast.expr]] = {}
            for node in ast.walk(func):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            assigned.setdefault(target.id, []).append(node.value)

            def values(expr) -> set[str] | None:
                if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
                    return {expr.value}
                if isinstance(expr, ast.IfExp):
                    a, b = values(expr.body), values(expr.orelse)
                    return None if a is None or b is None else a | b
                if isinstance(expr, ast.Name) and expr.id in assigned:
                    found: set[str] = set()
                    for value in assigned[expr.id]:
                        more = values(value)
                        if more is None:
                            return None
                        found |= more
                    return found
                if isinstance(expr, ast.JoinedStr):
                    out = {""}
                    for part in expr.values:
                        inner = values(part.value if isinstance(part, ast.FormattedValue) else part)
                        if inner is None:
                            return None
                        out = {a + b for a in out for b in inner}
                    return out
                return None

            for node in ast.walk(func):
                if not isinstance(node, ast.Call):
                    continue
                called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if called not in position or len(node.args) <= position[called]:
                    continue
                arg = node.args[position[called]]
                if isinstance(arg, ast.Name) and arg.id in params and arg.id not in assigned:
                    continue  # passed on from the caller, whose call is read instead
                found = values(arg)
                if found is None:
                    unread.append(f"{path.name}:{node.lineno}")
                else:
                    names |= found
    return names, unread


def test_every_event_the_code_writes_has_words():
    from keystage.audit.events import EVENT_WORDS

    names, unread = _event_names_the_code_writes()
    assert not unread, f"cannot tell which event these calls write: {unread}"
    # The reader finds the events written from variables and f-strings too.
    assert {"checking.query_sent", "checking.query_answered", "upload.superseded",
            "upload.accepted", "return.generated", "register.loaded"} <= names  # fmt: skip
    missing = sorted(names - set(EVENT_WORDS))
    assert not missing, (
        f"add words for these audit events to keystage/audit/events.py EVENT_WORDS: {missing}"
    )


def test_details_name_roles_and_leave_out_empty_values(events, signed_in, members):
    la938 = LocalAuthority.objects.get(code="938")
    AuditEvent.objects.create(actor="fourth", la=la938, action="account.created",
                              detail={"role": "la_officer", "note": "", "username": "ann"})  # fmt: skip
    page = _words(audit(signed_in(members["admin938"])).content.decode())
    assert "role: LA officer; username: ann" in page
    assert "la_officer" not in page and "note:" not in page
