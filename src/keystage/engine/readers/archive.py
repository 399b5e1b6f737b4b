"""Unpack a zip of school files safely: leave out folders and system files, skip members whose
names point outside the zip, and stop a zip bomb while decompressing, not only from its headers.
"""

from __future__ import annotations

import lzma
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from keystage.engine.records import RejectedFile

_CHUNK = 1024 * 1024
# Below this size a member's compression ratio is not judged: a small CSV of empty rows can
# legitimately shrink 500 times, while a bomb needs gigabytes to do harm.
RATIO_FLOOR = 1024 * 1024
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", "__macosx"}


class ZipMembers:
    """Iterator of (member name, content) for the files in a zip, in the zip's order.

    Folders, `__MACOSX/`, dotfiles and Windows' Thumbs.db/desktop.ini are left out silently.
    Members that cannot be used safely (absolute names, `..`, password-protected, damaged)
    are left out and described, one line each, in `skipped`. The whole zip is rejected with
    `RejectedFile` when it is not a zip, has more than `max_members` entries, or would unpack
    to more than `max_total_bytes`, or has a member over 1 MB that unpacks at more than
    `max_ratio` times its compressed size: a zip bomb. Sizes are checked both as declared and
    as actually decompressed, so a lying header does not help.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | BinaryIO,
        *,
        name: str | None = None,
        max_members: int = 5000,
        max_total_bytes: int = 2_000_000_000,
        max_ratio: int = 200,
    ):
        self.path = path
        self.name = name or (
            os.fspath(path)
            if not hasattr(path, "read")
            else str(getattr(path, "name", "upload.zip"))
        )
        self.max_members = max_members
        self.max_total_bytes = max_total_bytes
        self.max_ratio = max_ratio
        self.skipped: list[str] = []
        self._members = self._unpack()

    def __iter__(self) -> ZipMembers:
        return self

    def __next__(self) -> tuple[str, bytes]:
        return next(self._members)

    def _reject(self, what: str) -> RejectedFile:
        return RejectedFile(f"{self.name}: {what}")

    def _skip(self, member: str, why: str) -> None:
        self.skipped.append(f"{self.name}:{member[:200]}: left out: {why}")

    def _unpack(self) -> Iterator[tuple[str, bytes]]:
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
            for info in infos:
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
                f"the zip would unpack to {_amount(declared)}, more than the "
                f"{_amount(self.max_total_bytes)} allowed; send the files in smaller zips"
            )
        for i in infos:
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

    def _read(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, total: int) -> bytes | None:
        """The member's bytes, counted as they are decompressed, or None if it was skipped."""
        parts: list[bytes] = []
        size = 0
        compressed = max(info.compress_size, 1)
        try:
            with archive.open(info) as f:
                while chunk := f.read(_CHUNK):
                    size += len(chunk)
                    if total + size > self.max_total_bytes or size > info.file_size:
                        raise self._bomb(info.filename)
                    if size > RATIO_FLOOR and size > self.max_ratio * compressed:
                        raise self._bomb(info.filename)
                    parts.append(chunk)
        except NotImplementedError:
            self._skip(info.filename, "it uses a compression method that cannot be read")
            return None
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError):
            self._skip(info.filename, "it is damaged and could not be unpacked; send it again")
            return None
        return b"".join(parts)


def iter_zip(
    path: str | os.PathLike[str] | BinaryIO,
    *,
    max_members: int = 5000,
    max_total_bytes: int = 2_000_000_000,
    max_ratio: int = 200,
    name: str | None = None,
) -> ZipMembers:
    """The usable files in a zip upload as (member name, bytes); see `ZipMembers`. Messages
    start with `name` (default: the path as given). Members left out are listed in the
    returned iterator's `skipped`."""
    return ZipMembers(
        path,
        name=name,
        max_members=max_members,
        max_total_bytes=max_total_bytes,
        max_ratio=max_ratio,
    )


def _amount(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


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
