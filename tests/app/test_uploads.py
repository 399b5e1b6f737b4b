"""Uploading school files through the web: the batch is imported by a task (run at once here)
and its page lists each file's result; who may upload which school's file; form errors."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keystage.audit.models import AuditEvent
from keystage.submissions.models import ImportBatch, Upload
from keystage.web.links import reverse
from tests.builders import ctf, pupil

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def immediate_tasks(settings, tmp_path):
    # Tasks run inside the request, so a test sees the finished batch.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.DATA_DIR = tmp_path / "data"


def school_file(name: str, estab: str = "2001", la: str = "938", n: int = 3):
    pupils = [pupil(i, la=la, estab=estab) for i in range(1, n + 1)]
    return SimpleUploadedFile(name, ctf(pupils, la, estab).encode(), "text/xml")


def post(client, *files):
    return client.post(reverse("upload"), {"files": list(files)})


def batch_page(client, response):
    assert response.status_code == 302, "the upload was refused"
    page = client.get(response["Location"])
    assert page.status_code == 200
    # File names may wrap (<wbr> after "_", ".", ":", "/"): tests read the words.
    return page.content.decode().replace("<wbr>", "")


def test_officer_uploads_two_files_and_a_bad_one(loaded, members, signed_in):
    client = signed_in(members["officer938"])
    bad = SimpleUploadedFile("broken.xml", b"<CTfile><Header>", "text/xml")
    response = post(client, school_file("a.xml"), school_file("b.xml", estab="2002"), bad)
    page = batch_page(client, response)
    batch = ImportBatch.objects.get()
    assert batch.state == "done" and (batch.done_files, batch.total_files) == (3, 3)
    outcomes = {r["file"]: r["outcome"] for r in batch.results}
    assert outcomes == {"a.xml": "accepted", "b.xml": "accepted", "broken.xml": "rejected"}
    assert "<title>Upload of" in page and '<h1 class="govuk-heading-l">Upload of' in page
    assert "2 accepted" in page and "1 rejected" in page
    assert "broken.xml: " in page and "Example Primary School (9382001)" in page
    assert 'http-equiv="refresh"' not in page  # finished: no more reloading
    assert "/tmp" not in page and batch.folder not in page  # names as uploaded, not our paths
    # The rejection kept for the Data Errors report names the file as uploaded, too.
    refused = Upload.objects.get(state="rejected")
    assert refused.file_name == "broken.xml" and refused.reason.startswith("broken.xml: ")
    assert batch.folder not in refused.reason and "/tmp" not in refused.reason
    assert Upload.objects.filter(source="web", uploaded_by=members["officer938"]).count() == 3
    assert AuditEvent.objects.filter(action="batch.created", actor="officer938").exists()


def test_a_newer_file_shows_what_changed(loaded, members, signed_in):
    client = signed_in(members["officer938"])
    post(client, school_file("v1.xml", n=3))
    page = batch_page(client, post(client, school_file("v2.xml", n=4)))
    assert "Superseded" in page and "1 added, 0 removed, 0 changed" in page


def test_zip_of_files_is_imported(loaded, members, signed_in):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("one.xml", ctf([pupil(1)], "938", "2001"))
        z.writestr("two.xml", ctf([pupil(2, estab="2002")], "938", "2002"))
    client = signed_in(members["admin938"])
    zipped = SimpleUploadedFile("schools.zip", buffer.getvalue(), "application/zip")
    batch_page(client, post(client, zipped))
    files = {r["file"]: r["outcome"] for r in ImportBatch.objects.get().results}
    assert files == {"schools.zip:one.xml": "accepted", "schools.zip:two.xml": "accepted"}


def test_running_batch_page_announces_its_progress(loaded, members, signed_in):
    """Where JavaScript runs, a script polls the batch's status and puts it in an aria-live
    status; the page reloading itself every 2 seconds is left for browsers without it."""
    from keystage.submissions.batches import do_create_batch, run_batch
    from keystage.worker.recovery import beat

    client = signed_in(members["officer938"])
    batch = do_create_batch(
        members["officer938"], [school_file("a.xml"), school_file("b.xml", "2002")]
    )
    beat("a-worker")  # a task worker is running (tests/app/test_faults.py: when none is)
    page = (
        client.get(reverse("upload-batch", args=[batch.pk])).content.decode().replace("<wbr>", "")
    )
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in page
    assert page.count('http-equiv="refresh"') == 1  # only inside <noscript>
    status_url = reverse("upload-batch-status", args=[batch.pk])
    assert re.search(
        r'<div class="govuk-inset-text" id="batch-progress" role="status" aria-live="polite" '
        rf'data-batch-status="{status_url}">2 files are waiting to be imported.</div>',
        page,
    )
    assert '<script type="module" src="/static/keystage/batch.js">' in page
    assert "0 of 2" in page and "Queued" in page and "a.xml" in page
    status = client.get(status_url)
    assert status["Content-Type"] == "application/json" and status["Cache-Control"] == "no-store"
    assert status.json() == {
        "state": "queued", "state_label": "Queued", "finished": False, "done": 0, "total": 2,
        "files_imported": "0 of 2",
        "results": "0 accepted, 0 replaced an earlier file, 0 unchanged, 0 rejected",
        "message": "2 files are waiting to be imported.",
    }  # fmt: skip
    run_batch(batch.pk)
    assert client.get(status_url).json()["message"] == "Import finished: 2 files, 2 accepted."
    page = (
        client.get(reverse("upload-batch", args=[batch.pk])).content.decode().replace("<wbr>", "")
    )
    assert "refresh" not in page and "batch.js" not in page and "data-batch-status" not in page
    assert "Import finished: 2 files, 2 accepted." in page


def test_batch_status_is_scoped_like_its_page(loaded, members, signed_in, client):
    from keystage.submissions.batches import do_create_batch

    batch = do_create_batch(members["officer938"], [school_file("a.xml")])
    url = reverse("upload-batch-status", args=[batch.pk])
    for other in ("officer202", "school938", "restricted938"):
        assert signed_in(members[other]).get(url).status_code == 404, other
        client.logout()
    assert client.get(url).status_code == 302  # signed out: to the sign-in page


def test_upload_result_page_says_what_to_do_next(loaded, members, signed_in, client):
    signed_in(members["officer938"])
    page = batch_page(client, post(client, school_file("a.xml")))
    steps = page[page.index('id="next-steps"') :]
    steps = steps[: steps.index("</ul>")]
    assert (
        '<a class="govuk-link" href="/ks1-2023/la/938/errors?school=9382001">See the errors and queries '
        "of Example Primary School in the Data Errors report</a>" in steps
    )
    assert 'href="/ks1-2023/la/938/dashboard">Go to the West Sussex dashboard</a>' in steps
    assert 'href="/ks1-2023/la/938/pupils?school=9382001">' in steps
    assert f'href="{reverse("upload-history")}">See all uploads</a>' in steps
    page = batch_page(client, post(client, school_file("b.xml", "2002"), school_file("c.xml")))
    assert 'href="/ks1-2023/la/938/errors">See the errors and queries of these schools' in page
    client.logout()
    signed_in(members["school938"])  # a school: its Data Errors, no LA dashboard
    page = batch_page(client, post(client, school_file("own.xml", "2002", n=2)))
    assert 'href="/ks1-2023/la/938/errors?school=9382002"' in page
    assert "/ks1-2023/la/938/dashboard" not in page and "/ks1-2023/la/938/pupils" not in page
    for step in re.findall(r'<ul class="govuk-list" id="next-steps">.*?</ul>', page, re.S):
        for href in re.findall(r'href="([^"]+)"', step):
            assert client.get(href).status_code == 200, href


# -- upload history ---------------------------------------------------------------------------


def test_upload_history_lists_the_las_uploads_newest_first(loaded, members, signed_in, client):
    signed_in(members["officer938"])
    batch_page(client, post(client, school_file("first.xml")))
    batch_page(client, post(client, school_file("first.xml"), SimpleUploadedFile(
        "broken.xml", b"<CTfile>", "text/xml")))  # fmt: skip
    client.logout()
    signed_in(members["admin938"])
    batch_page(client, post(client, school_file("second.xml", "2002")))
    client.logout()
    signed_in(members["officer202"])
    batch_page(client, post(client, school_file("camden.xml", "2003", la="202")))
    client.logout()

    signed_in(members["officer938"])
    page = client.get(reverse("upload-history")).content.decode().replace("<wbr>", "")
    assert "<title>Your uploads - Keystage</title>" in page and page.count("<h1") == 1
    assert "Uploads, newest first (3 uploads)" in page
    rows = re.findall(r'<tr class="govuk-table__row">(.*?)</tr>', page, re.S)[1:]
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip() for r in rows]
    assert len(text) == 3
    assert "admin938" in text[0] and "1 file: second.xml" in text[0] and "1 accepted" in text[0]
    assert "officer938" in text[1] and "2 files: first.xml, broken.xml" in text[1]
    assert "1 unchanged, 1 rejected" in text[1]
    assert "1 accepted" in text[2] and "officer938" in text[2]
    assert "camden.xml" not in page and "officer202" not in page
    assert not re.search(r"\d{4}-\d\d-\d\d|\d\d/\d\d/\d{4}", " ".join(text))  # dates in words
    for batch in ImportBatch.objects.filter(la__code="938"):  # each reachable again
        assert reverse("upload-batch", args=[batch.pk]) in page
        assert client.get(reverse("upload-batch", args=[batch.pk])).status_code == 200
    assert reverse("upload-history") in client.get(reverse("upload")).content.decode()
    client.logout()
    # A school user sees their school's uploads only; Camden sees Camden's.
    signed_in(members["school938"])
    assert "No files have been uploaded yet" in client.get(
        reverse("upload-history")
    ).content.decode().replace("<wbr>", "")
    batch_page(client, post(client, school_file("mine.xml", "2002", n=2)))
    page = client.get(reverse("upload-history")).content.decode().replace("<wbr>", "")
    assert "mine.xml" in page and "first.xml" not in page and "second.xml" not in page
    client.logout()
    signed_in(members["officer202"])
    page = client.get(reverse("upload-history")).content.decode().replace("<wbr>", "")
    assert "camden.xml" in page and "first.xml" not in page and "officer938" not in page


def test_upload_history_is_paged(loaded, members, signed_in, monkeypatch):
    from keystage.submissions import views
    from keystage.submissions.batches import do_create_batch

    monkeypatch.setattr(views, "HISTORY_PER_PAGE", 2)
    for n in range(5):
        do_create_batch(members["officer938"], [school_file(f"f{n}.xml")])
    client = signed_in(members["officer938"])
    page = client.get(reverse("upload-history")).content.decode().replace("<wbr>", "")
    assert "f4.xml" in page and "f3.xml" in page and "f2.xml" not in page
    assert 'class="govuk-pagination"' in page and 'href="?page=3"' in page
    page = (
        client.get(reverse("upload-history"), {"page": "3"}).content.decode().replace("<wbr>", "")
    )
    assert "f0.xml" in page and "f1.xml" not in page and "(page 3 of 3)" in page
    assert client.get(reverse("upload-history"), {"page": "nonsense"}).status_code == 200


def test_restricted_officer_cannot_import_an_unassigned_school(loaded, members, signed_in):
    client = signed_in(members["restricted938"])  # assigned 9382001 only
    page = batch_page(
        client, post(client, school_file("mine.xml"), school_file("other.xml", "2002"))
    )
    outcomes = {r["file"]: r for r in ImportBatch.objects.get().results}
    assert outcomes["mine.xml"]["outcome"] == "accepted"
    assert outcomes["other.xml"]["outcome"] == "rejected"
    assert "which is not one of your schools" in outcomes["other.xml"]["reason"]
    assert "not one of your schools" in page
    assert not Upload.objects.filter(school__laestab="9382002").exists()


def test_school_user_cannot_upload_another_schools_file(loaded, members, signed_in):
    client = signed_in(members["school938"])  # Downs Infant School, 9382002
    batch_page(client, post(client, school_file("own.xml", "2002"), school_file("x.xml", "2001")))
    batch = ImportBatch.objects.get()
    outcomes = {r["file"]: r["outcome"] for r in batch.results}
    assert outcomes == {"own.xml": "accepted", "x.xml": "rejected"}
    assert batch.school.laestab == "9382002"
    assert not Upload.objects.filter(school__laestab="9382001").exists()


def test_other_las_file_is_rejected_for_an_officer(loaded, members, signed_in):
    client = signed_in(members["officer202"])
    batch_page(client, post(client, school_file("wsx.xml")))
    [result] = ImportBatch.objects.get().results
    assert result["outcome"] == "rejected" and "not Camden (202)" in result["reason"]


def test_anonymous_visitor_is_sent_to_sign_in(client, loaded):
    response = client.get(reverse("upload"))
    assert response.status_code == 302 and reverse("sign-in") in response["Location"]
    response = client.post(reverse("upload"), {"files": [school_file("a.xml")]})
    assert response.status_code == 302 and not ImportBatch.objects.exists()


def test_upload_page_is_a_govuk_form(loaded, members, signed_in):
    page = signed_in(members["officer938"]).get(reverse("upload")).content.decode()
    assert "<title>Upload school files - Keystage</title>" in page
    assert 'class="govuk-file-upload"' in page and " multiple" in page
    assert 'enctype="multipart/form-data"' in page and "govuk-button" in page


def test_wrong_type_gets_a_govuk_error(loaded, members, signed_in):
    client = signed_in(members["officer938"])
    response = post(client, SimpleUploadedFile("notes.docx", b"hello", "application/msword"))
    page = response.content.decode()
    assert response.status_code == 200 and "<title>Error: Upload school files" in page
    assert "There is a problem" in page and "govuk-error-message" in page
    assert page.count("notes.docx must be a CTF XML file (.xml), a CSV file (.csv)") == 2
    assert not ImportBatch.objects.exists()


def test_empty_form_asks_for_a_file(loaded, members, signed_in):
    page = signed_in(members["officer938"]).post(reverse("upload"), {}).content.decode()
    assert page.count("Select a school file or a zip file") == 2


def test_oversize_upload_gets_a_govuk_error(loaded, members, signed_in, settings):
    settings.KEYSTAGE_MAX_UPLOAD_MB = 1
    client = signed_in(members["officer938"])
    big = SimpleUploadedFile("big.xml", b"x" * (1024 * 1024 + 1), "text/xml")
    page = post(client, big).content.decode()
    assert "There is a problem" in page
    assert page.count("The selected file must be smaller than 1MB") == 2
    assert not ImportBatch.objects.exists()


def test_national_admin_cannot_upload(loaded, members, signed_in):
    client = signed_in(members["national"])
    assert "cannot upload school files" in client.get(reverse("upload")).content.decode()
    assert post(client, school_file("a.xml")).status_code == 403
    assert not ImportBatch.objects.exists()


def test_batch_of_another_la_is_not_found(loaded, members, signed_in, client):
    signed_in(members["officer938"])
    batch_page(client, post(client, school_file("a.xml")))
    batch = ImportBatch.objects.get()
    url = reverse("upload-batch", args=[batch.pk])
    assert client.get(url).status_code == 200
    for other in ("admin202", "officer202", "school202", "restricted938", "school938"):
        client.logout()
        assert signed_in(members[other]).get(url).status_code == 404, other
    client.logout()
    assert signed_in(members["admin938"]).get(url).status_code == 200
    client.logout()
    assert signed_in(members["national"]).get(url).status_code == 200


# -- another LA's files -----------------------------------------------------------------------


def test_another_las_file_is_refused_as_such_even_when_that_la_imported_it(
    loaded, members, signed_in, client
):
    """The LA check comes before "unchanged": an officer of Camden who uploads the very bytes
    West Sussex imported is told the file is West Sussex's, and learns nothing of its history."""
    signed_in(members["officer938"])
    batch_page(client, post(client, school_file("a.xml")))
    client.logout()
    signed_in(members["officer202"])
    page = batch_page(client, post(client, school_file("copy.xml")))
    batch = ImportBatch.objects.get(uploaded_by=members["officer202"])
    [result] = batch.results
    assert result["outcome"] == "rejected"
    assert result["reason"] == (
        "copy.xml: this file is for West Sussex (938), not Camden (202): send it to West Sussex"
    )
    for leak in ("a.xml", "Already imported", "same bytes", "Example Primary School",
                 "officer938", "9382001"):  # fmt: skip
        assert leak not in page, leak
    # The refusal is Camden's: West Sussex sees nothing of it, on any page or in its audit.
    refused = Upload.objects.get(uploaded_by=members["officer202"])
    assert refused.state == "rejected" and refused.la.code == "202" and refused.school is None
    event = AuditEvent.objects.get(action="upload.rejected")
    assert event.la.code == "202" and event.school is None
    client.logout()
    signed_in(members["officer938"])
    for url in (reverse("la-errors", kwargs={"code": "938"}),
                reverse("la-dashboard", kwargs={"code": "938"}),
                reverse("upload")):  # fmt: skip
        shown = client.get(url).content.decode()
        assert "copy.xml" not in shown and "officer202" not in shown, url
    rows = {r.laestab: r for r in dashboard_rows(members["officer938"])}
    assert rows["9382001"].state == "clean"  # not "errors" because Camden sent its file


def dashboard_rows(user):
    from keystage.collection.queries import school_rows
    from keystage.orgs.models import LocalAuthority
    from keystage.submissions.actions import get_collection

    return school_rows(user, LocalAuthority.objects.get(code="938"), get_collection())


def test_same_bytes_from_two_las_each_answered_from_its_own_history(loaded, tmp_path, capsys):
    """`keystage import --la`: a file West Sussex imported is refused for Camden as West
    Sussex's (not "unchanged"), and the same file for West Sussex again is unchanged."""
    from keystage.cli import main
    from tests.builders import write_ctf

    f = write_ctf(tmp_path / "9382001_CTF_938LLLL_001.xml", [pupil(1), pupil(2)])
    assert main(["import", "--la", "938", str(f)]) == 0
    capsys.readouterr()
    assert main(["import", "--la", "202", str(f)]) == 1
    out, err = capsys.readouterr()
    assert "this file is for West Sussex (938), not Camden (202)" in err
    assert "0 unchanged, 1 rejected" in out and "same bytes" not in out + err
    assert main(["import", "--la", "938", str(f)]) == 0
    out, _ = capsys.readouterr()
    assert "unchanged" in out and "same bytes as 9382001_CTF_938LLLL_001.xml, imported " in out
    assert not re.search(r"\d\d/\d\d/\d{4}", out)  # the date in words, not 19/06/2023


# -- one bad file rejects that file, not the batch ----------------------------------------------


def lzma_zip_with_a_damaged_member() -> bytes:
    """A zip of two good school files and a third whose LZMA data is damaged."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("one.xml", ctf([pupil(1)], "938", "2001"))
        z.writestr("two.xml", ctf([pupil(2, estab="2002")], "938", "2002"),
                   compress_type=zipfile.ZIP_LZMA)  # fmt: skip
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("two.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 4
    for i in range(start + 10, start + 60):  # past LZMA's own header, into the compressed data
        data[i] ^= 0x5A
    return bytes(data)


def test_a_damaged_zip_member_rejects_that_member_not_the_batch(loaded, members, signed_in):
    client = signed_in(members["officer938"])
    zipped = SimpleUploadedFile("schools.zip", lzma_zip_with_a_damaged_member(), "application/zip")
    page = batch_page(client, post(client, zipped, school_file("c.xml", estab="2002")))
    batch = ImportBatch.objects.get()
    assert batch.state == "done", batch.failure
    outcomes = {r["file"]: r["outcome"] for r in batch.results}
    assert outcomes == {"schools.zip:one.xml": "accepted", "schools.zip:two.xml": "rejected",
                        "c.xml": "accepted"}  # fmt: skip
    assert "schools.zip:two.xml: left out: it is damaged and could not be unpacked" in page
    assert "problem on our side" not in page


def test_a_file_that_breaks_the_reader_rejects_that_file_not_the_batch(
    loaded, members, signed_in, monkeypatch, settings
):
    """However a reader fails on a file (a fault of ours), that one file is rejected with a
    reason for people, and no server path or Python error reaches any message."""
    from keystage.engine.readers.ctf import CtfReader

    real = CtfReader.pupils

    def pupils(self):
        if "boom" in self.name:
            raise RuntimeError(f"parser state lost in {settings.DATA_DIR}/web-uploads/x")
        return real(self)

    monkeypatch.setattr(CtfReader, "pupils", pupils)
    client = signed_in(members["officer938"])
    page = batch_page(client, post(client, school_file("boom.xml"), school_file("ok.xml", "2002")))
    batch = ImportBatch.objects.get()
    assert batch.state == "done", batch.failure
    by_file = {r["file"]: r for r in batch.results}
    assert by_file["ok.xml"]["outcome"] == "accepted"
    assert by_file["boom.xml"]["outcome"] == "rejected"
    assert by_file["boom.xml"]["reason"] == (
        "boom.xml: the file could not be read; check that it is the school's CTF or KS1 CSV "
        "file and send it again (the collection team has been told of the problem)"
    )
    refused = Upload.objects.get(state="rejected")
    for shown in (page, refused.reason, str(batch.results),
                  str(list(AuditEvent.objects.values_list("detail", flat=True)))):  # fmt: skip
        assert "RuntimeError" not in shown and "parser state" not in shown
        assert str(settings.DATA_DIR) not in shown and "web-uploads" not in shown


HOSTILE = {
    "empty.xml": b"",
    "binary.csv": bytes(range(256)) * 4,
    "broken.xml": b"<CTfile><Header><DestLEA>938",
    "report.pdf.csv": b"%PDF-1.4",
    "nested.zip": None,  # a zip holding a zip, a '..' member and a damaged member
    "notazip.zip": b"PK\x03\x04 not really",
}


def hostile_files():
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("deep.xml", ctf([pupil(1)], "938", "2001"))
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("inner.zip", inner.getvalue())
        z.writestr("../escape.xml", b"<x/>")
        z.writestr("folder/", b"")
    files = []
    for name, content in HOSTILE.items():
        if content is None:
            content = outer.getvalue()
        files.append(SimpleUploadedFile(name, content, "application/octet-stream"))
    damaged = SimpleUploadedFile("damaged.zip", lzma_zip_with_a_damaged_member(), "application/zip")
    return [*files, damaged]


@pytest.mark.parametrize("who", ["officer938", "restricted938", "school938"])
def test_no_message_shows_a_server_path(loaded, members, signed_in, settings, who):
    """Every reason stored and every message shown names files as they were uploaded: no batch
    folder, temporary folder or data folder. Also through the screening of a restricted
    officer's and a school user's files."""
    client = signed_in(members[who])
    page = batch_page(client, post(client, *hostile_files()))
    batch = ImportBatch.objects.get()
    assert batch.state == "done", batch.failure
    assert len(batch.results) >= len(HOSTILE) + 1
    texts = [page, str(batch.results), batch.failure]
    texts += list(Upload.objects.values_list("reason", flat=True))
    texts += list(Upload.objects.values_list("file_name", flat=True))
    texts += [str(d) for d in AuditEvent.objects.values_list("detail", flat=True)]
    for text in texts:
        for path in (str(settings.DATA_DIR), "/tmp", "keystage-import-", "keystage-batch-",
                     "web-uploads", batch.folder, "var/"):  # fmt: skip
            assert path not in text, (path, text[:300])
        # the names of our own folders: batch-<hex>, member-00001, 000000-0
        assert not re.search(r"batch-[0-9a-f]{32}|member-\d{5}|\b\d{6}-\d+\b", text), text[:300]
