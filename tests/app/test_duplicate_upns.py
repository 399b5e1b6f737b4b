"""A UPN on two pupils' records in two schools of an LA: the Data Errors report shows, for each
pupil, the other pupil by name and the other school by name, and the same pupil under two UPNs
is described with its date of birth in words."""

from __future__ import annotations

import html
import re

import pytest

from keystage.submissions.importing import import_paths
from keystage.web.links import reverse
from tests.builders import pupil, write_ctf

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


def test_each_pupils_message_names_the_other_pupil_and_school(loaded, members, signed_in, tmp_path):
    same = pupil(7)["upn"]
    a = write_ctf(tmp_path / "a.xml", [pupil(7, forename="ANNA")])
    b = write_ctf(tmp_path / "b.xml", [pupil(8, upn=same, estab="2002", forename="BELLA")],
                  estab="2002")  # fmt: skip
    import_paths([str(a), str(b)])
    client = signed_in(members["officer938"])
    page = _text(client.get(reverse("la-errors", kwargs={"code": "938"}), {"rule": "KS1-P03"}))
    assert (
        f"UPN {same} of ANNA SMITHH is also on the record of BELLA SMITHI at Downs Infant School "
        "(9382002)"
    ) in page
    assert (
        f"UPN {same} of BELLA SMITHI is also on the record of ANNA SMITHH at Example Primary "
        "School (9382001)"
    ) in page


def test_the_same_child_under_two_upns_is_named_with_its_birthday_in_words(
    loaded, members, signed_in, tmp_path
):
    a = write_ctf(tmp_path / "a.xml", [pupil(7, surname="NUNEZ", forename="ZOE")])
    b = write_ctf(tmp_path / "b.xml", [pupil(9, estab="2002", surname="Núñez", forename="Zoë")],
                  estab="2002")  # fmt: skip
    import_paths([str(a), str(b)])
    client = signed_in(members["officer938"])
    page = _text(client.get(reverse("la-errors", kwargs={"code": "938"}), {"rule": "KS1-P14"}))
    assert "ZOE NUNEZ, born 14 January 2016" in page
    assert "at Downs Infant School (9382002), named Zoë Núñez" in page
    assert "at Example Primary School (9382001)" in page
    assert "2016-01-14" not in page
