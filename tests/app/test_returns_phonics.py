"""Round trip of the phonics return (spec phonics.md §3.3): one LA's two schools' phonics files
imported, the return built (one XML per school), checked on the check your answers page (the
figures of the collection's measures module), submitted with the declaration, sent back and
submitted again, authorised; the collector then holds what the LA holds: the same pupils,
NC years, marks and outcome codes, less Wa/Wt, which are never sent."""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree

from keystage.returns import actions
from keystage.returns.models import CollectedPupil, CollectedReturn
from keystage.submissions.actions import get_collection
from keystage.submissions.importing import import_paths
from keystage.submissions.models import Finding, PupilRecord
from keystage.web.links import reverse
from tests.app.returns_data import explain_everything
from tests.builders import pupil, write_ctf

pytestmark = pytest.mark.django_db

PHONICS = "phonics-2023"


def _pupil(n: int, results, nc_year="1", estab="2001") -> dict:
    dob = "2016-10-14" if nc_year == "1" else "2015-10-14"
    return pupil(n, estab=estab, nc_year=nc_year, dob=dob, phonics=results, reading=None,
                 writing=None, maths=None, science=None)  # fmt: skip


def _held(model, la, collection=None) -> set[tuple]:
    rows = model.objects.filter(la=la, is_current=True)
    if collection is not None:
        rows = rows.filter(collection=collection)
    return {
        (school, upn, nc_year, tuple(sorted(outcomes.items())))
        for school, upn, nc_year, outcomes in rows.values_list(
            "school__laestab", "upn", "nc_year", "outcomes"
        )
    }


@pytest.fixture
def phonics_la(la938, tmp_path):
    one = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [
        _pupil(1, ["34"]), _pupil(2, ["32", "Wa"]), _pupil(3, ["A"]),
        _pupil(4, ["28"], nc_year="2"),
    ])  # fmt: skip
    two = write_ctf(tmp_path / "9382002_CTF_938LLLL_001.xml",
                    [_pupil(1, ["12", "Wt"], estab="2002"), _pupil(2, ["D"], estab="2002")],
                    estab="2002")  # fmt: skip
    results = import_paths([str(one), str(two)], collection_code=PHONICS)
    assert [r.outcome for r in results] == ["accepted", "accepted"], [r.reason for r in results]
    explain_everything(la938)
    collection = get_collection(PHONICS)
    assert not Finding.objects.filter(collection=collection, is_current=True, severity="error")
    return la938, collection


def test_phonics_return_round_trip(
    phonics_la, members, signed_in, mailoutbox, django_capture_on_commit_callbacks
):
    la, collection = phonics_la
    officer, national = members["officer938"], members["national"]
    generation = actions.do_build_return(la, collection, user=officer)
    assert (generation.school_count, generation.pupil_count) == (2, 6)
    assert [f["name"] for f in generation.files] == [
        "9382001_PSC_2023_001.xml",
        "9382002_PSC_2023_001.xml",
    ]
    first = etree.parse(actions.generation_path(generation, generation.files[0]["name"]))
    assert [p.findtext("NCyear") for p in first.iter("Pupil")] == ["1", "1", "1", "2"]
    assert "WA" not in {r.text.upper() for r in first.iter("Result")}

    # Check your answers: the return's figures, hand-worked. Year 1: 34, 32 met; A, 12 and D
    # eligible and not met: 2 of 5 (40%). Year 2: 28, not met. By the end of Year 2 needs last
    # year's results and KS1's pupils, which a return does not carry: not shown.
    client = signed_in(officer)
    kw = {"code": "938", "serial": generation.serial, "collection": PHONICS}
    page = client.get(reverse("la-return-submit", kwargs=kw))
    assert page.status_code == 200
    html = etree.HTML(page.content)
    rows = {
        " ".join("".join(r.find("dt").itertext()).split()): " ".join(
            "".join(r.find("dd").itertext()).split()
        )
        for r in html.xpath('//div[contains(@class, "govuk-summary-list__row")]')
    }
    assert rows["Year 1"] == "5 pupils, 5 eligible, 2 met the expected standard (40%)"
    assert rows["Year 2 re-check"] == "1 pupil, 1 eligible, 0 met the expected standard (0%)"
    assert "By the end of Year 2" not in rows
    assert rows["Pupils"] == "6 pupils"
    assert "statutory phonics return for Phonics screening check 2023" in page.content.decode()
    token = html.xpath('//input[@name="token"]/@value')[0]
    done = client.post(
        reverse("la-return-submit", kwargs=kw), {"declaration": "confirmed", "token": token}
    )
    assert done.status_code == 302
    held = CollectedReturn.objects.filter(la=la, collection=collection)
    assert set(held.values_list("status", flat=True)) == {"submitted"}

    # Sent back, then the LA uploads the same build's zip (as any system's files) and submits.
    back = held.get(school__laestab="9382002")
    officer.email = "officer938@example.org"
    officer.save()
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_send_back(back, reason="Check the disapplied pupil", user=national)
    # Its e-mail, sent outside any page, links to the phonics collection's pages.
    [mail] = [m for m in mailoutbox if "sent back" in m.subject]
    for name, kw in (("la-returns", {}), ("collected-return", {"laestab": "9382002"})):
        assert reverse(name, kwargs={"code": "938", "collection": PHONICS, **kw}) in mail.body
    assert CollectedReturn.objects.get(pk=back.pk).status == "returned"
    bundle = actions.generation_path(generation)
    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes())) as z:
        assert sorted(z.namelist()) == [f["name"] for f in generation.files]
    loaded = actions.do_upload_returns(
        la, collection, [(bundle.name, bundle.read_bytes())], user=officer
    )
    assert sorted(loaded.replaced) == ["9382001", "9382002"] and loaded.pupils == 6
    # The check page of uploaded files counts the collected pupils, to the same figures.
    page = client.get(
        reverse("la-return-submit-loaded", kwargs={"code": "938", "collection": PHONICS})
    )
    assert "2 met the expected standard (40%)" in page.content.decode()
    actions.do_submit_la(la, collection, user=officer)
    plan = actions.do_authorise_la(la, collection, user=national)
    assert len(plan.will) == 2 and not plan.will_not
    assert set(held.values_list("status", flat=True)) == {"authorised"}
    # The collector's page of the LA names no other collection's rules.
    national_page = signed_in(national).get(
        reverse("collected-la", kwargs={"code": "938", "collection": PHONICS})
    )
    counted = " ".join("".join(etree.HTML(national_page.content).xpath(
        '//*[@id="what-is-counted"]')[0].itertext()).split())  # fmt: skip
    assert counted == (
        "These are the errors and queries the national collection finds in the return files "
        "it holds."
    )

    # What the collector holds is what the LA holds, Wa and Wt aside (never sent).
    expected = {
        ("9382001", _pupil(1, [])["upn"], "1", (("mark", "34"),)),
        ("9382001", _pupil(2, [])["upn"], "1", (("mark", "32"),)),
        ("9382001", _pupil(3, [])["upn"], "1", (("psc_code", "A"),)),
        ("9382001", _pupil(4, [])["upn"], "2", (("mark", "28"),)),
        ("9382002", _pupil(1, [], estab="2002")["upn"], "1", (("mark", "12"),)),
        ("9382002", _pupil(2, [], estab="2002")["upn"], "1", (("psc_code", "D"),)),
    }
    assert _held(CollectedPupil, la) == expected
    not_sent = {"WA", "WT"}
    by_la = {
        (school, upn, nc_year, tuple((k, v) for k, v in outcomes if v.upper() not in not_sent))
        for school, upn, nc_year, outcomes in _held(PupilRecord, la, collection)
    }
    assert by_la == expected
    # KS1's collection of the same LA is untouched by the phonics return.
    assert not CollectedReturn.objects.filter(la=la).exclude(collection=collection).exists()
