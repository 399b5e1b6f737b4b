"""Limits that hold on web uploads: a zip whose files unpack beyond the limits is refused,
with a reason naming the file and the limit; a rejected file is kept only up to a bound (its
size, SHA-256 and reason always recorded) and the pages say so; a request body over the upload
limit is answered 413 before it is read, by the test client and by a real server."""

from __future__ import annotations

import hashlib
import io
import random
import re
import socket
import zipfile
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from keystage.audit.models import AuditEvent
from keystage.submissions.kept import read_kept
from keystage.submissions.models import ImportBatch, PupilRecord, Upload
from keystage.web.links import reverse
from tests.builders import ctf, pupil

pytestmark = pytest.mark.django_db

KEEP = 64 * 1024


@pytest.fixture(autouse=True)
def limits(settings, tmp_path):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    settings.DATA_DIR = tmp_path / "data"
    settings.KEYSTAGE_MAX_MEMBER_MB = 1
    settings.KEYSTAGE_KEEP_REJECTED_BYTES = KEEP


def noise(size: int, seed: int = 1) -> bytes:
    """Bytes that do not compress: a member whose zip is as large as itself, far under any
    ratio a zip bomb needs, so that only the limit on unpacked bytes can stop it."""
    return random.Random(seed).randbytes(size)


def good_file(estab: str = "2001") -> bytes:
    return ctf([pupil(i, estab=estab) for i in range(1, 4)], "938", estab).encode()


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in members.items():
            z.writestr(name, content)
    return out.getvalue()


def upload(client, *files: tuple[str, bytes]):
    response = client.post(
        reverse("upload"), {"files": [SimpleUploadedFile(n, c) for n, c in files]}
    )
    assert response.status_code == 302, "the upload was refused"
    return client.get(response["Location"]).content.decode().replace("<wbr>", "")


def leftovers(settings) -> list:
    scratch = settings.DATA_DIR / "tmp"
    return sorted(scratch.rglob("*")) if scratch.exists() else []


def test_a_zip_whose_file_unpacks_over_the_limit_is_refused_and_kept_in_part(
    loaded, members, signed_in, settings
):
    data = zipped({"one.xml": good_file(), "big.xml": noise(3 * 1024 * 1024)})
    client = signed_in(members["officer938"])
    page = upload(client, ("schools.zip", data))

    reason = (
        "schools.zip: big.xml unpacks to more than 1 MB, the most one file in a zip may hold, "
        "so the zip was refused"
    )
    assert reason in page
    [row] = ImportBatch.objects.get().results
    assert row["outcome"] == "rejected" and row["reason"].startswith(reason)
    # Refused whole: nothing of the zip is imported, not even its good file.
    assert not PupilRecord.objects.exists()
    refused = Upload.objects.get()
    assert (refused.state, refused.file_name, refused.la.code) == ("rejected", "schools.zip", "938")
    assert refused.reason.startswith(reason)
    assert refused.sha256 == hashlib.sha256(data).hexdigest() and refused.size == len(data)
    assert read_kept(settings.UPLOAD_STORE, refused.stored_path) == data[:KEEP]
    assert f"Only the first 65.5 KB of this {len(data) / 1e6:.1f} MB file is kept." in page
    words = re.sub(r"<[^>]+>", "", page)
    assert f"Its SHA-256 fingerprint (of the whole file) is {refused.sha256}." in words
    event = AuditEvent.objects.get(action="upload.rejected")
    assert event.detail["sha256"] == refused.sha256 and event.detail["kept_bytes"] == KEEP
    history = client.get(reverse("upload-history")).content.decode()
    assert "1 rejected (1 rejected file kept only in part)" in history
    assert leftovers(settings) == []  # nothing unpacked is left in the data directory


def test_the_same_refused_zip_again_is_answered_from_its_first_upload(
    loaded, members, signed_in, settings
):
    data = zipped({"big.xml": noise(2 * 1024 * 1024)})
    client = signed_in(members["officer938"])
    upload(client, ("schools.zip", data))
    page = upload(client, ("again.zip", data))
    assert "again.zip: big.xml unpacks to more than 1 MB" in page
    assert Upload.objects.count() == 1  # kept once


def test_a_large_rejected_file_is_kept_in_part_a_small_one_whole(loaded, members, signed_in,
                                                                  settings):  # fmt: skip
    junk = b"<CTfile><Header>" + noise(300_000, seed=2)
    client = signed_in(members["officer938"])
    page = upload(client, ("junk.xml", junk), ("broken.xml", b"<CTfile><Header>"),
                  ("a.xml", good_file()))  # fmt: skip
    kept = {u.file_name: u for u in Upload.objects.all()}
    assert kept["junk.xml"].state == "rejected" and kept["junk.xml"].size == len(junk)
    assert kept["junk.xml"].sha256 == hashlib.sha256(junk).hexdigest()
    assert read_kept(settings.UPLOAD_STORE, kept["junk.xml"].stored_path) == junk[:KEEP]
    assert read_kept(settings.UPLOAD_STORE, kept["broken.xml"].stored_path) == b"<CTfile><Header>"
    assert read_kept(settings.UPLOAD_STORE, kept["a.xml"].stored_path) == good_file()
    assert page.count("file is kept.") == 1 and "of this 300.0 KB file is kept." in page


def test_an_accepted_file_is_kept_whole_whatever_the_bound(loaded, members, signed_in, settings):
    settings.KEYSTAGE_KEEP_REJECTED_BYTES = 10
    client = signed_in(members["officer938"])
    page = upload(client, ("a.xml", good_file()))
    assert read_kept(settings.UPLOAD_STORE, Upload.objects.get().stored_path) == good_file()
    assert "file is kept" not in page


def test_with_no_copy_of_rejected_files_kept_the_page_says_so(loaded, members, signed_in,
                                                               settings):  # fmt: skip
    settings.KEYSTAGE_KEEP_REJECTED_BYTES = 0
    client = signed_in(members["officer938"])
    page = upload(client, ("junk.xml", b"<CTfile>" + noise(5000)))
    assert "No copy of this 5.0 KB file is kept." in page
    refused = Upload.objects.get()
    assert refused.sha256 and read_kept(settings.UPLOAD_STORE, refused.stored_path) == b""


@pytest.mark.parametrize("who", ["restricted938", "school938"])
def test_the_limits_hold_for_users_whose_files_are_screened(loaded, members, signed_in, settings,
                                                            who):  # fmt: skip
    """Restricted officers' and school users' zips are unpacked once more, to check their
    schools: the limits hold there too and nothing unpacked is left behind."""
    data = zipped({"big.xml": noise(2 * 1024 * 1024)})
    page = upload(signed_in(members[who]), ("schools.zip", data))
    assert "schools.zip: big.xml unpacks to more than 1 MB" in page
    assert Upload.objects.get().sha256 == hashlib.sha256(data).hexdigest()
    assert leftovers(settings) == []


def test_a_return_zip_whose_file_unpacks_over_the_limit_is_refused(loaded, members, signed_in,
                                                                   settings):  # fmt: skip
    client = signed_in(members["officer938"])
    data = zipped({"9382001.xml": noise(2 * 1024 * 1024)})
    response = client.post(
        reverse("la-return-upload", kwargs={"code": "938"}),
        {"files": [SimpleUploadedFile("returns.zip", data)]},
    )
    assert response.status_code == 400
    body = response.content.decode().replace("<wbr>", "")
    assert "Nothing was loaded" in body
    assert "returns.zip: 9382001.xml unpacks to more than 1 MB" in body
    assert leftovers(settings) == []


# -- request bodies over the upload limit ----------------------------------------------------


def test_a_body_over_the_upload_limit_is_answered_413_unread(loaded, members, signed_in,
                                                             settings):  # fmt: skip
    """The Content-Length says more than the limit; the body is a few bytes. Had anything read
    it, the test client's payload would fail ("Cannot read more than the available bytes")."""
    settings.KEYSTAGE_MAX_UPLOAD_MB = 5
    client = signed_in(members["officer938"])
    response = client.generic(
        "POST", reverse("upload"), b"--x\r\n", content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(7 * 1024 * 1024),
    )  # fmt: skip
    assert response.status_code == 413
    page = b"".join(response.streaming_content).decode()
    assert "<title>The files you sent are too large" in page
    assert '<h1 class="govuk-heading-l">The files you sent are too large</h1>' in page
    assert "One upload can hold up to 5MB of files in all" in page
    assert not ImportBatch.objects.exists()


def test_a_body_within_the_limit_with_its_form_is_received(loaded, members, signed_in, settings):
    """A file of exactly the limit, with the form around it, is not taken for too large here;
    the form's own check answers as before."""
    settings.KEYSTAGE_MAX_UPLOAD_MB = 1
    client = signed_in(members["officer938"])
    exact = SimpleUploadedFile("a.xml", b"x" * (1024 * 1024))
    assert client.post(reverse("upload"), {"files": [exact]}).status_code == 302
    over = SimpleUploadedFile("b.xml", b"x" * (1024 * 1024 + 1))
    page = client.post(reverse("upload"), {"files": [over]})
    assert page.status_code == 200 and "must be smaller than 1MB" in page.content.decode()


def test_a_real_server_answers_413_before_the_body_is_sent(transactional_db, live_server,
                                                           settings):  # fmt: skip
    """Over a socket to the live server: only the headers of a 10 GB upload are sent, and the
    answer comes back at once, without the body; then the server closes the connection rather
    than wait to read (into memory) the gigabytes announced."""
    settings.KEYSTAGE_MAX_UPLOAD_MB = 5
    url = urlsplit(live_server.url)
    with socket.create_connection((url.hostname, url.port), timeout=20) as s:
        s.sendall(
            b"POST /ks1-2023/uploads/ HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: multipart/form-data; boundary=x\r\n"
            b"Content-Length: 10000000000\r\n\r\n"
        )
        answer = b""
        while chunk := s.recv(65536):  # until the server closes: a timeout fails the test
            answer += chunk
    head = answer.split(b"\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"The files you sent are too large" in answer
