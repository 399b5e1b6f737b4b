"""State changes for organisations: loading the reference LAs, the schools register and the
register of early-years settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from keystage import reference
from keystage.audit.models import record
from keystage.engine import definition as definitions
from keystage.engine import register as register_reader
from keystage.orgs.models import ExpectedSchool, LocalAuthority, Region, School


@transaction.atomic
def do_load_reference() -> tuple[int, int]:
    """Create or update the 9 regions and 153 LAs shipped with the product."""
    regions = {}
    for name, (ons, dfe) in reference.REGION_CODES.items():
        regions[name], _ = Region.objects.update_or_create(
            name=name, defaults={"ons_code": ons, "dfe_code": dfe}
        )
    for la in reference.local_authorities():
        LocalAuthority.objects.update_or_create(
            code=la.code, defaults={"name": la.name, "region": regions[la.region]}
        )
    return Region.objects.count(), LocalAuthority.objects.count()


@dataclass
class RegisterLoad:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


_FIELDS = (
    "la_id",
    "estab",
    "laestab",
    "name",
    "type_name",
    "phase_name",
    "status_name",
    "open_date",
    "close_date",
    "low_age",
    "high_age",
)


@transaction.atomic
def do_load_register(path: str | Path, *, user=None) -> RegisterLoad:
    """Load a GIAS establishment extract. Schools are matched on URN, so loading the same or a
    newer extract again updates schools and never duplicates them. Which collections each
    school is expected to submit (`ExpectedSchool`) is worked out again for every shipped
    definition; a school whose expected collections changed counts as updated."""
    result = _load(register_reader.read_register(path))
    record("register.loaded", user=user, file=Path(path).name, created=result.created,
           updated=result.updated, skipped=len(result.skipped))  # fmt: skip
    return result


@transaction.atomic
def do_load_settings(path: str | Path, *, user=None) -> RegisterLoad:
    """Load a register of early-years settings (PVI settings, which GIAS does not list: the
    columns of `engine.register.SETTINGS_REQUIRED_COLUMNS`, docs/cli.md). Each is held as a
    `School` with no establishment number, its 6-digit early-years URN standing for its
    LAESTAB, matched on URN as a school is; the collections that take settings (the EYFS
    profile's) expect it as their definitions' establishment tests say."""
    patterns = sorted({
        str(d.establishments["setting_urn"]) for d in map(definitions.load, definitions.available())
        if d.establishments.get("setting_urn")
    })  # fmt: skip
    if not patterns:
        raise register_reader.RegisterError(
            f"{Path(path).name}: no collection Keystage ships takes early-years settings"
        )
    pattern = "|".join(f"(?:{p.strip('^$')})" for p in patterns)
    result = _load(register_reader.read_settings_register(path, f"^(?:{pattern})$"))
    record("settings.loaded", user=user, file=Path(path).name, created=result.created,
           updated=result.updated, skipped=len(result.skipped))  # fmt: skip
    return result


def _load(extract) -> RegisterLoad:
    tests = _expectations()
    las = {la.code: la.pk for la in LocalAuthority.objects.all()}
    existing = {s.urn: s for s in School.objects.all()}
    held = _held()
    result = RegisterLoad()
    to_create, to_update, same = [], [], []  # same: rows of schools whose fields are as held
    wanted: dict[str, set[str]] = {}  # urn: the collections it is expected in
    for entry in extract:
        if entry.la not in las:
            result.skipped.append((entry.line, f"LA {entry.la} is not an English LA of 2023"))
            continue
        values = {
            "la_id": las[entry.la],
            "estab": entry.estab,
            "laestab": entry.laestab,
            "name": entry.name,
            "type_name": entry.type_name,
            "phase_name": entry.phase_name,
            "status_name": entry.status_name,
            "open_date": entry.open_date,
            "close_date": entry.close_date,
            "low_age": entry.low_age,
            "high_age": entry.high_age,
        }
        codes = {code for code, expected in tests if expected(entry)}
        school = existing.get(entry.urn)
        if school is None:
            school = School(urn=entry.urn, **values)
            existing[entry.urn] = school
            to_create.append(school)
        elif any(getattr(school, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(school, k, v)
            if school.pk is not None and school not in to_update:
                to_update.append(school)
        else:
            same.append(entry.urn)
        wanted[entry.urn] = codes
    result.skipped.extend(getattr(extract, "skipped", []))
    School.objects.bulk_create(to_create, batch_size=2000)
    School.objects.bulk_update(to_update, _FIELDS, batch_size=2000)
    # A school whose fields are as held but whose expected collections changed is updated.
    moved = set(same) & (_store_expected(existing, wanted, held) - {s.urn for s in to_create})
    result.created = len(to_create)
    result.updated = len(to_update) + len(moved)
    result.unchanged = sum(1 for urn in same if urn not in moved)
    return result


@transaction.atomic
def do_refresh_expected(*, user=None) -> int:
    """Work out again, from the schools as stored, which collections expect each school: after
    an upgrade that ships a new collection's definition (`keystage init` runs it), its schools
    are expected without waiting for the next register. Returns how many schools changed; an
    audit row only when some did."""
    tests = _expectations()
    la_codes = dict(LocalAuthority.objects.values_list("pk", "code"))
    schools = {s.urn: s for s in School.objects.all()}
    wanted = {}
    for s in schools.values():
        entry = register_reader.SchoolEntry(
            urn=s.urn, la=la_codes[s.la_id], estab=s.estab, name=s.name, type_name=s.type_name,
            phase_name=s.phase_name, status_name=s.status_name, open_date=s.open_date,
            close_date=s.close_date, low_age=s.low_age, high_age=s.high_age, line=0,
        )  # fmt: skip
        wanted[s.urn] = {code for code, expected in tests if expected(entry)}
    changed = len(_store_expected(schools, wanted, _held()))
    if changed:
        record("register.expected_refreshed", user=user, schools=changed)
    return changed


def _expectations() -> list[tuple[str, Callable[[register_reader.SchoolEntry], bool]]]:
    """(collection id, whether it expects a register entry) for every shipped definition."""
    return [
        (code, register_reader.expects(definitions.load(code))) for code in definitions.available()
    ]


def _held() -> dict[int, set[str]]:
    held: dict[int, set[str]] = {}
    for school_id, code in ExpectedSchool.objects.values_list("school_id", "collection"):
        held.setdefault(school_id, set()).add(code)
    return held


def _store_expected(
    schools: dict[str, School], wanted: dict[str, set[str]], held: dict[int, set[str]]
) -> set[str]:
    """Make `ExpectedSchool` say `wanted` for the register's schools (schools not in the
    register keep theirs); return the URNs whose collections changed."""
    add, drop, changed = [], [], set()
    for urn, codes in wanted.items():
        school = schools[urn]
        had = held.get(school.pk, set())
        if codes == had:
            continue
        changed.add(urn)
        add.extend((school.pk, c) for c in codes - had)
        drop.extend((school.pk, c) for c in had - codes)
    for code in {c for _, c in drop}:
        ids = [pk for pk, c in drop if c == code]
        for i in range(0, len(ids), 2000):
            ExpectedSchool.objects.filter(collection=code, school_id__in=ids[i : i + 2000]).delete()
    _insert_expected(add)
    return changed


def _insert_expected(rows: list[tuple[int, str]]) -> None:
    """Insert (school id, collection) rows as plain rows, not model instances: a first load
    adds some 100,000 (most schools in each of six collections), and bulk_create's work per
    instance took longer than the rest of the load. PostgreSQL takes them as two arrays in one
    statement (a long VALUES list cost more in parsing the parameters than in inserting)."""
    if not rows:
        return
    table = connection.ops.quote_name(ExpectedSchool._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (school_id, collection) "  # noqa: S608
                "SELECT * FROM unnest(%s::bigint[], %s::varchar[])",
                [[pk for pk, _ in rows], [code for _, code in rows]],
            )
            return
        for i in range(0, len(rows), 1000):
            batch = rows[i : i + 1000]
            values = ", ".join(["(%s, %s)"] * len(batch))
            cursor.execute(
                f"INSERT INTO {table} (school_id, collection) VALUES {values}",  # noqa: S608
                [v for row in batch for v in row],
            )
