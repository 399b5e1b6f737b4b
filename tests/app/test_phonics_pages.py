"""The LA's and the school's working pages for the phonics screening check (issue 16 item 6):
the dashboard and its chase list, Data Errors, the cleaning grid and a pupil's page, the upload
pages and the school check loop answer for a phonics collection in phonics' own words and
items (the mark, the outcome code, each pupil's NC year), never KS1's; a mark is edited in the
grid as a number within the definition's marks; the school's summary is the phonics measures'.

LA 938 sends two phonics files: 9382001 (Year 1: 34, A, 41 which is out of range; Year 2: 28)
and 9382002 (Year 1: Ava Smith 30, and 35; Year 2: 20 with Wt)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest

from keystage.checking import queries as checking_queries
from keystage.checking.actions import do_release
from keystage.orgs.models import School
from keystage.submissions.actions import get_collection
from keystage.submissions.importing import import_paths
from keystage.submissions.models import PupilRecord
from keystage.web.links import reverse
from tests.builders import SCHOOLS, pupil, write_ctf, write_register

pytestmark = pytest.mark.django_db

PHONICS = "phonics-2023"
# Words of KS1 that would say a shared page still assumes KS1.
KS1_WORDS = re.compile(r"\b(KS1|key stage 1|reading|writing|maths|science|greater depth)\b", re.I)


def phonics_pupil(n: int, results, nc_year="1", **over) -> dict:
    return pupil(n, nc_year=nc_year, phonics=results, reading=None, writing=None, maths=None,
                 science=None, dob="2016-10-14" if nc_year == "1" else "2015-10-14",
                 **over)  # fmt: skip


@pytest.fixture
def phonics938(loaded, members, tmp_path):
    """The phonics collection (the service offers it beside KS1's), with LA 938's two files
    imported."""
    first = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [
        phonics_pupil(1, ["34"]), phonics_pupil(2, ["A"]), phonics_pupil(3, ["41"]),
        phonics_pupil(4, ["28"], nc_year="2"),
    ])  # fmt: skip
    second = write_ctf(tmp_path / "9382002_CTF_938LLLL_001.xml", [
        phonics_pupil(5, ["30"], estab="2002", forename="Ava", surname="Smith"),
        phonics_pupil(6, ["35"], estab="2002"),
        phonics_pupil(7, ["20", "Wt"], nc_year="2", estab="2002"),
    ], estab="2002")  # fmt: skip
    results = import_paths([str(first), str(second)], collection_code=PHONICS)
    assert [r.outcome for r in results] == ["accepted", "accepted"]
    return get_collection(PHONICS)


def text_of(response) -> str:
    body = response.content.decode()
    body = re.sub(r"<script.*?</script>", "", body[body.index("<main") :], flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())


def _pupil(surname: str) -> PupilRecord:
    return PupilRecord.objects.get(collection__code=PHONICS, is_current=True, surname=surname)


def test_every_la_page_answers_for_phonics_in_phonics_words(phonics938, members, signed_in,
                                                            client):  # fmt: skip
    signed_in(members["admin938"])
    la = {"code": "938", "collection": PHONICS}
    pid = _pupil("SMITHD").pk  # 9382001's pupil 3, whose mark 41 is out of range
    pages = {
        name: client.get(reverse(name, kwargs=kw))
        for name, kw in [
            ("la-dashboard", la), ("la-chase-list", la | {"fmt": "csv"}),
            ("la-errors", la), ("la-pupils", la | {}), ("la-pupil", la | {"pupil_id": pid}),
            ("la-pupil-add", la), ("la-pupil-remove", la | {"pupil_id": pid}),
            ("la-expected-cohorts", la), ("la-school-deadline", la), ("upload", {"collection": PHONICS}),
            ("upload-history", {"collection": PHONICS}), ("la-checking", la),
            ("la-checking-school", la | {"laestab": "9382001"}), ("la-school-sees", la),
        ]
    }  # fmt: skip
    assert {n: r.status_code for n, r in pages.items() if r.status_code != 200} == {}
    words = {n: text_of(r) for n, r in pages.items() if n != "la-chase-list"}
    assert {n: KS1_WORDS.findall(t) for n, t in words.items() if KS1_WORDS.search(t)} == {}
    # The dashboard: the register expects LA 938's two primary schools for phonics as for KS1;
    # both sent a file, and the one with an error is to chase.
    dashboard = words["la-dashboard"]
    assert "Phonics screening check 2023 dashboard" in dashboard
    assert "Schools expected to submit 2" in dashboard and "Received 2" in dashboard
    assert "Schools expected to submit (2 shown)" in dashboard
    assert "lists no school" not in dashboard
    chase = pages["la-chase-list"].content.decode()
    assert "9382001" in chase and "9382002" not in chase
    # Data Errors names the phonics rule and item.
    assert "PSC-R02 Mark not a whole number in range Error LA can correct here Phonics mark 41" \
        in words["la-errors"]  # fmt: skip
    # The grid: the definition's items, each pupil's NC year, the mark typed as a number.
    grid = client.get(reverse("la-pupils", kwargs=la), {"show": "all"})
    grid_words = text_of(grid)
    assert "Select, pupil NC year UPN Surname Forename Date of birth Sex Phonics mark Outcome code " \
        "Errors" in grid_words  # fmt: skip
    assert re.findall(r"SMITH[B-E], AVA 9382001 (Year \d)", grid_words) == [
        "Year 1", "Year 1", "Year 1", "Year 2",
    ]  # fmt: skip
    html = grid.content.decode()
    mark = re.search(rf'<input [^>]*id="{pid}-mark"[^>]*>', html).group(0)
    assert 'type="text"' in mark and 'inputmode="numeric"' in mark and 'value="41"' in mark
    codes = re.search(rf'<select [^>]*id="{pid}-psc_code".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', codes) == ["", "A", "D", "L", "Q", "Wa", "Wt"]
    assert "NC year: Year 1" in words["la-pupil"]
    assert 'inputmode="numeric"' in pages["la-pupil"].content.decode()
    assert "Upload the Phonics screening check 2023 files of schools in West Sussex" \
        in words["upload"]  # fmt: skip


def _grid_post(client, p: PupilRecord, **typed):
    import json

    shown = {"mark": p.outcomes.get("mark", ""), "psc_code": p.outcomes.get("psc_code", "")}
    form = {"row": [str(p.pk)], f"v-{p.pk}": str(p.version), f"o-{p.pk}": json.dumps(shown),
            "action": "save", **{f"{p.pk}-{k}": v for k, v in {**shown, **typed}.items()}}  # fmt: skip
    return client.post(reverse("la-pupils", kwargs={"code": "938", "collection": PHONICS}), form)


def test_a_mark_is_edited_in_the_grid_within_the_definitions_marks(phonics938, members,
                                                                   signed_in, client):  # fmt: skip
    signed_in(members["officer938"])
    ava = _pupil("Smith")
    refused = _grid_post(client, ava, mark="41")
    assert refused.status_code == 409
    body = text_of(refused)
    assert "Enter Ava Smith’s phonics mark as a whole number from 0 to 40" in body
    assert f'href="#{ava.pk}-mark"' in refused.content.decode()  # the summary links to the cell
    assert _pupil("Smith").outcomes["mark"] == "30"  # nothing saved
    for typed in ("ten", "-1", "3.5"):
        assert _grid_post(client, ava, mark=typed).status_code == 409, typed
    saved = _grid_post(client, ava, mark="33", psc_code="wa")  # a code typed in any case
    assert saved.status_code == 302
    assert _pupil("Smith").outcomes == {"mark": "33", "psc_code": "Wa"}
    # The grid shows what was saved; a held code spelt as the definition spells it is chosen.
    again = client.get(saved["Location"] if "show=" in saved["Location"] else
                       reverse("la-pupils", kwargs={"code": "938", "collection": PHONICS}),
                       {"show": "all", "school": "9382002"}).content.decode()  # fmt: skip
    assert re.search(rf'id="{ava.pk}-mark"[^>]*value="33"', again)
    assert '<option value="Wa" selected>' in again


def test_the_school_check_loop_works_for_phonics_with_its_measures(phonics938, members,
                                                                   signed_in, client):  # fmt: skip
    school = School.objects.get(laestab="9382002")
    signed_in(members["school938"])
    kw = {"laestab": "9382002", "collection": PHONICS}
    assert "School summary" not in text_of(client.get(reverse("school-check", kwargs=kw)))
    do_release(members["officer938"], phonics938, [school])
    page = client.get(reverse("school-check", kwargs=kw))
    words = text_of(page)
    assert page.status_code == 200 and not KS1_WORDS.search(words), KS1_WORDS.findall(words)
    # Year 1: 30 (working towards) and 35 (met) of 2 eligible; Year 2: 20, working towards.
    assert "Outcome Year 1 Year 2 re-check Met the expected standard 1 (50%) 0 (0%) " \
        "Working towards (below the threshold) 1 (50%) 1 (100%) Absent (A) 0 (0%) 0 (0%)" \
        in words  # fmt: skip
    assert "Eligible pupils 2 1 Meeting the expected standard 50% 0%" in words
    assert "Sex NC year Phonics mark Outcome code" in words
    assert "Smith Ava 14 October 2016 F Year 1 30" in words
    assert client.get(reverse("school-check-pdf", kwargs=kw)).status_code == 200
    confirmed = client.post(reverse("school-check-confirm", kwargs=kw),
                            {"name": "Jo Head", "job_title": "Headteacher", "correct": "on"})  # fmt: skip
    assert confirmed.status_code == 302
    signed_in(members["officer938"])
    checks = text_of(
        client.get(reverse("la-checking", kwargs={"code": "938", "collection": PHONICS}))
    )
    assert "9382002 Downs Infant School Downs Infant School 9382002 Checked by school " \
        "Checked by school Jo Head, Headteacher" in checks  # fmt: skip
    # Before the threshold is published (26 June 2023), no "met" figure is shown, and why.
    early = checking_queries.summary(
        phonics938, school, comparisons=True, as_of=dt.date(2023, 6, 20)
    )
    assert [(r.label, r.cells) for r in early.measures] == [
        ("Eligible pupils", ["2", "1"]), ("Meeting the expected standard", ["-", "-"]),
    ]  # fmt: skip
    assert early.codes[0].cells == ["-", "-"] and early.notes[0].startswith(
        "Pupils meeting the expected standard are not shown yet: the threshold is not yet "
        "published; it will be on 26 June 2023."
    )


# An infant school has year 1 (phonics) and year 2 (KS1); a junior school (7-11) neither.
INFANT = ("125010", "938", "West Sussex", "2010", "Meadow Infant School", "Community school",
          "Primary", "Open", "4", "7")  # fmt: skip
JUNIOR = ("125011", "938", "West Sussex", "2011", "Meadow Junior School", "Community school",
          "Primary", "Open", "7", "11")  # fmt: skip


def _chase(client, code) -> list[tuple[str, str]]:
    response = client.get(reverse("la-chase-list", kwargs={"code": "938", "collection": code,
                                                           "fmt": "csv"}))  # fmt: skip
    return [
        (r["laestab"], r["state"]) for r in csv.DictReader(io.StringIO(response.content.decode()))
    ]


def test_a_phonics_dashboard_lists_the_schools_expected_and_chases_those_with_no_file(
    loaded, members, signed_in, client, tmp_path
):
    """With the register loaded, LA 938's phonics 2024 dashboard counts the schools that have
    year 1 pupils as expected (the primary schools and the infant school, not the junior or the
    secondary school), and its chase list names those that have sent no file."""
    from keystage.orgs.actions import do_load_register

    do_load_register(write_register(tmp_path / "schools.csv", [*SCHOOLS, INFANT, JUNIOR]))
    f = write_ctf(tmp_path / "9382002_CTF_938LLLL_001.xml", [
        phonics_pupil(1, ["36"], estab="2002", year="2024") | {"dob": "2017-10-14"},
    ], estab="2002")  # fmt: skip
    [r] = import_paths([str(f)], collection_code="phonics-2024")
    assert r.outcome == "accepted"
    signed_in(members["officer938"])
    page = client.get(reverse("la-dashboard", kwargs={"code": "938", "collection": "phonics-2024"}))
    words = text_of(page)
    assert "Schools expected to submit 3" in words and "Schools that have sent nothing 2" in words
    listed = re.findall(r'<th scope="row" class="govuk-table__header">\s*(\d{7})',
                        page.content.decode())  # fmt: skip
    assert listed == ["9382001", "9382002", "9382010"]
    assert _chase(client, "phonics-2024") == [("9382001", "Not received"),
                                              ("9382010", "Not received")]  # fmt: skip
    # KS1 2023 expects the same schools: the infant school has year 2, the junior school none.
    assert _chase(client, "ks1-2023") == [("9382001", "Not received"),
                                          ("9382002", "Not received"),
                                          ("9382010", "Not received")]  # fmt: skip


@pytest.mark.parametrize("code", ["phonics-2024", "phonics-2025"])
def test_later_years_pages_answer_with_their_own_years(code, loaded, members, signed_in, client,
                                                       tmp_path):  # fmt: skip
    year = int(code[-4:])
    born = {"1": f"{year - 7}-10-14", "2": f"{year - 8}-10-14"}  # Year 1 and Year 2 that year
    f = write_ctf(tmp_path / "9382002_CTF_938LLLL_001.xml", [
        phonics_pupil(n, [mark], nc_year=nc, estab="2002", year=str(year)) | {"dob": born[nc]}
        for n, mark, nc in ((1, "36", "1"), (2, "50", "1"), (3, "31", "2"))
    ], estab="2002")  # fmt: skip
    [r] = import_paths([str(f)], collection_code=code)
    assert (r.outcome, r.pupils, r.errors) == ("accepted", 3, 1)  # 50 is no mark of 0 to 40
    collection = get_collection(code)
    do_release(members["officer938"], collection, [School.objects.get(laestab="9382002")])
    signed_in(members["officer938"])
    la = {"code": "938", "collection": code}
    for name, kw in [("la-dashboard", la), ("la-errors", la), ("la-pupils", la),
                     ("la-checking-school", la | {"laestab": "9382002"})]:  # fmt: skip
        page = client.get(reverse(name, kwargs=kw))
        assert page.status_code == 200, name
        assert not KS1_WORDS.search(text_of(page)), (name, KS1_WORDS.findall(text_of(page)))
    grid = text_of(client.get(reverse("la-pupils", kwargs=la), {"show": "all"}))
    assert re.findall(r"9382002 (Year \d)", grid) == ["Year 1", "Year 1", "Year 2"]
    signed_in(members["school938"])
    check = text_of(client.get(reverse("school-check", kwargs={"laestab": "9382002",
                                                               "collection": code})))  # fmt: skip
    # Year 1: 36 met, 50 unknown (eligible, not met); Year 2: 31 working towards.
    assert "Eligible pupils 2 1 Meeting the expected standard 50% 0%" in check
