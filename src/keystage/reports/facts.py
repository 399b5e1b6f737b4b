"""Rebuilding the fact tables from current pupil records.

A collection's school facts are counted by its own measures module
(`collections.module_of(definition, "measures")`, docs/measures.md "One entry point"), with
what its `needs` says it reads beyond this year's records (phonics: last year's results and
another collection's pupils), fetched in one query each; KS1's are counted on a fast path
of their own, below, since a national KS1 rebuild counts 600,000 pupils.

KS1's school facts are counted with the engine (`measures.count_pupils`): pupils with the same
outcomes count the same, so each distinct set of outcomes (a few hundred in the country) is
counted once and the counts are tallied as vectors (one slot per subject and code). LA facts are
the sums of their schools', region facts of their LAs', England's of the regions'. `Counts` add
up, so every level is pupil-weighted, and a school's new file touches only its own rows and the
three sums above it. Rows are written in bulk (COPY on PostgreSQL), since a national rebuild
writes a few hundred thousand of them.
"""

from __future__ import annotations

import datetime as dt
import json
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict

import numpy as np
from django.db import OperationalError, connection, transaction
from django.db.models import CharField, Q, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Concat
from django.utils import timezone

from keystage.engine import collections as collection_packages
from keystage.engine import definition as definitions
from keystage.engine.measures import UNKNOWN, Counts, count_pupils
from keystage.engine.records import PupilRecord as Record
from keystage.orgs.models import LocalAuthority, Region, School
from keystage.reference.groups import pupil_groups
from keystage.reports.models import NATIONAL_CODE, Fact
from keystage.submissions.models import Collection, PupilRecord

CHUNK = 20_000
# Characteristics that make groups (when a file carries them; see [characteristics] in the
# collection definition).
GROUPED_CHARACTERISTICS = ("fsm", "sen", "eal", "ethnicity")
_TERMS = {**dict.fromkeys((9, 10, 11, 12), "autumn"), **dict.fromkeys((1, 2, 3, 4), "spring")}
_TERMS.update(dict.fromkeys((5, 6, 7, 8), "summer"))
_NO = ("N", "NO", "FALSE", "0")
_COLUMNS = ("collection_id", "level", "area_code", "la_id", "school_id", "group", "pupils",
            "counts", "updated_at")  # fmt: skip


def counts_to_json(counts: Counts) -> dict:
    return asdict(counts)


def counts_from_json(data: dict) -> Counts:
    """A fact's counts; zero counts (which bulk-written rows keep) are dropped, as `Counts` never
    stores them."""
    return Counts(
        pupils=data["pupils"],
        codes={
            k: {c: n for c, n in v.items() if n}
            for k, v in data["codes"].items()
            if any(v.values())
        },
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


def _characteristic(key: str, raw) -> list[str]:
    """The groups a pupil's characteristic puts them in: its code's group (an extended code
    counted as its main code: reference/pupil_groups.toml), and the groups worked out from it
    (the ethnic major group); none when the file leaves it out."""
    value = str(raw or "").strip().upper()
    if not value:
        return []
    if key == "fsm":
        # CTF gives the date FSM started; CSV files say Y/N (or yes/no, true/false).
        value = "N" if value in _NO else "Y"
    return pupil_groups().groups_for(key, value[:30])


def _characteristic_groups(values) -> list[str]:
    """The groups of a pupil's characteristics (`values` in GROUPED_CHARACTERISTICS order). A
    characteristic the file leaves out while it gives another is counted as its `when_missing`
    code when the reference data has one: a CTF lists free school meals only for the pupils
    who have had them."""
    found, given, missing = [], False, []
    for key, raw in zip(GROUPED_CHARACTERISTICS, values, strict=False):
        groups = _characteristic(key, raw)
        given = given or bool(groups)
        found += groups
        if not groups:
            missing.append(key)
    if given:
        for key in missing:
            found += pupil_groups().when_missing(key)
    return found


def groups_of(dob: str, sex: str, characteristics: dict | None) -> list[str]:
    """The pupil groups a pupil is counted in, "all" first."""
    found = ["all"]
    sex = (sex or "").strip().upper()
    if sex in ("M", "F"):
        found.append(f"sex:{sex}")
    term = term_of_birth(dob)
    if term:
        found.append(f"term:{term}")
    found += _characteristic_groups(
        [(characteristics or {}).get(k) for k in GROUPED_CHARACTERISTICS]
    )
    return found


class _Slots:
    """Counts as a vector: pupils, then every (subject, code), then the combined counts; and back
    to `Counts`, or to the JSON a fact stores (zero counts left out, as `Counts` leaves them;
    written by hand, since a national rebuild writes a few hundred thousand)."""

    def __init__(self, definition):
        self.codes = [(s.key, c) for s in definition.subjects for c in (*s.valid, UNKNOWN)]
        self.size = 4 + len(self.codes)
        self.index = {sc: 1 + i for i, sc in enumerate(self.codes)}
        by_subject: dict[str, list] = defaultdict(list)
        for (subject, code), i in self.index.items():
            by_subject[subject].append((i, f"{json.dumps(code)}: "))
        self._plan = [(json.dumps(s), items) for s, items in by_subject.items()]

    def vector(self, counts: Counts) -> np.ndarray:
        v = np.zeros(self.size, dtype=np.int64)
        v[0] = counts.pupils
        for subject, tally in counts.codes.items():
            for code, n in tally.items():
                v[self.index[(subject, code)]] = n
        v[-3:] = (counts.combined_eligible, counts.combined_met, counts.combined_higher)
        return v

    def from_json(self, data: dict) -> np.ndarray:
        return self.vector(counts_from_json(data))

    def json(self, row) -> str:
        """The JSON of `counts_to_json` for a counts vector (a list of ints)."""
        parts = []
        for subject, items in self._plan:
            inner = [f"{code}{row[i]}" for i, code in items if row[i]]
            if inner:
                parts.append(f"{subject}: {{{', '.join(inner)}}}")
        return (
            f'{{"pupils": {row[0]}, "codes": {{{", ".join(parts)}}}, '
            f'"combined_eligible": {row[-3]}, "combined_met": {row[-2]}, '
            f'"combined_higher": {row[-1]}}}'
        )


_SEP = "\x1f"  # joins the texts of one pupil's outcomes (or characteristics) into one string


def _joined(*parts):
    pieces = []
    for part in parts:
        pieces += [part, Value(_SEP)]
    return Concat(*pieces[:-1], output_field=CharField())


def _count(collection: Collection, slots: _Slots, definition, school_ids=None, la_ids=None):
    """(keys, matrix): keys[i] = (school_id, la_id, group), matrix[i] its counts vector, from
    current pupil records of these schools or LAs (all when both are None).

    Each pupil comes from the database as five values (school, LA, date of birth, outcomes
    joined into one string, sex and characteristics joined into another); each distinct
    outcome string is counted once by the engine and each distinct characteristics string
    turned into groups once. The tallies are then numpy sums: a pupil adds 1 to its school's
    fact of every group it is in, in the slot of its code in each subject."""
    keys = definition.subject_keys
    rows = PupilRecord.objects.filter(collection=collection, is_current=True)
    if school_ids is not None:
        rows = rows.filter(school_id__in=school_ids)
    if la_ids is not None:
        rows = rows.filter(la_id__in=la_ids)
    rows = rows.annotate(
        k_outcomes=_joined(*(KT(f"outcomes__{k}") for k in keys)),
        k_profile=_joined("sex", *(KT(f"characteristics__{k}") for k in GROUPED_CHARACTERISTICS)),
    ).values_list("school_id", "la_id", "dob", "k_outcomes", "k_profile")
    group_ids: dict[str, int] = {"all": 0}

    def gid(name):
        return group_ids.setdefault(name, len(group_ids))

    patterns: dict[str, int] = {}
    pattern_slots: list[list[int]] = []  # per pattern: the slot of each subject's code, combined
    profiles: dict[str, int] = {}
    profile_groups: list[list[int]] = []
    terms: dict[str, int] = {}
    school_col, la_col, pattern_col, profile_col, term_col = (array("q") for _ in range(5))
    combined_slots = (slots.size - 3, slots.size - 2, slots.size - 1)
    add_school, add_la, add_pattern = school_col.append, la_col.append, pattern_col.append
    add_profile, add_term = profile_col.append, term_col.append
    pattern_get, profile_get, term_get = patterns.get, profiles.get, terms.get
    for school_id, la_id, dob, outcomes, profile in rows.iterator(chunk_size=CHUNK):
        p = pattern_get(outcomes)
        if p is None:
            codes = outcomes.split(_SEP)
            one = {k: v for k, v in zip(keys, codes, strict=False) if v}
            counts = count_pupils([one], definition)
            found = [slots.index[(k, c)] for k, tally in counts.codes.items() for c in tally]
            found += [slot for slot, n in zip(combined_slots, (counts.combined_eligible,
                      counts.combined_met, counts.combined_higher), strict=True) if n]  # fmt: skip
            p = patterns[outcomes] = len(pattern_slots)
            pattern_slots.append(found)
        q = profile_get(profile)
        if q is None:
            sex, *values = profile.split(_SEP)
            found = []
            sex = sex.strip().upper()
            if sex in ("M", "F"):
                found.append(gid(f"sex:{sex}"))
            found += [gid(group) for group in _characteristic_groups(values)]
            q = profiles[profile] = len(profile_groups)
            profile_groups.append(found)
        t = term_get(dob)
        if t is None:
            term = term_of_birth(dob)
            t = terms[dob] = gid(f"term:{term}") if term else -1
        add_school(school_id)
        add_la(la_id)
        add_pattern(p)
        add_profile(q)
        add_term(t)
    n = len(school_col)
    if not n:
        return [], np.zeros((0, slots.size), dtype=np.int64)
    school = np.frombuffer(school_col, dtype=np.int64)
    pattern = np.frombuffer(pattern_col, dtype=np.int64)
    term = np.frombuffer(term_col, dtype=np.int64)
    # Every (pupil, group) pair: all pupils, term of birth, then sex and characteristics.
    width = max((len(g) for g in profile_groups), default=0)
    groups_of_profile = np.full((len(profile_groups), max(width, 1)), -1, dtype=np.int64)
    for i, found in enumerate(profile_groups):
        groups_of_profile[i, : len(found)] = found
    member = np.concatenate([
        np.zeros(n, dtype=np.int64), term,
        groups_of_profile[np.frombuffer(profile_col, dtype=np.int64)].T.ravel(),
    ])  # fmt: skip
    pupil = np.tile(np.arange(n, dtype=np.int64), 2 + groups_of_profile.shape[1])
    keep = member >= 0
    member, pupil = member[keep], pupil[keep]
    fact_keys, fact = np.unique(school[pupil] * len(group_ids) + member, return_inverse=True)
    # A pupil's slots: pupils (0), the code of each subject, the combined measures it counts in.
    width = max(len(x) for x in pattern_slots)
    slots_of_pattern = np.full((len(pattern_slots), width + 1), -1, dtype=np.int64)
    for i, found in enumerate(pattern_slots):
        slots_of_pattern[i, 0] = 0
        slots_of_pattern[i, 1 : 1 + len(found)] = found
    hits = slots_of_pattern[pattern[pupil]]  # (pairs, width + 1)
    cells = (fact[:, None] * slots.size + hits)[hits >= 0]
    matrix = np.bincount(cells, minlength=len(fact_keys) * slots.size).reshape(-1, slots.size)
    names = {v: k for k, v in group_ids.items()}
    la_of = dict(zip(school_col, la_col, strict=True))
    out = []
    for key in fact_keys.tolist():
        school_id, g = divmod(key, len(group_ids))
        out.append((school_id, la_of[school_id], names[g]))
    return out, matrix.astype(np.int64)


def _sum_by(keys: list, matrix: np.ndarray, key_of) -> tuple[list, np.ndarray]:
    """Sum the rows of `matrix` whose keys map to the same `key_of(key)`."""
    index: dict = {}
    target = np.array([index.setdefault(key_of(k), len(index)) for k in keys], dtype=np.int64)
    out = np.zeros((len(index), matrix.shape[1]), dtype=np.int64)
    for k in range(matrix.shape[1] if len(keys) else 0):
        out[:, k] = np.bincount(target, weights=matrix[:, k], minlength=len(index))
    return list(index), out


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


def _write(rows: Iterable[tuple]) -> int:
    """Insert fact rows (tuples in `_COLUMNS` order, counts as JSON text)."""
    rows = list(rows)
    if not rows:
        return 0
    table = Fact._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY's text format, written a block at a time: quicker than a row at a time.
            with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                block = []
                for row in rows:
                    block.append("\t".join(map(_copy_text, row)))
                    if len(block) >= 5000:
                        copy.write("\n".join(block) + "\n")
                        block = []
                if block:
                    copy.write("\n".join(block) + "\n")
        else:
            marks = ", ".join(["%s"] * len(_COLUMNS))
            # Table and column names come from the model, never from input.
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"  # noqa: S608
            cursor.executemany(sql, rows)
    return len(rows)


def _truncated(collection) -> bool:
    """Empty the fact table if every fact is this collection's (PostgreSQL): far quicker than
    deleting 200,000 rows, and it leaves no dead rows behind; readers wait for the commit.
    False when it cannot (other collections' facts, SQLite, rows written earlier in the same
    transaction), and the caller deletes instead."""
    if connection.vendor != "postgresql" or Fact.objects.exclude(collection=collection).exists():
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Fact._meta.db_table}")
    except OperationalError:
        return False
    return True


def rebuild_facts(collection: Collection, *, schools: Iterable[int] | None = None) -> int:
    """Recount the school facts of `schools` (ids; every school when None) from their current
    pupil records, then re-add the LA, region and national facts above them, in one
    transaction. Returns the number of fact rows written. Nothing is recounted once
    retention has deleted the collection's pupil records: its figures are final."""
    from keystage.operations.retention import pupil_data_deleted

    if pupil_data_deleted(collection):
        return 0
    with transaction.atomic():
        # One rebuild of a collection at a time (PostgreSQL; SQLite writes one at a time
        # anyway): two at once could count before each other's writes, or clash on LA rows.
        Collection.objects.select_for_update().filter(pk=collection.pk).first()
        return _rebuild(collection, schools)


def _rebuild_scope(schools):
    """What both rebuilds start from: the schools asked for (None: all) and their LAs, the
    rows' timestamp as the database takes it, each LA's (code, region) and each region's code."""
    school_ids = None if schools is None else sorted(set(schools))
    la_ids = None
    if school_ids is not None:
        la_ids = sorted(
            set(School.objects.filter(pk__in=school_ids).values_list("la_id", flat=True))
        )
    now = timezone.now()
    stamp = (
        now if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(now)
    )
    la_info = {
        pk: (code, region_id)
        for pk, code, region_id in LocalAuthority.objects.values_list("pk", "code", "region_id")
    }
    region_code = dict(Region.objects.values_list("pk", "dfe_code"))
    return school_ids, la_ids, stamp, la_info, region_code


def _rebuild(collection: Collection, schools) -> int:
    definition = definitions.load(collection.code)
    module = collection_packages.module_of(definition, "measures")
    if module.Counts is not Counts:
        return _rebuild_by_module(collection, definition, module, schools)
    slots = _Slots(definition)
    school_ids, la_ids, stamp, la_info, region_code = _rebuild_scope(schools)
    cid = collection.pk
    # Every pupil of the LAs touched: the chosen schools' facts, and their LAs' sums.
    keys, matrix = _count(collection, slots, definition, la_ids=la_ids)
    laestab = dict(School.objects.filter(pk__in={k[0] for k in keys}).values_list("pk", "laestab"))
    wanted = None if school_ids is None else set(school_ids)
    school_rows = (
        (cid, "school", laestab[sid], la_id, sid, group, int(row[0]), slots.json(row), stamp)
        for (sid, la_id, group), row in zip(keys, matrix.tolist(), strict=True)
        if wanted is None or sid in wanted
    )
    la_keys, la_matrix = _sum_by(keys, matrix, lambda k: (k[1], k[2]))
    written = 0
    with transaction.atomic():
        facts = Fact.objects.filter(collection=collection)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Facts are counted again from pupil records at any time: a crash just after
                # the commit may lose this rebuild, never pupil data. Not waiting for the WAL
                # flush saves a second or two of a national rebuild.
                cursor.execute("SET LOCAL synchronous_commit = off")
        if school_ids is None:
            if not _truncated(collection):
                facts.delete()
        else:
            facts.filter(level=Fact.Level.SCHOOL, school_id__in=school_ids).delete()
            facts.filter(level=Fact.Level.LA, la_id__in=la_ids).delete()
        written += _write(school_rows)
        written += _write(
            (cid, "la", la_info[la_id][0], la_id, None, group, int(row[0]), slots.json(row), stamp)
            for (la_id, group), row in zip(la_keys, la_matrix.tolist(), strict=True)
        )

        # Regions: the sum of their LAs (read back, so untouched LAs count too)
        regions = {la_info[la_id][1] for la_id in la_ids} if la_ids is not None else None
        las = facts.filter(level=Fact.Level.LA)
        if regions is not None:
            las = las.filter(la__region_id__in=regions)
            facts.filter(
                level=Fact.Level.REGION, area_code__in=[region_code[r] for r in regions]
            ).delete()
        rows = list(las.values_list("la_id", "group", "counts"))
        r_keys = [(la_info[la_id][1], group) for la_id, group, _ in rows]
        r_matrix = (
            np.stack([slots.from_json(data) for _, _, data in rows])
            if rows
            else np.zeros((0, slots.size), dtype=np.int64)
        )
        r_keys, r_matrix = _sum_by(r_keys, r_matrix, lambda k: k)
        written += _write(
            (
                cid,
                "region",
                region_code[rid],
                None,
                None,
                group,
                int(row[0]),
                slots.json(row),
                stamp,
            )
            for (rid, group), row in zip(r_keys, r_matrix.tolist(), strict=True)
        )

        # England: the sum of the regions
        facts.filter(level=Fact.Level.NATIONAL).delete()
        rows = list(facts.filter(level=Fact.Level.REGION).values_list("group", "counts"))
        n_keys = [group for group, _ in rows]
        n_matrix = (
            np.stack([slots.from_json(data) for _, data in rows])
            if rows
            else np.zeros((0, slots.size), dtype=np.int64)
        )
        n_keys, n_matrix = _sum_by(n_keys, n_matrix, lambda k: k)
        written += _write(
            (cid, "national", NATIONAL_CODE, None, None, group, int(row[0]), slots.json(row), stamp)
            for group, row in zip(n_keys, n_matrix.tolist(), strict=True)
        )
    return written


# -- every other collection: counted by its own measures module ---------------------------------

_RECORD_FIELDS = ("school_id", "la_id", "upn", "dob", "sex", "nc_year", "outcomes",
                  "characteristics")  # fmt: skip


def _record(upn, dob, sex, nc_year, outcomes, characteristics) -> Record:
    return Record(line=0, upn=upn, dob=dob, sex=sex, nc_year=nc_year, outcomes=outcomes or {},
                  characteristics=characteristics or {})  # fmt: skip


def _group_of(record: Record) -> list[str]:
    return groups_of(record.dob, record.sex, record.characteristics)


def _held(code: str | None) -> Collection | None:
    """The collection of that id when Keystage holds any current pupil records of it."""
    if not code:
        return None
    found = Collection.objects.filter(code=code).first()
    if found is None or not PupilRecord.objects.filter(collection=found, is_current=True).exists():
        return None
    return found


def _current(collection, la_ids, upns=None):
    rows = PupilRecord.objects.filter(collection=collection, is_current=True)
    if la_ids is not None:
        where = Q(la_id__in=la_ids)
        if upns:
            where |= Q(upn__in=sorted(upns))
        rows = rows.filter(where)
    return rows.values_list(*_RECORD_FIELDS).iterator(chunk_size=CHUNK)


def _inputs(definition, module, collection, la_ids):
    """(this year's records per school, last year's per school or None, the other
    collection's per school or None), each read in one query. What `needs` names counts as
    held for an LA when Keystage has any of its records of the LA: else its schools get None
    and the measure says what to load."""
    this_year: dict[int, tuple[int, list[Record]]] = {}
    for school_id, la_id, *rest in _current(collection, la_ids):
        this_year.setdefault(school_id, (la_id, []))[1].append(_record(*rest))
    need = module.needs(definition)
    other: dict[int, list[Record]] | None = None
    other_las: set[int] = set()
    held = _held(need.other_collection)
    if held is not None:
        other = defaultdict(list)
        for school_id, la_id, *rest in _current(held, la_ids):
            other[school_id].append(_record(*rest))
            other_las.add(la_id)
    last: dict[int, dict[str, Record]] | None = None
    last_las: set[int] = set()
    held = _held(need.last_year)
    if held is not None:
        # Last year's records of these LAs' schools, and of this year's pupils (and the other
        # collection's) wherever they were last year.
        upns = {r.upn for _, found in this_year.values() for r in found}
        upns |= {r.upn for found in (other or {}).values() for r in found}
        upns.discard("")
        by_school: dict[int, dict[str, Record]] = defaultdict(dict)
        by_upn: dict[str, Record] = {}
        for school_id, la_id, *rest in _current(held, la_ids, upns):
            record = _record(*rest)
            if la_ids is None or la_id in la_ids:
                by_school[school_id][record.upn] = record
                last_las.add(la_id)
            by_upn.setdefault(record.upn, record)
        last = {}
        for school_id, (_, found) in this_year.items():
            mine = dict(by_school.get(school_id, {}))
            for r in (*found, *(other or {}).get(school_id, ())):
                if r.upn in by_upn:
                    mine.setdefault(r.upn, by_upn[r.upn])
            last[school_id] = mine
    inputs = {}
    for school_id, (la_id, found) in this_year.items():
        inputs[school_id] = (
            la_id,
            found,
            last[school_id] if last is not None and la_id in last_las else None,
            other.get(school_id, []) if other is not None and la_id in other_las else None,
        )
    return inputs


def _rebuild_by_module(collection: Collection, definition, module, schools) -> int:
    """The rebuild of `_rebuild` for a collection KS1's fast path does not count: each
    school's records counted by `module.count_by_group`, its `Counts` stored with
    `module.to_json` and added up (`from_json`, `+`) for its LA, region and England."""
    school_ids, la_ids, stamp, la_info, region_code = _rebuild_scope(schools)
    cid = collection.pk
    inputs = _inputs(definition, module, collection, la_ids)
    laestab = dict(School.objects.filter(pk__in=list(inputs)).values_list("pk", "laestab"))
    wanted = None if school_ids is None else set(school_ids)
    school_rows, la_sums = [], defaultdict(list)
    for school_id, (la_id, found, last_year, other) in sorted(inputs.items()):
        by_group = module.count_by_group(found, definition, _group_of, last_year=last_year,
                                         other_collection=other)  # fmt: skip
        for group, counts in by_group.items():
            la_sums[(la_id, group)].append(counts)
            if wanted is None or school_id in wanted:
                school_rows.append((cid, "school", laestab[school_id], la_id, school_id, group,
                                    counts.pupils, json.dumps(module.to_json(counts)), stamp))  # fmt: skip

    def summed(found: list) -> tuple[int, str]:
        total = sum(found, module.Counts())
        return total.pupils, json.dumps(module.to_json(total))

    written = 0
    with transaction.atomic():
        facts = Fact.objects.filter(collection=collection)
        if school_ids is None:
            facts.delete()
        else:
            facts.filter(level=Fact.Level.SCHOOL, school_id__in=school_ids).delete()
            facts.filter(level=Fact.Level.LA, la_id__in=la_ids).delete()
        written += _write(school_rows)
        written += _write(
            (cid, "la", la_info[la_id][0], la_id, None, group, *summed(found), stamp)
            for (la_id, group), found in la_sums.items()
        )
        # Regions: the sum of their LAs (read back, so untouched LAs count too); England:
        # the sum of the regions.
        las = facts.filter(level=Fact.Level.LA)
        if la_ids is not None:
            regions = {la_info[la_id][1] for la_id in la_ids}
            las = las.filter(la__region_id__in=regions)
            facts.filter(
                level=Fact.Level.REGION, area_code__in=[region_code[r] for r in regions]
            ).delete()
        region_sums = defaultdict(list)
        for la_id, group, data in las.values_list("la_id", "group", "counts"):
            region_sums[(la_info[la_id][1], group)].append(module.from_json(data))
        written += _write(
            (cid, "region", region_code[rid], None, None, group, *summed(found), stamp)
            for (rid, group), found in region_sums.items()
        )
        facts.filter(level=Fact.Level.NATIONAL).delete()
        national_sums = defaultdict(list)
        for group, data in facts.filter(level=Fact.Level.REGION).values_list("group", "counts"):
            national_sums[group].append(module.from_json(data))
        written += _write(
            (cid, "national", NATIONAL_CODE, None, None, group, *summed(found), stamp)
            for group, found in national_sums.items()
        )
    return written
