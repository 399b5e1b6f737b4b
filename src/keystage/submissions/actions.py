"""State changes for submissions: importing school files and refreshing cross-school checks.

Each file is stored in one transaction with its audit row: a file that is rejected, or an
import that fails or is killed half-way, leaves what was held before exactly as it was.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Set
from dataclasses import dataclass, field

from django.db import connection, models, transaction
from django.utils import timezone

from keystage.audit.models import audit_actor, audit_row, insert_events
from keystage.engine import definition as definitions
from keystage.engine import rules
from keystage.engine.year_groups import nc_year_key, year_label
from keystage.orgs.models import LocalAuthority, School
from keystage.submissions import bulk
from keystage.submissions.kept import kept_length
from keystage.submissions.models import Collection, Finding, PupilChange, PupilRecord, Upload
from keystage.submissions.preparing import KnownSchool, PreparedFile, stored_name

PUPIL_COLUMNS = (
    "id",
    "upload_id",
    "collection_id",
    "school_id",
    "la_id",
    "is_current",
    "line",
    "upn",
    "surname",
    "forename",
    "dob",
    "sex",
    "outcomes",
    "nc_year",
    "former_upn",
    "characteristics",
)
FINDING_COLUMNS = (
    "collection_id",
    "upload_id",
    "school_id",
    "la_id",
    "pupil_id",
    "is_current",
    "scope",
    "rule",
    "severity",
    "field",
    "value",
    "message",
)


@dataclass
class ImportResult:
    """What happened to one file: outcome is accepted, superseded, unchanged or rejected."""

    file_name: str
    outcome: str
    laestab: str = ""
    school_name: str = ""
    pupils: int = 0
    errors: int = 0
    queries: int = 0
    reason: str = ""
    upload_id: int | None = None
    changes: dict = field(default_factory=dict)
    ignored: dict = field(default_factory=dict)
    # Of a rejected file: its size and SHA-256 (of the whole file) and how much of it is kept
    # (None: not known, or nothing new kept); less than `size` means the copy is partial.
    size: int = 0
    sha256: str = ""
    kept_bytes: int | None = None
    # Of a year-group file that replaced only its NC year of the school's earlier file
    # (`KeptYearGroups.summary`): {"year": "2", "replaced": 27, "kept": 30, "kept_years": ["1"]}.
    year_group: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "file": self.file_name,
            "outcome": self.outcome,
            "laestab": self.laestab,
            "school": self.school_name,
            "pupils": self.pupils,
            "errors": self.errors,
            "queries": self.queries,
            "reason": self.reason,
            "upload_id": self.upload_id,
            "added": len(self.changes.get("added", [])),
            "removed": len(self.changes.get("removed", [])),
            "changed": len(self.changes.get("changed", [])),
            "kept": self.year_group.get("kept", 0),
            **({"year_group": self.year_group} if self.year_group else {}),
            **(
                {"size": self.size, "sha256": self.sha256, "kept_bytes": self.kept_bytes}
                if self.sha256
                else {}
            ),
        }


def year_group_words(row: dict) -> str:
    """What a year-group file replaced, in words, from its result (`ImportResult.as_dict`):
    "replaced the school's Year 2 pupils (27 in the earlier file, 28 in this one: 3 added,
    2 removed, 1 changed) and kept its Year 1 pupils (30) from the earlier file". "" for any
    other result, which replaced all of the school's pupils (or none)."""
    found = row.get("year_group") or {}
    if row.get("outcome") != "superseded" or not found.get("kept"):
        return ""
    years = found.get("kept_years") or []
    kept = (
        " and ".join(year_label(y) for y in years) + " pupils"
        if years and all(years)
        else "other pupils"
    )
    return (
        f"replaced the school's {year_label(found['year'])} pupils "
        f"({found['replaced']:,} in the earlier file, {row.get('pupils', 0):,} in this one: "
        f"{row.get('added', 0):,} added, {row.get('removed', 0):,} removed, "
        f"{row.get('changed', 0):,} changed) and kept its {kept} ({found['kept']:,}) from the "
        "earlier file"
    )


def get_collection(collection_id: str | None = None) -> Collection:
    """The collection named, else the one of the page being answered (keystage.web.links:
    its id is in the page's path), else the service's default."""
    from keystage.web.links import current_collection

    code = collection_id or current_collection()
    definition = definitions.load(code)
    collection, _ = Collection.objects.get_or_create(
        code=code, defaults={"name": definition.name, "year": definition.year}
    )
    return collection


def known_schools() -> dict:
    """Every school of the register, keyed for `preparing.resolve_school`."""
    out: dict = {}
    by_estab: dict[str, list[KnownSchool]] = {}
    rows = School.objects.order_by("id").values_list(
        "id", "la_id", "la__code", "estab", "urn", "name", "type_name", "phase_name",
        "status_name", "low_age", "high_age", "close_date",
    )  # fmt: skip
    for pk, la_id, la, estab, urn, name, type_name, phase, status, low, high, closed in rows:
        info = rules.SchoolInfo(la=la, estab=estab, urn=urn, name=name, type_name=type_name,
                                phase_name=phase, status_name=status, low_age=low,
                                high_age=high)  # fmt: skip
        known = KnownSchool(school_id=pk, la_id=la_id, info=info)
        # When an LAESTAB has been re-used, the open school (no close date) wins.
        if estab and ((la, estab) not in out or closed is None):
            out[(la, estab)] = known
        out[("urn", urn)] = known
        if estab:  # an early-years setting has none: it is found by its URN
            by_estab.setdefault(estab, []).append(known)
    for estab, items in by_estab.items():
        out[("estab", estab)] = tuple(items)
    return out


def imported_files(collection: Collection, among=None) -> dict[str, dict]:
    """Every file already imported for the collection (of the uploads `among`, a queryset), by
    hash: the same bytes again are reported `unchanged` (or rejected again) without touching
    anything."""
    uploads = Upload.objects.all() if among is None else among
    rows = uploads.filter(collection=collection).order_by("id").values(
        "id", "sha256", "state", "file_name", "uploaded_at", "reason", "pupil_count",
        "error_count", "query_count", "school__laestab", "school__name",
    )  # fmt: skip
    return {row["sha256"]: row for row in rows.iterator(chunk_size=5000)}


def _diff(previous_id: int, new_rows: list[tuple], leave_out: Set[int] = frozenset()) -> dict:
    """What a school's new file changed against its previous one: pupils added, removed and
    changed (by UPN). A pupil whose new record gives, as its former UPN, a UPN of the previous
    file that the new file no longer has is the same pupil with a new UPN: changed, with
    "upn" among its fields and `former_upn` saying what it was. `leave_out`: records of the
    previous upload the new file does not replace (another year group's), not compared."""
    old = {
        upn: (surname, forename, dob, sex, outcomes)
        for pk, upn, surname, forename, dob, sex, outcomes in PupilRecord.objects.filter(
            upload_id=previous_id
        ).values_list("id", "upn", "surname", "forename", "dob", "sex", "outcomes")
        if pk not in leave_out
    }
    # new rows: (line, upn, surname, forename, dob, sex, outcomes_json, nc_year, former_upn, ...)
    new = {r[1]: (r[2], r[3], r[4], r[5], json.loads(r[6])) for r in new_rows}
    renamed = {
        r[1]: r[8] for r in new_rows if r[8] and r[1] not in old and r[8] in old and r[8] not in new
    }
    if len(set(renamed.values())) != len(renamed):  # two pupils claim one former UPN: no guess
        renamed = {}
    names = ("surname", "forename", "dob", "sex")
    changed = []
    pairs = [(upn, upn) for upn in old.keys() & new.keys()] + [
        (former, upn) for upn, former in renamed.items()
    ]
    for was, upn in sorted(pairs, key=lambda p: p[1]):
        a, b = old[was], new[upn]
        fields = ["upn"] if was != upn else []
        fields += [n for n, x, y in zip(names, a[:4], b[:4], strict=True) if x != y]
        fields += sorted(k for k in a[4].keys() | b[4].keys() if a[4].get(k) != b[4].get(k))
        if fields:
            changed.append(
                {"upn": upn, "fields": fields} | ({"former_upn": was} if was != upn else {})
            )
    return {
        "added": sorted(new.keys() - old.keys() - renamed.keys()),
        "removed": sorted(old.keys() - new.keys() - set(renamed.values())),
        "changed": changed,
    }


UPLOAD_COLUMNS = (
    "id", "collection_id", "school_id", "la_id", "file_name", "sha256", "size", "kind",
    "stored_path", "source", "uploaded_by_id", "uploaded_at", "state", "reason", "pupil_count",
    "error_count", "query_count", "ignored", "supersedes_id", "changes",
)  # fmt: skip


def _current_uploads(cursor, collection: Collection, school_ids: list[int]) -> dict[int, int]:
    """school id -> its current upload id, locked until the transaction ends so that two
    imports for the same school one after the other, never interleaved."""
    if not school_ids:
        return {}
    table = Upload._meta.db_table
    marks = ", ".join(["%s"] * len(school_ids))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    cursor.execute(
        f'SELECT "school_id", "id" FROM "{table}" WHERE "collection_id" = %s '  # noqa: S608
        f'AND "state" = %s AND "school_id" IN ({marks}){lock}',
        [collection.pk, Upload.State.CURRENT, *school_ids],
    )
    return dict(cursor.fetchall())


@dataclass
class KeptYearGroups:
    """What a year-group file (`PreparedFile.year_group`) leaves of its school's current
    upload: the records of the other NC years, current or removed by the LA, which go on to
    the new upload with their findings and the LA's changes (`_carry_year_groups`). A record
    of the file's NC year, or whose UPN the file gives (as a pupil's UPN or former UPN), is
    replaced by the file, as every record is by a file of all year groups."""

    year: str  # the file's NC year, as the definition spells it
    ids: set[int] = field(default_factory=set)  # the earlier upload's records kept
    replaced: int = 0  # current records of the earlier upload that the file replaces
    kept_years: Counter = field(default_factory=Counter)  # NC year -> current records kept

    def summary(self) -> dict:
        return {
            "year": self.year,
            "replaced": self.replaced,
            "kept": sum(self.kept_years.values()),
            "kept_years": sorted(self.kept_years),
        }


def _kept_year_groups(
    previous: dict[int, int], files: list[PreparedFile]
) -> dict[int, KeptYearGroups]:
    """School id -> what its year-group file keeps of the school's current upload (`previous`:
    school id -> that upload), for the files of `files` that keep anything."""
    wanted = {p.school.school_id: p for p in files
              if p.year_group and not p.rejected and p.school.school_id in previous}  # fmt: skip
    if not wanted:
        return {}
    school_of = {previous[school]: school for school in wanted}
    named = {
        school: {u.strip().upper() for r in p.pupils for u in (r[1], r[8]) if u}
        for school, p in wanted.items()
    }
    found: dict[int, KeptYearGroups] = {
        school: KeptYearGroups(p.year_group) for school, p in wanted.items()
    }
    rows = PupilRecord.objects.filter(upload_id__in=list(school_of)).values_list(
        "id", "upload_id", "upn", "nc_year", "is_current", "flag"
    )
    for pk, upload_id, upn, nc_year, is_current, flag in rows.iterator(chunk_size=5000):
        school = school_of[upload_id]
        kept = found[school]
        if nc_year_key(nc_year) == nc_year_key(kept.year) or upn.strip().upper() in named[school]:
            kept.replaced += is_current
        elif is_current:
            kept.ids.add(pk)
            kept.kept_years[nc_year_key(nc_year)] += 1
        elif flag == "removed":  # the LA's removal stays with the pupil, who stays removed
            kept.ids.add(pk)
    return {school: kept for school, kept in found.items() if kept.ids}


def _carry_year_groups(kept: dict[int, KeptYearGroups], new_upload: dict[int, int]) -> None:
    """Copy the records a year-group file keeps into the school's new upload (`new_upload`:
    school id -> upload id), as they are now (the LA's edits in them, removed pupils still
    removed, the same version), with their pupil findings (explanations, and what only the
    file could show) as they are. The LA's changes of those pupils move with them to the
    copies, so that the pupil's trail, open conflicts and a later file's conflicts find them;
    the earlier upload keeps its records as its file had them."""
    ids = sorted(set().union(*(k.ids for k in kept.values())))
    if not ids:
        return
    originals = list(PupilRecord.objects.filter(pk__in=ids).order_by("id"))
    copy_ids = bulk.allocate_ids(PupilRecord._meta.db_table, len(originals))
    copy_of: dict[int, int] = {}
    copies = []
    for original, copy_id in zip(originals, copy_ids, strict=True):
        copy_of[original.pk] = copy_id
        original.pk, original.upload_id = copy_id, new_upload[original.school_id]
        copies.append(original)
    PupilRecord.objects.bulk_create(copies, batch_size=2000)
    findings = list(Finding.objects.filter(pupil_id__in=ids, scope=Finding.Scope.PUPIL))
    for f in findings:
        f.pk, f.pupil_id = None, copy_of[f.pupil_id]
        f.upload_id = new_upload[f.school_id]
    Finding.objects.bulk_create(findings, batch_size=2000)
    upload_of = {c.pk: c.upload_id for c in copies}
    touched = set(PupilChange.objects.filter(pupil_id__in=ids).values_list("pupil_id", flat=True))
    for old_id in sorted(touched):  # only pupils the LA changed: few
        new_id = copy_of[old_id]
        PupilChange.objects.filter(pupil_id=old_id).update(
            pupil_id=new_id, upload_id=upload_of[new_id]
        )


def do_store_files(
    group: list[PreparedFile], *, collection: Collection, user=None, source: str = "cli"
) -> list[ImportResult]:
    """Store prepared files in one transaction: rejections are recorded; each accepted file
    becomes its school's current upload and supersedes the one before (kept, with what
    changed); a year-group file's upload takes over the school's pupils of its other NC years
    (`_carry_year_groups`). Files of one group must be for different schools.

    A national import stores 16,500 files; doing it group by group costs a handful of
    statements per group instead of a dozen round trips per file. Nothing is half-stored: a
    failure rolls the whole group back, and files stored before it stay as they are."""
    if not group:
        return []
    user = _user(user)
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    actor = audit_actor(user)
    accepted = [p for p in group if not p.rejected]
    schools = [p.school.school_id for p in accepted]
    if len(set(schools)) != len(schools):
        raise ValueError("one group holds two files for the same school")
    results: list[ImportResult] = []
    unplaced = {p.la for p in group if p.school is None and p.la}
    la_ids = dict(LocalAuthority.objects.filter(code__in=unplaced).values_list("code", "pk"))
    with transaction.atomic(), connection.cursor() as cursor:
        previous = _current_uploads(cursor, collection, schools)
        others = _kept_year_groups(previous, accepted)
        upload_ids = bulk.allocate_ids(Upload._meta.db_table, len(group))
        n_pupils = sum(len(p.pupils) for p in accepted)
        pupil_ids = iter(bulk.allocate_ids(PupilRecord._meta.db_table, n_pupils))
        uploads, pupils, findings, events = [], [], [], []
        for upload_id, p in zip(upload_ids, group, strict=True):
            school = p.school
            name = stored_name(p.name)
            la_id = school.la_id if school else la_ids.get(p.la)
            row = {
                "id": upload_id, "collection_id": collection.pk,
                "school_id": school.school_id if school else None, "la_id": la_id,
                "file_name": name, "sha256": p.sha256, "size": p.size, "kind": p.kind,
                "stored_path": p.stored_path, "source": source,
                "uploaded_by_id": user.pk if user else None, "uploaded_at": stamp,
                "reason": p.rejected, "ignored": json.dumps(p.ignored), "changes": "{}",
                "pupil_count": len(p.pupils), "error_count": p.error_count,
                "query_count": p.query_count, "supersedes_id": None,
            }  # fmt: skip
            if p.rejected:
                row["state"] = Upload.State.REJECTED
                uploads.append(row)
                kept = kept_length(p.stored_path)
                events.append(audit_row(stamp, actor, "upload.rejected", la_id, row["school_id"],
                                        ("Upload", upload_id), file=name, reason=p.rejected,
                                        sha256=p.sha256, size=p.size, kept_bytes=kept))  # fmt: skip
                results.append(ImportResult(p.name, "rejected", reason=p.rejected,
                                            laestab=f"{p.la}{p.estab}", upload_id=upload_id,
                                            size=p.size, sha256=p.sha256, kept_bytes=kept))  # fmt: skip
                continue
            prev = previous.get(school.school_id)
            row.update(state=Upload.State.CURRENT, supersedes_id=prev)
            uploads.append(row)
            ids = [next(pupil_ids) for _ in p.pupils]
            head = (upload_id, collection.pk, school.school_id, school.la_id, True)
            pupils.extend((pid, *head, *r) for pid, r in zip(ids, p.pupils, strict=True))
            base = (collection.pk, upload_id, school.school_id, school.la_id)
            findings.extend(
                (
                    *base,
                    ids[i],
                    True,
                    "pupil",
                    f.rule,
                    f.severity,
                    f.field,
                    f.value[:200],
                    f.message,
                )
                for i, f in p.pupil_findings
            )
            findings.extend(
                (*base, None, True, "school", f.rule, f.severity, f.field, f.value[:200], f.message)
                for f in p.school_findings
            )
            outcome = "superseded" if prev else "accepted"
            laestab = school.info.laestab
            year_group = others[school.school_id].summary() if school.school_id in others else {}
            events.append(audit_row(
                stamp, actor, f"upload.{outcome}", school.la_id, school.school_id,
                ("Upload", upload_id), file=name, laestab=laestab, pupils=len(p.pupils),
                errors=p.error_count, queries=p.query_count, supersedes=prev,
                **({"year_group": year_group} if year_group else {}),
            ))  # fmt: skip
            results.append(ImportResult(
                p.name, outcome, laestab=laestab, school_name=school.info.name,
                pupils=len(p.pupils), errors=p.error_count, queries=p.query_count,
                upload_id=upload_id, ignored=p.ignored, year_group=year_group,
            ))  # fmt: skip
        bulk.insert_rows(Upload._meta.db_table, UPLOAD_COLUMNS,
                         [tuple(u[c] for c in UPLOAD_COLUMNS) for u in uploads])  # fmt: skip
        bulk.insert_rows(PupilRecord._meta.db_table, PUPIL_COLUMNS, pupils)
        bulk.insert_rows(Finding._meta.db_table, FINDING_COLUMNS, findings)
        superseded = {r.upload_id: previous[p.school.school_id] for r, p in
                      zip(results, group, strict=True) if r.outcome == "superseded"}  # fmt: skip
        if superseded:
            by_new = {r.upload_id: (r, p) for r, p in zip(results, group, strict=True)}
            for new_id, old_id in superseded.items():
                r, p = by_new[new_id]
                leave_out = (
                    others[p.school.school_id].ids if p.school.school_id in others else set()
                )
                r.changes = _diff(old_id, p.pupils, leave_out)
                Upload.objects.filter(pk=new_id).update(changes=r.changes)
            # Before the earlier uploads' records stop being current: the copies keep theirs.
            _carry_year_groups(others, {p.school.school_id: r.upload_id
                                      for r, p in by_new.values() if p.school.school_id in others})  # fmt: skip
            old = list(superseded.values())
            Upload.objects.filter(pk__in=old).update(
                state=Upload.State.SUPERSEDED, superseded_at=now
            )
            PupilRecord.objects.filter(upload_id__in=old).update(is_current=False)
            Finding.objects.filter(upload_id__in=old).update(is_current=False)
            _carry_over(superseded, user=user, now=now,
                        carried=set().union(*(k.ids for k in others.values())))  # fmt: skip
        insert_events(events)
        # The recount of these schools' facts, in the same transaction (see reports.due).
        from keystage.reports.due import mark_due

        mark_due(collection.pk, schools)
    return results


def _pupil_value(pupil: PupilRecord, name: str) -> str:
    if name in ("upn", "surname", "forename", "dob", "sex"):
        return getattr(pupil, name)
    return (pupil.outcomes or {}).get(name, "")


def _carry_over(superseded: dict[int, int], *, user, now, carried: Set[int] = frozenset()) -> None:
    """What the LA did to the records a school's new file replaces: explanations of queries
    the new file raises again go with the pupil, and where the new file disagrees with an LA
    edit (or brings back a pupil the LA removed) an open conflict is recorded on the new
    record for the LA to settle, instead of silently overwriting either. Only schools whose
    records the LA touched cost a lookup. `carried`: records a year-group file did not
    replace, already copied to the new upload with all of that (`_carry_year_groups`)."""
    new_of = {old: new for new, old in superseded.items()}
    old_ids = list(new_of)
    explained = Finding.objects.filter(
        upload_id__in=old_ids, scope=Finding.Scope.PUPIL, severity="query", explanation__gt=""
    ).exclude(pupil_id__in=carried).values_list(
        "upload_id", "pupil__upn", "rule", "field", "explanation", "explained_by_id",
        "explained_at",
    )  # fmt: skip
    for old_id, upn, rule, name, text, by, at in explained:
        Finding.objects.filter(
            upload_id=new_of[old_id], scope=Finding.Scope.PUPIL, severity="query", rule=rule,
            field=name,
        ).filter(
            models.Q(pupil__upn=upn) | models.Q(pupil__former_upn=upn)
        ).update(explanation=text, explained_by_id=by, explained_at=at)  # fmt: skip
    _carry_added_pupils(new_of, carried)
    touched = list(
        PupilChange.objects.filter(upload_id__in=old_ids, pupil__isnull=False)
        .filter(
            models.Q(source__in=(PupilChange.Source.EDIT, PupilChange.Source.REMOVED))
            | models.Q(source=PupilChange.Source.RESTORED)
            | models.Q(source=PupilChange.Source.FILE, conflict=PupilChange.Conflict.OPEN)
        )
        .select_related("pupil")
        .order_by("at", "id")
    )
    if not touched:
        return
    by_new: dict[int, dict[str, PupilRecord]] = {}
    by_former: dict[int, dict[str, PupilRecord]] = {}  # the school's file says "formerly ..."
    for p in PupilRecord.objects.filter(upload_id__in=[new_of[c.upload_id] for c in touched]):
        by_new.setdefault(p.upload_id, {})[p.upn] = p
        if p.former_upn:
            by_former.setdefault(p.upload_id, {})[p.former_upn] = p
    wanted: dict[tuple[int, str], tuple[PupilChange, str]] = {}  # (old pupil, field) -> LA value
    aliases: dict[int, set[str]] = {}  # old pupil -> every UPN it had
    for c in touched:
        aliases.setdefault(c.pupil_id, {c.pupil.upn}).update(
            {c.upn} | ({c.old} if c.field == "upn" else set())
        )
        if c.source == PupilChange.Source.REMOVED:
            wanted[(c.pupil_id, "pupil")] = (c, "removed by the LA")
        elif c.source == PupilChange.Source.RESTORED:  # the LA put the pupil back since
            wanted.pop((c.pupil_id, "pupil"), None)
        elif c.source == PupilChange.Source.FILE:
            wanted[(c.pupil_id, c.field)] = (c, c.old)
        else:
            wanted[(c.pupil_id, c.field)] = (c, _pupil_value(c.pupil, c.field))
    conflicts = []
    for (_, name), (c, la_value) in wanted.items():
        pupils = by_new.get(new_of[c.upload_id], {})
        formerly = by_former.get(new_of[c.upload_id], {})
        new = next((pupils[u] for u in sorted(aliases[c.pupil_id]) if u in pupils), None) or next(
            (formerly[u] for u in sorted(aliases[c.pupil_id]) if u in formerly), None
        )
        if new is None:
            continue  # the school's file no longer has the pupil: the upload's changes say so
        file_value = "in the school's new file" if name == "pupil" else _pupil_value(new, name)
        if name != "pupil" and file_value == la_value:
            continue  # the school made the same correction
        conflicts.append(PupilChange(
            collection_id=new.collection_id, la_id=new.la_id, school_id=new.school_id,
            upload_id=new.upload_id, pupil=new, upn=new.upn, field=name, old=la_value[:200],
            new=file_value[:200], source=PupilChange.Source.FILE,
            conflict=PupilChange.Conflict.OPEN, by=user, actor=audit_actor(user)[1], at=now,
            version=1, reason=c.reason,
        ))  # fmt: skip
    PupilChange.objects.bulk_create(conflicts)


def _carry_added_pupils(new_of: dict[int, int], carried: Set[int] = frozenset()) -> None:
    """A pupil the LA added because the school's file left them out stays in the collection
    when the school's next file leaves them out again (copied to the new upload, still
    flagged); if the new file has them, the school's record is the one kept. `carried`: as
    `_carry_over`'s."""
    added = list(
        PupilRecord.objects.filter(upload_id__in=list(new_of), flag="added").exclude(pk__in=carried)
    )
    if not added:
        return
    in_files = set(
        PupilRecord.objects.filter(upload_id__in=list(new_of.values())).values_list(
            "upload_id", "upn"
        )
    )
    copies = []
    for p in added:
        if (new_of[p.upload_id], p.upn) in in_files:
            continue
        p.pk, p.upload_id, p.is_current, p.version = None, new_of[p.upload_id], True, 1
        p.save()
        copies.append(p)
    if copies:
        from keystage.submissions.cleaning import recount, revalidate

        revalidate(copies)
        recount({p.upload_id for p in copies})


def _user(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def collections_following(collection: Collection) -> list[Collection]:
    """The collections held whose definition names this one as last year's
    (`collection.previous`): their checks across years read this collection's pupils."""
    following = []
    for later in Collection.objects.exclude(pk=collection.pk).order_by("code"):
        try:
            if definitions.load(later.code).previous == collection.code:
                following.append(later)
        except KeyError:  # a collection whose definition is no longer shipped
            continue
    return following


def last_year_source(
    definition: definitions.Definition,
) -> tuple[Collection, definitions.Definition] | None:
    """Last year's collection of a definition's (its `collection.previous`) and its
    definition, when Keystage holds it with pupils in it; None otherwise, and then the rules
    across years do not run (rather than find every pupil without a record last year)."""
    previous = (
        Collection.objects.filter(code=definition.previous).first() if definition.previous else None
    )
    if (
        previous is None
        or not PupilRecord.objects.filter(collection=previous, is_current=True).exists()
    ):
        return None
    try:
        return previous, definitions.load(previous.code)
    except KeyError:  # a collection whose definition is no longer shipped
        return None


def last_year_of_la(
    source: tuple[Collection, definitions.Definition] | None, collection: Collection, la_id: int
) -> rules.LastYear | None:
    """Last year's current records, in any LA, under the UPN or former UPN of a current pupil
    of this LA in the NC years the rules across years check: one query (two joins on the UPN
    index), never one per pupil."""
    if source is None:
        return None
    previous, previous_definition = source
    here = PupilRecord.objects.filter(collection=collection, la_id=la_id, is_current=True)
    nc_years = rules.last_year_nc_years(definitions.load(collection.code))
    if nc_years:
        here = here.filter(nc_year__in=sorted(nc_years))
    held = PupilRecord.objects.filter(collection=previous, is_current=True)
    columns = ("id", "upn", "nc_year", "outcomes")
    by_upn = held.filter(upn__in=here.values("upn")).values_list(*columns)
    by_former = held.filter(upn__in=here.exclude(former_upn="").values("former_upn"))
    seen: set[int] = set()
    records = []
    for pk, upn, nc_year, outcomes in by_upn.union(by_former.values_list(*columns), all=True):
        if pk not in seen:  # one pupil's UPN may be another's former UPN
            seen.add(pk)
            records.append(rules.LastYearRecord(upn, nc_year, outcomes or {}))
    return rules.LastYear(previous_definition, records)


@transaction.atomic
def do_refresh_cohort_checks(la_ids: Iterable[int], *, collection: Collection) -> int:
    """Re-run the checks across all current pupils of each LA (duplicate UPNs, the same pupil
    under two UPNs, and a collection's own: a phonics school's marks all alike, a Year 2
    pupil's record last year) and replace their findings. Returns the number of findings
    written."""
    definition = definitions.load(collection.code)
    table = PupilRecord._meta.db_table
    reads = rules.cohort_reads(definition)
    with_outcomes = "outcomes" in reads
    last_year = last_year_source(definition) if "last_year" in reads else None
    decoded: dict[str, dict] = {}  # a few hundred sets of results make up an LA
    written = 0
    for la_id in sorted(set(la_ids)):
        laestabs, names = {}, {}
        for pk, laestab, name in School.objects.filter(la_id=la_id).values_list(
            "pk", "laestab", "name"
        ):
            laestabs[pk], names[pk] = laestab, name
        school_of = {laestab: pk for pk, laestab in laestabs.items()}
        cohort = Finding.objects.filter(
            collection=collection, la_id=la_id, scope=Finding.Scope.COHORT
        )
        # A query confirmed correct stays confirmed while it still fires for that pupil (or
        # school, for a finding about a school as a whole).
        explained = list(
            cohort.filter(severity="query", explanation__gt="").values_list(
                "school_id", "pupil__upn", "rule", "field", "explanation", "explained_by_id",
                "explained_at",
            )
        )  # fmt: skip
        cohort.delete()
        where = {}
        upload_of: dict[int, int] = {}  # school -> the upload of its latest current pupils
        entries = []
        outcomes_column = ', "outcomes"' if with_outcomes else ""
        with connection.cursor() as cursor:
            # Plain SQL: this reads every current pupil of the LA after each import.
            cursor.execute(
                f'SELECT "id", "upload_id", "school_id", "upn", "surname", "forename", "dob", '  # noqa: S608
                f'"nc_year", "former_upn"{outcomes_column} '
                f'FROM "{table}" WHERE "collection_id" = %s AND "la_id" = %s AND "is_current"',
                [collection.pk, la_id],
            )
            for row in cursor.fetchall():
                pid, upload_id, school_id, upn, surname, forename, dob, nc_year, former = row[:9]
                outcomes = None
                if with_outcomes:
                    outcomes = row[9]
                    if isinstance(outcomes, str):  # SQLite gives the JSON text
                        text = outcomes
                        outcomes = decoded.get(text)
                        if outcomes is None:
                            outcomes = decoded[text] = json.loads(text)
                where[pid] = (upload_id, school_id)
                upload_of[school_id] = max(upload_id, upload_of.get(school_id, 0))
                entries.append(
                    rules.CohortEntry(
                        pid,
                        laestabs[school_id],
                        upn,
                        surname,
                        forename,
                        dob,
                        names[school_id],
                        nc_year,
                        former,
                        outcomes,
                    )  # fmt: skip
                )
        found = rules.check_cohort(
            entries, definition, last_year=last_year_of_la(last_year, collection, la_id)
        )
        rows = []
        for key, f in found:
            if isinstance(key, rules.SchoolOf):  # about the school as a whole
                school_id = school_of[key.laestab]
                pid, upload_id = None, upload_of[school_id]
            else:
                pid = key
                upload_id, school_id = where[pid]
            rows.append((collection.pk, upload_id, school_id, la_id, pid, True, "cohort", f.rule,
                         f.severity, f.field, f.value[:200], f.message))  # fmt: skip
        bulk.insert_rows(Finding._meta.db_table, FINDING_COLUMNS, rows)
        for school_id, upn, rule, name, text, by, at in explained:
            about = {"pupil__upn": upn} if upn is not None else {"pupil__isnull": True}
            cohort.filter(
                school_id=school_id, rule=rule, field=name, severity="query", is_current=True,
                **about,
            ).update(explanation=text, explained_by_id=by, explained_at=at)  # fmt: skip
        written += len(found)
    return written
