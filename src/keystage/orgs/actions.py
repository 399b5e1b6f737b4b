"""State changes for organisations: loading the reference LAs and the schools register."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from keystage import reference
from keystage.audit.models import record
from keystage.engine import definition as definitions
from keystage.engine import register as register_reader
from keystage.orgs.models import LocalAuthority, Region, School


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
    "expected_ks1",
)


@transaction.atomic
def do_load_register(
    path: str | Path, *, user=None, collection_id: str | None = None
) -> RegisterLoad:
    """Load a GIAS establishment extract. Schools are matched on URN, so loading the same or a
    newer extract again updates schools and never duplicates them."""
    definition = definitions.load(collection_id or definitions.DEFAULT_COLLECTION)
    las = {la.code: la.pk for la in LocalAuthority.objects.all()}
    existing = {s.urn: s for s in School.objects.all()}
    result = RegisterLoad()
    extract = register_reader.read_register(path)
    to_create, to_update = [], []
    for entry in extract:
        if entry.la not in las:
            result.skipped.append((entry.line, f"LA {entry.la} is not an English LA of 2023"))
            continue
        values = {
            "la_id": las[entry.la],
            "estab": entry.estab,
            "laestab": f"{entry.la}{entry.estab}",
            "name": entry.name,
            "type_name": entry.type_name,
            "phase_name": entry.phase_name,
            "status_name": entry.status_name,
            "open_date": entry.open_date,
            "close_date": entry.close_date,
            "low_age": entry.low_age,
            "high_age": entry.high_age,
            "expected_ks1": register_reader.expected_for_ks1(entry, definition),
        }
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
            result.unchanged += 1
    result.skipped.extend(getattr(extract, "skipped", []))
    School.objects.bulk_create(to_create, batch_size=2000)
    School.objects.bulk_update(to_update, _FIELDS, batch_size=2000)
    result.created, result.updated = len(to_create), len(to_update)
    record(
        "register.loaded",
        user=user,
        file=Path(path).name,
        created=result.created,
        updated=result.updated,
        skipped=len(result.skipped),
    )
    return result
