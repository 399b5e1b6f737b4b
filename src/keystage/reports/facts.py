"""Rebuilding the fact tables from current pupil records.

School facts are counted with the engine (`measures.count_pupils`): pupils with the same
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
from django.db.models import CharField, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Concat
from django.utils import timezone

from keystage.engine import definition as definitions
from keystage.engine.measures import UNKNOWN, Counts, count_pupils
from keystage.orgs.models import LocalAuthority, Region, School
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


def _characteristic(key: str, raw) -> str | None:
    value = str(raw or "").strip().upper()
    if not value:
        return None
    if key == "fsm":
        # CTF gives the date FSM started; CSV files say Y/N (or yes/no, true/false).
        value = "N" if value in _NO else "Y"
    return f"{key}:{value[:30]}"


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
        group = _characteristic(key, (characteristics or {}).get(key))
        if group:
            found.append(group)
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
            for key, raw in zip(GROUPED_CHARACTERISTICS, values, strict=False):
                if group := _characteristic(key, raw):
                    found.append(gid(group))
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


def _rebuild(collection: Collection, schools) -> int:
    definition = definitions.load(collection.code)
    slots = _Slots(definition)
    school_ids = None if schools is None else sorted(set(schools))
    now = timezone.now()
    stamp = (
        now if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(now)
    )
    cid = collection.pk
    la_info = {
        pk: (code, region_id)
        for pk, code, region_id in LocalAuthority.objects.values_list("pk", "code", "region_id")
    }
    region_code = dict(Region.objects.values_list("pk", "dfe_code"))
    if school_ids is None:
        la_ids = None
    else:
        la_ids = sorted(
            set(School.objects.filter(pk__in=school_ids).values_list("la_id", flat=True))
        )
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
