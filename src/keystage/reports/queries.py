"""Report rows read from the fact tables only (never from pupil records): a summary of every
measure with comparators, gaps in percentage points by pupil group, England's and the regions'
provisional figures (engine.provisional's estimate from the LAs' facts, with its interval, the
pooled figure, the mean change and the coverage), the comparison with DfE's published figures
and the open-data file in DfE's column layout.

Every function takes a `viewer` (`disclosure.Viewer`): figures the viewer does not own are
suppressed by the rule in `disclosure` (shown as "c"). The CLI reads as `EVERYTHING` (nothing
suppressed), so its figures are those an owner sees on the pages.

Percentages are rounded half up to one decimal place (`measures.rounded`); gaps are worked
out from the unrounded percentages, then rounded the same way.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone

from keystage import reference
from keystage.collection.models import ExpectedCohort
from keystage.engine import collections as collection_packages
from keystage.engine import definition as definitions
from keystage.engine import provisional
from keystage.engine.measures import rounded, wilson_interval
from keystage.engine.words import sentence_start
from keystage.orgs.models import ExpectedSchool, LocalAuthority, Region, School
from keystage.reference.groups import pupil_groups
from keystage.reports import disclosure
from keystage.reports.disclosure import EVERYTHING, SUPPRESSED, Viewer
from keystage.reports.models import NATIONAL_CODE, Fact, FactsDue
from keystage.submissions.models import Collection, Upload

PLACES = 1
MEASURES = ("met", "higher")

SUMMARY_FIELDS = (
    "level", "code", "name", "subject", "pupils", "eligible", "met", "met_percent", "higher",
    "higher_percent",
)  # fmt: skip
GAP_FIELDS = (
    "group", "subject", "measure", "area", "area_percent", "la_percent", "la_gap",
    "region_percent", "region_gap", "national_percent", "national_gap",
)  # fmt: skip
# The CSV's and Excel's (and the CLI's): GAP_FIELDS with the pupils each percentage is of
# (`_eligible`, its n; "c" when the figure is suppressed). The PDF keeps GAP_FIELDS, which fit
# a page across.
GAP_EXPORT_FIELDS = (
    "group", "subject", "measure", "area", "area_eligible", "area_percent", "la_eligible",
    "la_percent", "la_gap", "region_eligible", "region_percent", "region_gap",
    "national_eligible", "national_percent", "national_gap",
)  # fmt: skip
# Each measure's fields of the national figures: the estimate and its interval (`_percent`,
# `_low`, `_high`), the pooled figure and its Wilson interval, the mean change since last year,
# whether the pooled figure is outside the estimate's interval, and why there is no estimate.
ESTIMATE_FIELDS = (
    "percent", "low", "high", "pooled", "pooled_low", "pooled_high", "mean_change",
    "not_like_the_rest", "reason",
)  # fmt: skip
NATIONAL_FIELDS = (
    "level", "code", "name", "las", "las_loaded", "las_partly", "las_without_expected",
    "coverage_percent", "las_expected", "schools_loaded", "schools_expected", "pupils",
    "pupils_expected", "subject", "eligible",
    *(f"{m}_{f}" for m in MEASURES for f in ESTIMATE_FIELDS),
)  # fmt: skip
# The national figures' PDF: what fits an A4 page across (the CSV and Excel have every field).
NATIONAL_PDF_FIELDS = (
    "name", "las_loaded", "las", "coverage_percent", "subject", "eligible",
    *(f"{m}_{f}" for m in MEASURES for f in ("percent", "low", "high", "pooled", "mean_change")),
)  # fmt: skip
OFFICIAL_FIELDS = (
    "level", "code", "name", "subject", "measure", "provisional_percent", "published_percent",
    "difference", "eligible",
)  # fmt: skip


def today() -> dt.date:
    """The day figures are shown on (a collection may hold some back until a date of its
    definition, as phonics does its "met" figures until the threshold is published)."""
    return timezone.localdate()


def _measures_of(collection: Collection):
    """(definition, the collection's `measures` module: its Counts, from_json, measures...)."""
    definition = definitions.load(collection.code)
    return definition, collection_packages.module_of(definition, "measures")


class AreaNotFound(LookupError):
    """The LA, school or region asked for is not known; the message says which."""


@dataclass(frozen=True)
class Area:
    level: str
    code: str
    name: str
    la_id: int | None = None
    school_id: int | None = None
    region_code: str | None = None


ENGLAND = Area("national", NATIONAL_CODE, "England")


def group_label(group: str) -> str:
    """A pupil group in words ("Girls", "White British"), from the shared reference data
    (reference/pupil_groups.toml); "First language: XYZ" for a code it does not know."""
    return pupil_groups().label(group)


def dimension_label(dimension: str) -> str:
    """What a dimension of pupil groups is called ("Free school meals", "Ethnic group")."""
    return pupil_groups().dimension_label(dimension)


def dimension_of(group: str) -> str:
    return group.partition(":")[0]


def ordered_groups(groups) -> list[str]:
    """Groups in the pages' order (the reference data's dimensions, then their codes)."""
    return sorted(set(groups), key=pupil_groups().sort_key)


def school_area(s: School) -> list[Area]:
    r = s.la.region
    return [
        Area("school", s.laestab, s.name, s.la_id, s.pk, r.dfe_code),
        Area("la", s.la.code, s.la.name, s.la_id, None, r.dfe_code),
        Area("region", r.dfe_code, r.name, None, None, r.dfe_code),
        ENGLAND,
    ]


def la_area(a: LocalAuthority) -> list[Area]:
    r = a.region
    return [
        Area("la", a.code, a.name, a.pk, None, r.dfe_code),
        Area("region", r.dfe_code, r.name, None, None, r.dfe_code),
        ENGLAND,
    ]


def region_area(r: Region) -> list[Area]:
    return [Area("region", r.dfe_code, r.name, None, None, r.dfe_code), ENGLAND]


def areas(*, la: str | None = None, school: str | None = None, region: str | None = None):
    """The area asked for, then its comparators (its LA, its region, England)."""
    if school:
        s = School.objects.select_related("la__region").filter(laestab=school).first()
        if s is None:
            raise AreaNotFound(f"school {school} is not in the schools register")
        return school_area(s)
    if la:
        a = LocalAuthority.objects.select_related("region").filter(code=la).first()
        if a is None:
            raise AreaNotFound(f"LA {la} is not an English LA code")
        return la_area(a)
    if region:
        r = (
            Region.objects.filter(name__iexact=region).first()
            or Region.objects.filter(dfe_code=region).first()
            or Region.objects.filter(ons_code__iexact=region).first()
        )
        if r is None:
            names = ", ".join(Region.objects.values_list("name", flat=True))
            raise AreaNotFound(f"region {region!r} is not known; use one of: {names}")
        return region_area(r)
    return [ENGLAND]


# -- reading facts and deciding what is shown ------------------------------------------------


@dataclass
class Figure:
    """One measure of one area and group: a share of eligible pupils, or hidden."""

    eligible: int
    count: int | None
    percent: float | None  # unrounded
    hidden: bool = False

    @property
    def shown_percent(self):
        return SUPPRESSED if self.hidden else rounded(self.percent, PLACES)

    @property
    def shown_count(self):
        return SUPPRESSED if self.hidden else self.count

    @property
    def shown_eligible(self):
        return SUPPRESSED if self.hidden else self.eligible


@dataclass
class AreaFigures:
    """Every figure of one area and group: {subject: {"met"|"higher": Figure}}, plus pupils."""

    area: Area
    group: str
    pupils: int
    counts: object  # the collection's measures.Counts
    measures: dict
    subjects: dict[str, dict[str, Figure | None]] = field(default_factory=dict)
    pupils_hidden: bool = False


def _area_q(area: Area) -> Q:
    return Q(level=area.level, area_code=area.code)


def _fetch(collection, area_list, groups=None) -> dict[tuple[str, str], dict]:
    """{(level, code): {group: Counts}} for these areas, in one query."""
    from_json = _measures_of(collection)[1].from_json
    q = Q()
    for a in area_list:
        q |= _area_q(a)
    rows = Fact.objects.filter(q, collection=collection)
    if groups is not None:
        rows = rows.filter(group__in=list(groups))
    out: dict = defaultdict(dict)
    for level, code, group, data in rows.values_list("level", "area_code", "group", "counts"):
        out[(level, code)][group] = from_json(data)
    return out


def _subject_figures(collection: Collection, m: dict) -> dict[str, dict[str, Figure | None]]:
    """The headline shares of a `measures` result, per row of the reports (a subject, the
    combined measure, a phonics group) and measure, as the collection's reports module reads
    them."""
    return {
        key: {
            measure: None if share is None else Figure(*share)
            for measure, share in by_measure.items()
        }
        for key, by_measure in _own(collection).shares(m).items()
    }


class Disclosure:
    """What a viewer knows of each area's pupils, to apply `disclosure.hidden` to each figure:
    the viewer's own pupils inside the area, and how many other schools (for an LA) or LAs (for
    a region or England) the rest come from."""

    def __init__(self, collection, viewer: Viewer, groups):
        self.collection = collection
        self.Counts = _measures_of(collection)[1].Counts
        self.from_json = _measures_of(collection)[1].from_json
        self.viewer = viewer
        self.groups = list(groups) if groups is not None else None
        self._own = None
        self._la_region = None

    def _facts(self, *where, **kw):
        rows = Fact.objects.filter(*where, collection=self.collection, **kw)
        if self.groups is not None:
            rows = rows.filter(group__in=self.groups)
        return rows

    def _own_units(self):
        """[(la_id, region_code, group, Counts, is_la)] of the viewer's own LAs and schools."""
        if self._own is None:
            v = self.viewer
            self._la_region = dict(LocalAuthority.objects.values_list("pk", "region__dfe_code"))
            rows = self._facts(
                Q(level="la", la_id__in=v.la_ids) | Q(level="school", school_id__in=v.school_ids)
            ).exclude(level="school", la_id__in=v.la_ids)
            self._own = [
                (la_id, self._la_region.get(la_id), group, self.from_json(data), level == "la")
                for level, la_id, group, data in rows.values_list(
                    "level", "la_id", "group", "counts"
                )
            ]
        return self._own

    def _known_las(self):
        """[(la_id, region_code, group, Counts, True)] of the LAs of a school-level viewer's
        schools. Such a viewer is shown their LA's figures as comparators, so for a region or
        England those count as known: otherwise region minus LA could reveal the one other LA
        of a small region."""
        if "_known" not in self.__dict__:
            v = self.viewer
            la_ids = set(School.objects.filter(pk__in=v.school_ids).values_list("la_id", flat=True))
            rows = self._facts(level="la", la_id__in=la_ids).values_list("la_id", "group", "counts")
            self._known = [
                (la_id, self._la_region.get(la_id), group, self.from_json(data), True)
                for la_id, group, data in rows
            ]
        return self._known

    def _la_shown(self, la_unit, group: str) -> bool:
        """Whether this school-level viewer is shown their LA's figures of the group: its
        pupils and every row of the reports with pupils in it. The rows need not count the
        same pupils (phonics' Year 1 and Year 2 re-check are different pupils), so an LA whose
        pupils are shown can still have a figure suppressed; a region or England figure that
        took the LA as known would then give that figure away. Asked for each region and
        England of one computation, so each (LA, group) is worked out once."""
        memo = self.__dict__.setdefault("_la_shown_memo", {})
        key = (la_unit[0], group)
        if key not in memo:
            memo[key] = self._work_out_la_shown(la_unit, group)
        return memo[key]

    def _work_out_la_shown(self, la_unit, group: str) -> bool:
        la_id, _, _, counts, _ = la_unit
        la = Area("la", f"#{la_id}", "", la_id=la_id)  # code: only a cache key here
        own, others = self.context(la, group)
        if disclosure.hidden(counts.pupils, own.pupils, others):
            return False
        definition, module = _measures_of(self.collection)
        as_of = today()
        theirs = _subject_figures(self.collection, module.measures(counts, definition, as_of=as_of))
        mine = (
            _subject_figures(self.collection, module.measures(own, definition, as_of=as_of))
            if own.pupils else {}
        )  # fmt: skip
        for subject, by_measure in theirs.items():
            figure = by_measure["met"]
            if figure is None or not figure.eligible:
                continue  # no pupils in the row: nothing to give away
            own_eligible = mine[subject]["met"].eligible if subject in mine else 0
            if disclosure.hidden(figure.eligible, own_eligible, others):
                return False
        return True

    def context(self, area: Area, group: str) -> tuple[object, int]:
        """(the viewer's own counts inside `area` for `group`, the number of other units)."""
        units = self._own_units()
        if area.level in ("region", "national") and self.viewer.school_ids:
            known = [u for u in self._known_las() if u[2] == group and self._la_shown(u, group)]
            known_ids = {u[0] for u in known}
            units = [u for u in units if u[0] not in known_ids] + known
        own = [
            (la_id, counts, is_la)
            for la_id, region, g, counts, is_la in units
            if g == group
            and (
                area.level == "national"
                or (area.level == "region" and region == area.code)
                or (area.level == "la" and la_id == area.la_id)
            )
        ]
        return sum((c for _, c, _ in own), self.Counts()), self._others(area, group, own)

    def _others(self, area: Area, group: str, own) -> int:
        if area.level == "school":
            return 2
        key = (area.level, area.code)
        cache = self.__dict__.setdefault("_units", {})
        if key not in cache:
            if area.level == "la":
                rows = self._facts(level="school", la_id=area.la_id).values_list(
                    "school_id", "group", "pupils"
                )
            elif area.level == "region":
                las = [pk for pk, r in self._la_region.items() if r == area.code]
                rows = self._facts(level="la", la_id__in=las).values_list(
                    "la_id", "group", "pupils"
                )
            else:
                rows = self._facts(level="la").values_list("la_id", "group", "pupils")
            units: dict = defaultdict(dict)
            for unit, g, pupils in rows:
                units[g][unit] = pupils
            cache[key] = units
        units = cache[key].get(group, {})
        if area.level == "la":
            own_schools = self.viewer.school_ids
            return sum(1 for sid, n in units.items() if n and sid not in own_schools)
        own_pupils = Counter()
        for la_id, counts, is_la in own:
            own_pupils[la_id] += counts.pupils if not is_la else 10**9
        return sum(1 for la_id, n in units.items() if n > own_pupils.get(la_id, 0))


def facts_stamp(collection: Collection) -> str:
    """A text that changes whenever the collection's facts do. Rebuilds write facts one at a
    time per collection (facts.rebuild_facts), each stamping its rows with the time it
    started writing, so the latest stamp moves with each rebuild's commit; and each removes
    the rows of the schools it recounted from FactsDue, so their count moves too (two
    rebuilds started in the same instant, or SQLite's writer order, cannot then hide one)."""
    latest = Fact.objects.filter(collection=collection).aggregate(at=Max("updated_at"))["at"]
    due = FactsDue.objects.filter(collection=collection).count()
    return f"{latest}.{due}"


def figures(
    collection: Collection, area_list: list[Area], groups=None, viewer: Viewer = EVERYTHING
) -> dict[tuple[str, str], dict[str, AreaFigures]]:
    """{(level, code): {group: AreaFigures}}, every figure marked hidden or not for `viewer`.
    Groups of a dimension that add up to all pupils are protected together
    (`disclosure.protect_siblings`). Kept until the facts change (web/readcache.py): what is
    returned is shared, so read it, never change it."""
    from keystage.web.readcache import kept

    parts = (
        "figures", collection.pk, facts_stamp(collection), disclosure.threshold(), str(today()),
        [(a.level, a.code) for a in area_list],
        None if groups is None else list(groups),
        (viewer.everything, sorted(viewer.la_ids), sorted(viewer.school_ids)),
    )  # fmt: skip
    return kept(parts, lambda: _figures(collection, area_list, groups, viewer))


def _figures(
    collection: Collection, area_list: list[Area], groups, viewer: Viewer
) -> dict[tuple[str, str], dict[str, AreaFigures]]:
    definition, module = _measures_of(collection)
    as_of = today()

    def measures(counts):
        return module.measures(counts, definition, as_of=as_of)

    fetched = _fetch(collection, area_list, groups)
    control = None if viewer.everything else Disclosure(collection, viewer, groups)
    limit = disclosure.threshold()
    out: dict = {}
    for area in area_list:
        mine: dict[str, AreaFigures] = {}
        owned = viewer.owns(area.level, area.la_id, area.school_id)
        for group, counts in fetched.get((area.level, area.code), {}).items():
            m = measures(counts)
            found = AreaFigures(area, group, counts.pupils, counts, m,
                                _subject_figures(collection, m))  # fmt: skip
            if control is not None and not owned:
                own, others = control.context(area, group)
                own_m = measures(own) if own.pupils else None
                own_figures = _subject_figures(collection, own_m) if own_m else {}
                found.pupils_hidden = disclosure.hidden(
                    counts.pupils, own.pupils, others, limit=limit
                )
                for subject, by_measure in found.subjects.items():
                    own_eligible = (
                        own_figures[subject]["met"].eligible if subject in own_figures else 0
                    )
                    for figure in by_measure.values():
                        if figure is not None:
                            figure.hidden = disclosure.hidden(
                                figure.eligible, own_eligible, others, limit=limit
                            )
            mine[group] = found
        if control is not None and not owned:
            _protect(mine)
        out[(area.level, area.code)] = mine
    return out


def _partitions(groups) -> list[list[str]]:
    """The sets of groups that add up (nearly) to a figure that may be shown: each dimension's
    groups (to all pupils), and the groups of a dimension that make up one group of a
    dimension worked out from it (White British, White Irish... to White)."""
    by_dimension: dict[str, list[str]] = defaultdict(list)
    for group in groups:
        if group != "all":
            by_dimension[dimension_of(group)].append(group)
    out = list(by_dimension.values())
    for derived in pupil_groups().derived():
        parts: dict[str, list[str]] = defaultdict(list)
        for group in by_dimension.get(derived.source, ()):
            code = group.partition(":")[2]
            if code in derived.by:
                parts[derived.by[code]].append(group)
        out += [members for members in parts.values() if len(members) > 1]
    return out


def _protect(mine: dict[str, AreaFigures]) -> None:
    """Secondary suppression within each set of groups that add up to another figure
    (girls/boys, the three terms, the ethnicities of one ethnic group...): again until
    nothing changes, since a group suppressed in one set may leave one alone in another."""
    partitions = _partitions(mine)
    changed = True
    while changed:
        changed = False
        for members in partitions:
            found = [mine[g] for g in members]
            subjects = {s for f in found for s in f.subjects}
            for subject in subjects:
                for measure in MEASURES:
                    cells = [
                        (f.group, f.subjects[subject][measure].eligible,
                         f.subjects[subject][measure].hidden)
                        for f in found
                        if f.subjects.get(subject, {}).get(measure) is not None
                    ]  # fmt: skip
                    for group in disclosure.protect_siblings(cells):
                        mine[group].subjects[subject][measure].hidden = changed = True
            cells = [(f.group, f.pupils, f.pupils_hidden) for f in found]
            for group in disclosure.protect_siblings(cells):
                mine[group].pupils_hidden = changed = True


def _own(collection: Collection):
    """The collection's own reports module (its published series, its measures' names)."""
    return collection_packages.module_of(definitions.load(collection.code), "reports")


def own_reports(collection: Collection):
    """The collection's reports module (`engine/collections/<kind>/reports.py`)."""
    return _own(collection)


def distributions(collection: Collection, found: AreaFigures | None) -> list[dict]:
    """The distributions of an area's figures (`figures(...)`) its viewer may see: each
    group's pupils at each point of the collection's scale (KS1 has none), none of a group
    whose figures are suppressed or that has no pupil on the scale."""
    if found is None or found.pupils_hidden:
        return []
    return [
        d for d in _own(collection).distributions(found.measures)
        if d["pupils"] and not found.subjects[d["key"]]["met"].hidden
    ]  # fmt: skip


def published_columns(collection: Collection) -> dict[tuple[str, str], str]:
    """The published series' columns, per (subject, measure)."""
    return _own(collection).PUBLISHED_COLUMNS


def trend_subjects(collection: Collection) -> list[str]:
    """The rows of the reports DfE publishes a series for, in the reports' order."""
    columns = published_columns(collection)
    return [k for k in subject_keys(collection) if (k, "met") in columns]


def _report_subjects(collection: Collection) -> list[tuple[str, str, bool]]:
    return _own(collection).report_subjects(definitions.load(collection.code))


def has_higher(collection: Collection, subject: str) -> bool:
    """Whether a row of the reports (a subject, a combined measure) has a higher standard."""
    return any(key == subject and higher for key, _, higher in _report_subjects(collection))


def subject_keys(collection: Collection) -> list[str]:
    """The rows of the reports, in order: KS1's subjects and its combined measure, phonics'
    Year 1, Year 2 re-check and by the end of Year 2 (the collection's reports module)."""
    return [key for key, _, _ in _report_subjects(collection)]


def subject_labels(collection: Collection) -> dict[str, str]:
    return {key: label for key, label, _ in _report_subjects(collection)}


def headline(collection: Collection) -> str:
    """The row the gap analysis opens on (KS1's combined measure, phonics' Year 1)."""
    return _own(collection).HEADLINE


def measure_labels(collection: Collection) -> dict[str, str]:
    """How each measure is spoken of ("expected standard or above", "greater depth")."""
    return _own(collection).MEASURE_LABELS


def row_heading(collection: Collection) -> str:
    """What a row of the reports is called: "Subject" (KS1), "Year group" (phonics)."""
    return _own(collection).ROW_HEADING


def measure_headings(collection: Collection) -> list[tuple[str, str]]:
    """[(measure, its label as a heading)] of the measures the collection's reports show."""
    labels = measure_labels(collection)
    return [(m, sentence_start(labels[m])) for m in measures_shown(collection)]


def measures_shown(collection: Collection) -> list[str]:
    """The measures the collection's rows have, in `MEASURES` order: KS1's expected standard
    and greater depth, phonics' expected standard only."""
    return [m for m in MEASURES if m == "met" or any(h for _, _, h in _report_subjects(collection))]


def fields_for(collection: Collection, fields: tuple[str, ...]) -> list[str]:
    """A download's columns for the collection: those of a measure it does not have (phonics
    has no greater depth: `higher`, `higher_percent`...) are left out."""
    shown = measures_shown(collection)
    return [f for f in fields if f.partition("_")[0] not in MEASURES or
            f.partition("_")[0] in shown]  # fmt: skip


def words(collection: Collection) -> tuple[str, str]:
    """(file name stem, title word) of the collection's downloads: ("ks1", "KS1")."""
    own = _own(collection)
    return own.STEM, own.TITLE


# -- the reports ------------------------------------------------------------------------------


def summary(collection: Collection, *, viewer: Viewer = EVERYTHING, area_list=None, **where):
    """Every measure of the area and of each comparator, one row per area and subject."""
    area_list = area_list if area_list is not None else areas(**where)
    found = figures(collection, area_list, ["all"], viewer)
    out = []
    for area in area_list:
        f = found.get((area.level, area.code), {}).get("all")
        if f is None:
            continue
        for subject, by_measure in f.subjects.items():
            met, higher = by_measure["met"], by_measure["higher"]
            out.append({
                "level": area.level, "code": area.code, "name": area.name, "subject": subject,
                "pupils": SUPPRESSED if f.pupils_hidden else f.pupils,
                "eligible": met.shown_eligible, "met": met.shown_count,
                "met_percent": met.shown_percent,
                "higher": None if higher is None else higher.shown_count,
                "higher_percent": None if higher is None else higher.shown_percent,
            })  # fmt: skip
    return out


def gap(
    collection: Collection, *, viewer: Viewer = EVERYTHING, area_list=None, groups=None, **where
) -> list[dict]:
    """The area's percentages minus each comparator's, in percentage points, per pupil group
    (every group the area has when `groups` is None), subject and measure (met = expected
    standard or above, higher = greater depth). A comparator that does not apply (an LA's own
    LA) is empty; a suppressed figure is "c", and so is any gap worked out from one."""
    area_list = area_list if area_list is not None else areas(**where)
    area, comparators = area_list[0], {a.level: a for a in area_list[1:]}
    if area.level == "national":
        raise AreaNotFound("a gap needs an area below England: give --la, --school or --region")
    if groups is None:
        groups = ordered_groups(
            Fact.objects.filter(
                collection=collection, level=area.level, area_code=area.code
            ).values_list("group", flat=True)
        )
    found = figures(collection, area_list, groups, viewer)
    mine = found.get((area.level, area.code), {})
    out = []
    for group in groups:
        own = mine.get(group)
        if own is None:
            continue
        for subject, by_measure in own.subjects.items():
            for measure in MEASURES:
                figure = by_measure[measure]
                if figure is None:
                    continue  # no greater depth in this subject (science)
                line = {
                    "group": group, "subject": subject, "measure": measure, "area": area.code,
                    "area_eligible": figure.shown_eligible, "area_percent": figure.shown_percent,
                }  # fmt: skip
                for level in ("la", "region", "national"):
                    other = comparators.get(level)
                    theirs = found.get((other.level, other.code), {}).get(group) if other else None
                    them = theirs.subjects.get(subject, {}).get(measure) if theirs else None
                    if them is None:
                        line[f"{level}_eligible"] = line[f"{level}_percent"] = None
                        line[f"{level}_gap"] = None
                        continue
                    line[f"{level}_eligible"] = them.shown_eligible
                    line[f"{level}_percent"] = them.shown_percent
                    if figure.hidden or them.hidden:
                        line[f"{level}_gap"] = SUPPRESSED
                    elif figure.percent is None or them.percent is None:
                        line[f"{level}_gap"] = None
                    else:
                        line[f"{level}_gap"] = rounded(figure.percent - them.percent, PLACES)
                out.append(line)
    return out


def _interval(figure: Figure | None) -> tuple:
    if figure is None or figure.hidden or figure.count is None:
        return (SUPPRESSED, SUPPRESSED) if figure is not None and figure.hidden else (None, None)
    found = wilson_interval(figure.count, figure.eligible)
    if found is None:
        return None, None
    return rounded(found[0], PLACES), rounded(found[1], PLACES)


def coverage(
    collection: Collection,
    stamp: str | None = None,
    *,
    region_of_la: dict[int, str] | None = None,
    expected_by_la: dict[int, int] | None = None,
) -> dict[str, dict[str, int]]:
    """{area code: {las_expected, schools_loaded, schools_expected, pupils_expected}} for
    England ("970") and each region. Expected schools are those the register marks as expected
    to submit this collection (`ExpectedSchool`), an expected LA has one; expected pupils are
    the LAs' expected cohorts (where they loaded them). `stamp`: the facts' stamp, when the
    caller has read it; `region_of_la` ({LA id: region code}) and `expected_by_la` ({LA id: its
    expected cohorts' pupils}) when the caller has read them (`Estimates`)."""
    if region_of_la is None:
        region_of_la = dict(LocalAuthority.objects.values_list("pk", "region__dfe_code"))
    if expected_by_la is None:
        expected_by_la = _expected_by_la(collection)
    # Counted per LA in the database (16,500 schools nationally), then added up per region.
    expected = dict(
        School.objects.filter(
            pk__in=ExpectedSchool.objects.filter(collection=collection.code).values("school_id")
        ).values("la_id")
        .annotate(n=Count("id")).values_list("la_id", "n")
    )  # fmt: skip
    schools_expected, las_expected = Counter(), Counter()
    for la_id, n in expected.items():
        schools_expected[region_of_la[la_id]] += n
        las_expected[region_of_la[la_id]] += 1
    schools_loaded = Counter()
    for la_id, n in _schools_loaded(collection, stamp).items():
        schools_loaded[region_of_la[la_id]] += n
    pupils_expected = Counter()
    for la_id, n in expected_by_la.items():
        pupils_expected[region_of_la[la_id]] += n
    out = {}
    codes = list(Region.objects.values_list("dfe_code", flat=True))
    for code in [NATIONAL_CODE, *codes]:

        def total(counter, code=code):
            return sum(counter.values()) if code == NATIONAL_CODE else counter[code]

        out[code] = {
            "las_expected": total(las_expected),
            "schools_loaded": total(schools_loaded), "schools_expected": total(schools_expected),
            "pupils_expected": total(pupils_expected),
        }  # fmt: skip
    return out


def _expected_by_la(collection: Collection) -> dict[int, int]:
    """{LA id: the pupils of its expected cohorts} of the LAs that loaded any."""
    return dict(
        ExpectedCohort.objects.filter(collection=collection)
        .values("la_id").annotate(n=Sum("pupils")).values_list("la_id", "n")
    )  # fmt: skip


def _schools_loaded(collection: Collection, stamp: str | None = None) -> dict[int, int]:
    """{LA id: its schools with facts} of the LAs with facts. Kept until the facts change (it
    reads every school's fact: 16,500 nationally)."""
    from keystage.web.readcache import kept

    def count():
        loaded = Fact.objects.filter(collection=collection, group="all")
        out = dict.fromkeys(loaded.filter(level="la").values_list("la_id", flat=True), 0)
        for la_id, n in (
            loaded.filter(level="school").values("la_id").annotate(n=Count("id"))
            .values_list("la_id", "n")
        ):  # fmt: skip
            out[la_id] = n
        return out

    return kept(("schools-loaded", collection.pk, stamp or facts_stamp(collection)), count)


def national_areas() -> list[Area]:
    return [ENGLAND] + [
        Area("region", code, name, None, None, code)
        for code, name in Region.objects.order_by("dfe_code").values_list("dfe_code", "name")
    ]


# -- provisional national figures (engine.provisional) ---------------------------------------


def _same_kind(collection: Collection) -> list[tuple[Collection, int]]:
    """The collections Keystage holds of this collection's kind (KS1 2023, 2024, 2025), this one
    too, each with its year: those with a shipped definition."""
    kind = definitions.load(collection.code).kind
    out = []
    for other in Collection.objects.filter(code__in=definitions.available()):
        theirs = definitions.load(other.code)
        if theirs.kind == kind:
            out.append((other, theirs.year))
    return out


def _previous_collection(collection: Collection) -> Collection | None:
    """Last year's collection of the same kind (KS1 2023 for KS1 2024), if Keystage holds it."""
    year = definitions.load(collection.code).year
    return next((other for other, y in _same_kind(collection) if y == year - 1), None)


def _la_shares(collection: Collection, stamp: str | None = None) -> dict[int, tuple[int, dict]]:
    """{LA id: (its pupils, {(report row, measure): (eligible, met)})} from every LA's facts of
    all pupils (met is None while the collection holds a measure back). Kept until the facts
    change, like `figures`: read it, never change it."""
    from keystage.web.readcache import kept

    parts = ("la-shares", collection.pk, stamp or facts_stamp(collection), str(today()))
    return kept(parts, lambda: _read_la_shares(collection))


def _read_la_shares(collection: Collection) -> dict[int, tuple[int, dict]]:
    definition, module = _measures_of(collection)
    own, as_of = _own(collection), today()
    out = {}
    rows = Fact.objects.filter(collection=collection, level="la", group="all")
    for la_id, pupils, data in rows.values_list("la_id", "pupils", "counts"):
        m = module.measures(module.from_json(data), definition, as_of=as_of)
        out[la_id] = (pupils, {
            (key, measure): (share[0], share[1])
            for key, by_measure in own.shares(m).items()
            for measure, share in by_measure.items() if share is not None
        })  # fmt: skip
    return out


@dataclass(frozen=True)
class Estimates:
    """engine.provisional's figures of every report row and measure, from every LA's facts.

    `inputs`: each measure's `LaFigures`, every LA in the order the LAs loaded (their first
    file's time; those with none last); `by_measure`: its `Provisional` (none for a measure
    the collection holds back). `without_expected`: per area code ("970" for England), the LAs
    with no pupil loaded and no expected pupils known (no expected cohort, no pupils in last
    year's collection), which the estimate cannot weigh."""

    loaded_share: float
    names: dict[str, str]  # LA code: name
    inputs: dict[tuple[str, str], list[provisional.LaFigures]]
    by_measure: dict[tuple[str, str], provisional.Provisional]
    without_expected: dict[str, int]
    loading: provisional.Provisional  # of no measure: LAs loaded, partly loaded, coverage
    region_of_la: dict[int, str]  # LA id: its region's DfE code
    expected_by_la: dict[int, int]  # LA id: its expected cohorts' pupils (those that loaded any)

    def area(self, key: tuple[str, str], code: str) -> provisional.AreaEstimate | None:
        found = self.by_measure.get(key)
        if found is None:
            return None
        return found.england if code == NATIONAL_CODE else found.regions.get(code)

    def loading_of(self, code: str) -> provisional.AreaEstimate | None:
        """The area's LAs, LAs loaded and partly loaded and its coverage, as every measure has
        them (also while the collection holds every measure back)."""
        return self.loading.england if code == NATIONAL_CODE else self.loading.regions.get(code)


def _first_files(collection: Collection, stamp: str | None = None) -> dict[int, dt.datetime]:
    """{LA id: when its first file (accepted, kept or since replaced) was loaded}: the order
    LAs loaded in. Kept until the facts change, which they do after every file's import."""
    from keystage.web.readcache import kept

    def read():
        return dict(
            Upload.objects.filter(collection=collection, la__isnull=False)
            .exclude(state=Upload.State.REJECTED)
            .values("la_id").annotate(at=Min("uploaded_at")).values_list("la_id", "at")
        )  # fmt: skip

    return kept(("first-files", collection.pk, stamp or facts_stamp(collection)), read)


def estimates(collection: Collection, stamp: str | None = None) -> Estimates:
    """Every LA's figures for each report row and measure (all pupils), with its expected
    pupils (its expected cohorts summed, else its pupils in last year's collection of the same
    kind, else unknown) and last year's published figure (the definition's `[provisional]`
    table), and engine.provisional's estimate of each. A handful of queries, whatever the
    number of LAs: the LAs, their facts (kept until the facts change), expected cohorts, last
    year's collection and its LA facts, the first file of each LA."""
    definition = definitions.load(collection.code)
    found = provisional.settings(definition)
    loaded_share = found.loaded_share if found else 0.9
    las = list(LocalAuthority.objects.values_list("pk", "code", "name", "region__dfe_code"))
    shares = _la_shares(collection, stamp)
    expected = _expected_by_la(collection)
    previous = _previous_collection(collection)
    last_pupils = (
        dict(Fact.objects.filter(collection=previous, level="la", group="all")
             .values_list("la_id", "pupils"))
        if previous else {}
    )  # fmt: skip
    first = _first_files(collection, stamp)
    never = dt.datetime.max.replace(tzinfo=dt.UTC)
    las.sort(key=lambda la: (first.get(la[0]) or never, la[1]))
    size = {pk: expected.get(pk, last_pupils.get(pk)) for pk, *_ in las}
    without_expected: Counter = Counter()
    for pk, _, _, region in las:
        if pk not in shares and size[pk] is None:
            without_expected[region] += 1
            without_expected[NATIONAL_CODE] += 1
    loading = provisional.estimate(
        [provisional.LaFigures(code, region, shares.get(pk, (0,))[0], size[pk], 0, 0)
         for pk, code, _, region in las],
        loaded_share=loaded_share,
    )  # fmt: skip
    inputs, by_measure = {}, {}
    for key, _, higher in _report_subjects(collection):
        for measure in MEASURES:
            if measure != "met" and not higher:
                continue
            last = provisional.last_year(definition, key, measure)
            figures_in = []
            for pk, code, _, region in las:
                pupils, counts = shares.get(pk, (0, {}))
                eligible, met = counts.get((key, measure), (0, 0))
                figures_in.append(provisional.LaFigures(
                    code, region, pupils, size[pk], eligible, met, last.get(code)
                ))  # fmt: skip
            inputs[(key, measure)] = figures_in
            if any(f.met is None for f in figures_in):
                continue  # held back (phonics' "met" until the threshold is published)
            by_measure[(key, measure)] = provisional.estimate(figures_in, loaded_share=loaded_share)
    return Estimates(
        loaded_share=loaded_share, names={code: name for _, code, name, _ in las},
        inputs=inputs, by_measure=by_measure, without_expected=dict(without_expected),
        loading=loading, region_of_la={pk: region for pk, _, _, region in las},
        expected_by_la=expected,
    )  # fmt: skip


# The fewest LAs loaded in an area for anyone but a national admin to see its interval: the
# interval's width rests on the spread of the LAs' changes, and with three loaded, one of them
# the viewer's own, the pooled figure and the spread would give the other two LAs' figures.
MIN_LAS_FOR_AN_INTERVAL_SHOWN = 4


def _estimate_fields(measure: str, figure: Figure | None, a, viewer: Viewer = EVERYTHING) -> dict:
    """A measure's national fields (ESTIMATE_FIELDS) from today's figure of the area (the pooled
    figure of every pupil loaded, hidden or not for the viewer) and the engine's estimate. The
    interval and the flag are "c" for a viewer who is not a national admin while the area has
    fewer than MIN_LAS_FOR_AN_INTERVAL_SHOWN LAs loaded."""
    out = dict.fromkeys((f"{measure}_{f}" for f in ESTIMATE_FIELDS), None)
    if figure is None:
        return out  # the row has no such measure (science has no greater depth)
    low, high = _interval(figure)
    out.update({
        f"{measure}_pooled": figure.shown_percent, f"{measure}_pooled_low": low,
        f"{measure}_pooled_high": high,
    })  # fmt: skip
    if a is None:
        return out  # held back
    reason = a.reason
    out[f"{measure}_reason"] = reason
    if figure.hidden:
        out[f"{measure}_mean_change"] = None if a.mean_change is None else SUPPRESSED
        if reason is None:
            for f in ("percent", "low", "high", "not_like_the_rest"):
                out[f"{measure}_{f}"] = SUPPRESSED
        return out
    out[f"{measure}_mean_change"] = rounded(a.mean_change, PLACES)
    if reason is None:
        out.update({
            f"{measure}_percent": rounded(a.estimate, PLACES),
            f"{measure}_low": rounded(a.low, PLACES), f"{measure}_high": rounded(a.high, PLACES),
            # The pooled figure shown (every pupil loaded, partly loaded LAs too) further from
            # the estimate than the LAs' spread explains (engine.provisional.unlike_the_rest).
            f"{measure}_not_like_the_rest": provisional.unlike_the_rest(
                figure.percent, a.estimate, a.spread_half_width
            ),
        })  # fmt: skip
        if not viewer.everything and a.las_loaded < MIN_LAS_FOR_AN_INTERVAL_SHOWN:
            for f in ("low", "high", "not_like_the_rest"):
                out[f"{measure}_{f}"] = SUPPRESSED
    return out


@dataclass
class NationalReport:
    """The national page: its rows (`national`), the partly loaded LAs and how England's mean
    change has moved as LAs loaded."""

    rows: list[dict]
    partly_loaded: list[dict]  # code, name, region, share (% of expected pupils, whole)
    loaded_share: float
    movement: list[dict]  # las, percent (of the LAs loaded), changes {(row, measure): points}
    movement_keys: list[tuple[str, str]]


def national_report(
    collection: Collection, *, viewer: Viewer = EVERYTHING, rows_only: bool = False
) -> NationalReport:
    """England and each region with LAs loaded: per report row, each measure's provisional
    estimate with its 95% interval (engine.provisional: the difference estimator, last year's
    published LA figures as the auxiliary), the pooled figure of every pupil loaded with its
    Wilson interval (the figure the summary shows), the mean change since last year, whether
    the LAs loaded so far are not like the rest and why there is no estimate; the LAs of the
    area, loaded, partly loaded and of no known size, the share of expected pupils loaded, and
    coverage of schools and pupils as `coverage`. A figure hidden for the viewer (disclosure)
    is "c", and so is everything worked out from it."""
    area_list = national_areas()
    found = figures(collection, area_list, ["all"], viewer)
    stamp = facts_stamp(collection)  # read once for the kept parts below
    est = estimates(collection, stamp)
    cover = coverage(collection, stamp, region_of_la=est.region_of_la,
                     expected_by_la=est.expected_by_la)  # fmt: skip
    rows = []
    for area in area_list:
        f = found.get((area.level, area.code), {}).get("all")
        if f is None:
            continue
        loading = est.loading_of(area.code)
        las = {
            "las": loading.las, "las_loaded": loading.las_loaded,
            "las_partly": loading.las_partly,
            "las_without_expected": est.without_expected.get(area.code, 0),
            # Unknown when none of the LAs still to come has expected pupils known.
            "coverage_percent": rounded(loading.coverage, PLACES),
        }  # fmt: skip
        for subject, by_measure in f.subjects.items():
            row = {
                "level": area.level, "code": area.code, "name": area.name, **cover[area.code],
                **las, "pupils": SUPPRESSED if f.pupils_hidden else f.pupils,
                "subject": subject, "eligible": by_measure["met"].shown_eligible,
            }  # fmt: skip
            for measure in MEASURES:
                row.update(_estimate_fields(measure, by_measure.get(measure),
                                            est.area((subject, measure), area.code),
                                            viewer))  # fmt: skip
            rows.append(row)
    if rows_only:  # the downloads and the command: no partly loaded list, no movement
        return NationalReport(rows, [], est.loaded_share, [], [])
    regions = dict(Region.objects.values_list("dfe_code", "name"))
    partly = [
        {"code": p.code, "name": est.names.get(p.code, p.code), "region": regions.get(p.region),
         "share": rounded(p.share, 0)}
        for p in sorted(est.loading.partly_loaded, key=lambda p: p.code)
    ]  # fmt: skip
    movement, keys = _movement(collection, est, found)
    return NationalReport(rows, partly, est.loaded_share, movement, keys)


def _movement(collection, est: Estimates, found) -> tuple[list[dict], list[tuple[str, str]]]:
    """England's mean change of each measure with last year's figures after each tenth of the
    LAs loaded, in the order they loaded (`provisional.mean_change_as_loaded`); "c" for a
    measure whose England figure is hidden from the viewer."""
    england = found.get(("national", NATIONAL_CODE), {}).get("all")
    if england is None:
        return [], []
    keys = [
        key for key, inputs in est.inputs.items()
        if key in est.by_measure and any(f.last_year is not None for f in inputs)
    ]  # fmt: skip
    steps: dict[int, dict] = {}
    loaded = 0
    for key in keys:
        figure = england.subjects.get(key[0], {}).get(key[1])
        changes = provisional.mean_change_as_loaded(est.inputs[key],
                                                    loaded_share=est.loaded_share)  # fmt: skip
        for k, change in changes:
            loaded = max(loaded, k)
            step = steps.setdefault(k, {"las": k, "changes": {}})
            hidden = figure is None or figure.hidden
            step["changes"][key] = SUPPRESSED if hidden else rounded(change, PLACES)
    out = [steps[k] for k in sorted(steps)]
    for step in out:
        step["percent"] = rounded(100 * step["las"] / loaded, 0)
    return out, keys


def national(collection: Collection, *, viewer: Viewer = EVERYTHING) -> list[dict]:
    """The rows of the national figures (`national_report`): one per area and report row, with
    NATIONAL_FIELDS."""
    return national_report(collection, viewer=viewer, rows_only=True).rows


def published(collection: Collection, year: str, level: str, code: str) -> dict[str, str] | None:
    for row in _own(collection).published_rows():
        if row["year"] == year and row["level"] == level and row["code"] == code:
            return row
    return None


def average_rows(collection: Collection, found: list) -> list[tuple[str, list]]:
    """The summary's rows that are averages, not shares (the EYFS profile's number of goals
    at the expected level: its reports module's `averages`), for the areas' figures `found`
    (`AreaFigures` or None each): (label, a value per area: the average, None when there is
    none, or SUPPRESSED where the headline row, which rests on the same pupils, is hidden)."""
    averages_of = getattr(_own(collection), "averages", None)
    if averages_of is None:
        return []
    head = headline(collection)
    values = [averages_of(f.measures) if f is not None else None for f in found]
    labels = next((v for v in values if v), [])
    out = []
    for i, (label, _) in enumerate(labels):
        cells = []
        for f, v in zip(found, values, strict=True):
            if f is None or v is None:
                cells.append(None)
            elif f.subjects[head]["met"].hidden:
                cells.append(SUPPRESSED)
            else:
                cells.append(v[i][1])
        out.append((label, cells))
    return out


def published_places(collection: Collection) -> int:
    """The decimal places DfE publishes the collection's percentages to: whole numbers for KS1
    and phonics, one place for the EYFS profile (its reports module's PUBLISHED_PLACES)."""
    return getattr(_own(collection), "PUBLISHED_PLACES", 0)


def comparable_from(collection: Collection) -> int | None:
    """The first published year comparable with this year's figures (the EYFS profile's 2021
    framework: 2022), or None when every published year is (the reports module's
    COMPARABLE_FROM)."""
    return getattr(_own(collection), "COMPARABLE_FROM", None)


def _published_value(columns: dict, row: dict | None, subject: str, measure: str):
    column = columns.get((subject, measure))
    if row is None or column is None:
        return None
    value = (row.get(column) or "").strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return None


def official(collection: Collection, *, viewer: Viewer = EVERYTHING, las=()) -> list[dict]:
    """Provisional figures against DfE's published figures of the collection's year (whole
    numbers), for England,
    each region and the LAs given: the difference is in percentage points, from the
    provisional percentage rounded to a whole number as DfE publishes."""
    area_list = national_areas() + [Area("la", a.code, a.name, a.pk, None, None) for a in las]
    found = figures(collection, area_list, ["all"], viewer)
    columns = published_columns(collection)
    year = str(definitions.load(collection.code).year)
    places = published_places(collection)
    out = []
    for area in area_list:
        f = found.get((area.level, area.code), {}).get("all")
        row = published(collection, year, area.level, area.code)
        if f is None:
            continue
        for subject, measure in columns:
            figure = f.subjects.get(subject, {}).get(measure)
            if figure is None:
                continue
            theirs = _published_value(columns, row, subject, measure)
            if places and theirs is not None:  # 70 as published to one place is 70.0
                theirs = float(theirs)
            mine = SUPPRESSED if figure.hidden else rounded(figure.percent, places)
            diff = (
                round(mine - theirs, places) if isinstance(mine, int | float)
                and theirs is not None else (SUPPRESSED if figure.hidden else None)
            )  # fmt: skip
            out.append({
                "level": area.level, "code": area.code, "name": area.name, "subject": subject,
                "measure": measure, "provisional_percent": mine, "published_percent": theirs,
                "difference": diff, "eligible": figure.shown_eligible,
            })  # fmt: skip
    return out


def trend(collection: Collection, area_list: list[Area]) -> list[dict]:
    """DfE's published series (KS1 2016-2023, phonics 2015-2025) for the areas given that DfE publishes (LAs, regions,
    England): one row per area and year with the headline percentages."""
    wanted = {(a.level, a.code): a for a in area_list if a.level in ("la", "region", "national")}
    columns = published_columns(collection)
    first = comparable_from(collection)
    places = published_places(collection)
    out = []
    for row in _own(collection).published_rows():
        area = wanted.get((row["level"], row["code"]))
        if area is None:
            continue
        values = {f"{s}_{m}": _published_value(columns, row, s, m) for s, m in columns}
        if places:  # 87 as published to one place is 87.0
            values = {k: None if v is None else float(v) for k, v in values.items()}
        blank = all(v is None for v in values.values())
        out.append({
            "level": area.level, "code": area.code, "name": area.name, "year": row["year"],
            # A year of figures before the collection's framework (a year of none is simply
            # blank: no assessments were made).
            "comparable": first is None or blank or int(row["year"]) >= first,
            **values,
        })  # fmt: skip
    return sorted(out, key=lambda r: (area_list.index(wanted[(r["level"], r["code"])]), r["year"]))


# The open data's observational-unit columns (time and geography), as EES names them
# (docs/open-data.md); `version` is a column of one value, so it has no row in the metadata.
OPEN_DATA_HEAD = [
    "time_period", "time_identifier", "geographic_level", "country_code", "country_name",
    "region_code", "region_name", "new_la_code", "old_la_code", "la_name", "version",
]  # fmt: skip
# EES's metadata file columns, in its order (analysts' guide, "EES metadata").
OPEN_DATA_META = [
    "col_name", "col_type", "label", "indicator_grouping", "indicator_unit", "indicator_dp",
    "filter_hint", "filter_grouping_column",
]  # fmt: skip
# GSS symbols for a figure the open data cannot give: a percentage of no pupils is not
# applicable; a figure not yet known (the phonics threshold unpublished, last year's results
# not held) is not available. A suppressed figure is SUPPRESSED ("c").
NOT_APPLICABLE, NOT_AVAILABLE = "z", "x"
_LEVELS = {"national": "National", "region": "Regional", "la": "Local authority"}


def open_data_stem(collection: Collection) -> str:
    """The open data's file name without `.csv`: lower case, no year nor geography, the same
    every year, as EES's file-name standard asks (`ks1-provisional-open-data`)."""
    return f"{words(collection)[0]}-provisional-open-data"


def open_data_columns(collection: Collection) -> list:
    """The indicator columns of the collection's open data (the collection's `ees_columns`,
    DfE's columns only), each with its words for the metadata file."""
    definition, module = _measures_of(collection)
    return module.ees_columns(definition, keystage_columns=False)


def open_data_meta(collection: Collection) -> tuple[list, list]:
    """The EES metadata file of the open data: one row per indicator (every count a number of
    pupils, every percentage a whole number, as DfE rounds them). No filters: every row of the
    data file is all pupils."""
    rows = [
        {"col_name": c.name, "col_type": "Indicator", "label": c.label,
         "indicator_grouping": c.grouping, "indicator_unit": c.unit, "indicator_dp": c.dp,
         "filter_hint": "", "filter_grouping_column": ""}
        for c in open_data_columns(collection)
    ]  # fmt: skip
    return list(OPEN_DATA_META), rows


def held_years(collection: Collection, area_list: list[Area],
               viewer: Viewer = EVERYTHING) -> dict[tuple[str, str], dict[int, dict]]:  # fmt: skip
    """Keystage's own figures of each area across the years it holds of this collection's kind
    (KS1 2023, 2024 and 2025 for KS1 2025; none after this collection's year), as the viewer
    may see them: {(level, code): {year: {"<row>_met": percent, or "c"}}} for the rows of the
    published trend (`trend_subjects`). One read per year held, whatever the number of areas
    (an LA's pack asks for all its schools at once)."""
    year = definitions.load(collection.code).year
    keys = trend_subjects(collection)
    out: dict = defaultdict(dict)
    for other, their_year in _same_kind(collection):
        if their_year > year:
            continue
        found = figures(other, area_list, ["all"], viewer)
        for area in area_list:
            f = found.get((area.level, area.code), {}).get("all")
            if f is None:
                continue
            out[(area.level, area.code)][their_year] = {
                f"{key}_met": (
                    None if f.subjects.get(key, {}).get("met") is None
                    else f.subjects[key]["met"].shown_percent
                )
                for key in keys
            }  # fmt: skip
    return dict(out)


def data_as_of(collection: Collection):
    """When the collection's figures were last counted (the latest fact), or None."""
    return Fact.objects.filter(collection=collection).aggregate(at=Max("updated_at"))["at"]


def open_data(collection: Collection, *, viewer: Viewer = EVERYTHING) -> tuple[list, list]:
    """England, region and LA counts in the column layout of DfE's EES files of the collection
    (KS1's `t_readta_eligible_pupils`..., phonics' `t_phonics_y1_eligible_pupils`...), with EES's
    geography columns: ONS codes for England, regions and LAs (the LA's code on the last day of
    the academic year) beside DfE's LA number. An area whose figures would be suppressed for
    the viewer has every figure "c"; a figure that cannot be given is "z" or "x", never blank."""
    definition, module = _measures_of(collection)
    columns = open_data_columns(collection)
    la_rows = Fact.objects.filter(collection=collection, level="la", group="all")
    if not viewer.everything:
        la_rows = la_rows.filter(la_id__in=viewer.la_ids)
    las = {
        a.pk: a
        for a in LocalAuthority.objects.select_related("region").filter(
            pk__in=la_rows.values("la_id")
        )
    }
    area_list = national_areas() + [
        Area("la", a.code, a.name, a.pk, None, a.region.dfe_code)
        for a in sorted(las.values(), key=lambda a: a.code)
    ]
    found = figures(collection, area_list, ["all"], viewer)
    regions = {
        code: (ons, name)
        for code, ons, name in Region.objects.values_list("dfe_code", "ons_code", "name")
    }
    year = int(definition.year)
    last_day = dt.date(year, 8, 31)
    country_code, country_name = reference.ENGLAND
    rows = []
    for area in area_list:
        f = found.get((area.level, area.code), {}).get("all")
        if f is None:
            continue
        values = module.ees_row(f.counts, definition, keystage_columns=False, as_of=today())
        hidden = f.pupils_hidden or any(
            fig.hidden for m in f.subjects.values() for fig in m.values() if fig is not None
        )
        region_code, region_name = regions.get(area.region_code or "", ("", ""))
        la = area.level == "la"
        row = {
            "time_period": f"{year - 1}{year % 100:02d}", "time_identifier": "Academic year",
            "geographic_level": _LEVELS[area.level],
            "country_code": country_code, "country_name": country_name,
            "region_code": region_code, "region_name": region_name,
            "new_la_code": (reference.new_la_code(area.code, last_day) or "") if la else "",
            "old_la_code": area.code if la else "", "la_name": area.name if la else "",
            "version": "Provisional (Keystage)",
        }  # fmt: skip
        for c in columns:
            value = values.get(c.name)
            if hidden:
                value = SUPPRESSED
            elif value is None:
                of_none = c.of is not None and values.get(c.of) == 0
                value = NOT_APPLICABLE if of_none else NOT_AVAILABLE
            row[c.name] = value
        rows.append(row)
    return OPEN_DATA_HEAD + [c.name for c in columns], rows
