"""Zip uploads: the school files come out, system files and unsafe names stay in, and a zip
bomb is refused whether its headers tell the truth or not."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import pytest

from keystage.engine.definition import load
from keystage.engine.readers import open_school_file
from keystage.engine.readers.archive import ZipMembers, extract_zip, iter_zip
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


# -- limits on what a zip unpacks to, counted on the bytes as they are read -----------------


def zeros_zip(path: Path, member: str, size: int) -> Path:
    """A zip whose one member is `size` zero bytes, written a megabyte at a time: a zip bomb
    of any size that stays a few hundred kilobytes on disk and is never held in memory."""
    chunk = bytes(1 << 20)
    info = zipfile.ZipInfo(member)
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as z:
        with z.open(info, "w", force_zip64=True) as out:
            for _ in range(size // len(chunk)):
                out.write(chunk)
    return path


def test_a_member_over_the_member_limit_is_refused_from_its_header(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {"KS1_2001_23.csv": CSV, "big.xml": b"x" * 3000})
    with pytest.raises(RejectedFile) as e:
        list(extract_zip(path, tmp_path / "out", max_member_bytes=2000, name="batch.zip"))
    assert e.value.reason == (
        "batch.zip: big.xml unpacks to more than 2.0 KB, the most one file in a zip may hold, so "
        "the zip was refused: check that it holds only the schools' CTF or CSV files, and "
        "send any larger file on its own"
    )


def test_members_are_unpacked_to_files_of_their_own(tmp_path):
    path = make_zip(tmp_path / "batch.zip", {"june/9382001_CTF_938LLLL_001.xml": CTF,
                                             "june/KS1_2001_23.csv": CSV, ".DS_Store": b"x"})  # fmt: skip
    out = tmp_path / "out"
    out.mkdir()
    members = list(extract_zip(path, out))
    assert [name for name, _ in members] == [
        "june/9382001_CTF_938LLLL_001.xml",
        "june/KS1_2001_23.csv",
    ]
    assert [p.read_bytes() for _, p in members] == [CTF, CSV]
    assert all(p.parent == out for _, p in members)
    assert sorted(out.iterdir()) == sorted(p for _, p in members)


def test_two_zips_unpacked_into_one_folder_do_not_collide(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    a = list(extract_zip(make_zip(tmp_path / "a.zip", {"x.csv": CSV}), out))
    b = list(extract_zip(make_zip(tmp_path / "b.zip", {"x.csv": CSV + CSV}), out))
    assert a[0][1] != b[0][1] and a[0][1].read_bytes() == CSV and b[0][1].read_bytes() == CSV * 2


def test_the_member_limit_holds_while_unpacking_and_leaves_no_file(tmp_path, monkeypatch):
    """Should the declared sizes pass (a header that lies, or a check that misses), the count
    made while decompressing stops the member at its limit, and its part-written file goes."""
    path = zeros_zip(tmp_path / "bomb.zip", "KS1_2001_23.csv", 8 << 20)
    monkeypatch.setattr(ZipMembers, "_check_declared", lambda self, infos: None)
    out = tmp_path / "out"
    out.mkdir()
    members = extract_zip(path, out, max_member_bytes=3 << 20, max_ratio=10**9, name="bomb.zip")
    with pytest.raises(RejectedFile) as e:
        list(members)
    assert e.value.reason.startswith(
        "bomb.zip: KS1_2001_23.csv unpacks to more than 3 MB, the most one file in a zip may hold"
    )
    assert list(out.iterdir()) == []
    with pytest.raises(RejectedFile):  # the bytes form holds the same limit
        list(iter_zip(path, max_member_bytes=3 << 20, max_ratio=10**9))


def test_the_limit_per_zip_counts_every_member_as_it_is_unpacked(tmp_path, monkeypatch):
    path = make_zip(
        tmp_path / "batch.zip", {f"KS1_200{i}_23.csv": os.urandom(40_000) for i in range(3)}
    )
    monkeypatch.setattr(ZipMembers, "_check_declared", lambda self, infos: None)
    with pytest.raises(RejectedFile) as e:
        list(extract_zip(path, tmp_path, max_total_bytes=100_000, name="batch.zip"))
    assert e.value.reason == (
        "batch.zip: the zip unpacks to more than 100.0 KB, the most one upload may hold (counted "
        "up to KS1_2002_23.csv), so it was refused: send the files in several smaller zips"
    )


MEASURE = """
import sys
from pathlib import Path
from keystage.engine.readers.archive import ZipMembers, extract_zip
from keystage.engine.records import RejectedFile

def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

zip_path, out, limit, trust = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
if trust == "no":  # the sizes the zip declares are not looked at: only the running count
    ZipMembers._check_declared = lambda self, infos: None
before = peak_kb()
try:
    sizes = [p.stat().st_size for _, p in extract_zip(zip_path, out, max_member_bytes=limit,
                                                       max_ratio=10**9)]
    outcome = f"unpacked {sizes}"
except RejectedFile as e:
    outcome = "refused: " + e.reason
print(peak_kb() - before)
print(outcome)
"""


def _peak_growth(tmp_path, zip_path, limit, trust="yes"):
    import subprocess
    import sys

    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(zip_path), str(out), str(limit), trust],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    growth_kb, outcome = done.stdout.splitlines()
    return int(growth_kb) * 1024, outcome, out


@pytest.mark.parametrize("trust", ["yes", "no"])
def test_a_zip_bomb_member_is_refused_with_memory_bounded(tmp_path, trust):
    """A 300 MB member from a zip of a few hundred KB, with the ratio check out of the way (as
    for a member under the ratio limit): refused at the 64 MB member limit, from its header or
    (header checks off) while unpacking, with the process's peak memory growing by far less
    than the member limit, and no file left behind."""
    path = zeros_zip(tmp_path / "bomb.zip", "KS1_2001_23.csv", 300 << 20)
    assert path.stat().st_size < 1_000_000
    growth, outcome, out = _peak_growth(tmp_path, path, 64 << 20, trust)
    assert outcome.startswith("refused: ") and "unpacks to more than 64 MB" in outcome
    assert growth < 16 << 20, f"peak memory grew by {growth / 2**20:.0f} MB"
    assert list(out.iterdir()) == []


def test_a_large_member_within_its_limit_goes_to_disk_not_memory(tmp_path):
    path = zeros_zip(tmp_path / "big.zip", "KS1_2001_23.csv", 96 << 20)
    growth, outcome, out = _peak_growth(tmp_path, path, 128 << 20)
    assert outcome == f"unpacked [{96 << 20}]"
    assert growth < 16 << 20, f"peak memory grew by {growth / 2**20:.0f} MB"
    [member] = out.iterdir()
    assert member.stat().st_size == 96 << 20
