"""A backup of a Keystage installation in one file, and its restore into an empty place.

A backup is a gzipped tar file (readable by its owner only) holding:

- `database/keystage.sqlite3` (SQLite: a copy made with SQLite's online backup API, so it is
  consistent while the service writes) or `database/keystage.pgdump` (PostgreSQL: `pg_dump
  --format=custom` inside a snapshot whose row counts the manifest gives);
- `files/data/...`: every file of the data directory (`KEYSTAGE_DATA_DIR`: the kept copies of
  school files, web uploads, built returns, the secret key), except the SQLite database itself,
  which is in `database/`; and `files/uploads/...` when the upload store is kept elsewhere;
- `manifest.json`, last: the format, the Keystage version, when, the database's vendor, the
  migrations applied, the row count of every table, and each member's size and SHA-256.

The database is copied first, then the files: every file the copied database names was
written before it (kept files are written before the rows that point at them commit), so
a backup taken while the service runs restores to a state the service could have been in.

A restore reads the whole backup and checks every member against the manifest before it
changes anything; it then refuses a target that is not empty (a data directory with files in
it, a database with tables), writes the files (0600, folders 0700), loads the database
(SQLite's backup API, or `pg_restore` in one transaction) and checks every table's row count.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

FORMAT = "keystage-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database/keystage.sqlite3"
PGDUMP_MEMBER = "database/keystage.pgdump"
# SQLite keeps these beside its database file; they are the database, not kept files.
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")
CHUNK = 1 << 20


class BackupError(Exception):
    """Something the operator must hear about, in one line."""


class Refused(BackupError):
    """The command was asked for something it will not do (a usage error): a target that is
    not empty, a file that already exists, a backup of another database vendor."""


class Damaged(BackupError):
    """The file is not a Keystage backup, or a member does not match the manifest."""


class Failed(BackupError):
    """The operation itself failed: the database could not be reached or read, `pg_dump` or
    `pg_restore` failed. Nothing is left half-done where it can be helped."""


@dataclass
class Place:
    """Where an installation's data lives: its database (a Django `DATABASES` entry) and its
    folders. The upload store is usually inside the data directory."""

    database: dict
    data_dir: Path
    upload_store: Path

    @classmethod
    def from_settings(cls, alias: str = "default") -> Place:
        from django.conf import settings
        from django.db import connections

        return cls(
            database=dict(connections[alias].settings_dict),
            data_dir=Path(settings.DATA_DIR),
            upload_store=Path(settings.UPLOAD_STORE),
        )

    @property
    def vendor(self) -> str:
        engine = self.database["ENGINE"]
        if engine.endswith("sqlite3"):
            return "sqlite"
        if "postgresql" in engine:
            return "postgresql"
        raise Refused(f"backups of a {engine} database are not supported")

    def roots(self) -> dict[str, Path]:
        """The folders whose files a backup keeps, by their name in the backup."""
        roots = {"data": self.data_dir.resolve()}
        store = self.upload_store.resolve()
        if not store.is_relative_to(roots["data"]):
            roots["uploads"] = store
        return roots

    def sqlite_path(self) -> Path | None:
        if self.vendor != "sqlite":
            return None
        name = str(self.database["NAME"])
        if name.startswith("file:") or name == ":memory:":
            return None  # an in-memory database (tests): nothing of it lies in a folder
        return Path(name).resolve()


# -- backup -----------------------------------------------------------------------------------


def make_backup(out: Path, place: Place | None = None, connection=None) -> dict:
    """Write a backup of `place` (the installation's, by default) to `out`, which must not
    exist. `connection` is the Django connection to the same database (for SQLite's online
    backup). Returns the manifest, with the backup file's own size and SHA-256 added."""
    from django.db import connection as default_connection

    place = place or Place.from_settings()
    connection = connection or default_connection
    out = Path(out).absolute()
    if out.exists() or out.is_symlink():
        raise Refused(f"{out} already exists: give the name of a new file")
    if not out.parent.is_dir():
        raise Refused(f"{out.parent} is not a folder: make it first, or give another --out")
    try:
        return _write_backup(out, place, connection)
    except OSError as e:  # the disk is full, the folder not writable...
        raise Failed(f"cannot write {e.filename or out} ({e.strerror or e}); "
                     "no backup was written") from e  # fmt: skip


def _write_backup(out: Path, place: Place, connection) -> dict:
    from django.db.utils import Error as DatabaseError

    vendor = place.vendor
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".keystage-backup-") as tmp:
        dump = Path(tmp) / ("database.sqlite3" if vendor == "sqlite" else "database.pgdump")
        try:
            if vendor == "sqlite":
                counts, migrations = _sqlite_copy(connection, dump)
            else:
                counts, migrations = _pg_dump(place.database, dump)
        except (DatabaseError, *_driver_errors()) as e:
            raise Failed(f"the database failed ({_first_line(e)}); no backup was written") from e
        if "django_migrations" not in counts:
            raise Refused("the database is not set up yet (no tables): nothing to back up")
        skip = {out, out.with_name(out.name + ".partial"), Path(tmp).resolve()}
        if (db_file := place.sqlite_path()) is not None:
            skip |= {Path(f"{db_file}{side}") for side in SQLITE_SIDE_FILES}
        manifest = {
            "format": FORMAT,
            "keystage_version": _version(),
            "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {
                "vendor": vendor,
                "member": SQLITE_MEMBER if vendor == "sqlite" else PGDUMP_MEMBER,
                "tables": counts,
                "migrations": migrations,
            },
            "roots": sorted(place.roots()),
            "members": {},
        }
        partial = out.with_name(out.name + ".partial")
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as raw:
                sink = _HashingWriter(raw)
                with tarfile.open(fileobj=sink, mode="w:gz", compresslevel=6) as tar:
                    members = manifest["members"]
                    members[manifest["database"]["member"]] = _add(
                        tar, manifest["database"]["member"], dump
                    )
                    for root_name, root in place.roots().items():
                        for path in _files_under(root, skip):
                            name = f"files/{root_name}/{path.relative_to(root).as_posix()}"
                            members[name] = _add(tar, name, path)
                    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
                    info = _tarinfo(MANIFEST, len(body))
                    tar.addfile(info, io.BytesIO(body))
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    manifest["file"] = {"bytes": sink.size, "sha256": sink.sha256.hexdigest()}
    return manifest


def _sqlite_copy(connection, dump: Path) -> tuple[dict[str, int], list[list[str]]]:
    """Copy the database with SQLite's online backup API (one step: a consistent snapshot,
    while other connections go on writing in WAL mode)."""
    connection.ensure_connection()
    target = sqlite3.connect(dump)
    try:
        connection.connection.backup(target)
        counts = _sqlite_counts(target)
        migrations = (
            [list(r) for r in target.execute("SELECT app, name FROM django_migrations ORDER BY id")]
            if "django_migrations" in counts
            else []
        )
    finally:
        target.close()
    os.chmod(dump, 0o600)
    return counts, migrations


def _sqlite_counts(db: sqlite3.Connection) -> dict[str, int]:
    names = [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {n: db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}  # noqa: S608


def _pg_dump(database: dict, dump: Path) -> tuple[dict[str, int], list[list[str]]]:
    """`pg_dump --format=custom` inside a snapshot exported by a transaction that counts every
    table's rows, so the counts are those of the dump."""
    import psycopg

    pg_dump = _tool("pg_dump")
    with psycopg.connect(**_pg_params(database)) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        counts = _pg_counts(conn)
        migrations = (
            [list(r) for r in conn.execute("SELECT app, name FROM django_migrations ORDER BY id")]
            if "django_migrations" in counts
            else []
        )
        if not counts:
            return counts, migrations
        done = subprocess.run(
            [pg_dump, "--format=custom", "--compress=6", f"--snapshot={snapshot}",
             f"--file={dump}", "--dbname", str(database["NAME"])],
            env=_pg_env(database), capture_output=True, text=True, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise Failed(f"the database failed: pg_dump said: {_last_line(done.stderr)}; "
                     "no backup was written")  # fmt: skip
    os.chmod(dump, 0o600)
    return counts, migrations


def _pg_counts(conn) -> dict[str, int]:
    from psycopg import sql

    names = [
        r[0]
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
        )
    ]
    return {
        n: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(n))).fetchone()[0]
        for n in names
    }


def _files_under(root: Path, skip: set[Path]):
    """Regular files under `root`, in name order; symbolic links are not followed."""
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if (here / d).resolve() not in skip)
        for name in sorted(files):
            path = here / name
            if path in skip or path.resolve() in skip or path.is_symlink() or not path.is_file():
                continue
            yield path


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(datetime.now(UTC).timestamp())
    return info


def _add(tar: tarfile.TarFile, name: str, path: Path) -> dict:
    """Add the file as `name`, hashing its bytes as they are written."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        reader = _HashingReader(f)
        tar.addfile(_tarinfo(name, size), reader)
    return {"bytes": size, "sha256": reader.sha256.hexdigest()}


class _HashingReader:
    def __init__(self, f):
        self.f, self.sha256 = f, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.sha256.update(data)
        return data


class _HashingWriter:
    def __init__(self, f):
        self.f, self.sha256, self.size = f, hashlib.sha256(), 0

    def write(self, data) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.f.write(data)

    def flush(self) -> None:
        self.f.flush()


# -- reading a backup ---------------------------------------------------------------------------


def read_manifest(archive: Path) -> dict:
    """The manifest of a backup, after reading every member and checking it against the
    manifest's size and SHA-256. Raises `Damaged`, saying what is wrong."""
    archive = Path(archive)
    seen: dict[str, dict] = {}
    manifest = None
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for info in tar:
                if not info.isfile():
                    raise Damaged(f"{archive}: {info.name!r} is not a file: not a Keystage backup")
                f = tar.extractfile(info)
                if info.name == MANIFEST:
                    manifest = _parse_manifest(archive, f.read(CHUNK * 16))
                    continue
                sha = hashlib.sha256()
                while chunk := f.read(CHUNK):
                    sha.update(chunk)
                seen[info.name] = {"bytes": info.size, "sha256": sha.hexdigest()}
    except (tarfile.TarError, EOFError, OSError, UnicodeError, zlib.error) as e:
        raise Damaged(f"{archive}: not a Keystage backup, or damaged ({_first_line(e)}); "
                      "use another copy of the backup") from e  # fmt: skip
    if manifest is None:
        raise Damaged(f"{archive}: no {MANIFEST} in it: not a Keystage backup, or cut short")
    listed = manifest["members"]
    for name in sorted(set(listed) | set(seen)):
        if name not in seen:
            raise Damaged(f"{archive}: {name} is listed in the manifest but missing: "
                          "use another copy of the backup")  # fmt: skip
        if name not in listed:
            raise Damaged(f"{archive}: {name} is not in the manifest: not a Keystage backup")
        if seen[name] != {k: listed[name].get(k) for k in ("bytes", "sha256")}:
            raise Damaged(f"{archive}: {name} does not match its SHA-256 in the manifest "
                          "(changed or damaged): use another copy of the backup")  # fmt: skip
    return manifest


def _parse_manifest(archive: Path, body: bytes) -> dict:
    try:
        manifest = json.loads(body)
    except ValueError as e:
        raise Damaged(f"{archive}: its {MANIFEST} cannot be read ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Damaged(f"{archive}: not a backup this version of Keystage reads "
                      f"(format {manifest.get('format') if isinstance(manifest, dict) else None!r}, "
                      f"expected {FORMAT!r})")  # fmt: skip
    database = manifest.get("database") or {}
    if database.get("member") not in (SQLITE_MEMBER, PGDUMP_MEMBER) or not isinstance(
        manifest.get("members"), dict
    ):
        raise Damaged(f"{archive}: its {MANIFEST} is incomplete: not a Keystage backup")
    roots = manifest.get("roots")
    well_formed = (
        isinstance(roots, list)
        and "data" in roots
        and isinstance(database.get("tables"), dict)
        and all(isinstance(n, int) for n in database["tables"].values())
        and isinstance(database.get("migrations"), list)
        and all(isinstance(m, list) and len(m) == 2 for m in database["migrations"])
        and database.get("vendor") in ("sqlite", "postgresql")
        and all(
            isinstance(m, dict)
            and isinstance(m.get("sha256"), str)
            and isinstance(m.get("bytes"), int)
            for m in manifest["members"].values()
        )
    )
    if not well_formed:
        raise Damaged(f"{archive}: its {MANIFEST} is incomplete: not a Keystage backup")
    for name in manifest["members"]:
        _member_path(archive, name, roots)
    return manifest


def _member_path(archive: Path, name: str, roots) -> tuple[str, PurePosixPath] | None:
    """(root name, path inside it) of a kept file; None for the database. A name that could
    point outside its folder is refused."""
    if name in (SQLITE_MEMBER, PGDUMP_MEMBER):
        return None
    parts = PurePosixPath(name).parts
    if (
        len(parts) < 3
        or parts[0] != "files"
        or parts[1] not in roots
        or any(p in ("", ".", "..") for p in parts)
        or name.startswith("/")
        or "\\" in name
    ):
        raise Damaged(f"{archive}: member {name!r} is not a Keystage backup's: refused")
    return parts[1], PurePosixPath(*parts[2:])


# -- restore ------------------------------------------------------------------------------------


def restore_backup(archive: Path, place: Place | None = None) -> dict:
    """Restore the backup into `place` (the installation's, by default), which must be empty:
    no files in the data directory (or upload store) and no tables in the database. Returns
    the manifest, with `pending_migrations`: those this version has that the backup has not."""
    place = place or Place.from_settings()
    archive = Path(archive)
    if not archive.is_file():
        raise Refused(f"{archive}: no such file")
    manifest = read_manifest(archive)
    vendor = manifest["database"]["vendor"]
    if vendor != place.vendor:
        raise Refused(f"{archive} holds a {vendor} database and this installation uses "
                      f"{place.vendor}: restore it where DATABASE_URL names a {vendor} database")  # fmt: skip
    known = _known_migrations()
    backed_up = {tuple(m) for m in manifest["database"]["migrations"]}
    newer = sorted(backed_up - known)
    if newer:
        raise Refused(f"{archive} was made by a newer Keystage ({manifest.get('keystage_version')}; "
                      f"migrations this version lacks: {', '.join('.'.join(m) for m in newer[:3])}): "
                      "restore it with that version")  # fmt: skip
    roots = place.roots()
    missing = sorted(set(manifest["roots"]) - set(roots))
    for name in missing:  # the backup kept its upload store apart: it goes into the data dir
        roots[name] = place.upload_store.resolve()
    _check_empty_folders(place, roots)
    _check_empty_database(place)

    made: list[Path] = [r for r in roots.values() if not r.exists()]
    try:
        return _write_restore(archive, manifest, place, roots, made, backed_up, known)
    except OSError as e:
        raise Failed(f"cannot write {e.filename or place.data_dir} ({e.strerror or e}); "
                     "the target is left empty") from e  # fmt: skip


def _write_restore(archive, manifest, place, roots, made, backed_up, known) -> dict:
    vendor = manifest["database"]["vendor"]
    try:
        for root in roots.values():
            root.mkdir(mode=0o700, parents=True, exist_ok=True)
            root.chmod(0o700)  # empty (checked above), and to hold personal data
        work = Path(tempfile.mkdtemp(dir=roots["data"], prefix=".keystage-restore-"))
        try:
            dump = _extract(archive, manifest, roots, work)
            if vendor == "sqlite":
                _sqlite_restore(dump, place)
            else:
                _pg_restore(dump, place.database)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        counts = _target_counts(place)
    except BaseException:
        _undo(place, roots, made)
        raise
    if counts != manifest["database"]["tables"]:
        differ = sorted(
            t
            for t in set(counts) | set(manifest["database"]["tables"])
            if counts.get(t) != manifest["database"]["tables"].get(t)
        )
        _undo(place, roots, made)
        left = "" if vendor == "sqlite" else "; empty the database"
        raise Failed(f"the database failed: the restored tables do not have the rows the "
                     f"backup counted ({', '.join(differ[:3])}){left} and try again")  # fmt: skip
    manifest["pending_migrations"] = sorted(known - backed_up)
    return manifest


def _known_migrations() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _check_empty_folders(place: Place, roots: dict[str, Path]) -> None:
    db_file = place.sqlite_path()
    side = {Path(f"{db_file}{s}") for s in SQLITE_SIDE_FILES} if db_file else set()
    for root in roots.values():
        if not root.exists():
            continue
        if not root.is_dir():
            raise Refused(f"{root} is not a folder: restore into an empty data directory")
        there = sorted(p.name for p in root.iterdir() if p.resolve() not in side)
        if there:
            shown = ", ".join(there[:3]) + (f" and {len(there) - 3} more" if len(there) > 3 else "")
            raise Refused(f"{root} is not empty ({shown}): restore into an empty data "
                          "directory (set KEYSTAGE_DATA_DIR to a new folder)")  # fmt: skip


def _check_empty_database(place: Place) -> None:
    tables = _target_counts(place)
    if tables:
        where = place.sqlite_path() or place.database.get("NAME")
        raise Refused(f"the database {where} is not empty ({len(tables)} tables): restore into "
                      "an empty database (a new DATABASE_URL, or a new KEYSTAGE_DATA_DIR)")  # fmt: skip


def _target_counts(place: Place) -> dict[str, int]:
    """Every table's row count in the target database ({} when it has none, or no file)."""
    if place.vendor == "sqlite":
        path = place.sqlite_path()
        if path is None:
            raise Refused("cannot restore into an in-memory SQLite database")
        if not path.exists():
            if not path.parent.is_dir() and path.parent.exists():
                raise Failed(f"the database failed (unable to open {path}: "
                             f"{path.parent} is not a folder)")  # fmt: skip
            return {}
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                return _sqlite_counts(db)
            finally:
                db.close()
        except sqlite3.Error as e:
            raise Failed(f"the database failed ({_first_line(e)})") from e
    import psycopg

    try:
        with psycopg.connect(**_pg_params(place.database)) as conn:
            return _pg_counts(conn)
    except psycopg.Error as e:
        raise Failed(f"the database failed ({_first_line(e)})") from e


def _extract(archive: Path, manifest: dict, roots: dict[str, Path], work: Path) -> Path:
    """Write the kept files into their folders and the database member into `work`, checking
    each against the manifest again as it is written (the file could change between reads)."""
    dump = None
    with tarfile.open(archive, mode="r:gz") as tar:
        for info in tar:
            if info.name == MANIFEST:
                continue
            where = _member_path(archive, info.name, manifest["roots"])
            if where is None:
                target = dump = work / PurePosixPath(info.name).name
            else:
                root = roots[where[0]]
                target = root.joinpath(*where[1].parts)
                if not target.resolve().is_relative_to(root):
                    raise Damaged(f"{archive}: member {info.name!r} points outside its folder")
                _mkdirs(target.parent, root)
            sha = hashlib.sha256()
            source = tar.extractfile(info)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                while chunk := source.read(CHUNK):
                    sha.update(chunk)
                    f.write(chunk)
                f.flush()
                os.fsync(f.fileno())
            if sha.hexdigest() != manifest["members"][info.name]["sha256"]:
                raise Damaged(f"{archive}: {info.name} changed while it was restored")
    if dump is None:
        raise Damaged(f"{archive}: it holds no database")
    return dump


def _mkdirs(folder: Path, root: Path) -> None:
    missing = []
    while folder != root and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        f.mkdir(mode=0o700)


def _sqlite_restore(dump: Path, place: Place) -> None:
    path = place.sqlite_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    source, target = sqlite3.connect(dump), sqlite3.connect(path)
    try:
        source.backup(target)
    except sqlite3.Error as e:
        raise Failed(f"the database failed ({_first_line(e)})") from e
    finally:
        source.close()
        target.close()
    os.chmod(path, 0o600)


def _pg_restore(dump: Path, database: dict) -> None:
    """`pg_restore` in one transaction: when it fails, the database is left as empty as it
    was. Objects are owned by the user of DATABASE_URL (`--no-owner`)."""
    done = subprocess.run(
        [_tool("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
         "--exit-on-error", "--dbname", str(database["NAME"]), str(dump)],
        env=_pg_env(database), capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise Failed(f"the database failed: pg_restore said: {_last_line(done.stderr)}; "
                     "the database is left empty")  # fmt: skip


def _undo(place: Place, roots: dict[str, Path], made: list[Path]) -> None:
    """Leave the target as empty as it was found: the folders' contents (they were empty), and
    the SQLite file when there was none."""
    for root in roots.values():
        if root.is_dir():
            for p in root.iterdir():
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
    if (path := place.sqlite_path()) is not None and path.exists():
        for side in SQLITE_SIDE_FILES:
            Path(f"{path}{side}").unlink(missing_ok=True)
    for folder in made:
        shutil.rmtree(folder, ignore_errors=True)


# -- helpers ------------------------------------------------------------------------------------


def _driver_errors() -> tuple[type[Exception], ...]:
    import psycopg

    return (sqlite3.Error, psycopg.Error)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise Failed(f"{name} is not installed (scripts/setup installs it, or "
                     "apt-get install postgresql-client)")  # fmt: skip
    return found


def _pg_params(database: dict) -> dict:
    params = {
        "dbname": database.get("NAME") or "postgres",
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
    }
    options = {
        k: v
        for k, v in (database.get("OPTIONS") or {}).items()
        if k in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout")
    }
    return {k: v for k, v in {**params, **options}.items() if v is not None}


def _pg_env(database: dict) -> dict:
    """The environment for pg_dump and pg_restore: the connection in PG* variables, so no
    password is ever on a command line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    names = {"user": "PGUSER", "password": "PGPASSWORD", "host": "PGHOST", "port": "PGPORT",
             "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
             "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT"}  # fmt: skip
    for key, value in _pg_params(database).items():
        if key in names:
            env[names[key]] = str(value)
    return env


def _version() -> str:
    from keystage import __version__

    return __version__


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1] if lines else "no reason given"
