"""Cleaning: LA staff correct pupil records, confirm queries with an explanation, add or remove
a pupil, and settle a school's later file that disagrees with an LA edit.

Every save re-runs the same rules the import runs (`engine.rules.check_pupil` for the pupil,
`actions.do_refresh_cohort_checks` for the duplicate checks across the LA) so that counts,
the dashboard and the Data Errors report change at once. Edits name the version of the record
they were made on: a save on an older version is refused (`StaleEdit`), never merged.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from keystage.accounts.models import Role
from keystage.accounts.scope import membership_of, scoped
from keystage.audit.models import audit_actor, record
from keystage.engine import definition as definitions
from keystage.engine import rules, words
from keystage.engine.records import PupilRecord as EnginePupil
from keystage.submissions import actions
from keystage.submissions.models import Collection, Finding, PupilChange, PupilRecord, Upload

# Who may change pupil records: LA staff (a restricted officer only in their own schools,
# which `scoped` decides). Schools own their data and correct it by sending a new file.
EDIT_ROLES = (Role.LA_ADMIN, Role.LA_OFFICER, Role.LA_RESTRICTED)
IDENTITY_FIELDS = ("upn", "surname", "forename", "dob", "sex")
# Fields the checks across the LA's schools read (duplicate UPNs, one pupil under two UPNs);
# a collection's own checks across schools may read more (`cohort_fields`).
COHORT_FIELDS = frozenset({"upn", "surname", "forename", "dob"})
MAX_LENGTH = {"upn": 40, "surname": 200, "forename": 200, "dob": 40, "sex": 20}
# Rules that need what only the file showed (e.g. a subject given twice): their findings are
# kept until the LA edits that subject. Each collection's rules say which they are.
FILE_ONLY_RULES = tuple(rules.file_only_rules())
# Of those, the ones whose kept findings are put back into the record's wrong assessment
# parameters when its rules run again (so the missing-result rules stay quiet about them).
_RESTORE_WRONG_PARAMETERS = frozenset(
    r.id for r in rules.file_only_rules().values() if r.restores == "wrong_parameters"
)
NOT_ALLOWED = (
    "Only LA staff can change pupil records. Schools correct their data in their management "
    "information system and send a new file."
)


class EditRefused(Exception):  # noqa: N818 - a verdict on a request, shown to the person
    """A change that cannot be made; `message` says why and what to do. `fields`: field name ->
    what is wrong with the value given for it, so a form can put each message on its field;
    `pupil`: whose record, when the refusal is about one."""

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, pupil=None):
        self.message = message
        self.fields = dict(fields or {})
        self.pupil = pupil
        super().__init__(message)


class EditsRefused(EditRefused):
    """A save of several pupils at once in which one or more could not be saved: nothing was
    saved (one form, one save). `refusals` holds each pupil's refusal."""

    def __init__(self, refusals: list[EditRefused]):
        self.refusals = refusals
        super().__init__("; ".join(r.message for r in refusals))


class StaleEdit(EditRefused):
    """Someone saved the pupil after the form was opened: `pupil` as it is now, `changes`
    what they changed since the version the form was made from."""

    def __init__(self, pupil: PupilRecord, changes: list[PupilChange], message: str):
        self.changes = changes
        super().__init__(message, pupil=pupil)


# Who corrects what, in the words the grid, a pupil's page and the Data Errors report (page and
# downloads) all use. A school's file or its details can only be put right by the school
# sending a new file; a pupil's value the LA can correct in the pupil grid (the school may
# also send a new file); a query is confirmed correct with an explanation, or corrected.
SCHOOL_TO_CORRECT = "School to correct"
LA_CAN_CORRECT = "LA can correct here"
LA_TO_CONFIRM = "LA to confirm or correct"
WHO_CORRECTS_HINT = {
    SCHOOL_TO_CORRECT: "the school corrects its system and sends a new file",
    LA_CAN_CORRECT: "LA staff can correct the value in the pupil grid, or the school sends a "
    "new file",
    LA_TO_CONFIRM: "LA staff confirm the value correct with an explanation on the pupil's "
    "page, or correct it",
}


def who_corrects(severity: str, has_pupil: bool, editable: bool = True) -> str:
    """Who puts a finding right: the school (a file, its header or establishment), else the LA
    here (a pupil's value: an error to correct, a query to confirm or correct). An error in a
    pupil's value the grid does not edit (`editable` false: the NC year) is the school's to
    correct, as the LA cannot; a query on one is still confirmed with an explanation."""
    if not has_pupil:
        return SCHOOL_TO_CORRECT
    if severity == "query":
        return LA_TO_CONFIRM
    return LA_CAN_CORRECT if editable else SCHOOL_TO_CORRECT


def rule_title(rule_id: str) -> str:
    """A rule's name for people ("Invalid reading code"), or its id if the engine has no such
    rule."""
    found = rules.RULES.get(rule_id)
    return found.title if found else rule_id


@dataclass
class EditResult:
    pupil: PupilRecord
    changed: dict[str, tuple[str, str]] = field(default_factory=dict)  # field -> (old, new)


# -- the collection definition decides the fields and their choices ---------------------------


def editable_fields(collection: Collection) -> tuple[str, ...]:
    return (*IDENTITY_FIELDS, *definitions.load(collection.code).subject_keys)


def field_label(collection: Collection, name: str) -> str:
    definition = definitions.load(collection.code)
    if name in definition.subject_keys:
        return definition.subject(name).label
    return {"upn": "UPN", "surname": "Surname", "forename": "Forename", "dob": "Date of birth",
            "sex": "Sex", "pupil": "Pupil", "nc_year": "NC year"}.get(name, name)  # fmt: skip


def choices(collection: Collection, name: str) -> tuple[str, ...] | None:
    """The valid values of a field with a fixed list (sex, outcomes), from the definition; None
    for a field typed in (a name, a date, a number)."""
    definition = definitions.load(collection.code)
    if name == "sex":
        return tuple(sorted(definition.sex_codes))
    if name in definition.subject_keys and definition.subject(name).marks is None:
        return definition.subject(name).valid
    return None


def marks(collection: Collection, name: str) -> tuple[int, int] | None:
    """(lowest, highest) of an item scored as a whole number (the definition's
    `marks = {min, max}`), else None."""
    definition = definitions.load(collection.code)
    if name in definition.subject_keys:
        return definition.subject(name).marks
    return None


def clean_value(collection: Collection, name: str, raw: str, current: str, who: str = "") -> str:
    """The value to store for `raw` typed or chosen for `name`; ValueError with a message for
    people when it cannot be stored (naming the pupil `who`, "Ava Smith", where it helps). A
    value the record already holds may stay, even if it is not valid (the rules say what is
    wrong with it), so that saving a page loses nothing."""
    upper = name in ("upn", "sex") or name not in MAX_LENGTH  # codes are compared so
    value = (raw or "").strip()
    value = value.upper() if upper else value
    label = field_label(collection, name)
    if value == (current.strip().upper() if upper else current.strip()):
        return current
    if name not in editable_fields(collection):
        raise ValueError(f"{label} cannot be changed here")
    bounds = marks(collection, name)
    if bounds is not None and value:
        low, high = bounds
        if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
            whose = f"{who}’s" if who else "the"
            raise ValueError(
                f"Enter {whose} {label.lower()} as a whole number from {low} to {high}"
            )
        return str(int(value))  # "07" is 7
    options = choices(collection, name)
    if options is not None:  # as the definition spells it (phonics' "Wa" typed "wa" or "WA")
        value = {o.upper(): o for o in options}.get(value.upper(), value)
    if options is not None and value and value not in options:
        raise ValueError(f"{label} must be one of {', '.join(options)}")
    if name == "dob" and value:
        value = _iso_date(value)
    if len(value) > MAX_LENGTH.get(name, 20):
        raise ValueError(f"{label} must be {MAX_LENGTH.get(name, 20)} characters or fewer")
    return value


def _iso_date(value: str) -> str:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError("Date of birth must be a real date, like 2016-01-14 or 14/01/2016")


def value_of(pupil: PupilRecord, name: str) -> str:
    if name in IDENTITY_FIELDS:
        return getattr(pupil, name)
    return (pupil.outcomes or {}).get(name, "")


def _set_value(pupil: PupilRecord, name: str, value: str) -> None:
    if name in IDENTITY_FIELDS:
        setattr(pupil, name, value)
    else:
        pupil.outcomes = {**(pupil.outcomes or {}), name: value}


def cohort_fields(collection: Collection) -> frozenset[str]:
    """The fields whose edit calls for the checks across the LA's schools again: the identity
    items, and what the collection's own checks across schools read (phonics: the NC year,
    and a pupil's results, which a school's results all alike are judged on)."""
    definition = definitions.load(collection.code)
    reads = rules.cohort_reads(definition)
    items = {s.key for s in definition.subjects} if "outcomes" in reads else set()
    return COHORT_FIELDS | (reads - {"outcomes", "last_year"}) | items


# -- permission ---------------------------------------------------------------------------------


def may_edit(user) -> bool:
    membership = membership_of(user)
    return membership is not None and membership.role in EDIT_ROLES


def _editor(user):
    if not may_edit(user):
        raise PermissionDenied(NOT_ALLOWED)
    return user


def _locked_pupil(user, pupil_id: int) -> PupilRecord:
    """The pupil, locked until the transaction ends, if the user may see it (else 404-ish)."""
    if not scoped(user, PupilRecord).filter(pk=pupil_id).exists():
        raise PermissionDenied("You cannot change this pupil's record")
    return (
        PupilRecord.objects.select_for_update(of=("self",))
        .select_related("collection", "school", "la")
        .get(pk=pupil_id)
    )


# -- re-validation ------------------------------------------------------------------------------


def _engine_pupil(pupil: PupilRecord, wrong_parameters: dict[str, str]) -> EnginePupil:
    return EnginePupil(
        line=pupil.line, upn=pupil.upn, surname=pupil.surname, forename=pupil.forename,
        dob=pupil.dob, sex=pupil.sex, outcomes=dict(pupil.outcomes or {}),
        wrong_parameters=wrong_parameters, nc_year=pupil.nc_year, former_upn=pupil.former_upn,
        characteristics=dict(pupil.characteristics or {}),
    )  # fmt: skip


def revalidate(pupils: list[PupilRecord], edited: dict[int, set[str]] | None = None) -> None:
    """Re-run the pupil rules on these records and replace their pupil findings. A query that
    still fires keeps its explanation. `edited`: pupil id -> fields the LA has just changed
    (findings that only the file could raise are kept for the other fields)."""
    if not pupils:
        return
    edited = edited or {}
    ids = [p.pk for p in pupils]
    prior: dict[int, list[Finding]] = defaultdict(list)
    for f in Finding.objects.filter(pupil_id__in=ids, scope=Finding.Scope.PUPIL, is_current=True):
        prior[f.pupil_id].append(f)
    stale, new = [], []
    for p in pupils:
        changed = edited.get(p.pk, set())
        kept = [f for f in prior[p.pk] if f.rule in FILE_ONLY_RULES and f.field not in changed]
        stale += [f.pk for f in prior[p.pk] if f not in kept]
        if not p.is_current:
            continue
        definition = definitions.load(p.collection.code)
        wrong = {f.field: f.value for f in kept if f.rule in _RESTORE_WRONG_PARAMETERS}
        explained = {(f.rule, f.field): f for f in prior[p.pk] if f.explanation}
        kept_keys = {(f.rule, f.field, f.value) for f in kept}
        for found in rules.check_pupil(_engine_pupil(p, wrong), definition):
            if (found.rule, found.field, found.value[:200]) in kept_keys:
                continue
            was = explained.get((found.rule, found.field)) if found.severity == "query" else None
            new.append(Finding(
                collection_id=p.collection_id, upload_id=p.upload_id, school_id=p.school_id,
                la_id=p.la_id, pupil=p, is_current=True, scope=Finding.Scope.PUPIL,
                rule=found.rule, severity=found.severity, field=found.field,
                value=found.value[:200], message=found.message,
                explanation=was.explanation if was else "",
                explained_by_id=was.explained_by_id if was else None,
                explained_at=was.explained_at if was else None,
            ))  # fmt: skip
    Finding.objects.filter(pk__in=stale).delete()
    Finding.objects.bulk_create(new)


def recount(upload_ids) -> None:
    """Keep each upload's pupil, error and query counts true after cleaning (as the import
    counts them: pupil and school findings)."""
    for upload_id in set(upload_ids):
        counts = Finding.objects.filter(
            upload_id=upload_id, is_current=True, scope__in=(Finding.Scope.PUPIL, "school")
        ).aggregate(
            errors=Count("id", filter=Q(severity="error")),
            queries=Count("id", filter=Q(severity="query")),
        )
        pupils = PupilRecord.objects.filter(upload_id=upload_id, is_current=True).count()
        Upload.objects.filter(pk=upload_id, state=Upload.State.CURRENT).update(
            error_count=counts["errors"], query_count=counts["queries"], pupil_count=pupils
        )


def _after_change(collection: Collection, pupils: list[PupilRecord], cohort: bool) -> None:
    """Counts, the duplicate checks across the LA when identity changed, and a rebuild of the
    report figures of the schools once the change is committed."""
    if cohort:
        actions.do_refresh_cohort_checks({p.la_id for p in pupils}, collection=collection)
    recount({p.upload_id for p in pupils})
    school_ids = sorted({p.school_id for p in pupils})
    from keystage.reports.due import mark_due

    mark_due(collection.pk, school_ids)  # kept should the queued rebuild below be lost

    def rebuild() -> None:
        from keystage.reports.tasks import rebuild_facts_task

        rebuild_facts_task.enqueue(collection.pk, school_ids)

    transaction.on_commit(rebuild)


# -- edits --------------------------------------------------------------------------------------


def _change_row(pupil, name, old, new, *, source, reason, user, at, **extra) -> PupilChange:
    return PupilChange(
        collection_id=pupil.collection_id, la_id=pupil.la_id, school_id=pupil.school_id,
        upload_id=pupil.upload_id, pupil=pupil, upn=pupil.upn, field=name, old=old[:200],
        new=new[:200], reason=reason, source=source, by=user, actor=audit_actor(user)[1], at=at,
        version=pupil.version, **extra,
    )  # fmt: skip


def describe(change: PupilChange, collection: Collection | None = None) -> str:
    """One line for people: "officer938 changed Sex from F to M"."""
    name = field_label(collection, change.field) if collection else change.field
    return f"{change.actor or 'someone'} changed {name} from {change.old or '(blank)'} to {change.new or '(blank)'}"


def _stale(pupil: PupilRecord, version: int) -> StaleEdit:
    changes = list(
        PupilChange.objects.filter(pupil=pupil, version__gt=version).order_by("at", "id")
    )
    if not pupil.is_current:
        return StaleEdit(pupil, changes, f"{pupil.surname}, {pupil.forename} ({pupil.upn}) is "
                         "no longer current: the school sent a new file or the pupil was "
                         "removed. Open the pupil's current record and make your change there.")  # fmt: skip
    said = "; ".join(
        f"{describe(c, pupil.collection)} on {words.long_datetime(timezone.localtime(c.at))}"
        for c in changes
    )
    return StaleEdit(
        pupil, changes,
        f"{pupil.surname}, {pupil.forename} ({pupil.upn}) was changed by someone else while "
        f"you were editing ({said or 'a change was saved'}). Nothing of yours was saved: your "
        "values are still on the form. Check them against the new values and save again.",
    )  # fmt: skip


def _named(pupil: PupilRecord) -> str:
    """A pupil as a message names them: "Ava Smith" (forename, then surname, as held)."""
    return " ".join(n for n in (pupil.forename.strip(), pupil.surname.strip()) if n) or pupil.upn


def _apply(user, pupil: PupilRecord, version: int, values: dict[str, str], *, reason: str,
           at) -> dict[str, tuple[str, str]]:  # fmt: skip
    """Change one locked pupil in place; returns field -> (old, new) of what changed."""
    if not values:
        return {}
    if pupil.version != version or not pupil.is_current:
        raise _stale(pupil, version)
    changed: dict[str, tuple[str, str]] = {}
    problems: dict[str, str] = {}
    for name, raw in values.items():
        old = value_of(pupil, name)
        try:
            new = clean_value(pupil.collection, name, raw, old, who=_named(pupil))
        except ValueError as e:
            problems[name] = str(e)
            continue
        if new != old:
            changed[name] = (old, new)
    if problems:
        who = f"{pupil.surname}, {pupil.forename} ({pupil.upn})"
        raise EditRefused(
            ". ".join(f"{who}: {text}" for text in problems.values()), fields=problems, pupil=pupil
        )
    if not changed:
        return changed
    for name, (_, new) in changed.items():
        _set_value(pupil, name, new)
    pupil.version += 1
    pupil.save(update_fields=["upn", "surname", "forename", "dob", "sex", "outcomes", "version"])
    PupilChange.objects.bulk_create(
        _change_row(pupil, name, old, new, source=PupilChange.Source.EDIT, reason=reason,
                    user=user, at=at)
        for name, (old, new) in changed.items()
    )  # fmt: skip
    return changed


def do_edit_pupil(user, pupil_id: int, version: int, values: dict[str, str], *,
                  reason: str = "") -> EditResult:  # fmt: skip
    """Save one pupil's edited values (field -> value as typed or chosen) made on `version`."""
    _editor(user)
    with transaction.atomic():
        pupil = _locked_pupil(user, pupil_id)
        at = timezone.now()
        changed = _apply(user, pupil, version, values, reason=reason.strip(), at=at)
        if changed:
            revalidate([pupil], {pupil.pk: set(changed)})
            cohort = bool(cohort_fields(pupil.collection) & set(changed))
            _after_change(pupil.collection, [pupil], cohort=cohort)
            record("pupil.edited", user=user, la=pupil.la_id, school=pupil.school_id, obj=pupil,
                   upn=pupil.upn, changes={k: f"{a} -> {b}" for k, (a, b) in changed.items()},
                   reason=reason.strip())  # fmt: skip
    return EditResult(pupil, changed)


def do_edit_pupils(user, edits: list[tuple[int, int, dict[str, str]]], *,
                   reason: str = "") -> list[EditResult]:  # fmt: skip
    """Save several pupils at once (a page of the grid, or one field for selected pupils):
    (pupil id, version, values) each. One form, one save: if any pupil cannot be saved
    (changed by someone else, a value not allowed), nothing is saved and `EditsRefused` says
    what is wrong with each of them."""
    _editor(user)
    done: list[EditResult] = []
    refused: list[EditRefused] = []
    with transaction.atomic():
        at = timezone.now()
        for pupil_id, version, values in edits:
            try:
                pupil = _locked_pupil(user, pupil_id)
                changed = _apply(user, pupil, version, values, reason=reason.strip(), at=at)
            except EditRefused as e:
                refused.append(e)
                continue
            except PermissionDenied:
                refused.append(EditRefused(f"You cannot change pupil record {pupil_id}"))
                continue
            if changed:
                done.append(EditResult(pupil, changed))
        if refused:
            raise EditsRefused(refused)  # rolls back the rows already changed
        pupils = [r.pupil for r in done]
        if pupils:
            revalidate(pupils, {r.pupil.pk: set(r.changed) for r in done})
            fields = cohort_fields(pupils[0].collection)
            cohort = any(fields & set(r.changed) for r in done)
            _after_change(pupils[0].collection, pupils, cohort=cohort)
            for r in done:
                p = r.pupil
                record("pupil.edited", user=user, la=p.la_id, school=p.school_id, obj=p,
                       upn=p.upn, reason=reason.strip(),
                       changes={k: f"{a} -> {b}" for k, (a, b) in r.changed.items()})  # fmt: skip
    return done


# -- queries ------------------------------------------------------------------------------------


def do_explain_query(user, finding_id: int, explanation: str) -> Finding:
    """Confirm a query correct, with why. Errors cannot be explained, only fixed."""
    _editor(user)
    explanation = explanation.strip()
    with transaction.atomic():
        finding = scoped(user, Finding).select_related("pupil").filter(pk=finding_id).first()
        if finding is None or not finding.is_current:
            raise EditRefused("This query is no longer current: the pupil's record has changed")
        if finding.severity != "query":
            raise EditRefused(
                f"{finding.rule} is an error: errors cannot be explained, only corrected"
            )
        if not explanation:
            text = "Enter why the value is correct"
            raise EditRefused(text, fields={"explanation": text})
        old = finding.explanation
        finding.explanation = explanation[:2000]
        finding.explained_by = user
        finding.explained_at = timezone.now()
        finding.save(update_fields=["explanation", "explained_by", "explained_at"])
        pupil = finding.pupil
        if pupil is not None:
            PupilChange.objects.create(
                collection_id=finding.collection_id, la_id=finding.la_id,
                school_id=finding.school_id, upload_id=finding.upload_id, pupil=pupil,
                upn=pupil.upn, field=finding.rule, old=old[:200], new=explanation[:200],
                reason=explanation, source=PupilChange.Source.EXPLAINED, by=user,
                actor=audit_actor(user)[1], at=finding.explained_at, version=pupil.version,
            )  # fmt: skip
        record("query.explained", user=user, la=finding.la_id, school=finding.school_id,
               obj=finding, rule=finding.rule, upn=pupil.upn if pupil else "",
               explanation=explanation)  # fmt: skip
    return finding


# -- adding and removing pupils -----------------------------------------------------------------


def do_add_pupil(user, school, values: dict[str, str], *, reason: str) -> PupilRecord:
    """Add a pupil the school's file left out (exceptional: the school owns its data)."""
    _editor(user)
    reason = reason.strip()
    if not reason:
        raise EditRefused("Enter why the LA is adding this pupil (the school's file is the record)")
    if not scoped(user, type(school)).filter(pk=school.pk).exists():
        raise PermissionDenied("You cannot add pupils to this school")
    with transaction.atomic():
        upload = (
            Upload.objects.select_for_update()
            .filter(school=school, state=Upload.State.CURRENT)
            .select_related("collection")
            .first()
        )
        if upload is None:
            raise EditRefused(
                f"{school.name} has not sent a file yet: ask the school to send one, then add "
                "the pupil its file left out"
            )
        collection = upload.collection
        pupil = PupilRecord(upload=upload, collection=collection, school=school, la_id=school.la_id,
                            line=0, outcomes={}, flag="added", version=1)  # fmt: skip
        problems = []
        for name in editable_fields(collection):
            try:
                raw = values.get(name, "")
                named = " ".join(values.get(k, "").strip() for k in ("forename", "surname"))
                _set_value(pupil, name, clean_value(collection, name, raw, "", who=named.strip()))
            except ValueError as e:
                problems.append(str(e))
        if not pupil.upn:
            problems.append("Enter the pupil's UPN")
        if problems:
            raise EditRefused(". ".join(problems))
        if PupilRecord.objects.filter(school=school, upn=pupil.upn, is_current=True).exists():
            raise EditRefused(f"{school.name} already has a pupil with UPN {pupil.upn}")
        pupil.save()
        at = timezone.now()
        summary = f"{pupil.surname}, {pupil.forename} ({pupil.upn})"
        PupilChange.objects.create(**_change_kwargs(pupil, "pupil", "", summary, user, at, reason,
                                                    PupilChange.Source.ADDED))  # fmt: skip
        revalidate([pupil])
        _after_change(collection, [pupil], cohort=True)
        record("pupil.added", user=user, la=pupil.la_id, school=school, obj=pupil,
               upn=pupil.upn, reason=reason)  # fmt: skip
    return pupil


def _change_kwargs(pupil, name, old, new, user, at, reason, source) -> dict:
    return {
        "collection_id": pupil.collection_id, "la_id": pupil.la_id, "school_id": pupil.school_id,
        "upload_id": pupil.upload_id, "pupil": pupil, "upn": pupil.upn, "field": name,
        "old": old[:200], "new": new[:200], "reason": reason, "source": source, "by": user,
        "actor": audit_actor(user)[1], "at": at, "version": pupil.version,
    }  # fmt: skip


def _required_reason(reason: str, field: str, ask: str) -> str:
    """The reason typed, trimmed; none refuses the change with `ask` on the form's field."""
    reason = reason.strip()
    if not reason:
        raise EditRefused(ask, fields={field: ask})
    return reason


def do_remove_pupil(user, pupil_id: int, version: int, *, reason: str) -> PupilRecord:
    """Take a pupil out of the collection (exceptional): the record is kept, not current."""
    _editor(user)
    reason = _required_reason(
        reason,
        "remove_reason",
        "Enter why the LA is removing this pupil (the school's file is the record)",
    )
    with transaction.atomic():
        pupil = _locked_pupil(user, pupil_id)
        if pupil.version != version or not pupil.is_current:
            raise _stale(pupil, version)
        pupil.is_current = False
        pupil.flag = "removed"
        pupil.version += 1
        pupil.save(update_fields=["is_current", "flag", "version"])
        Finding.objects.filter(pupil=pupil).update(is_current=False)
        summary = f"{pupil.surname}, {pupil.forename} ({pupil.upn})"
        PupilChange.objects.create(**_change_kwargs(pupil, "pupil", summary, "", user,
                                                    timezone.now(), reason,
                                                    PupilChange.Source.REMOVED))  # fmt: skip
        _after_change(pupil.collection, [pupil], cohort=True)
        record("pupil.removed", user=user, la=pupil.la_id, school=pupil.school_id, obj=pupil,
               upn=pupil.upn, reason=reason)  # fmt: skip
    return pupil


def do_restore_pupil(user, pupil_id: int, version: int, *, reason: str) -> PupilRecord:
    """Put back a pupil the LA removed: the record is current again, its checks and the
    duplicate checks across the LA run again, and the change is in the pupil's trail."""
    _editor(user)
    reason = _required_reason(
        reason, "restore_reason", "Enter why the LA is putting this pupil back"
    )
    with transaction.atomic():
        pupil = _locked_pupil(user, pupil_id)
        who = f"{pupil.surname}, {pupil.forename} ({pupil.upn})"
        if pupil.is_current or pupil.flag != "removed":
            raise EditRefused(f"{who} is not a removed pupil: there is nothing to put back")
        if pupil.version != version:
            raise _stale(pupil, version)
        upload = Upload.objects.select_for_update().get(pk=pupil.upload_id)
        if upload.state != Upload.State.CURRENT:
            raise EditRefused(
                f"{who} cannot be put back: {pupil.school.name} has sent a newer file since the "
                "pupil was removed. If the pupil should be in the collection, ask the school to "
                "send a file with them, or add the pupil again."
            )
        if PupilRecord.objects.filter(school_id=pupil.school_id, upn=pupil.upn,
                                      is_current=True).exists():  # fmt: skip
            raise EditRefused(
                f"{pupil.school.name} already has a current pupil with UPN {pupil.upn}"
            )
        was_added = pupil.changes.filter(source=PupilChange.Source.ADDED).exists()
        pupil.is_current = True
        pupil.flag = "added" if was_added else ""
        pupil.version += 1
        pupil.save(update_fields=["is_current", "flag", "version"])
        # The findings only the file could raise come back with the pupil; `revalidate` runs
        # the rest again (explanations of queries that still fire are kept).
        Finding.objects.filter(pupil=pupil, scope=Finding.Scope.PUPIL).update(is_current=True)
        PupilChange.objects.create(**_change_kwargs(pupil, "pupil", "", who, user, timezone.now(),
                                                    reason, PupilChange.Source.RESTORED))  # fmt: skip
        revalidate([pupil])
        _after_change(pupil.collection, [pupil], cohort=True)
        record("pupil.restored", user=user, la=pupil.la_id, school=pupil.school_id, obj=pupil,
               upn=pupil.upn, reason=reason)  # fmt: skip
    return pupil


# -- a later file that disagrees with an LA edit ------------------------------------------------


def do_resolve_conflict(user, change_id: int, keep: str) -> PupilChange:
    """Settle a conflict: keep the school's value ("file") or re-apply the LA's ("edit")."""
    _editor(user)
    if keep not in ("file", "edit"):
        raise EditRefused("Choose the school's value or the LA's edit")
    with transaction.atomic():
        change = scoped(user, PupilChange).filter(pk=change_id).select_related("pupil").first()
        if change is None or change.conflict != PupilChange.Conflict.OPEN:
            raise EditRefused("This conflict has already been settled")
        pupil = change.pupil
        if keep == "edit" and pupil is not None:
            if change.field == "pupil":
                do_remove_pupil(user, pupil.pk, pupil.version,
                                reason=f"Re-applied the LA's removal: {change.reason}")  # fmt: skip
            else:
                do_edit_pupil(user, pupil.pk, pupil.version, {change.field: change.old},
                              reason="Re-applied the LA's edit over the school's later file")  # fmt: skip
        change.conflict = (
            PupilChange.Conflict.REAPPLIED if keep == "edit" else PupilChange.Conflict.KEPT_FILE
        )
        change.resolved_by = user
        change.resolved_at = timezone.now()
        change.save(update_fields=["conflict", "resolved_by", "resolved_at"])
        record("pupil.conflict_resolved", user=user, la=change.la_id, school=change.school_id,
               obj=change, upn=change.upn, field=change.field, kept=keep)  # fmt: skip
    return change
