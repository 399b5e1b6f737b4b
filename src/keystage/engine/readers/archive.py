"""Unpack a zip of school files safely: leave out folders and system files, skip members whose
names point outside the zip, and stop a zip bomb while decompressing, not only from its headers.

Members are streamed a megabyte at a time with a running count of the bytes they inflate to:
the limits per member and per zip apply to those bytes as they are read, never only to the
sizes the zip declares. `extract_zip` writes each member to a file of its own (memory stays at
one chunk however large a member is); `iter_zip` hands small members over as bytes.
"""

from __future__ import annotations

import lzma
import os
import secrets
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from keystage.engine.records import RejectedFile
from keystage.engine.words import amount

_CHUNK = 1024 * 1024
# Below this size a member's compression ratio is not judged: a small CSV of empty rows can
# legitimately shrink 500 times, while a bomb needs gigabytes to do harm.
RATIO_FLOOR = 1024 * 1024
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", "__macosx"}
# The most one member may unpack to by default: one school's CTF file is a few megabytes.
MAX_MEMBER_BYTES = 100 * 1024 * 1024
MAX_TOTAL_BYTES = 2_000_000_000


class ZipMembers:
    """Iterator of (member name, content) for the files in a zip, in the zip's order: content
    is the member's bytes, or with `into` (a folder) the path of a new file in it holding them.

    Folders, `__MACOSX/`, dotfiles and Windows' Thumbs.db/desktop.ini are left out silently.
    Members that cannot be used safely (absolute names, `..`, password-protected, damaged)
    are left out and described, one line each, in `skipped`. The whole zip is rejected with
    `RejectedFile` when it is not a zip, has more than `max_members` entries, would unpack
    to more than `max_total_bytes`, has a member that unpacks to more than `max_member_bytes`,
    or has a member over 1 MB that unpacks at more than `max_ratio` times its compressed size:
    a zip bomb. Sizes are checked both as declared and as actually decompressed, so a lying
    header does not help. A member refused half-way leaves no file behind in `into`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | BinaryIO,
        *,
        name: str | None = None,
        max_members: int = 5000,
        max_total_bytes: int = MAX_TOTAL_BYTES,
        max_member_bytes: int = MAX_MEMBER_BYTES,
        max_ratio: int = 200,
        into: str | os.PathLike[str] | None = None,
    ):
        self.path = path
        self.name = name or (
            os.fspath(path)
            if not hasattr(path, "read")
            else str(getattr(path, "name", "upload.zip"))
        )
        self.max_members = max_members
        self.max_total_bytes = max_total_bytes
        self.max_member_bytes = max_member_bytes
        self.max_ratio = max_ratio
        self.into = Path(into) if into is not None else None
        self.skipped: list[str] = []
        self._members = self._unpack()

    def __iter__(self) -> ZipMembers:
        return self

    def __next__(self) -> tuple[str, Any]:
        return next(self._members)

    def _reject(self, what: str) -> RejectedFile:
        return RejectedFile(f"{self.name}: {what}")

    def _skip(self, member: str, why: str) -> None:
        self.skipped.append(f"{self.name}:{member[:200]}: left out: {why}")

    def _unpack(self) -> Iterator[tuple[str, Any]]:
        try:
            archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError):
            raise self._reject(
                "the zip file is damaged or is not a zip file; make the zip again and send it"
            ) from None
        with archive:
            infos = archive.infolist()
            self._check_declared(infos)
            total = 0
            token = secrets.token_hex(4)  # files of two zips unpacked into one folder differ
            for index, info in enumerate(infos):
                member = info.filename
                if not _is_safe_name(member):
                    self._skip(
                        member,
                        "its name points outside the zip (an absolute path or '..'); make the "
                        "zip from the files themselves",
                    )
                    continue
                if info.is_dir() or _is_system_file(member):
                    continue
                if info.flag_bits & 0x1:
                    self._skip(member, "it is password-protected; send it without a password")
                    continue
                if self.into is not None:
                    target = self.into / f"{token}-{index:05d}"
                    size = self._extract(archive, info, total, target)
                    if size is not None:
                        total += size
                        yield member, target
                    continue
                content = self._read(archive, info, total)
                if content is not None:
                    total += len(content)
                    yield member, content

    def _check_declared(self, infos: list[zipfile.ZipInfo]) -> None:
        if len(infos) > self.max_members:
            raise self._reject(
                f"the zip holds {len(infos)} entries, more than the {self.max_members} allowed; "
                "send the files in several smaller zips"
            )
        declared = sum(i.file_size for i in infos)
        if declared > self.max_total_bytes:
            raise self._reject(
                f"the zip would unpack to {amount(declared)}, more than the "
                f"{amount(self.max_total_bytes)} allowed; send the files in smaller zips"
            )
        for i in infos:
            if i.file_size > self.max_member_bytes:
                raise self._too_big(i.filename)
            if i.file_size > RATIO_FLOOR and i.file_size > self.max_ratio * max(i.compress_size, 1):
                raise self._bomb(i.filename)
        archive_size = _size(self.path)
        if archive_size is not None and sum(i.compress_size for i in infos) > archive_size:
            # Entries that share compressed data: a known zip-bomb construction.
            raise self._bomb("")

    def _bomb(self, member: str) -> RejectedFile:
        where = f" ({member[:100]})" if member else ""
        return self._reject(
            f"the zip unpacks far beyond its size{where}, as a zip bomb does; it was not "
            "opened: make the zip again from the school files"
        )

    def _too_big(self, member: str) -> RejectedFile:
        return self._reject(
            f"{member[:200]} unpacks to more than {amount(self.max_member_bytes)}, the most one "
            "file in a zip may hold, so the zip was refused: check that it holds only the "
            "schools' CTF or CSV files, and send any larger file on its own"
        )

    def _too_much(self, member: str) -> RejectedFile:
        return self._reject(
            f"the zip unpacks to more than {amount(self.max_total_bytes)}, the most one upload "
            f"may hold (counted up to {member[:200]}), so it was refused: send the files in "
            "several smaller zips"
        )

    def _chunks(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int):
        """The member's bytes a chunk at a time, counted as they are decompressed: a member
        or zip over its limit is refused at the chunk that crosses it."""
        size = 0
        compressed = max(info.compress_size, 1)
        with archive.open(info) as f:
            while chunk := f.read(_CHUNK):
                size += len(chunk)
                if size > info.file_size:
                    raise self._bomb(info.filename)
                if size > self.max_member_bytes:
                    raise self._too_big(info.filename)
                if total + size > self.max_total_bytes:
                    raise self._too_much(info.filename)
                if size > RATIO_FLOOR and size > self.max_ratio * compressed:
                    raise self._bomb(info.filename)
                yield chunk

    def _read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int) -> bytes | None:
        """The member's bytes, counted as they are decompressed, or None if it was skipped."""
        try:
            return b"".join(self._chunks(archive, info, total))
        except NotImplementedError:
            self._skip(info.filename, "it uses a compression method that cannot be read")
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError):
            self._skip(info.filename, "it is damaged and could not be unpacked; send it again")
        return None

    def _extract(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int, target: Path
    ) -> int | None:
        """Write the member to `target` as it is decompressed; its size, or None if it was
        skipped. Whatever stops it (a limit, damage, a full disk), no partial file is left;
        a failure to write (our disk, not the zip) is raised as it is."""
        size = 0
        done = False
        try:
            with open(target, "xb") as out:
                chunks = self._chunks(archive, info, total)
                while True:
                    try:
                        chunk = next(chunks, None)
                    except NotImplementedError:
                        self._skip(
                            info.filename, "it uses a compression method that cannot be read"
                        )
                        return None
                    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError):
                        self._skip(
                            info.filename, "it is damaged and could not be unpacked; send it again"
                        )
                        return None
                    if chunk is None:
                        break
                    out.write(chunk)
                    size += len(chunk)
            done = True
            return size
        finally:
            if not done:
                target.unlink(missing_ok=True)


def iter_zip(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    max_members: int = 5000,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_ratio: int = 200,
    name: str | None = None,
) -> ZipMembers:
    """The usable files in a zip upload as (member name, bytes); see `ZipMembers`. Messages
    start with `name` (default: the path as given). Members left out are listed in the
    returned iterator's `skipped`. Each member is held in memory whole (up to
    `max_member_bytes`): for large zips use `extract_zip`."""
    return ZipMembers(
        path,
        name=name,
        max_members=max_members,
        max_total_bytes=max_total_bytes,
        max_member_bytes=max_member_bytes,
        max_ratio=max_ratio,
    )


def extract_zip(
    path: str | os.PathLike[str] | BinaryIO,
    into: str | os.PathLike[str],
    *,
    max_members: int = 5000,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_ratio: int = 200,
    name: str | None = None,
) -> ZipMembers:
    """The usable files in a zip upload as (member name, path of a new file in `into`), each
    written a chunk at a time as it is decompressed; see `ZipMembers`. The files are the
    caller's to move or delete."""
    return ZipMembers(
        path,
        name=name,
        max_members=max_members,
        max_total_bytes=max_total_bytes,
        max_member_bytes=max_member_bytes,
        max_ratio=max_ratio,
        into=into,
    )


def _is_system_file(member: str) -> bool:
    parts = [p for p in member.replace("\\", "/").split("/") if p]
    return any(p.startswith(".") or p.lower() in _SYSTEM_FILES for p in parts)


def _is_safe_name(member: str) -> bool:
    unified = member.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        return False  # absolute, or a Windows drive (C:...)
    if any(ord(c) < 32 for c in member):
        return False
    return ".." not in PurePosixPath(unified).parts


def _size(path: str | os.PathLike[str] | BinaryIO) -> int | None:
    try:
        if hasattr(path, "seek"):
            here = path.tell()
            end = path.seek(0, os.SEEK_END)
            path.seek(here)
            return end
        return os.path.getsize(path)
    except (OSError, ValueError):
        return None
