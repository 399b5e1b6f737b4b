"""The busiest pages keep what they compute from an LA's data until that data changes
(keystage.web.readcache): a change made by anyone shows at the next page, a view or a sign-in
does not throw the kept figures away, and what one user may see is never shown to another."""

from __future__ import annotations

import re

import pytest

from keystage.audit.models import AuditEvent, record
from keystage.audit.stamps import data_stamp
from keystage.submissions.importing import import_paths
from keystage.web.links import reverse
from tests.builders import pupil, write_ctf

pytestmark = pytest.mark.django_db


def schools_shown(page: str) -> list[str]:
    return re.findall(r'<th scope="row" class="govuk-table__header">\s*(\d{7})', page)


def dashboard(client) -> str:
    r = client.get(reverse("la-dashboard", kwargs={"code": "938"}))
    assert r.status_code == 200
    return r.content.decode()


def pupils_in_dashboard(page: str, laestab: str) -> str:
    row = page[page.index(laestab) :]
    return row[: row.index("</tr>")]


def test_a_file_imported_after_a_page_shows_at_the_next_page(la938, members, signed_in, tmp_path):
    client = signed_in(members["officer938"])
    before = dashboard(client)
    assert "9382001" in schools_shown(before)
    # The school sends a file with two more pupils (5 instead of 3), by the import the web uses.
    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_002.xml", [pupil(n) for n in range(1, 6)])
    [result] = import_paths([str(f)])
    assert result.outcome in ("accepted", "superseded")
    after = dashboard(client)
    assert ">3<" in pupils_in_dashboard(before, "9382001")
    assert ">5<" in pupils_in_dashboard(after, "9382001")


def test_an_edit_shows_at_once_on_data_errors(la938, members, signed_in):
    from keystage.submissions.models import Finding

    client = signed_in(members["officer938"])
    url = reverse("la-errors", kwargs={"code": "938"})
    assert "KS1-T13" in client.get(url).content.decode()  # the query of 9382002
    finding = Finding.objects.get(rule="KS1-T13", is_current=True)
    pupil_url = reverse("la-pupil", kwargs={"code": "938", "pupil_id": finding.pupil_id})
    r = client.post(
        pupil_url + "/explain", {"finding": finding.pk, "explanation": "Confirmed with the school"}
    )
    assert r.status_code == 302
    page = client.get(url).content.decode()
    assert "Confirmed correct: Confirmed with the school" in page


def test_what_a_restricted_officer_sees_is_theirs_after_an_officer_looked(
    la938, members, signed_in, client
):
    officer = signed_in(members["officer938"])
    assert {"9382001", "9382002"} <= set(schools_shown(dashboard(officer)))
    client.logout()
    restricted = signed_in(members["restricted938"])  # may see 9382001 only
    assert schools_shown(dashboard(restricted)) == ["9382001"]


def test_the_stamp_moves_with_changes_not_with_views(la938, members):
    la = la938
    first = data_stamp(la.pk)
    record("view.data_errors", user=members["officer938"], la=la)
    record("account.signed_in", user=members["officer938"], la=la)
    assert data_stamp(la.pk) == first
    record("pupil.edited", user=members["officer938"], la=la)
    second = data_stamp(la.pk)
    assert second != first
    # A file refused before its LA was known is on no LA's pages: no LA's stamp moves (a
    # national import's unplaceable files would otherwise renew every LA's pages, each time).
    record("upload.rejected", user=None)
    assert data_stamp(la.pk) == second
    # A change of no LA (the schools register) moves every LA's stamp.
    record("register.loaded", user=None)
    assert data_stamp(la.pk) != second


def test_a_change_committed_with_a_lower_id_still_moves_the_stamp(la938, members):
    """Ids are taken before commit: a transaction that took a lower id and commits after a
    later one leaves the highest id as it was. The count still moves."""
    la, officer = la938, members["officer938"]
    record("pupil.edited", user=officer, la=la)
    earlier = AuditEvent.objects.filter(la=la).order_by("-id").first()
    record("pupil.edited", user=officer, la=la)
    # The earlier change's transaction has not committed yet: its row is not there to see.
    kept = AuditEvent.objects.get(pk=earlier.pk)
    AuditEvent.objects.filter(pk=earlier.pk).delete()
    seen = data_stamp(la.pk)
    kept.save(force_insert=True)  # ... and now it commits, with its lower id
    assert data_stamp(la.pk) != seen
