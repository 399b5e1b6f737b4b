"""Zip uploads: the school files come out, system files and unsafe names stay in, and a zip
bomb is refused whether its headers tell the truth or not."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from keystage.engine.definition import load
from keystage.engine.readers import open_school_file
from keystage.engine.readers.archive import ZipMembers, iter_zip
from keystage.engine.records import RejectedFile

CTF = (
    Path(__file__).resolve().parent.parent / "fixtures" / "files" / "9382001_CTF_938LLLL_001.xml"
).read_bytes()
CSV = b"LA,Estab,UPN,Surname\n938,2001,A938200123001,SMITH\n"


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, content in members.items():
            z.writestr(zipfile.ZipInfo(name), content, compress_type=compression)
    return path


def test_school_files_come_out_and_system_files_are_left_out(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {
        "june/": b"",
        "june/9382001_CTF_938LLLL_001.xml": CTF,
        "june/KS1_2001_23.csv": CSV,
        "__MACOSX/june/._KS1_2001_23.csv": b"\x00\x05\x16\x07",
        "june/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "june/Thumbs.db": b"\xd0\xcf\x11\xe0",
    })  # fmt: skip
    members = iter_zip(path)
    assert isinstance(members, ZipMembers)
    assert list(members) == [
        ("june/9382001_CTF_938LLLL_001.xml", CTF),
        ("june/KS1_2001_23.csv", CSV),
    ]
    assert members.skipped == []


def test_a_member_can_be_read_as_a_school_file(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {"9382001_CTF_938LLLL_001.xml": CTF})
    [(name, content)] = iter_zip(path)
    with open_school_file(io.BytesIO(content), load(), name=f"batch.zip:{name}") as reader:
        assert reader.header.laestab == "9382001"
        assert len(list(reader.pupils())) == 1


@pytest.mark.parametrize(
    "unsafe",
    [
        "../9382001_CTF_938LLLL_001.xml",
        "a/../../etc/cron.d/x",
        "/etc/passwd",
        "C:/Windows/x.xml",
        "..\\..\\x.csv",
    ],
)
def test_names_that_point_outside_the_zip_are_skipped_and_reported(tmp_path, unsafe):
    path = make_zip(tmp_path / "batch.zip", {unsafe: CTF, "KS1_2001_23.csv": CSV})
    members = iter_zip(path, name="batch.zip")
    assert [name for name, _ in members] == ["KS1_2001_23.csv"]
    [note] = members.skipped
    assert note.startswith(f"batch.zip:{unsafe}: left out: its name points outside the zip")


def test_a_password_protected_member_is_skipped(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {"secret.csv": CSV, "KS1_2001_23.csv": CSV})
    # zipfile cannot write encryption; set the "encrypted" flag of the first central entry
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")
    flags = struct.unpack_from("<H", data, central + 8)[0]
    struct.pack_into("<H", data, central + 8, flags | 0x1)
    path.write_bytes(bytes(data))
    members = iter_zip(path, name="batch.zip")
    assert [name for name, _ in members] == ["KS1_2001_23.csv"]
    assert members.skipped == [
        "batch.zip:secret.csv: left out: it is password-protected; send it without a password"
    ]


def test_a_damaged_member_is_skipped(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {"a.csv": CSV * 50, "KS1_2001_23.csv": CSV})
    data = bytearray(path.read_bytes())
    start = data.index(b"PK\x03\x04") + 30 + len("a.csv")
    data[start + 5 : start + 15] = b"\xff" * 10  # garble the deflate stream
    path.write_bytes(bytes(data))
    members = iter_zip(path, name="batch.zip")
    assert [name for name, _ in members] == ["KS1_2001_23.csv"]
    assert members.skipped == [
        "batch.zip:a.csv: left out: it is damaged and could not be unpacked; send it again"
    ]


def test_not_a_zip(tmp_path):
    path = tmp_path / "batch.zip"
    path.write_bytes(b"this is not a zip")
    with pytest.raises(RejectedFile) as e:
        list(iter_zip(path))
    assert e.value.reason == (
        f"{path}: the zip file is damaged or is not a zip file; make the zip again and send it"
    )


def test_too_many_members(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {f"KS1_{i:04d}_23.csv": CSV for i in range(6)})
    with pytest.raises(RejectedFile) as e:
        list(iter_zip(path, max_members=5, name="batch.zip"))
    assert e.value.reason == (
        "batch.zip: the zip holds 6 entries, more than the 5 allowed; send the files in several "
        "smaller zips"
    )


def test_too_many_bytes_declared(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {"a.csv": b"x" * 6000, "b.csv": b"y" * 6000})
    with pytest.raises(RejectedFile) as e:
        list(iter_zip(path, max_total_bytes=10_000, name="batch.zip"))
    assert e.value.reason == (
        "batch.zip: the zip would unpack to 12.0 KB, more than the 10.0 KB allowed; send the "
        "files in smaller zips"
    )


def test_a_deflate_bomb_is_refused_before_it_is_unpacked(tmp_path):
    path = make_zip(tmp_path / "bomb.zip", {"KS1_2001_23.csv": b"\x00" * 50_000_000})
    assert path.stat().st_size < 200_000
    with pytest.raises(RejectedFile) as e:
        list(iter_zip(path, name="bomb.zip"))
    assert e.value.reason == (
        "bomb.zip: the zip unpacks far beyond its size (KS1_2001_23.csv), as a zip bomb does; "
        "it was not opened: make the zip again from the school files"
    )


def test_a_bomb_whose_headers_lie_about_its_size(tmp_path):
    """Declared as 1,000 bytes, so the header checks pass; unpacking stops at what was declared
    and the member is refused as damaged, never held in memory whole."""
    path = make_zip(tmp_path / "bomb.zip", {"KS1_2001_23.csv": b"\x00" * 20_000_000})
    data = bytearray(path.read_bytes())
    for signature, size_offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(signature)
        struct.pack_into("<I", data, at + size_offset, 1000)
    path.write_bytes(bytes(data))
    members = iter_zip(path, name="bomb.zip")
    assert list(members) == []
    assert members.skipped == [
        "bomb.zip:KS1_2001_23.csv: left out: it is damaged and could not be unpacked; send it again"
    ]


def test_the_ratio_is_checked_while_unpacking(tmp_path, monkeypatch):
    """With the header check out of the way, the count made while decompressing still stops it."""
    path = make_zip(tmp_path / "bomb.zip", {"KS1_2001_23.csv": b"\x00" * 20_000_000})
    monkeypatch.setattr(ZipMembers, "_check_declared", lambda self, infos: None)
    with pytest.raises(RejectedFile) as e:
        list(iter_zip(path, name="bomb.zip"))
    assert "as a zip bomb does" in e.value.reason


def test_entries_sharing_their_compressed_data_are_refused(tmp_path):
    """The overlapping-entries construction: several central entries for one local file."""
    path = make_zip(tmp_path / "bomb.zip", {"KS1_2001_23.csv": bytes(range(256)) * 4000})
    data = path.read_bytes()
    eocd = data.rindex(b"PK\x05\x06")
    central = data.index(b"PK\x01\x02")
    entry = data[central:eocd]
    count, size = 5, len(entry) * 5
    new_eocd = bytearray(data[eocd:])
    struct.pack_into("<HHI", new_eocd, 8, count, count, size)
    path.write_bytes(data[:central] + entry * count + bytes(new_eocd))
    with pytest.raises(RejectedFile) as e:
        list(iter_zip(path, name="bomb.zip"))
    assert "as a zip bomb does" in e.value.reason


def test_a_small_but_very_compressible_csv_is_fine(tmp_path):
    content = b"LA,Estab,UPN,Surname\n" + b",,,\n" * 200_000  # 800 KB of empty rows
    path = make_zip(tmp_path / "batch.zip", {"KS1_2001_23.csv": content})
    assert list(iter_zip(path)) == [("KS1_2001_23.csv", content)]


def test_a_file_object_works_too(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {"KS1_2001_23.csv": CSV})
    with path.open("rb") as f:
        assert list(iter_zip(f, name="upload.zip")) == [("KS1_2001_23.csv", CSV)]
