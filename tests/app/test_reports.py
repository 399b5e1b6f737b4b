"""Report pages: summary, pupil list, gap analysis, provisional national figures, the comparison
with published figures, downloads, charts and LA report PDFs, as each role sees them, with
disclosure control and what the LA lets its schools see."""

from __future__ import annotations

import csv
import html
import io

import pytest

from keystage.audit.models import AuditEvent
from keystage.collection.models import LaCollectionSettings
from keystage.engine.measures import rounded, wilson_interval
from keystage.orgs.models import LocalAuthority
from keystage.reports.disclosure import hidden, protect_siblings
from keystage.reports.facts import rebuild_facts
from keystage.reports.models import ReportPack
from keystage.submissions.importing import import_paths
from keystage.web.links import reverse
from tests.app.test_facts import CAMDEN, SCHOOL_A, SCHOOL_B
from tests.builders import write_ctf

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(loaded, tmp_path):
    files = [
        write_ctf(tmp_path / "a.xml", SCHOOL_A),
        write_ctf(tmp_path / "b.xml", SCHOOL_B, estab="2002"),
        write_ctf(tmp_path / "c.xml", CAMDEN, la="202", estab="2003"),
    ]
    results = import_paths([str(f) for f in files], jobs=1)
    assert [r.outcome for r in results] == ["accepted"] * 3
    rebuild_facts(loaded)
    return loaded


def school_sees(collection, la_code, level):
    LaCollectionSettings.objects.update_or_create(
        collection=collection, la=LocalAuthority.objects.get(code=la_code),
        defaults={"school_sees": level},
    )  # fmt: skip


def page(client, name, **kw):
    query = kw.pop("query", "")
    return client.get(reverse(name, kwargs=kw) + (f"?{query}" if query else ""))


def text(response) -> str:
    return response.content.decode()


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


# -- disclosure rule --------------------------------------------------------------------------


def test_the_disclosure_rule():
    assert hidden(5, limit=6) and not hidden(6, limit=6)
    assert not hidden(2, owned=True, limit=6)  # the viewer's own school or LA
    # 10 pupils, 7 of them the viewer's own: the other 3 would be revealed by difference
    assert hidden(10, own=7, limit=6) and not hidden(13, own=7, limit=6)
    assert not hidden(10, own=10, others=0, limit=6)  # only the viewer's own pupils
    assert hidden(40, own=10, others=1, limit=6)  # the rest is one other school or LA
    # one suppressed group among siblings: the smallest other one goes too
    assert protect_siblings([("F", 3, True), ("M", 20, False)]) == {"M"}
    assert protect_siblings([("a", 3, True), ("b", 8, False), ("c", 30, False)]) == {"b"}
    assert protect_siblings([("F", 9, False), ("M", 20, False)]) == set()


# -- summary ----------------------------------------------------------------------------------


def test_la_summary_shows_the_las_own_figures_and_suppresses_small_comparators(
    imported, members, signed_in
):
    client = signed_in(members["admin938"])
    body = text(page(client, "report-summary", level="la", code="938"))
    assert "KS1 summary: West Sussex" in body
    # 3 of 5 pupils at EXS+ in reading: the LA's own figure, shown though under 6 pupils
    assert "60.0%" in body and "3 of 5" in body
    # England is 7 pupils, 2 of them from one other LA: suppressed for LA 938
    rows = rows_of(page(client, "report-summary-export", level="la", code="938", fmt="csv"))
    national = next(r for r in rows if r["level"] == "national" and r["subject"] == "reading")
    assert national["met_percent"] == "c" and national["pupils"] == "c"
    la = next(r for r in rows if r["level"] == "la" and r["subject"] == "reading")
    assert (la["eligible"], la["met"], la["met_percent"]) == ("5", "3", "60.0")


def test_national_admin_sees_every_figure(imported, members, signed_in):
    client = signed_in(members["national"])
    rows = rows_of(page(client, "report-summary-export", level="la", code="938", fmt="csv"))
    national = next(r for r in rows if r["level"] == "national" and r["subject"] == "reading")
    assert national["met_percent"] == "71.4"  # 5 of 7
    body = text(page(client, "report-summary", level="england", code="970"))
    assert "71.4%" in body


def test_threshold_and_difference_rule_on_pages(imported, members, signed_in, settings):
    settings.KEYSTAGE_REPORT_MIN_PUPILS = 3
    school_sees(imported, "938", "comparisons")
    client = signed_in(members["school938"])  # school 9382002: 1 pupil
    rows = rows_of(page(client, "report-summary-export", level="school", code="9382002",
                        fmt="csv"))  # fmt: skip
    got = {(r["level"], r["subject"]): r for r in rows}
    assert got[("school", "reading")]["met_percent"] == "0.0"  # own school, 1 pupil
    # LA 938 = this school + one other school: the LA figure would reveal that school
    assert got[("la", "reading")]["met_percent"] == "c"
    # The region holds only LA 938: suppressed; England adds LA 202 (2 pupils) to LA 938's
    # other 4: 6 pupils from two LAs, shown.
    assert got[("region", "reading")]["met_percent"] == "c"
    assert got[("national", "reading")]["met_percent"] == "71.4"


def test_cli_gives_the_figures_an_owner_sees(imported, members, signed_in, capsys):
    from keystage.cli import main

    client = signed_in(members["national"])
    web = rows_of(page(client, "report-gap-export", level="school", code="9382001", fmt="csv"))
    capsys.readouterr()
    assert main(["report", "gap", "--school", "9382001", "--format", "csv"]) == 0
    cli = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert cli == web


# -- what an LA lets its schools see ------------------------------------------------------------


def test_school_user_sees_nothing_until_the_la_allows(imported, members, signed_in):
    client = signed_in(members["school938"])
    body = text(page(client, "report-summary", level="school", code="9382002"))
    assert "Reports are not available to your school yet" in body
    assert "has not yet let its schools see their provisional" in body
    assert "0.0%" not in body


def test_school_user_with_provisional_sees_only_their_own_results(imported, members, signed_in):
    school_sees(imported, "938", "provisional")
    client = signed_in(members["school938"])
    body = text(page(client, "report-summary", level="school", code="9382002"))
    assert "KS1 summary: Downs Infant School" in body and "0.0%" in body
    assert "West Sussex" not in body and "England (provisional)" not in body
    body = text(page(client, "report-gap", level="school", code="9382002"))
    assert "not yet the comparisons" in body
    assert "not yet the comparisons" in text(page(client, "report-national"))


def test_school_user_cannot_open_another_school_or_the_la(imported, members, signed_in):
    school_sees(imported, "938", "comparisons")
    client = signed_in(members["school938"])
    assert page(client, "report-summary", level="school", code="9382001").status_code == 404
    assert page(client, "report-summary", level="la", code="938").status_code == 403
    assert page(client, "report-pupils", code="9382001").status_code == 404
    assert page(client, "report-summary", level="la", code="202").status_code == 404


# -- gap analysis -----------------------------------------------------------------------------


def test_gap_analysis_by_group_with_charts(imported, members, signed_in):
    client = signed_in(members["national"])
    response = page(client, "report-gap", level="school", code="9382001",
                    query="subject=reading&measure=met")  # fmt: skip
    body = text(response)
    # 75% against LA 60%, region 60%, England 71.4%
    assert "75.0%" in body and "+15.0" in body and "+3.6" in body
    for label in ("All pupils", "Girls", "Boys", "Spring-born (January to April)"):
        assert label in body
    assert 'class="keystage-chart"' in body
    chart = page(client, "report-gap-chart", level="school", code="9382001", fmt="svg",
                 query="dimension=sex&subject=reading&measure=met")  # fmt: skip
    assert chart["Content-Type"] == "image/svg+xml"
    svg = chart.content.decode()
    assert "<title" in svg and "<desc" in svg and "Girls" in svg
    png = page(client, "report-gap-chart", level="school", code="9382001", fmt="png",
               query="dimension=sex")  # fmt: skip
    assert png.content.startswith(b"\x89PNG")


def test_gap_groups_include_characteristics_in_the_files(loaded, tmp_path, members, signed_in):
    from tests.builders import pupil

    pupils = [pupil(i, reading="EXS") for i in range(1, 4)]
    path = write_ctf(tmp_path / "a.xml", pupils)
    text_ = path.read_text().replace(
        "<Pupil>", "<Pupil><BasicDetails><Ethnicity>WBRI</Ethnicity></BasicDetails>", 2
    )
    path.write_text(text_)
    import_paths([str(path)], jobs=1)
    rebuild_facts(loaded)
    client = signed_in(members["national"])
    rows = rows_of(page(client, "report-gap-export", level="school", code="9382001", fmt="csv"))
    groups = {r["group"] for r in rows}
    assert "ethnicity:WBRI" in groups


# -- pupil list -------------------------------------------------------------------------------


def test_pupil_list_sorts_and_filters_without_javascript(imported, members, signed_in):
    client = signed_in(members["admin938"])
    body = text(page(client, "report-pupils", code="9382001", query="subject=reading&code=wts"))
    assert "1 pupil." in body and "SMITHD" in body and "SMITHB" not in body
    body = text(page(client, "report-pupils", code="9382001", query="sort=surname&dir=desc"))
    assert body.index("SMITHE") < body.index("SMITHB")
    rows = rows_of(page(client, "report-pupils-export", code="9382001", fmt="csv"))
    assert len(rows) == 4 and {"errors", "queries", "reading"} <= set(rows[0])
    # Looking at pupil-level data is in the audit log.
    seen = AuditEvent.objects.filter(action__endswith="report_pupil_list")
    assert seen.filter(action="view.report_pupil_list").count() == 2
    assert seen.filter(action="export.report_pupil_list").count() == 1


def la_changes(officer) -> None:
    """The LA changes school 9382001's pupils (SCHOOL_A): it edits pupil 1 (SMITHB), adds
    NEWTON and removes pupil 3 (SMITHD)."""
    from keystage.engine import upn as upns
    from keystage.orgs.models import School
    from keystage.submissions import cleaning
    from keystage.submissions.models import PupilRecord

    def current(surname):
        return PupilRecord.objects.get(school__laestab="9382001", surname=surname, is_current=True)

    edited, removed = current("SMITHB"), current("SMITHD")
    cleaning.do_edit_pupil(officer, edited.pk, edited.version, {"writing": "GDS"},
                           reason="Phoned the school")  # fmt: skip
    cleaning.do_add_pupil(
        officer, School.objects.get(laestab="9382001"),
        {"upn": upns.make("938", "2001", "16", "050"), "surname": "NEWTON", "forename": "ADA",
         "dob": "2016-01-14", "sex": "F", "reading": "EXS", "writing": "EXS", "maths": "EXS",
         "science": "EXS"},
        reason="Left out of the school's export",
    )  # fmt: skip
    cleaning.do_remove_pupil(officer, removed.pk, removed.version, reason="Left in May")


def test_pupil_list_flags_pupils_the_la_added_or_edited(imported, members, signed_in):
    la_changes(members["officer938"])
    client = signed_in(members["admin938"])
    for fmt in ("csv", "xlsx", "pdf"):
        response = page(client, "report-pupils-export", code="9382001", fmt=fmt)
        assert response.status_code == 200
    rows = rows_of(page(client, "report-pupils-export", code="9382001", fmt="csv"))
    assert list(rows[0])[-1] == "la_change"
    changed = {r["surname"]: r["la_change"] for r in rows}
    assert changed == {"NEWTON": "added", "SMITHB": "edited", "SMITHC": "", "SMITHE": ""}
    # The page: a "Changed by LA" column, and a filter for the pupils the LA changed.
    body = text(page(client, "report-pupils", code="9382001"))
    assert "Changed by LA" in body and ">Added</strong>" in body and ">Edited</strong>" in body
    assert "SMITHD" not in body  # removed by the LA: not current
    body = text(page(client, "report-pupils", code="9382001", query="flag=la_change"))
    assert "2 pupils." in body and "NEWTON" in body and "SMITHB" in body
    assert "SMITHC" not in body


def test_an_edit_undone_no_longer_flags_the_pupil(imported, members):
    """The LA edits a pupil, then puts the school's values back: the pupil is no longer flagged
    "edited"; another pupil edited twice, ending on a new value, still is."""
    from keystage.submissions import cleaning
    from keystage.submissions.models import PupilRecord
    from keystage.submissions.queries import pupil_list

    officer = members["officer938"]

    def edit(surname, values):
        p = PupilRecord.objects.get(school__laestab="9382001", surname=surname, is_current=True)
        cleaning.do_edit_pupil(officer, p.pk, p.version, values)
        return p

    def flags():
        rows = pupil_list(imported, school="9382001")
        return {r["surname"]: r["la_change"] for r in rows if r["la_change"]}

    sex = PupilRecord.objects.get(school__laestab="9382001", surname="SMITHB").sex
    undone = edit("SMITHB", {"writing": "PK4", "sex": "F" if sex == "M" else "M"})
    twice = edit("SMITHC", {"writing": "PK4"})
    final = "GDS" if twice.outcomes["writing"] != "GDS" else "EXS"
    edit("SMITHC", {"writing": final})
    assert flags() == {"SMITHB": "edited", "SMITHC": "edited"}
    edit("SMITHB", {"writing": undone.outcomes["writing"]})
    assert flags() == {"SMITHB": "edited", "SMITHC": "edited"}  # its sex is still the LA's
    edit("SMITHB", {"sex": undone.sex})
    assert flags() == {"SMITHC": "edited"}
    # The pupil's trail says the last two edits put values back.
    from keystage.submissions.grid import trail

    back = [e.field for e in trail(officer, undone) if e.source.startswith("Edit: back")]
    assert back == ["English writing", "Sex"]


# -- national and official --------------------------------------------------------------------


def test_national_page_shows_coverage_and_intervals(imported, members, signed_in):
    """Two LAs loaded: England has no estimate (it needs 3) and says so; the pooled figure of
    the pupils loaded is beside it with its Wilson interval. (Estimates worked by hand:
    tests/app/test_provisional_pages.py.)"""
    client = signed_in(members["national"])
    body = " ".join(html.unescape(text(page(client, "report-national"))).split())
    assert "Provisional" in body and "95% interval" in body
    assert "Based on 2 of 153 LAs." in body
    assert "Only 2 of England's 153 LAs are loaded; a figure needs at least 3." in body
    rows = rows_of(page(client, "report-national-export", fmt="csv"))
    england = next(r for r in rows if r["level"] == "national" and r["subject"] == "reading")
    assert (england["met_percent"], england["met_low"], england["met_high"]) == ("", "", "")
    assert england["met_reason"] == (
        "Only 2 of England's 153 LAs are loaded; a figure needs at least 3."
    )
    low, high = wilson_interval(5, 7)  # reading EXS+: 5 of 7
    assert (england["met_pooled"], england["met_pooled_low"], england["met_pooled_high"]) == (
        "71.4", str(rounded(low, 1)), str(rounded(high, 1)),
    )  # fmt: skip
    assert (england["las"], england["las_loaded"], england["las_partly"]) == ("153", "2", "0")


def test_national_figure_under_the_threshold_is_suppressed_for_an_la(imported, members, signed_in):
    client = signed_in(members["admin202"])
    rows = rows_of(page(client, "report-national-export", fmt="csv"))
    england = next(r for r in rows if r["level"] == "national" and r["subject"] == "reading")
    # 7 pupils, 5 of them not LA 202's own, from a single other LA: suppressed, with the mean
    # change worked out from them
    assert (england["met_pooled"], england["met_pooled_low"]) == ("c", "c")
    assert england["met_mean_change"] == "c"
    # The national admin sees them.
    rows = rows_of(page(signed_in(members["national"]), "report-national-export", fmt="csv"))
    england = next(r for r in rows if r["level"] == "national" and r["subject"] == "reading")
    assert england["met_pooled"] == "71.4" and england["met_mean_change"] not in ("", "c")


def test_official_comparison_with_published_figures(imported, members, signed_in):
    client = signed_in(members["national"])
    rows = rows_of(page(client, "report-official-export", fmt="csv"))
    england = next(
        r for r in rows
        if r["level"] == "national" and r["subject"] == "reading" and r["measure"] == "met"
    )  # fmt: skip
    assert england["provisional_percent"] == "71" and england["published_percent"] == "68"
    assert england["difference"] == "3"
    assert "published 2023" in text(page(client, "report-official"))


def test_open_data_in_the_ees_layout(imported, members, signed_in):
    client = signed_in(members["national"])
    rows = rows_of(page(client, "report-open-data"))
    la = next(r for r in rows if r["old_la_code"] == "938")
    assert la["geographic_level"] == "Local authority" and la["time_period"] == "202223"
    assert (la["t_readta_eligible_pupils"], la["t_readta_met_expected_standard"]) == ("5", "3")
    assert la["t_rwm_met_expected_standard"] == "2"
    # LA 938's admin gets England, regions and their own LA only
    client = signed_in(members["admin938"])
    codes = {r["old_la_code"] for r in rows_of(page(client, "report-open-data"))}
    assert codes == {"", "938"}


# -- downloads --------------------------------------------------------------------------------


def test_excel_and_pdf_downloads(imported, members, signed_in):
    client = signed_in(members["admin938"])
    xlsx = page(client, "report-summary-export", level="school", code="9382001", fmt="xlsx")
    assert xlsx.content.startswith(b"PK")
    pdf = page(client, "report-gap-export", level="school", code="9382001", fmt="pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_la_pdf_is_made_by_a_task(
    imported, members, signed_in, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    client = signed_in(members["admin938"])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(reverse("report-pack-create", kwargs={"code": "938"}))
    pack = ReportPack.objects.get()
    assert response.url == reverse("report-pack", kwargs={"pack_id": pack.pk})
    assert "refreshes every few seconds" in text(client.get(response.url))
    for callback in queued:
        callback()
    pack.refresh_from_db()
    assert pack.state == "done"
    body = text(client.get(response.url))
    assert "Download the PDF" in body
    pdf = page(client, "report-pack-download", pack_id=pack.pk)
    assert pdf.content.startswith(b"%PDF")
    # A bookmark for each section: the LA's summary and gap analysis, then each school's.
    from pypdf import PdfReader

    outline = [item.title for item in PdfReader(io.BytesIO(pdf.content)).outline]
    assert outline == ["KS1 summary: West Sussex", "KS1 gap analysis: West Sussex",
                       "KS1 summary: Example Primary School (9382001)",
                       "KS1 summary: Downs Infant School (9382002)"]  # fmt: skip
    assert (pack.schools_done, pack.schools_total) == (2, 2)
    # another LA's admin cannot see it
    other = signed_in(members["admin202"])
    assert page(other, "report-pack", pack_id=pack.pk).status_code == 404


# -- a hand-worked class through import, fact tables and the report ---------------------------

#            reading writing maths science (as tests/engine/test_measures.py's class of 10)
HAND_WORKED = [
    ("GDS", "GDS", "GDS", "EXS"), ("GDS", "EXS", "GDS", "EXS"), ("EXS", "EXS", "EXS", "EXS"),
    ("EXS", "WTS", "EXS", "EXS"), ("exs", "EXS", "WTS", "HNM"), ("WTS", "PK4", "EXS", "HNM"),
    ("PK2", "PK1", "PK3", "HNM"), ("EM", "EM", "EM", "HNM"), ("A", "A", "A", "A"),
    ("Q", "EXS", "GDS", "Q"),
]  # fmt: skip


def test_hand_worked_class_through_the_fact_tables(loaded, tmp_path, members, signed_in):
    from tests.builders import pupil

    pupils = [
        pupil(n, reading=r, writing=w, maths=m, science=s)
        for n, (r, w, m, s) in enumerate(HAND_WORKED, start=1)
    ]
    import_paths([str(write_ctf(tmp_path / "class.xml", pupils))], jobs=1)
    rebuild_facts(loaded)
    client = signed_in(members["admin938"])
    rows = rows_of(page(client, "report-summary-export", level="school", code="9382001",
                        fmt="csv"))  # fmt: skip
    got = {r["subject"]: r for r in rows if r["level"] == "school"}
    # Absent (A), maladministration (Q) and engagement model (EM) pupils are all eligible.
    expected = {
        "reading": ("10", "5", "50.0", "2", "20.0"),
        "writing": ("10", "5", "50.0", "1", "10.0"),
        "maths": ("10", "6", "60.0", "3", "30.0"),
        "science": ("10", "4", "40.0", "", ""),
        "combined": ("10", "3", "30.0", "1", "10.0"),
    }
    for subject, figures in expected.items():
        r = got[subject]
        assert (r["eligible"], r["met"], r["met_percent"], r["higher"], r["higher_percent"]) == (
            figures
        ), subject
    body = text(page(client, "report-summary", level="school", code="9382001"))
    assert "Pupils at each outcome" in body and "EM" in body


def test_a_web_upload_batch_queues_the_fact_rebuild(loaded, members, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from keystage.reports.models import Fact
    from keystage.submissions.batches import do_create_batch
    from keystage.submissions.tasks import import_batch
    from tests.builders import ctf, pupil

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.KEYSTAGE_DATA_DIR = tmp_path
    file = SimpleUploadedFile("a.xml", ctf([pupil(n) for n in (1, 2, 3)]).encode(), "text/xml")
    batch = do_create_batch(members["officer938"], [file])
    import_batch.enqueue(batch.pk)  # as the upload page does once the batch is committed
    school = Fact.objects.get(level="school", area_code="9382001", group="all")
    assert school.pupils == 3
    assert Fact.objects.get(level="national", group="all").pupils == 3


def test_england_minus_a_shown_la_never_reveals_one_other_la(loaded, tmp_path, members,
                                                              signed_in, settings):  # fmt: skip
    """A school user sees their LA's figures as comparators; England minus that LA must not
    leave the pupils of one other LA (here Camden's 2) for them to work out."""
    from tests.builders import pupil

    settings.KEYSTAGE_REPORT_MIN_PUPILS = 3
    files = [
        write_ctf(tmp_path / "a.xml", SCHOOL_A),  # 9382001: 4 pupils
        write_ctf(
            tmp_path / "b.xml", [pupil(n, estab="2002") for n in range(10, 14)], estab="2002"
        ),  # fmt: skip
        write_ctf(
            tmp_path / "c.xml", [pupil(n, estab="4001") for n in range(20, 24)], estab="4001"
        ),  # fmt: skip
        write_ctf(tmp_path / "d.xml", CAMDEN, la="202", estab="2003"),  # 2 pupils
    ]
    results = import_paths([str(f) for f in files], jobs=1)
    assert [r.outcome for r in results] == ["accepted"] * 4
    rebuild_facts(loaded)
    school_sees(loaded, "938", "comparisons")
    client = signed_in(members["school938"])
    membership = members["school938"].membership
    rows = rows_of(page(client, "report-summary-export", level="school",
                        code=membership.school.laestab, fmt="csv"))  # fmt: skip
    got = {(r["level"], r["subject"]): r for r in rows}
    # LA 938: 12 pupils, the rest from two other schools: shown to the school
    assert got[("la", "reading")]["pupils"] == "12"
    # England: 14 pupils; minus the LA's 12 it would give Camden's 2: suppressed
    assert got[("national", "reading")]["met_percent"] == "c"
    assert got[("national", "reading")]["pupils"] == "c"
    # The national admin sees it
    admin = signed_in(members["national"])
    rows = rows_of(page(admin, "report-summary-export", level="la", code="938", fmt="csv"))
    national = next(r for r in rows if r["level"] == "national" and r["subject"] == "reading")
    assert national["pupils"] == "14"
