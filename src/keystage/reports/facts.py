"""Rebuilding the fact tables from current pupil records.

School facts are counted with the engine (`measures.count_pupils`); LA facts are the sums of
their schools' facts, region facts of their LAs', England's of the regions'. `Counts` add up,
so every level is pupil-weighted and a school's new file touches only its own rows and the
three sums above it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict

from django.db import transaction
from django.utils import timezone

from keystage.engine import definition as definitions
from keystage.engine.measures import Counts, count_pupils
from keystage.orgs.models import LocalAuthority, Region, School
from keystage.reports.models import NATIONAL_CODE, Fact
from keystage.submissions.models import Collection, PupilRecord

CHUNK = 20_000
# Characteristics that make groups; ethnicity (about twenty codes) waits for the gap pages.
GROUPED_CHARACTERISTICS = ("fsm", "sen", "eal")
_TERMS = {**dict.fromkeys((9, 10, 11, 12), "autumn"), **dict.fromkeys((1, 2, 3, 4), "spring")}
_TERMS.update(dict.fromkeys((5, 6, 7, 8), "summer"))


def counts_to_json(counts: Counts) -> dict:
    return asdict(counts)


def counts_from_json(data: dict) -> Counts:
    return Counts(
        pupils=data["pupils"],
        codes={k: dict(v) for k, v in data["codes"].items()},
        combined_eligible=data["combined_eligible"],
        combined_met=data["combined_met"],
        combined_higher=data["combined_higher"],
    )


def term_of_birth(dob: str) -> str | None:
    """autumn (born September-December), spring (January-April) or summer (May-August); None
    when the date of birth is not a real ISO date."""
    try:
        return _TERMS[dt.date.fromisoformat(dob).month]
    except (TypeError, ValueError):
        return None


def groups_of(dob: str, sex: str, characteristics: dict | None) -> list[str]:
    """The pupil groups a pupil is counted in, "all" first."""
    found = ["all"]
    sex = (sex or "").strip().upper()
    if sex in ("M", "F"):
        found.append(f"sex:{sex}")
    term = term_of_birth(dob)
    if term:
        found.append(f"term:{term}")
    for key in GROUPED_CHARACTERISTICS:
        value = str((characteristics or {}).get(key) or "").strip().upper()
        if not value:
            continue
        if key == "fsm":
            # CTF gives the date FSM started; CSV files say Y/N (or yes/no, true/false).
            value = "N" if value in ("N", "NO", "FALSE", "0") else "Y"
        found.append(f"{key}:{value[:30]}")
    return found


def _scaled(counts: Counts, k: int) -> Counts:
    return Counts(
        pupils=counts.pupils * k,
        codes={s: {c: n * k for c, n in tally.items()} for s, tally in counts.codes.items()},
        combined_eligible=counts.combined_eligible * k,
        combined_met=counts.combined_met * k,
        combined_higher=counts.combined_higher * k,
    )


def _school_counts(collection: Collection, school_ids: list[int] | None) -> dict:
    """{school_id: {group: Counts}} from current pupil records. Pupils with the same outcomes
    count the same, so each distinct set of outcomes is counted once by the engine and
    multiplied: the country has a few hundred such sets, not 650,000."""
    definition = definitions.load(collection.code)
    keys = definition.subject_keys
    patterns: dict[tuple, Counts] = {}
    tallies: dict[int, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    rows = PupilRecord.objects.filter(collection=collection, is_current=True)
    if school_ids is not None:
        rows = rows.filter(school_id__in=school_ids)
    rows = rows.values_list("school_id", "outcomes", "dob", "sex", "characteristics")
    for school_id, outcomes, dob, sex, characteristics in rows.iterator(chunk_size=CHUNK):
        pattern = tuple(outcomes.get(k) for k in keys)
        if pattern not in patterns:
            one = {k: v for k, v in zip(keys, pattern, strict=True) if v is not None}
            patterns[pattern] = count_pupils([one], definition)
        school = tallies[school_id]
        for group in groups_of(dob, sex, characteristics):
            school[group][pattern] += 1
    return {
        school_id: {
            group: sum((_scaled(patterns[p], n) for p, n in tally.items()), Counts())
            for group, tally in groups.items()
        }
        for school_id, groups in tallies.items()
    }


def _fact(collection, level, code, group, counts, now, la_id=None, school_id=None) -> Fact:
    return Fact(
        collection=collection, level=level, area_code=code, la_id=la_id, school_id=school_id,
        group=group, pupils=counts.pupils, counts=counts_to_json(counts), updated_at=now,
    )  # fmt: skip


def _sums(facts: Iterable[tuple[str, str, dict]]) -> dict[str, dict[str, Counts]]:
    """{area: {group: Counts}} summed from (area, group, counts JSON) rows."""
    out: dict[str, dict[str, Counts]] = defaultdict(dict)
    for area, group, data in facts:
        counts = counts_from_json(data)
        mine = out[area]
        mine[group] = mine[group] + counts if group in mine else counts
    return out


def rebuild_facts(collection: Collection, *, schools: Iterable[int] | None = None) -> int:
    """Recount the school facts of `schools` (ids; every school when None) from their current
    pupil records, then re-add the LA, region and national facts above them, in one
    transaction. Returns the number of fact rows written."""
    school_ids = None if schools is None else sorted(set(schools))
    now = timezone.now()
    counted = _school_counts(collection, school_ids)
    place = School.objects.all() if school_ids is None else School.objects.filter(pk__in=school_ids)
    place = {
        pk: (laestab, la_id) for pk, laestab, la_id in place.values_list("pk", "laestab", "la_id")
    }
    la_ids = {la_id for _, la_id in place.values()}
    written = 0
    with transaction.atomic():
        facts = Fact.objects.filter(collection=collection)
        old = facts.filter(level=Fact.Level.SCHOOL)
        if school_ids is not None:
            old = old.filter(school_id__in=school_ids)
        old.delete()
        new = [
            _fact(collection, Fact.Level.SCHOOL, place[sid][0], group, counts, now, place[sid][1], sid)
            for sid, groups in counted.items()
            for group, counts in groups.items()
        ]  # fmt: skip
        Fact.objects.bulk_create(new, batch_size=2000)
        written += len(new)

        # LAs: the sum of their schools
        las = (
            LocalAuthority.objects.all()
            if school_ids is None
            else LocalAuthority.objects.filter(pk__in=la_ids)
        )
        las = {
            pk: (code, region_id)
            for pk, code, region_id in las.values_list("pk", "code", "region_id")
        }
        facts.filter(level=Fact.Level.LA, la_id__in=las).delete()
        summed = _sums(
            facts.filter(level=Fact.Level.SCHOOL, la_id__in=las).values_list(
                "la_id", "group", "counts"
            )
        )
        new = [
            _fact(collection, Fact.Level.LA, las[la_id][0], group, counts, now, la_id)
            for la_id, groups in summed.items()
            for group, counts in groups.items()
        ]
        Fact.objects.bulk_create(new, batch_size=2000)
        written += len(new)

        # Regions: the sum of their LAs
        region_ids = {region_id for _, region_id in las.values()}
        regions = dict(Region.objects.filter(pk__in=region_ids).values_list("pk", "dfe_code"))
        facts.filter(level=Fact.Level.REGION, area_code__in=regions.values()).delete()
        la_region = dict(
            LocalAuthority.objects.filter(region_id__in=region_ids).values_list("pk", "region_id")
        )
        rows = facts.filter(level=Fact.Level.LA, la_id__in=la_region).values_list(
            "la_id", "group", "counts"
        )
        summed = _sums((la_region[la_id], group, data) for la_id, group, data in rows)
        new = [
            _fact(collection, Fact.Level.REGION, regions[region_id], group, counts, now)
            for region_id, groups in summed.items()
            for group, counts in groups.items()
        ]
        Fact.objects.bulk_create(new, batch_size=2000)
        written += len(new)

        # England: the sum of the regions
        facts.filter(level=Fact.Level.NATIONAL).delete()
        rows = facts.filter(level=Fact.Level.REGION).values_list("level", "group", "counts")
        summed = _sums(rows)
        new = [
            _fact(collection, Fact.Level.NATIONAL, NATIONAL_CODE, group, counts, now)
            for groups in summed.values()
            for group, counts in groups.items()
        ]
        Fact.objects.bulk_create(new, batch_size=2000)
        written += len(new)
    return written
