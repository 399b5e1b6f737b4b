"""Dates on the pages in words, the GOV.UK way ("14 January 2016", "2 December 2026 at 2:05pm"),
never ISO dates or a 24-hour clock; exports keep ISO dates for spreadsheets."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape

import pytest
from django.utils import timezone

from keystage.checking import actions as checking
from keystage.orgs.models import School
from keystage.submissions.actions import get_collection

pytestmark = pytest.mark.django_db

ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
CLOCK_24 = re.compile(r"\b\d{1,2}:\d{2}\b(?!\s*[ap]m)")


def main_text(response) -> str:
    assert response.status_code == 200, response.status_code
    page = response.content.decode()
    main = page[page.index("<main") : page.index("</main>")]
    return unescape(re.sub(r"<[^>]+>", " ", main))


def test_dates_of_birth_are_in_words_on_the_pupil_list_and_the_check(signed_in, members, la938):
    client = signed_in(members["officer938"])
    for path in ("/ks1-2023/reports/school/9382001/pupils", "/ks1-2023/schools/9382001/check"):
        text = main_text(client.get(path))
        assert "14 January 2016" in text, path  # tests/builders.py's date of birth
        assert not ISO_DATE.search(text), (path, ISO_DATE.findall(text))
    # The spreadsheet keeps the date a spreadsheet reads.
    export = client.get("/ks1-2023/reports/school/9382001/pupils.csv").content.decode()
    assert "2016-01-14" in export


def test_release_and_confirmation_times_are_in_words(signed_in, members, la938):
    officer = members["officer938"]
    school = School.objects.get(laestab="9382001")
    checking.do_release(officer, get_collection(), [school])
    client = signed_in(officer)
    text = main_text(client.get("/ks1-2023/la/938/checking/9382001"))
    now = timezone.localtime()
    hour = f"{now.hour % 12 or 12}:"
    assert re.search(rf"{now.day} {now:%B} {now.year} at {hour}\d\d[ap]m", text), text
    assert not CLOCK_24.search(text), CLOCK_24.findall(text)


def test_long_date_filter_reads_iso_text_and_leaves_other_text_alone():
    from keystage.web.jinja2 import long_date

    assert long_date("2016-01-14") == "14 January 2016"
    assert long_date(dt.date(2011, 6, 19)) == "19 June 2011"
    assert long_date("14/01/2016") == "14/01/2016"  # a date of birth as the school sent it
    assert long_date("") == ""
    assert long_date(None, "Not set") == "Not set"


def test_one_of_a_thing_is_singular(signed_in, members, la938):
    # A restricted officer of one school with data releases to "1 school", not "1 schools".
    text = main_text(signed_in(members["restricted938"]).get("/ks1-2023/la/938/checking"))
    assert "Release to the 1 school with data" in text
    assert "1 schools" not in text


def test_a_school_with_one_pupil_is_told_so_in_words():
    from tests.engine.test_rules import of, on_school

    (f,) = of("KS1-E04", on_school(count=1, expected=30)())
    assert f.message.startswith("Only 1 pupil was received for ")
    (f,) = of("KS1-E04", on_school(count=2, expected=30)())
    assert f.message.startswith("Only 2 pupils were received for ")


def test_la_stays_in_capitals_mid_sentence(signed_in, members, la938):
    # The national page filtered to one state names it mid-sentence: "the LA", not "the la".
    client = signed_in(members["national"])
    page = client.get("/ks1-2023/national?state=returned").content.decode()
    assert "LAs sent back to the LA (0)" in page
    assert "the la" not in page
    page = client.get("/ks1-2023/national").content.decode()
    assert "sent back to the LA: show only these" in page  # the link's hidden words
    assert "the la" not in page


def test_mid_sentence_lowers_only_a_first_word_in_words():
    from keystage.engine.words import mid_sentence

    assert mid_sentence("Sent back to the LA") == "sent back to the LA"
    assert mid_sentence("LA edit") == "LA edit"
    assert mid_sentence("") == ""


def test_the_same_file_again_says_when_it_was_imported_in_words(loaded, tmp_path):
    from keystage.submissions.importing import import_paths
    from tests.builders import ctf, pupil

    sent = tmp_path / "a.xml"
    sent.write_text(ctf([pupil(1)]), encoding="utf-8")
    assert import_paths([str(sent)], jobs=1)[0].outcome == "accepted"
    (again,) = import_paths([str(sent)], jobs=1)
    assert again.outcome == "unchanged"
    now = timezone.localtime()
    assert re.search(
        rf"imported {now.day} {now:%B} {now.year} at \d{{1,2}}:\d\d[ap]m", again.reason
    )
    assert "/" not in again.reason.split("imported", 1)[1]  # no dd/mm/yyyy


def test_the_audit_log_says_when_in_words(signed_in, members, la938):
    text = main_text(signed_in(members["admin938"]).get("/ks1-2023/la/938/audit"))
    now = timezone.localtime()
    assert re.search(rf"{now.day} {now:%B} {now.year} at \d{{1,2}}:\d\d[ap]m", text), text[:2000]
    assert not CLOCK_24.search(text), CLOCK_24.findall(text)


def test_the_command_line_says_1_file_and_1_pupil(loaded, tmp_path, settings, capsys):
    from keystage.cli import main
    from tests.builders import ctf, pupil

    settings.DATA_DIR = tmp_path / "data"
    sent = tmp_path / "a.xml"
    sent.write_text(ctf([pupil(1)]), encoding="utf-8")
    assert main(["import", str(sent)]) == 0
    out = capsys.readouterr().out
    assert "1 file in " in out and "1 pupil stored" in out, out


def test_the_national_table_says_when_an_la_last_changed_in_words(
    la938, loaded, members, signed_in
):
    from keystage.returns import actions as returns
    from tests.app.returns_data import explain_everything

    explain_everything(la938)
    generation = returns.do_build_return(la938, loaded, user=members["officer938"])
    returns.do_submit_generation(generation, user=members["officer938"])
    text = main_text(signed_in(members["national"]).get("/ks1-2023/national?state=submitted"))
    now = timezone.localtime()
    assert re.search(rf"{now.day} {now:%B} {now.year} at \d{{1,2}}:\d\d[ap]m", text), text[-800:]
    assert not CLOCK_24.search(text), CLOCK_24.findall(text)
