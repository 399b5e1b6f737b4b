"""The bytes of every school file imported, kept under `settings.UPLOAD_STORE` so that any
upload can be read again exactly as the school sent it.

Each importing process appends the files it reads to a pack file of its own, one per run
("packs/20230626-080828-4711-1a2b3c4d.pack"), and `Upload.stored_path` says where a file's bytes
are: "packs/NAME.pack@OFFSET+LENGTH". A national import reads 16,500 files, and creating a file
in the store for each of them (a directory entry, an inode, a journal write) took about a sixth
of the import's time on a 2-core machine; appending to one open file costs a write each.
Uploads stored before packs name a file of their own ("ab/abcdef..."): `read_kept` reads both.

A rejected file is kept only up to a bound (`KEYSTAGE_KEEP_REJECTED_BYTES`, its first bytes):
a zip bomb or a disk image sent by mistake must not fill the store for good. The upload's
`size` and `sha256` are those of the whole file, so `kept_length` < `size` says the copy is
partial.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import time
from pathlib import Path

PACKS = "packs"
_IN_PACK = re.compile(r"(?P<pack>packs/[\w.-]+\.pack)@(?P<offset>\d+)\+(?P<length>\d+)")


class Keeper:
    """Keeps files' bytes for one process. Each file is written through to the operating
    system before `keep` returns, so a stored upload never points at bytes a crash could lose
    with the process. Not for sharing between processes: each has its own pack."""

    def __init__(
        self,
        store: Path,
        already: set[str] | frozenset[str] = frozenset(),
        *,
        rejected_limit: int | None = None,
    ):
        self.store = Path(store)
        # How much of a rejected file is kept (None: all of it).
        self.rejected_limit = rejected_limit
        # Hashes of files imported before (their copies are kept already, and the import
        # stores nothing for the same bytes again) and of files kept by this keeper.
        self._already = already
        self._kept: dict[str, str] = {}
        self._pack = None
        self._name = ""
        self._offset = 0

    def keep(
        self, sha256: str, content: bytes | None, path: str | Path, *, rejected: bool = False
    ) -> str:
        """Keep the file (`content`, or the file at `path` when it was too large to read into
        memory); of a `rejected` file only its first `rejected_limit` bytes. Returns where,
        relative to the store; "" for bytes imported before."""
        limit = self.rejected_limit if rejected else None
        if sha256 in self._already:
            return ""
        if sha256 in self._kept:
            return self._kept[sha256]
        pack = self._open()
        offset = self._offset
        if content is not None:
            pack.write(content if limit is None else content[:limit])
        else:
            with open(path, "rb") as f:
                if limit is None:
                    shutil.copyfileobj(f, pack, 1 << 20)
                else:
                    left = limit
                    while left > 0 and (chunk := f.read(min(left, 1 << 20))):
                        pack.write(chunk)
                        left -= len(chunk)
        pack.flush()
        self._offset = pack.tell()
        where = f"{self._name}@{offset}+{self._offset - offset}"
        self._kept[sha256] = where
        return where

    def _open(self):
        if self._pack is None:
            folder = self.store / PACKS
            folder.mkdir(parents=True, exist_ok=True)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            name = f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}.pack"
            self._pack = open(folder / name, "xb")  # noqa: SIM115 (open for the keeper's life)
            # Held while the pack is open (the system drops it when the process dies): a pack
            # nobody holds is one that recovery may reclaim unstored bytes from.
            fcntl.flock(self._pack.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._name = f"{PACKS}/{name}"
            self._offset = 0
        return self._pack

    def close(self) -> None:
        if self._pack is not None:
            self._pack.close()
            self._pack = None


def kept_length(stored_path: str) -> int | None:
    """How many bytes of an upload are kept, from where they are; None when that cannot be
    told from the place alone (a file of its own, or nothing kept)."""
    m = _IN_PACK.fullmatch(stored_path or "")
    return int(m["length"]) if m else None


def read_kept(store: Path, stored_path: str) -> bytes:
    """The bytes of a kept file, from a pack ("packs/NAME.pack@OFFSET+LENGTH") or from a file
    of its own (the store's older layout)."""
    m = _IN_PACK.fullmatch(stored_path)
    if m is None:
        return (Path(store) / stored_path).read_bytes()
    with open(Path(store) / m["pack"], "rb") as f:
        f.seek(int(m["offset"]))
        data = f.read(int(m["length"]))
    if len(data) != int(m["length"]):
        raise OSError(f"{stored_path}: the pack file is shorter than the upload it holds")
    return data


def kept_span(stored_path: str) -> tuple[str, int, int]:
    """(file relative to the store, offset, length) of a kept file's bytes: a span of a pack,
    or a whole file of its own (the older layout, length -1: the file's size)."""
    m = _IN_PACK.fullmatch(stored_path)
    if m is None:
        return stored_path, 0, -1
    return m["pack"], int(m["offset"]), int(m["length"])
