"""Round trip of the EYFS profile's return (spec eyfsp.md §3): a school's and a PVI setting's
files imported, the return built (one XML each, the setting's URN in place of Estab), checked
on the check your answers page (GLD and the goals from the profile's measures), submitted with
the declaration, sent back, uploaded again and authorised; the collector then holds what the
LA holds, child by child and goal by goal.

School 9382001: child 1 all 2 (GLD), child 2 ELG 01 1 (no GLD), child 3 A in every goal.
Setting 512345: child 4 all 2 (GLD). So 3 assessed, GLD 2 of 3 (66.7%)."""

from __future__ import annotations

import io
import zipfile

import pytest
from lxml import etree

from keystage.orgs.actions import do_load_settings
from keystage.returns import actions
from keystage.returns.models import CollectedPupil, CollectedReturn
from keystage.submissions.actions import get_collection
from keystage.submissions.importing import import_paths
from keystage.submissions.models import Finding, PupilRecord
from keystage.web.links import reverse
from tests.app.returns_data import explain_everything
from tests.builders import eyfsp_pupil, write_ctf

pytestmark = pytest.mark.django_db

EYFSP = "eyfsp-2024"
GOALS = [f"elg{n:02d}" for n in range(1, 18)]


def _held(model, la) -> set[tuple]:
    rows = model.objects.filter(la=la, is_current=True)
    if model is PupilRecord:
        rows = rows.filter(collection__code=EYFSP)
    return {
        (school, upn, tuple(sorted(outcomes.items())))
        for school, upn, outcomes in rows.values_list("school__laestab", "upn", "outcomes")
    }


@pytest.fixture
def eyfsp_la(loaded, members, tmp_path):
    from keystage.orgs.models import LocalAuthority

    register = tmp_path / "settings.csv"
    register.write_text("URN,LA (code),SettingName\n512345,938,Little Acorns Nursery\n",
                        encoding="utf-8")  # fmt: skip
    do_load_settings(register)
    emerging = ["1"] + ["2"] * 16
    school = write_ctf(tmp_path / "9382001_FSP_938LLLL_001.xml", [
        eyfsp_pupil(1, year=2024), eyfsp_pupil(2, emerging, year=2024),
        eyfsp_pupil(3, "A", year=2024),
    ])  # fmt: skip
    p = eyfsp_pupil(4, year=2024, estab="3001")
    day = "/".join(reversed(p["dob"].split("-")))
    setting = tmp_path / "EYFSP_512345_24.csv"
    setting.write_text(
        "UPN,Surname,Forename,DOB,Sex," + ",".join(f"ELG{n:02d}" for n in range(1, 18)) + "\n"
        f"{p['upn']},{p['surname']},{p['forename']},{day},{p['sex']}," + ",".join("2" * 17)
        + "\n", encoding="utf-8",
    )  # fmt: skip
    results = import_paths([str(school), str(setting)], collection_code=EYFSP, only_la="938")
    assert [r.outcome for r in results] == ["accepted", "accepted"], [r.reason for r in results]
    la = LocalAuthority.objects.get(code="938")
    explain_everything(la)
    collection = get_collection(EYFSP)
    assert not Finding.objects.filter(collection=collection, is_current=True, severity="error")
    return la, collection


def test_eyfsp_return_round_trip_with_a_setting(
    eyfsp_la, members, signed_in, mailoutbox, django_capture_on_commit_callbacks
):
    la, collection = eyfsp_la
    officer, national = members["officer938"], members["national"]
    generation = actions.do_build_return(la, collection, user=officer)
    assert (generation.school_count, generation.pupil_count) == (2, 4)
    names = [f["name"] for f in generation.files]
    assert len(names) == 2 and any("512345" in n for n in names), names
    setting_xml = next(f["name"] for f in generation.files if "512345" in f["name"])
    tree = etree.parse(actions.generation_path(generation, setting_xml))
    [establishment] = tree.iter("Establishment")
    assert (establishment.findtext("Estab"), establishment.findtext("URN")) == (None, "512345")

    client = signed_in(officer)
    kw = {"code": "938", "serial": generation.serial, "collection": EYFSP}
    page = client.get(reverse("la-return-submit", kwargs=kw))
    assert page.status_code == 200
    html = etree.HTML(page.content)
    rows = {
        " ".join("".join(r.find("dt").itertext()).split()): " ".join(
            "".join(r.find("dd").itertext()).split()
        )
        for r in html.xpath('//div[contains(@class, "govuk-summary-list__row")]')
    }
    print(rows)
    assert rows["Pupils"] == "4 pupils" and rows["Schools and settings"] == "2 schools and settings"
    assert "66.7%" in rows["Good level of development"], rows
    token = html.xpath('//input[@name="token"]/@value')[0]
    done = client.post(
        reverse("la-return-submit", kwargs=kw), {"declaration": "confirmed", "token": token}
    )
    assert done.status_code == 302
    held = CollectedReturn.objects.filter(la=la, collection=collection)
    assert sorted(held.values_list("school__laestab", "status")) == [
        ("512345", "submitted"), ("9382001", "submitted"),
    ]  # fmt: skip

    # The setting's return sent back; the LA uploads the build's zip again and submits.
    back = held.get(school__laestab="512345")
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_send_back(back, reason="Check the setting's children", user=national)
    assert CollectedReturn.objects.get(pk=back.pk).status == "returned"
    national_page = signed_in(national).get(
        reverse(
            "collected-return", kwargs={"code": "938", "laestab": "512345", "collection": EYFSP}
        )  # fmt: skip
    )
    assert national_page.status_code == 200
    assert "Little Acorns Nursery" in national_page.content.decode()
    bundle = actions.generation_path(generation)
    with zipfile.ZipFile(io.BytesIO(bundle.read_bytes())) as z:
        assert sorted(z.namelist()) == sorted(names)
    loaded = actions.do_upload_returns(
        la, collection, [(bundle.name, bundle.read_bytes())], user=officer
    )
    assert sorted(loaded.replaced) == ["512345", "9382001"] and loaded.pupils == 4
    actions.do_submit_la(la, collection, user=officer)
    plan = actions.do_authorise_la(la, collection, user=national)
    assert len(plan.will) == 2 and not plan.will_not
    assert set(held.values_list("status", flat=True)) == {"authorised"}
    # What the collector holds is what the LA holds, goal by goal.
    assert _held(CollectedPupil, la) == _held(PupilRecord, la)
    assert {len(o) for _, _, o in _held(CollectedPupil, la)} == {17}
