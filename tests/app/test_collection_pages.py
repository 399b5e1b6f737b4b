"""The shared correction and report pages speak of each collection in its own terms (issue 16):
what the LA cannot correct in the grid (a phonics pupil's NC year) is the school's to correct;
the gap analysis, national figures and trend offer the collection's own measures and words
(phonics has no "greater depth", and its rows are year groups, not subjects); this year's
provisional figure sits beside this year's published one; each chart has a drawing for a
phone's width.

LA 938, phonics 2023 (threshold 32): school 9382001, Year 1: 35, 31, 20 and a pupil in NC year
R with 33 (an error: NC year not 1 or 2)."""

from __future__ import annotations

import html
import re

import pytest

from keystage.reports.facts import rebuild_facts
from keystage.submissions.actions import get_collection
from keystage.submissions.importing import import_paths
from keystage.submissions.models import PupilRecord
from keystage.web.links import reverse
from tests.app.test_phonics_pages import phonics_pupil, text_of
from tests.app.test_reports import imported  # noqa: F401 - KS1's pupils, for comparison
from tests.builders import write_ctf

pytestmark = pytest.mark.django_db

PHONICS = "phonics-2023"


@pytest.fixture
def phonics(loaded, members, settings, tmp_path):
    settings.KEYSTAGE_COLLECTIONS = [*settings.KEYSTAGE_COLLECTIONS, PHONICS]
    pupils = [phonics_pupil(1, ["35"]), phonics_pupil(2, ["31"]), phonics_pupil(3, ["20"]),
              phonics_pupil(4, ["33"], nc_year="R", surname="RECEPTION")]  # fmt: skip
    [r] = import_paths([str(write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", pupils))],
                       collection_code=PHONICS)  # fmt: skip
    assert r.outcome == "accepted", r.reason
    collection = get_collection(PHONICS)
    rebuild_facts(collection)
    return collection


def _words(response) -> str:
    return html.unescape(text_of(response))


def _get(client, name, collection, query="", **kw):
    response = client.get(reverse(name, kwargs={"collection": collection, **kw}) + query)
    assert response.status_code == 200, (name, response.status_code)
    return response


def test_an_nc_year_error_is_the_schools_to_correct_not_the_grids(phonics, members,
                                                                  signed_in):  # fmt: skip
    client = signed_in(members["officer938"])
    la = {"code": "938"}
    errors = _words(_get(client, "la-errors", PHONICS, **la))
    # The grid has no NC year to change: the school corrects it and sends a new file.
    assert "PSC-P15 NC year not the collection's Error School to correct NC year R" in errors
    assert "nc_year" not in errors
    pupil = PupilRecord.objects.get(collection=phonics, is_current=True, surname="RECEPTION")
    page = _words(_get(client, "la-pupil", PHONICS, pupil_id=pupil.pk, **la))
    assert "PSC-P15 NC year not the collection's: NC year (R)" in page
    assert "School to correct : the school corrects its system and sends a new file." in page
    assert "the NC year cannot be changed here: ask the school to correct it and send a new " \
        "file, or remove the pupil (below)" in page  # fmt: skip
    assert "correct the value below" not in page


def test_report_pages_offer_the_collections_own_measures_and_words(phonics, imported,  # noqa: F811
                                                                   members, signed_in):  # fmt: skip
    client = signed_in(members["officer938"])
    gap = _get(client, "report-gap", PHONICS, level="la", code="938").content.decode()
    assert '<label class="govuk-label govuk-label--s" for="subject">Year group</label>' in gap
    assert 'id="measure"' not in gap and "Greater depth" not in gap
    national = text_of(_get(client, "report-national", PHONICS))
    assert "Meeting the expected standard Year group Eligible pupils loaded Estimate 95% " \
        "interval" in national  # fmt: skip
    assert "Greater depth" not in national
    # KS1 keeps its subjects and both measures.
    ks1_gap = _get(client, "report-gap", "ks1-2023", level="la", code="938").content.decode()
    assert 'for="subject">Subject</label>' in ks1_gap
    assert re.findall(r'<option value="(met|higher)"[^>]*>([^<]+)</option>', ks1_gap) == [
        ("met", "Expected standard or above"), ("higher", "Greater depth"),
    ]  # fmt: skip
    ks1_national = text_of(_get(client, "report-national", "ks1-2023"))
    assert ": Expected standard or above Subject Eligible pupils loaded Estimate 95% interval" \
        in ks1_national and ": Greater depth Subject Eligible pupils loaded Estimate" \
        in ks1_national  # fmt: skip


def test_this_years_provisional_figure_sits_beside_its_published_one(phonics, members,
                                                                     signed_in):  # fmt: skip
    client = signed_in(members["officer938"])
    page = text_of(_get(client, "report-summary", PHONICS, level="la", code="938"))
    trend = page[page.index("West Sussex: % of pupils meeting the expected standard") :]
    # Year 1 of the three eligible pupils in Year 1: 1 met (35); DfE published 78 for 2023.
    assert re.search(r"2022 \d+ 2023 \d+ 2023 provisional 33\.3 2024 \d+", trend), trend[:400]
    # One series (DfE publishes phonics for Year 1 only): nothing to choose in the chart.
    assert "in the chart" not in page


def test_each_chart_has_a_drawing_for_a_phones_width(phonics, members, signed_in):
    client = signed_in(members["officer938"])
    page = _get(client, "report-summary", PHONICS, level="la", code="938").content.decode()
    chart = reverse("report-distribution-chart",
                    kwargs={"collection": PHONICS, "level": "la", "code": "938", "fmt": "svg"})  # fmt: skip
    assert f'<source media="(max-width: 40.0525em)" srcset="{chart}?group=y1&amp;size=narrow">' \
        in page  # fmt: skip
    wide = client.get(chart + "?group=y1").content.decode()
    narrow = client.get(chart + "?group=y1&size=narrow").content.decode()

    def width(svg: str) -> float:
        return float(re.search(r'<svg[^>]* width="([\d.]+)pt"', svg).group(1))

    # Drawn at about the width it is shown on a phone, so that its words stay readable.
    assert width(narrow) < width(wide) / 2 < width(wide)
    assert "Threshold: 32" in narrow and "<title" in narrow


def test_the_emails_of_a_phonics_check_link_to_the_phonics_pages(
    phonics, members, django_capture_on_commit_callbacks
):
    """Released and confirmed by a command (outside any page of the collection), the e-mails
    still link to the phonics collection's pages, not to the default collection's."""
    from django.core import mail

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.checking.actions import do_confirm, do_release
    from keystage.orgs.models import School

    school = School.objects.get(laestab="9382001")
    head = do_create_member("head9382001", role=Role.SCHOOL_USER, school=school,
                            email="head@example.org").user  # fmt: skip
    members["officer938"].email = "officer@example.org"
    members["officer938"].save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        do_release(members["officer938"], phonics, [school])
    with django_capture_on_commit_callbacks(execute=True):
        do_confirm(head, phonics, school, name="Jo Head", job_title="Headteacher")
    bodies = {m.subject: m.body for m in mail.outbox}
    released = bodies["Check your Phonics screening check 2023 data: Example Primary School"]
    assert "/phonics-2023/schools/9382001/check\n" in released
    assert "/ks1-2023/" not in " ".join(bodies.values())
    confirmed = next(b for s, b in bodies.items() if s.endswith("has confirmed its Phonics "
                                                                "screening check 2023 data"))  # fmt: skip
    assert "/phonics-2023/la/938/checking/9382001\n" in confirmed
