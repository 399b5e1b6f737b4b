"""Report rows read from the fact tables only (never from pupil records): a summary of every
measure with comparators, gaps in percentage points by pupil group, and England's and the
regions' figures with coverage and confidence intervals.

Percentages are rounded half up to one decimal place (`measures.rounded`); gaps are worked
out from the unrounded percentages, then rounded the same way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from keystage.engine import definition as definitions
from keystage.engine.measures import measures, rounded, wilson_interval
from keystage.orgs.models import LocalAuthority, Region, School
from keystage.reports.facts import counts_from_json
from keystage.reports.models import NATIONAL_CODE, Fact
from keystage.submissions.models import Collection

PLACES = 1
GAP_GROUPS = ("all", "sex:F", "sex:M", "term:autumn", "term:spring", "term:summer")

SUMMARY_FIELDS = (
    "level", "code", "name", "subject", "pupils", "eligible", "met", "met_percent", "higher",
    "higher_percent",
)  # fmt: skip
GAP_FIELDS = (
    "group", "subject", "measure", "area", "area_percent", "la_percent", "la_gap",
    "region_percent", "region_gap", "national_percent", "national_gap",
)  # fmt: skip
NATIONAL_FIELDS = (
    "level", "code", "name", "las_loaded", "las_expected", "schools_loaded", "schools_expected",
    "pupils", "subject", "eligible", "met_percent", "met_low", "met_high", "higher_percent",
    "higher_low", "higher_high",
)  # fmt: skip


class AreaNotFound(LookupError):
    """The LA, school or region asked for is not known; the message says which."""


@dataclass(frozen=True)
class Area:
    level: str
    code: str
    name: str


def areas(*, la: str | None = None, school: str | None = None, region: str | None = None):
    """The area asked for, then its comparators (its LA, its region, England)."""
    england = Area("national", NATIONAL_CODE, "England")
    if school:
        s = School.objects.select_related("la__region").filter(laestab=school).first()
        if s is None:
            raise AreaNotFound(f"school {school} is not in the schools register")
        r = s.la.region
        return [
            Area("school", s.laestab, s.name),
            Area("la", s.la.code, s.la.name),
            Area("region", r.dfe_code, r.name),
            england,
        ]
    if la:
        a = LocalAuthority.objects.select_related("region").filter(code=la).first()
        if a is None:
            raise AreaNotFound(f"LA {la} is not an English LA code")
        return [
            Area("la", a.code, a.name),
            Area("region", a.region.dfe_code, a.region.name),
            england,
        ]
    if region:
        r = (
            Region.objects.filter(name__iexact=region).first()
            or Region.objects.filter(dfe_code=region).first()
            or Region.objects.filter(ons_code__iexact=region).first()
        )
        if r is None:
            names = ", ".join(Region.objects.values_list("name", flat=True))
            raise AreaNotFound(f"region {region!r} is not known; use one of: {names}")
        return [Area("region", r.dfe_code, r.name), england]
    return [england]


def _measures_of(collection: Collection, area: Area, groups) -> dict:
    """{group: measures dict} of an area's facts (groups without pupils are left out)."""
    definition = definitions.load(collection.code)
    rows = Fact.objects.filter(
        collection=collection, level=area.level, area_code=area.code, group__in=groups
    ).values_list("group", "counts")
    return {group: measures(counts_from_json(data), definition) for group, data in rows}


def _by_subject(m: dict | None):
    """(subject, eligible, met, met_percent, higher, higher_percent), subjects then combined."""
    if m is None:
        return
    for key, s in m["subjects"].items():
        yield key, s["eligible"], s["met"], s["met_percent"], s["higher"], s["higher_percent"]
    c = m["combined"]
    yield "combined", c["eligible"], c["met"], c["met_percent"], c["higher"], c["higher_percent"]


def summary(collection: Collection, **where) -> list[dict]:
    """Every measure of the area and of each comparator, one row per area and subject."""
    out = []
    for area in areas(**where):
        m = _measures_of(collection, area, ["all"]).get("all")
        for subject, eligible, met, met_p, higher, higher_p in _by_subject(m):
            out.append({
                "level": area.level, "code": area.code, "name": area.name, "subject": subject,
                "pupils": m["pupils"], "eligible": eligible, "met": met,
                "met_percent": rounded(met_p, PLACES), "higher": higher,
                "higher_percent": rounded(higher_p, PLACES),
            })  # fmt: skip
    return out


def gap(collection: Collection, **where) -> list[dict]:
    """The area's percentages minus each comparator's, in percentage points, per pupil group
    (all, sex, term of birth), subject and measure (met = expected standard or above, higher =
    greater depth). A comparator that does not apply (an LA's own LA) is empty."""
    found = areas(**where)
    area, comparators = found[0], {a.level: a for a in found[1:]}
    if area.level == "national":
        raise AreaNotFound("a gap needs an area below England: give --la, --school or --region")
    mine = _measures_of(collection, area, GAP_GROUPS)
    theirs = {level: _measures_of(collection, a, GAP_GROUPS) for level, a in comparators.items()}
    out = []
    for group in GAP_GROUPS:
        own = {row[0]: row for row in _by_subject(mine.get(group))}
        other = {
            level: {row[0]: row for row in _by_subject(m.get(group))} for level, m in theirs.items()
        }
        for subject, row in own.items():
            for measure, index in (("met", 3), ("higher", 5)):
                value = row[index]
                if row[4] is None and measure == "higher":
                    continue  # no greater depth in this subject (science)
                line = {
                    "group": group, "subject": subject, "measure": measure, "area": area.code,
                    "area_percent": rounded(value, PLACES),
                }  # fmt: skip
                for level in ("la", "region", "national"):
                    theirs_row = other.get(level, {}).get(subject)
                    them = theirs_row[index] if theirs_row else None
                    line[f"{level}_percent"] = rounded(them, PLACES)
                    line[f"{level}_gap"] = (
                        None if value is None or them is None else rounded(value - them, PLACES)
                    )
                out.append(line)
    return out


def _interval(k: int | None, n: int) -> tuple:
    if k is None:
        return None, None
    found = wilson_interval(k, n)
    if found is None:
        return None, None
    return rounded(found[0], PLACES), rounded(found[1], PLACES)


def national(collection: Collection) -> list[dict]:
    """England and each region: coverage (LAs and schools with data against those expected to
    submit, pupils) and every percentage with its 95% Wilson interval."""
    region_of_la = dict(LocalAuthority.objects.values_list("pk", "region__dfe_code"))
    expected_schools = Counter(
        School.objects.filter(expected_ks1=True).values_list("la__region__dfe_code", flat=True)
    )
    expected_las = Counter(
        dict(
            School.objects.filter(expected_ks1=True)
            .values_list("la_id", "la__region__dfe_code")
            .distinct()
        ).values()
    )
    loaded = Fact.objects.filter(collection=collection, group="all")
    schools_loaded = Counter(
        region_of_la[la_id]
        for la_id in loaded.filter(level="school").values_list("la_id", flat=True)
    )
    las_loaded = Counter(
        region_of_la[la_id] for la_id in loaded.filter(level="la").values_list("la_id", flat=True)
    )
    areas_ = [Area("national", NATIONAL_CODE, "England")] + [
        Area("region", code, name)
        for code, name in Region.objects.order_by("dfe_code").values_list("dfe_code", "name")
    ]
    out = []
    for area in areas_:

        def total(counter, area=area):
            return sum(counter.values()) if area.level == "national" else counter[area.code]

        m = _measures_of(collection, area, ["all"]).get("all")
        for subject, eligible, met, met_p, higher, higher_p in _by_subject(m):
            met_low, met_high = _interval(met, eligible)
            higher_low, higher_high = _interval(higher, eligible)
            out.append({
                "level": area.level, "code": area.code, "name": area.name,
                "las_loaded": total(las_loaded), "las_expected": total(expected_las),
                "schools_loaded": total(schools_loaded),
                "schools_expected": total(expected_schools), "pupils": m["pupils"],
                "subject": subject, "eligible": eligible,
                "met_percent": rounded(met_p, PLACES), "met_low": met_low, "met_high": met_high,
                "higher_percent": rounded(higher_p, PLACES), "higher_low": higher_low,
                "higher_high": higher_high,
            })  # fmt: skip
    return out
