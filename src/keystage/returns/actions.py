"""Every state change of the return and the national collection: building an LA's return files,
loading return files into the collection (from Keystage or uploaded from any system), submitting
(LA approvers), authorising and sending a return back to the LA (national admins). Each runs in
one transaction with its audit rows; a refused file or upload changes nothing already held.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

import keystage
from keystage.accounts.mail import la_recipients, send_after_commit, site_link
from keystage.accounts.models import Role
from keystage.accounts.scope import membership_of
from keystage.audit.models import audit_actor, record
from keystage.engine import definition as definitions
from keystage.engine import rules
from keystage.engine.readers.archive import extract_zip
from keystage.engine.records import RejectedFile
from keystage.engine.return_reader import ReadEstablishment, ReturnFile, read_return
from keystage.engine.return_writer import (
    ReturnEstablishment,
    bundle_file_name,
    make_header,
    school_file_name,
    write_return,
)
from keystage.engine.words import long_datetime, mid_sentence, plural
from keystage.orgs.models import LocalAuthority, School
from keystage.returns import queries
from keystage.returns.models import (
    CollectedFinding,
    CollectedPupil,
    CollectedReturn,
    CollectedReturnVersion,
    ReturnGeneration,
    ReturnSubmission,
)
from keystage.submissions.models import Collection
from keystage.web.limits import scratch_dir, zip_limits

Status = CollectedReturn.Status
SUBMITTED_ONCE = (Status.SUBMITTED, Status.AMENDED, Status.AUTHORISED, Status.RETURNED)
SEND_BACK_REASON_MAX = 2000
# What a web upload of return files may hold (a zip of every school of a large LA fits).
MAX_MEMBERS = 2000
MAX_UNPACKED_BYTES = 500_000_000


class ReturnRefused(Exception):  # noqa: N818 - a verdict for a person, not a programming error
    """The action was refused; `reasons` are one line each, for a person."""

    def __init__(self, reasons: str | list[str]):
        self.reasons = [reasons] if isinstance(reasons, str) else list(reasons)
        super().__init__("; ".join(self.reasons))


class AlreadySubmitted(ReturnRefused):  # noqa: N818
    """The same submission was made before (a second click, a reload, a second tab): nothing
    more is done; `submission` is the one already made, with its reference."""

    def __init__(self, submission: ReturnSubmission):
        self.submission = submission
        super().__init__(
            f"This return was already submitted on {long_datetime(timezone.localtime(submission.submitted_at))} "
            f"by {submission.actor}: reference {submission.reference}. Nothing more was sent."
        )


class OpenItems(ReturnRefused):
    """Errors still open or queries without explanation, and the user has not confirmed."""

    def __init__(self, items: list[dict]):
        self.items = items
        errors = sum(i["severity"] == "error" for i in items)
        super().__init__(
            f"{errors} errors are still open and {len(items) - errors} queries have no "
            "explanation; confirm to write the return anyway"
        )


def _definition(collection: Collection):
    return definitions.load(collection.code)


def _data_dir() -> Path:
    return Path(settings.DATA_DIR)


# -- permissions ------------------------------------------------------------------------------


def _la_member(user, la: LocalAuthority, roles=(Role.LA_ADMIN, Role.LA_OFFICER)):
    membership = membership_of(user)
    if membership is None or membership.role not in roles or membership.la_id != la.pk:
        raise PermissionDenied(f"Only {la.name}'s LA admins and officers can do this")
    return membership


def may_build(user, la: LocalAuthority) -> bool:
    m = membership_of(user)
    return m is not None and m.role in (Role.LA_ADMIN, Role.LA_OFFICER) and m.la_id == la.pk


def may_submit(user, la: LocalAuthority) -> bool:
    return may_build(user, la) and membership_of(user).is_approver


def may_authorise(user) -> bool:
    m = membership_of(user)
    return m is not None and m.role == Role.NATIONAL_ADMIN


# -- building the return ----------------------------------------------------------------------


@dataclass
class _SchoolPupils:
    school: School
    pupils: list = field(default_factory=list)


@transaction.atomic
def do_build_return(
    la: LocalAuthority, collection: Collection, *, user=None, confirm: bool = False, now=None
) -> ReturnGeneration:
    """Write one return XML per school of the LA with current pupils, and a zip of them all,
    under a serial number one above the LA's last. Raises `OpenItems` when errors are open or
    queries unexplained, unless `confirm`. `user` None is the command line."""
    if user is not None:
        _la_member(user, la)
    d = _definition(collection)
    items = queries.open_items(la, collection)
    if items and not confirm:
        raise OpenItems(items)
    LocalAuthority.objects.select_for_update().filter(pk=la.pk).first()  # one serial at a time
    last = ReturnGeneration.objects.filter(collection=collection, la=la).aggregate(n=Max("serial"))
    serial = (last["n"] or 0) + 1
    now = now or timezone.now()
    created = timezone.localtime(now)
    header = make_header(
        d, la=la.code, serial=serial, release=keystage.__version__, created=created
    )
    relative = Path("returns") / collection.code / la.code / f"{serial:03d}"
    folder = _data_dir() / relative
    if folder.exists():  # left by a build whose transaction was rolled back
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    files: list[dict] = []
    try:
        for school, pupils in queries.return_pupils(la, collection):
            # A setting has no establishment number: its file is named by its URN, as its
            # own CTF is (938_512345_EYF_2024_001.xml).
            number = school.estab or f"_{school.urn}"
            name = school_file_name(d, la=la.code, estab=number, serial=serial)
            establishment = ReturnEstablishment(
                la.code,
                school.estab,
                pupils,
                queries.school_explanations(school, collection),
                urn="" if school.estab else school.urn,
            )
            written: list = []
            establishment.pupils = _kept(pupils, written)
            with (folder / name).open("wb") as f:
                count = write_return(f, header, [establishment], d)
            files.append(
                {
                    "laestab": school.laestab,
                    "name": name,
                    "pupils": count,
                    "sha256": _sha256(folder / name),
                    "counts": queries.count_return_pupils(written, d),
                }
            )
        bundle = bundle_file_name(d, la=la.code, serial=serial)
        with zipfile.ZipFile(folder / bundle, "w", zipfile.ZIP_DEFLATED) as z:
            for f in files:
                z.write(folder / f["name"], f["name"])
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    errors = sum(i["severity"] == "error" for i in items)
    _, actor = audit_actor(user)
    generation = ReturnGeneration.objects.create(
        collection=collection,
        la=la,
        serial=serial,
        created_by=user if user and user.is_authenticated else None,
        actor=actor,
        created_at=now,
        release=keystage.__version__,
        school_count=len(files),
        pupil_count=sum(f["pupils"] for f in files),
        open_errors=errors,
        unexplained_queries=len(items) - errors,
        confirmed_open_items=bool(items),
        folder=str(relative),
        bundle_name=bundle,
        files=files,
    )
    record(
        "return.generated",
        user=user,
        la=la,
        obj=generation,
        serial=serial,
        schools=generation.school_count,
        pupils=generation.pupil_count,
        open_errors=errors,
        unexplained_queries=len(items) - errors,
        confirmed=bool(items),
    )
    return generation


def _kept(pupils, into: list):
    """The pupils, streamed on to the writer, each also kept in `into` (for the figures)."""
    for p in pupils:
        into.append(p)
        yield p


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def generation_path(generation: ReturnGeneration, name: str | None = None) -> Path:
    """The stored bundle (or the named school file) of a generation."""
    folder = _data_dir() / generation.folder
    wanted = name or generation.bundle_name
    allowed = {generation.bundle_name, *(f["name"] for f in generation.files)}
    if wanted not in allowed:
        raise FileNotFoundError(wanted)
    return folder / wanted


# -- loading files into the national collection -----------------------------------------------


@dataclass
class LoadResult:
    files: int = 0
    schools: list[str] = field(default_factory=list)  # LAESTABs loaded
    replaced: list[str] = field(default_factory=list)  # of which were already held
    pupils: int = 0
    submission: ReturnSubmission | None = None  # when the load was a submission


def _schools_of(la: LocalAuthority) -> tuple[dict[str, rules.SchoolInfo], dict[str, School]]:
    schools = {s.laestab: s for s in School.objects.filter(la=la)}
    infos = {
        laestab: rules.SchoolInfo(
            la=la.code,
            estab=s.estab,
            urn=s.urn,
            name=s.name,
            type_name=s.type_name,
            phase_name=s.phase_name,
            status_name=s.status_name,
            low_age=s.low_age,
            high_age=s.high_age,
        )
        for laestab, s in schools.items()
    }
    return infos, schools


def _expand(files: Iterable[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Zips opened safely (engine/readers/archive.py): each member is unpacked to a file in
    the data directory as it is read, within the limits per member and per zip, then read
    (each at most `KEYSTAGE_MAX_MEMBER_MB`). Any member that cannot be used safely refuses
    the whole upload, so nothing is loaded from half a zip."""
    out: list[tuple[str, bytes]] = []
    for name, content in files:
        if content[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
            limits = zip_limits()
            limits["max_total_bytes"] = min(limits["max_total_bytes"], MAX_UNPACKED_BYTES)
            with tempfile.TemporaryDirectory(prefix="keystage-return-", dir=scratch_dir()) as tmp:
                members = extract_zip(
                    io.BytesIO(content), tmp, name=name, max_members=MAX_MEMBERS, **limits
                )
                inner = [(f"{name}:{member}", path.read_bytes()) for member, path in members]
            if members.skipped:
                raise ReturnRefused(members.skipped)
            if not inner:
                raise ReturnRefused(f"{name}: the zip holds no return files")
            out.extend(inner)
        else:
            out.append((name, content))
    return out


def validate_files(
    la: LocalAuthority, collection: Collection, files: Iterable[tuple[str, bytes]], *, now=None
) -> list[tuple[str, bytes, ReturnFile]]:
    """Read and validate every file of one upload; raises `ReturnRefused` with a line per file
    that cannot be held (or for a school sent twice across the upload)."""
    d = _definition(collection)
    infos, _ = _schools_of(la)
    now = now or timezone.now()
    try:
        expanded = _expand(files)
    except RejectedFile as e:
        raise ReturnRefused(e.reason) from None
    reasons: list[str] = []
    read: list[tuple[str, bytes, ReturnFile]] = []
    seen: dict[str, str] = {}
    for name, content in expanded:
        try:
            rf = read_return(content, d, name=name, la=la.code, schools=infos, now=now)
        except RejectedFile as e:
            reasons.append(e.reason)
            continue
        for est in rf.establishments:
            if est.laestab in seen:
                reasons.append(
                    f"{name}: establishment {est.laestab} is also in {seen[est.laestab]}: "
                    "send each school once in an upload"
                )
            seen[est.laestab] = name
        read.append((name, content, rf))
    if not expanded:
        reasons.append("the upload holds no files")
    if reasons:
        raise ReturnRefused(reasons)
    return read


def do_upload_returns(
    la: LocalAuthority, collection: Collection, files: list[tuple[str, bytes]], *, user, now=None
) -> LoadResult:
    """Validate and load return files (single XML or zips) uploaded by the LA. All or nothing:
    if any file is refused, nothing is loaded and the refusal is audit-logged."""
    _la_member(user, la)
    try:
        read = validate_files(la, collection, files, now=now)
    except ReturnRefused as e:
        with transaction.atomic():
            record(
                "return.upload_refused",
                user=user,
                la=la,
                files=[name for name, _ in files],
                reasons=e.reasons[:20],
            )
        raise
    with transaction.atomic():
        return _load(la, collection, read, user=user, generation=None, now=now)


def _store_file(content: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(content).hexdigest()
    relative = Path("collected") / f"{sha}.xml"
    path = _data_dir() / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)
    return sha, str(relative)


def _load(la, collection, read, *, user, generation, now=None) -> LoadResult:
    now = now or timezone.now()
    _, schools = _schools_of(la)
    result = LoadResult()
    for name, content, rf in read:
        sha, stored = _store_file(content)
        result.files += 1
        for est in rf.establishments:
            replaced = _load_establishment(
                la,
                collection,
                schools[est.laestab],
                est,
                rf,
                user=user,
                now=now,
                file_name=name,
                sha=sha,
                stored=stored,
                generation=generation,
            )
            result.schools.append(est.laestab)
            result.pupils += len(est.pupils)
            if replaced:
                result.replaced.append(est.laestab)
    refresh_la(la, collection)
    return result


def _load_establishment(
    la,
    collection,
    school,
    est: ReadEstablishment,
    rf: ReturnFile,
    *,
    user,
    now,
    file_name,
    sha,
    stored,
    generation,
) -> bool:
    cr = (
        CollectedReturn.objects.select_for_update()
        .filter(collection=collection, school=school)
        .first()
    )
    replaced = cr is not None
    previous_status = cr.status if cr else None
    if cr is None:
        cr = CollectedReturn.objects.create(
            collection=collection, la=la, school=school, status=Status.LOADED, updated_at=now
        )
    else:
        CollectedPupil.objects.filter(version__collected_return=cr, is_current=True).update(
            is_current=False
        )
        CollectedFinding.objects.filter(version__collected_return=cr, is_current=True).update(
            is_current=False
        )
    number = cr.versions.count() + 1
    _, actor = audit_actor(user)
    software = f"{rf.header.get('SoftwareCode', '')} {rf.header.get('Release', '')}".strip()
    version = CollectedReturnVersion.objects.create(
        collected_return=cr,
        la=la,
        school=school,
        number=number,
        file_name=file_name[:255],
        sha256=sha,
        stored_path=stored,
        serial=rf.serial,
        software=software[:200],
        generation=generation,
        loaded_by=user if user and user.is_authenticated else None,
        actor=actor,
        loaded_at=now,
        outcome="replaced earlier" if replaced else "loaded",
        pupils=len(est.pupils),
    )
    pupils = CollectedPupil.objects.bulk_create(
        CollectedPupil(
            version=version,
            la=la,
            school=school,
            line=p.record.line,
            upn=p.record.upn[:40],
            surname=p.record.surname[:200],
            forename=p.record.forename[:200],
            dob=p.record.dob[:40],
            sex=p.record.sex[:20],
            nc_year=p.record.nc_year[:10],
            outcomes=p.record.outcomes,
            explanations=[
                {"rule": e.rule, "field": e.field, "text": e.text} for e in p.explanations
            ],
        )
        for p in est.pupils
    )
    if any(p.pk is None for p in pupils):  # a database that does not return keys
        pupils = list(CollectedPupil.objects.filter(version=version).order_by("pk"))

    def collected(f, scope: str, pupil=None) -> CollectedFinding:
        return CollectedFinding(
            version=version, la=la, school=school, pupil=pupil, scope=scope, rule=f.rule,
            severity=f.severity, field=f.field, value=f.value[:200], message=f.message,
            explanation=f.explanation,
        )  # fmt: skip

    findings = [collected(f, "school") for f in est.findings]
    for row, p in zip(pupils, est.pupils, strict=True):
        findings.extend(collected(f, "pupil", row) for f in p.findings)
    CollectedFinding.objects.bulk_create(findings)
    if previous_status in SUBMITTED_ONCE:
        cr.status = Status.AMENDED
    elif previous_status is None or previous_status == Status.LOADED:
        cr.status = Status.LOADED
    cr.current = version
    cr.updated_at = now
    cr.save(update_fields=["status", "current", "updated_at"])
    record(
        "return.loaded",
        user=user,
        la=la,
        school=school,
        obj=cr,
        version=number,
        file_name=file_name,
        serial=rf.serial,
        pupils=len(est.pupils),
        status=cr.status,
        previous_status=previous_status or "",
        from_generation=generation.serial if generation else None,
    )
    return replaced


def refresh_la(la: LocalAuthority, collection: Collection) -> None:
    """Re-run the rules across the LA's whole collected return (duplicate UPNs, one pupil under
    two UPNs) and recount every school return's errors and queries."""
    d = _definition(collection)
    current = CollectedPupil.objects.filter(
        la=la, is_current=True, version__collected_return__collection=collection
    )
    CollectedFinding.objects.filter(
        la=la, is_current=True, scope="cohort", version__collected_return__collection=collection
    ).delete()
    pupils = {
        p.pk: p
        for p in current.select_related("school").only(
            "pk",
            "version_id",
            "school_id",
            "school__laestab",
            "upn",
            "surname",
            "forename",
            "dob",
            "explanations",
        )
    }
    entries = [
        rules.CohortEntry(pk, p.school.laestab, p.upn, p.surname, p.forename, p.dob)
        for pk, p in pupils.items()
    ]
    from keystage.engine.return_reader import explanation_for
    from keystage.engine.return_writer import Explanation

    rows = []
    # The entries carry no results and no last year, so the collections' own checks across
    # schools (a phonics school's marks, last year's records) find nothing here: the school
    # files' checks raised them before the return was made.
    for pk, f in rules.check_cohort(entries, d):
        if isinstance(pk, rules.SchoolOf):
            continue
        p = pupils[pk]
        notes = [Explanation(e["rule"], e["field"], e["text"]) for e in p.explanations]
        rows.append(
            CollectedFinding(
                version_id=p.version_id,
                la=la,
                school_id=p.school_id,
                pupil_id=pk,
                scope="cohort",
                rule=f.rule,
                severity=f.severity,
                field=f.field,
                value=f.value[:200],
                message=f.message,
                explanation=explanation_for(f, notes) if f.severity == "query" else "",
            )
        )
    CollectedFinding.objects.bulk_create(rows)
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"e": 0, "q": 0, "u": 0})
    for version_id, severity, explanation in CollectedFinding.objects.filter(
        la=la, is_current=True, version__collected_return__collection=collection
    ).values_list("version_id", "severity", "explanation"):
        c = counts[version_id]
        if severity == "error":
            c["e"] += 1
        else:
            c["q"] += 1
            c["u"] += not explanation
    for cr in CollectedReturn.objects.filter(la=la, collection=collection).select_related(
        "current"
    ):
        c = counts.get(cr.current_id, {"e": 0, "q": 0, "u": 0})
        pupils_n = cr.current.pupils if cr.current else 0
        if (cr.errors, cr.queries, cr.unexplained, cr.pupils) != (c["e"], c["q"], c["u"], pupils_n):
            cr.errors, cr.queries, cr.unexplained, cr.pupils = c["e"], c["q"], c["u"], pupils_n
            cr.save(update_fields=["errors", "queries", "unexplained", "pupils"])
        if cr.current and (cr.current.errors, cr.current.queries) != (c["e"], c["q"]):
            CollectedReturnVersion.objects.filter(pk=cr.current_id).update(
                errors=c["e"], queries=c["q"]
            )


# -- submitting and authorising ---------------------------------------------------------------


def _submit(la, collection, *, user, now) -> list[CollectedReturn]:
    waiting = list(
        CollectedReturn.objects.select_for_update()
        .filter(la=la, collection=collection, status__in=(Status.LOADED, Status.AMENDED))
        .select_related("school")
    )
    if not waiting:
        sent_back = CollectedReturn.objects.filter(
            la=la, collection=collection, status=Status.RETURNED
        ).count()
        if sent_back:
            raise ReturnRefused(
                f"{la.name} has {sent_back} school returns sent back by the national collection "
                "and nothing new to submit: correct the data, then build and submit the return "
                "again (or upload corrected return files)"
            )
        raise ReturnRefused(
            f"{la.name} has no loaded or amended school returns to submit: build or upload "
            "the return first"
        )
    for cr in waiting:
        previous = cr.status
        cr.status = Status.SUBMITTED
        cr.submitted_at, cr.submitted_by = now, user
        cr.authorised_at = cr.authorised_by = None
        cr.save(
            update_fields=[
                "status",
                "submitted_at",
                "submitted_by",
                "authorised_at",
                "authorised_by",
            ]
        )
        record(
            "return.submitted",
            user=user,
            la=la,
            school=cr.school,
            obj=cr,
            previous_status=previous,
            errors=cr.errors,
            queries=cr.queries,
            unexplained=cr.unexplained,
        )
    return waiting


DECLARATION = (
    "I am an approver of {la}. I confirm that this return is the LA's statutory {name} return "
    "for {collection}, that the errors and unexplained queries listed were checked, and that "
    "the national collection may use it."
)


def return_name(collection: Collection) -> str:
    """What the return is called in words: `[return] name`, else the header's Collection."""
    d = _definition(collection)
    return str(d.return_layout.get("name", d.collection))


def declaration_for(la: LocalAuthority, collection: Collection) -> str:
    """The words an approver confirms before submitting (kept with the submission)."""
    return DECLARATION.format(la=la.name, name=return_name(collection), collection=collection.name)


def new_submission_token() -> str:
    """A one-time token for one check-your-answers form: the same form posted twice (a double
    click, a reload, two tabs of one page) makes one submission."""
    return uuid.uuid4().hex


def _valid_token(token: str | None) -> str:
    token = (token or "").strip()
    try:
        return uuid.UUID(hex=token).hex
    except ValueError:
        raise ReturnRefused(
            "The submission form has expired or was changed: go back to the return page and "
            "start the submission again"
        ) from None


def _earlier(la, collection, token: str, generation=None) -> None:
    """Refuse a repeat: the same form (token) or the same build submitted before. Called with
    the LA row locked, so two requests at once are answered one after the other."""
    earlier = ReturnSubmission.objects.filter(token=token).select_related("la").first()
    if earlier is None and generation is not None:
        earlier = ReturnSubmission.objects.filter(generation=generation).first()
    if earlier is not None:
        if earlier.la_id != la.pk:  # a token of another LA's form: say nothing about it
            raise ReturnRefused("The submission form has expired: start the submission again")
        raise AlreadySubmitted(earlier)


def _record_submission(la, collection, submitted, *, user, token, now, generation=None):
    number = (
        ReturnSubmission.objects.filter(collection=collection, la=la).aggregate(n=Max("number"))[
            "n"
        ]
        or 0
    ) + 1
    _, actor = audit_actor(user)
    code = collection.code.upper()
    submission = ReturnSubmission.objects.create(
        collection=collection,
        la=la,
        number=number,
        reference=f"{code}-{la.code}-{number:03d}",
        token=token,
        generation=generation,
        submitted_by=user if user and user.is_authenticated else None,
        actor=actor,
        submitted_at=now,
        declaration=declaration_for(la, collection),
        schools=len(submitted),
        pupils=sum(cr.pupils for cr in submitted),
        errors=sum(cr.errors for cr in submitted),
        unexplained=sum(cr.unexplained for cr in submitted),
    )
    record(
        "return.submission_made",
        user=user,
        la=la,
        obj=submission,
        reference=submission.reference,
        serial=generation.serial if generation else None,
        schools=submission.schools,
        pupils=submission.pupils,
        errors=submission.errors,
        unexplained=submission.unexplained,
        declaration=submission.declaration,
    )
    return submission


def _lock_la(la: LocalAuthority) -> None:
    LocalAuthority.objects.select_for_update().filter(pk=la.pk).first()


@transaction.atomic
def do_submit_la(
    la: LocalAuthority, collection: Collection, *, user, token: str | None = None, now=None
) -> ReturnSubmission:
    """Submit every loaded or amended school return of the LA (LA approvers only), once per
    `token` (a repeat raises `AlreadySubmitted`)."""
    if not may_submit(user, la):
        raise PermissionDenied(f"Only an approver of {la.name} can submit its return")
    token = _valid_token(token) if token is not None else new_submission_token()
    _lock_la(la)
    _earlier(la, collection, token)
    now = now or timezone.now()
    submitted = _submit(la, collection, user=user, now=now)
    return _record_submission(la, collection, submitted, user=user, token=token, now=now)


@transaction.atomic
def do_submit_generation(
    generation: ReturnGeneration, *, user, token: str | None = None, now=None
) -> LoadResult:
    """Load every school file of a generation into the national collection, validated as any
    upload is, and submit the LA's return (LA approvers only). A build is submitted once: a
    repeat (the same form twice, or the same build again) raises `AlreadySubmitted` and loads
    nothing. The result's `submission` holds the reference."""
    la, collection = generation.la, generation.collection
    if not may_submit(user, la):
        raise PermissionDenied(f"Only an approver of {la.name} can submit its return")
    token = _valid_token(token) if token is not None else new_submission_token()
    _lock_la(la)  # two submissions at once: the second waits here, then finds the first
    _earlier(la, collection, token, generation)
    latest = ReturnGeneration.objects.filter(la=la, collection=collection).first()
    if latest is None or latest.pk != generation.pk:
        raise ReturnRefused(
            f"return {generation.serial} is not {la.name}'s latest: submit the latest return"
        )
    now = now or timezone.now()
    files = [
        (f["name"], generation_path(generation, f["name"]).read_bytes()) for f in generation.files
    ]
    read = validate_files(la, collection, files, now=now)
    result = _load(la, collection, read, user=user, generation=generation, now=now)
    submitted = _submit(la, collection, user=user, now=now)
    result.submission = _record_submission(
        la, collection, submitted, user=user, token=token, now=now, generation=generation
    )
    return result


def _authorise_one(cr: CollectedReturn, *, user, now) -> None:
    cr.status = Status.AUTHORISED
    cr.authorised_at, cr.authorised_by = now, user
    cr.save(update_fields=["status", "authorised_at", "authorised_by"])
    record(
        "return.authorised",
        user=user,
        la=cr.la,
        school=cr.school,
        obj=cr,
        pupils=cr.pupils,
        queries=cr.queries,
    )


def _why_not(cr: CollectedReturn) -> str | None:
    """Why a school return cannot be authorised now, in words for the collector, or None."""
    if cr.status != Status.SUBMITTED:
        return f"it is {mid_sentence(cr.get_status_display())}, not submitted"
    if cr.errors:
        return f"it has {plural(cr.errors, 'error')}"
    if cr.unexplained:
        return f"it has {plural(cr.unexplained, 'query', 'queries')} without an explanation"
    return None


@dataclass
class AuthorisePlan:
    """What authorising an LA would do now: the returns it authorises and those it cannot,
    each with why."""

    will: list[CollectedReturn] = field(default_factory=list)
    will_not: list[tuple[CollectedReturn, str]] = field(default_factory=list)
    authorised_before: int = 0


def authorise_plan(held: Iterable[CollectedReturn]) -> AuthorisePlan:
    plan = AuthorisePlan()
    for cr in held:
        if cr.status == Status.AUTHORISED:
            plan.authorised_before += 1
        elif reason := _why_not(cr):
            plan.will_not.append((cr, reason))
        else:
            plan.will.append(cr)
    return plan


@transaction.atomic
def do_authorise_return(cr: CollectedReturn, *, user, now=None) -> CollectedReturn:
    """Authorise one submitted school return with no errors and every query explained
    (national admins only)."""
    if not may_authorise(user):
        raise PermissionDenied("Only a national admin can authorise a return")
    cr = CollectedReturn.objects.select_for_update().select_related("school", "la").get(pk=cr.pk)
    if reason := _why_not(cr):
        raise ReturnRefused(f"Cannot authorise {cr.school.laestab} {cr.school.name}: {reason}")
    _authorise_one(cr, user=user, now=now or timezone.now())
    return cr


@transaction.atomic
def do_authorise_la(la: LocalAuthority, collection: Collection, *, user, now=None) -> AuthorisePlan:
    """Authorise every submitted school return of the LA with no errors and every query
    explained (national admins only); the others are left as they are and returned in
    `will_not` with why. Refused only when the LA has nothing waiting for authorisation."""
    if not may_authorise(user):
        raise PermissionDenied("Only a national admin can authorise a return")
    held = list(
        CollectedReturn.objects.select_for_update()
        .filter(la=la, collection=collection)
        .select_related("school", "la")
    )
    plan = authorise_plan(held)
    if not plan.will and not plan.will_not:
        raise ReturnRefused(f"{la.name} has no submitted returns waiting for authorisation")
    now = now or timezone.now()
    for cr in plan.will:
        _authorise_one(cr, user=user, now=now)
    record(
        "return.la_authorised",
        user=user,
        la=la,
        authorised=[cr.school.laestab for cr in plan.will],
        not_authorised={cr.school.laestab: why for cr, why in plan.will_not},
    )
    return plan


@transaction.atomic
def do_send_back(cr: CollectedReturn, *, reason: str, user, now=None) -> CollectedReturn:
    """Send a submitted or authorised school return back to its LA with the collector's reason
    (national admins only). Its authorisation, if any, is withdrawn; the LA's next file for the
    school makes it "amended after submission", to be submitted again. The LA's admins and
    officers (and a restricted officer of the school) are e-mailed the reason."""
    if not may_authorise(user):
        raise PermissionDenied("Only a national admin can send a return back to the LA")
    reason = (reason or "").strip()
    if not reason:
        raise ReturnRefused("Say why the return is sent back: the LA reads it to correct the data")
    if len(reason) > SEND_BACK_REASON_MAX:
        raise ReturnRefused(
            f"The reason is {len(reason)} characters long: keep it to {SEND_BACK_REASON_MAX}"
        )
    cr = CollectedReturn.objects.select_for_update().select_related("school", "la").get(pk=cr.pk)
    if not cr.may_be_sent_back:
        raise ReturnRefused(
            f"Cannot send {cr.school.laestab} back: it is {mid_sentence(cr.get_status_display())}; "
            "only a submitted or authorised return goes back to the LA"
        )
    now = now or timezone.now()
    previous = cr.status
    cr.status = Status.RETURNED
    cr.authorised_at = cr.authorised_by = None
    cr.sent_back_at, cr.sent_back_by, cr.sent_back_reason = now, user, reason
    cr.updated_at = now
    cr.save(
        update_fields=[
            "status",
            "authorised_at",
            "authorised_by",
            "sent_back_at",
            "sent_back_by",
            "sent_back_reason",
            "updated_at",
        ]
    )
    record(
        "return.sent_back",
        user=user,
        la=cr.la,
        school=cr.school,
        obj=cr,
        previous_status=previous,
        reason=reason,
    )
    name = return_name(cr.collection)
    # The links name the collection: a send-back may be made outside a request (the demo).
    where = {"code": cr.la.code, "collection": cr.collection.code}
    send_after_commit(
        f"{name[:1].upper()}{name[1:]} return of {cr.school.name} ({cr.school.laestab}) sent "
        "back by the national collection",
        f"The national collection has sent the {name} return of {cr.school.name} "
        f"({cr.school.laestab}) back to {cr.la.name}.\n\nWhy:\n{reason}\n\n"
        "Correct the data, then build and submit the return again (or upload corrected return "
        "files):\n"
        f"{site_link('la-returns', **where)}\n\n"
        f"The return as the collection holds it:\n"
        f"{site_link('collected-return', laestab=cr.school.laestab, **where)}\n",
        la_recipients(cr.school),
    )
    return cr
