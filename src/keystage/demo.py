"""`keystage demo`: seed the database with synthetic LAs, users of every role and several days
of uploads, so the web service has something to show: KS1 2023, the phonics screening check of
2023 and 2024 for the same LAs when the service offers phonics, and the EYFS profile of 2024
(its schools' files and two PVI settings of the first LA) when it offers that. Safe to run
again: it reuses what a first run made (files, users and their passwords, uploads)."""

from __future__ import annotations

import secrets
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_LAS = ("938", "202", "826")
# Upload days in June 2023: the weeks before the statutory deadline.
UPLOAD_DAYS = (5, 12, 19, 26)
# The phonics screening check of two consecutive years, the earlier first: the later year's
# Year 2 pupils are the earlier year's Year 1 pupils who did not meet the standard (the
# generator makes both from one seed), and its checks across years and its "by the end of
# Year 2" figure read the earlier year's results.
PHONICS = ("phonics-2023", "phonics-2024")
SEED = 2023
# The EYFS profile year the demo loads, and the first LA's PVI settings (URN, name), loaded from
# a settings register (`keystage settings load`); the first sends a CSV, the second nothing.
EYFSP = "eyfsp-2024"
DEMO_SETTINGS = (("512345", "Little Acorns Day Nursery"), ("612346", "Busy Bees Pre-school"))
SETTING_CHILDREN = (("Ava", "Moss", "F"), ("Ben", "Hale", "M"), ("Cara", "Lowe", "F"),
                    ("Dev", "Shah", "M"), ("Eli", "Penn", "M"), ("Fay", "Ord", "F"),
                    ("Gus", "Rowe", "M"), ("Hana", "Vale", "F"))  # fmt: skip


class DemoError(Exception):
    """The demo cannot be made with the LAs asked for; the message says what to give instead."""


@dataclass
class DemoUser:
    username: str
    role: str
    label: str
    password: str = ""
    totp_secret: str = ""  # hex key of the admin's authenticator (TOTPDevice.key)

    @property
    def secret_for_people(self) -> str:
        if not self.totp_secret:
            return ""
        text = b32encode(bytes.fromhex(self.totp_secret)).decode("ascii").rstrip("=")
        return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _users_file(data_dir: Path) -> Path:
    return data_dir / "demo-users.txt"


def _read_users(path: Path) -> dict[str, tuple[str, str]]:
    """username -> (password, totp hex key) from an earlier run."""
    known: dict[str, tuple[str, str]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                username, password, key = (line.split("\t") + ["", ""])[:3]
                known[username] = (password, key)
    return known


def seed(data_dir: Path, las: list[str], *, collection_id: str | None = None, out=print) -> dict:
    """Everything the demo needs; returns what it made for the caller to print."""
    from django.core.management import call_command

    from keystage.engine import definition as definitions
    from keystage.engine.collections import for_definition, ks1
    from keystage.engine.collections.ks1 import synthetic
    from keystage.orgs.actions import do_load_reference, do_load_register

    if collection_id:
        chosen = definitions.load(collection_id)
        if for_definition(chosen) is not ks1:
            raise DemoError(
                f"the demo's school files are KS1 files, and {chosen.id} is {chosen.name}: run "
                f"`keystage demo` without --collection (it loads {' and '.join(PHONICS)} as "
                "well when the service offers them) or with a KS1 collection"
            )
    call_command("migrate", verbosity=0, interactive=False)
    do_load_reference()
    files = data_dir / "demo-files"
    if not (files / "schools.csv").exists():
        out(f"Writing synthetic school files for LAs {', '.join(las)} to {files} ...")
        synthetic.generate(files, las=las, error_rate=0.03, seed=SEED)
    do_load_register(files / "schools.csv")
    users = _seed_users(data_dir, las)
    uploads = _seed_uploads(files, las, users, collection_id=collection_id, out=out)
    released = _seed_check_loop(users, collection_id=collection_id, out=out)
    sees = _seed_school_sees(las[0], users, collection_id=collection_id, out=out)
    returns = _seed_returns(las, users, collection_id=collection_id, out=out)
    facts = _seed_facts(collection_id=collection_id, out=out)
    phonics = _seed_phonics(files, las, users, out=out) if phonics_offered() else {}
    eyfsp = _seed_eyfsp(files, las, users, out=out) if eyfsp_offered() else {}
    pages = pages_to_open(users, las)
    return {"users": users, "uploads": uploads, "files": files, "released": released,
            "school_sees": sees, "returns": returns, "facts": facts, "phonics": phonics,
            "eyfsp": eyfsp, "pages": pages}  # fmt: skip


def eyfsp_offered() -> bool:
    """Whether the service offers the demo's EYFS profile year (KEYSTAGE_COLLECTIONS)."""
    from keystage.web.links import offered

    return EYFSP in offered()


def phonics_offered() -> bool:
    """Whether the service offers a phonics collection of the demo's (settings'
    KEYSTAGE_COLLECTIONS): only then are phonics files made and imported, so every page the
    demo prints, and every link its e-mails hold, opens."""
    from keystage.web.links import offered

    return any(code in offered() for code in PHONICS)


def _user(users, role):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=next(u.username for u in users if u.role == role))


def _schools_with_files(data_dir: Path, la: str) -> list[str]:
    """URNs of the LA's schools that sent a file without faults (the generator's manifest), so
    the restricted officer and the school user have pupils to look at."""
    import csv

    with open(data_dir / "demo-files" / "manifest.csv", encoding="utf-8", newline="") as f:
        return [row["urn"] for row in csv.DictReader(f) if row["la"] == la and not row["fault"]]


def _seed_users(data_dir: Path, las: list[str]) -> list[DemoUser]:
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from keystage.accounts.actions import do_create_member
    from keystage.accounts.models import Role
    from keystage.orgs.models import LocalAuthority, School

    main_la = LocalAuthority.objects.get(code=las[0])
    schools = list(
        School.objects.filter(
            la=main_la, urn__in=_schools_with_files(data_dir, main_la.code)
        ).order_by("estab")[:3]
    )
    if len(schools) < 3:
        raise DemoError(
            f"LA {main_la.code} {main_la.name} has {len(schools)} schools whose demo files have "
            "no mistakes; the first LA of the demo needs 3 (for the restricted officer and the "
            "school user): put a larger LA first, e.g. --la 938"
        )
    first = f"la{main_la.code}"
    plan = [
        (DemoUser("national", Role.NATIONAL_ADMIN, "National admin"), {}),
        (DemoUser(f"{first}-admin", Role.LA_ADMIN, f"LA admin, {main_la.name}"), {"la": main_la}),
        (
            DemoUser(f"{first}-officer", Role.LA_OFFICER, f"LA officer and approver, {main_la.name}"),
            {"la": main_la, "is_approver": True},
        ),
        (
            DemoUser(f"{first}-restricted", Role.LA_RESTRICTED,
                     f"LA restricted officer: {', '.join(s.name for s in schools[:2])}"),
            {"la": main_la, "schools": schools[:2]},
        ),
        (
            DemoUser(f"school-{schools[2].laestab}", Role.SCHOOL_USER,
                     f"School user, {schools[2].name}"),
            {"school": schools[2]},
        ),
    ]  # fmt: skip
    if len(las) > 1:
        second = LocalAuthority.objects.get(code=las[1])
        plan.append(
            (DemoUser(f"la{second.code}-admin", Role.LA_ADMIN, f"LA admin, {second.name}"),
             {"la": second})
        )  # fmt: skip
    path = _users_file(data_dir)
    known = _read_users(path)
    User = get_user_model()
    made = []
    for user, options in plan:
        password, key = known.get(user.username, ("", ""))
        user.password = password or secrets.token_urlsafe(12)
        if not User.objects.filter(username=user.username).exists():
            # An address at example.org: the demo's console e-mail backend prints what
            # the check loop would send them.
            do_create_member(user.username, role=user.role, password=user.password,
                             email=f"{user.username}@example.org", **options)  # fmt: skip
        if user.role in (Role.NATIONAL_ADMIN, Role.LA_ADMIN):
            account = User.objects.get(username=user.username)
            device = TOTPDevice.objects.filter(user=account, confirmed=True).first()
            if device is None:
                # A confirmed authenticator made here, so a tester adds its key to an app
                # instead of scanning a QR code; the same key on every run of the demo.
                options = {"key": key} if key else {}
                device = TOTPDevice.objects.create(
                    user=account, name="Demo authenticator", confirmed=True, **options
                )
            user.totp_secret = device.key
        made.append(user)
    lines = ["# Keystage demo users: username, password, TOTP key (hex). Made by `keystage demo`."]
    lines += [f"{u.username}\t{u.password}\t{u.totp_secret}" for u in made]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return made


def _seed_uploads(files: Path, las, users, *, collection_id, out) -> dict[int, dict]:
    """The LAs' files imported in four batches on different June 2023 days, the last with a
    file that is rejected. Done once: a database that has uploads is left as it is."""
    from django.contrib.auth import get_user_model

    from keystage.submissions.actions import get_collection
    from keystage.submissions.importing import import_paths
    from keystage.submissions.models import Upload

    if Upload.objects.filter(collection=get_collection(collection_id)).exists():
        return {}
    school_files = sorted(
        p for la in las for p in (files / la).rglob("*") if p.is_file() and not p.name.startswith(".")
    )  # fmt: skip
    broken = files / "extra" / f"KS1_{las[0]}_broken.xml"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("<CTfile><Header><DocumentName>Common Transfer File", encoding="utf-8")
    batches = [school_files[i :: len(UPLOAD_DAYS)] for i in range(len(UPLOAD_DAYS))]
    batches[-1].append(broken)
    officer = get_user_model().objects.get(username=users[2].username)
    london = ZoneInfo("Europe/London")
    summary: dict[int, dict] = {}
    for day, batch in zip(UPLOAD_DAYS, batches, strict=True):
        out(f"Importing {len(batch)} files as uploaded on {day} June 2023 ...")
        results = import_paths([str(p) for p in batch], collection_code=collection_id,
                               user=officer, source="demo")  # fmt: skip
        ids = [r.upload_id for r in results if r.upload_id and r.outcome != "unchanged"]
        Upload.objects.filter(pk__in=ids).update(
            uploaded_at=datetime(2023, 6, day, 10, 30, tzinfo=london)
        )
        tally: dict[str, int] = {}
        for r in results:
            tally[r.outcome] = tally.get(r.outcome, 0) + 1
        summary[day] = tally
    return summary


def _seed_check_loop(users, *, collection_id, out) -> list[str]:
    """The LA officer releases the checking reports to the demo school user's school, so the
    school has its data to check and confirm. Done once: a release already made is kept."""
    from keystage.accounts.models import Role
    from keystage.checking.actions import do_release
    from keystage.checking.models import Release
    from keystage.submissions.actions import get_collection

    if Release.objects.filter(collection=get_collection(collection_id)).exists():
        return []
    officer = _user(users, Role.LA_OFFICER)
    school_user = _user(users, Role.SCHOOL_USER)
    school = school_user.membership.school
    out(f"Releasing the checking reports of {school.name} to its school user ...")
    made = do_release(officer, get_collection(collection_id), [school],
                      note="Please check your pupils and confirm, or send us a query.")  # fmt: skip
    return [r.school.laestab for r in made]


def _seed_school_sees(la_code, users, *, collection_id, out) -> str:
    """The main LA lets its schools see their results with comparisons, so the demo school
    user has reports to look at. Done once: a choice already made is kept."""
    from keystage.accounts.models import Role
    from keystage.collection.actions import do_set_school_sees
    from keystage.collection.models import LaCollectionSettings
    from keystage.orgs.models import LocalAuthority
    from keystage.submissions.actions import get_collection

    la, collection = LocalAuthority.objects.get(code=la_code), get_collection(collection_id)
    row = LaCollectionSettings.objects.filter(la=la, collection=collection).first()
    if row is not None and row.school_sees != LaCollectionSettings.SchoolSees.NOTHING:
        return row.school_sees
    out(f"Letting {la.name}'s schools see their reports with comparisons ...")
    admin = _user(users, Role.LA_ADMIN)
    return do_set_school_sees(la, collection, "comparisons", user=admin).school_sees


def _seed_returns(las, users, *, collection_id, out) -> dict[str, int]:
    """The national collection in more than one state: the main LA's officer (an approver)
    builds its return, confirming the open items, and submits it; the national admin
    authorises one clean school return and sends the one with most errors back to the LA; the
    second LA's admin builds and loads theirs without submitting; any other LA has sent nothing.
    Done once per LA: a return already there is kept (an LA with no collected returns is tried
    again). Returns the collected school returns by status."""
    from django.db.models import Count

    from keystage.accounts.models import Role
    from keystage.orgs.models import LocalAuthority
    from keystage.returns import actions
    from keystage.returns.models import CollectedReturn
    from keystage.submissions.actions import get_collection

    collection = get_collection(collection_id)
    main_la = LocalAuthority.objects.get(code=las[0])
    if not CollectedReturn.objects.filter(la=main_la, collection=collection).exists():
        officer = _user(users, Role.LA_OFFICER)
        out(f"Building {main_la.name}'s return and submitting it to the national collection ...")
        generation = actions.do_build_return(main_la, collection, user=officer, confirm=True)
        actions.do_submit_generation(generation, user=officer)
        clean = CollectedReturn.objects.filter(
            la=main_la, collection=collection, status=CollectedReturn.Status.SUBMITTED,
            errors=0, unexplained=0,
        ).select_related("school").first()  # fmt: skip
        if clean is not None:
            out(
                f"Authorising the return of {clean.school.name} (no errors) as the national admin ..."
            )
            actions.do_authorise_return(clean, user=_user(users, Role.NATIONAL_ADMIN))
        with_errors = CollectedReturn.objects.filter(
            la=main_la, collection=collection, status=CollectedReturn.Status.SUBMITTED, errors__gt=0
        ).select_related("school").order_by("-errors").first()  # fmt: skip
        if with_errors is not None:
            out(f"Sending the return of {with_errors.school.name} back to the LA ...")
            actions.do_send_back(
                with_errors,
                reason=f"{with_errors.errors} errors remain in this school's return: correct "
                "them (each is listed on the school return's page), then build and submit the "
                "return again.",
                user=_user(users, Role.NATIONAL_ADMIN),
            )
    if len(las) > 1:
        second = LocalAuthority.objects.get(code=las[1])
        if not CollectedReturn.objects.filter(la=second, collection=collection).exists():
            from django.contrib.auth import get_user_model

            admin = get_user_model().objects.get(username=f"la{second.code}-admin")
            out(f"Building {second.name}'s return and loading it, not yet submitted ...")
            generation = actions.do_build_return(second, collection, user=admin, confirm=True)
            files = [
                (f["name"], actions.generation_path(generation, f["name"]).read_bytes())
                for f in generation.files
            ]
            if files:
                actions.do_upload_returns(second, collection, files, user=admin)
    return dict(
        CollectedReturn.objects.filter(collection=collection)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )


def _seed_facts(*, collection_id, out) -> int:
    """The report figures, counted now rather than left to the server's task worker, so the
    report pages have figures the moment the server starts. Imports here queue no rebuild;
    counting again on a second run gives the same facts."""
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.actions import get_collection

    out("Counting the report figures ...")
    return rebuild_facts(get_collection(collection_id))


def _seed_phonics(files: Path, las, users, *, out) -> dict[str, dict]:
    """Each phonics year of `PHONICS`, the earlier first: the LAs' synthetic files (in
    demo-files/<collection>/, from the same seed, so the later year's Year 2 pupils are the
    earlier year's Year 1 pupils who did not meet the standard), imported by the LA officer in
    two batches (the Monday after the check week, the schools' deadline), then the checking
    reports of the later year released to the demo school user's school, the main LA's return
    of the later year built (not submitted), and each year's report figures counted. The schools
    are those of KS1's register (the generators share how they plan an LA's schools). Done once
    per collection: one with uploads is left as it is. Returns, per collection, its pupils and
    the files imported by outcome (none on a later run)."""
    from keystage.accounts.models import Role
    from keystage.checking.actions import do_release
    from keystage.checking.models import Release
    from keystage.engine import collections
    from keystage.engine import definition as definitions
    from keystage.orgs.models import LocalAuthority
    from keystage.reports.facts import rebuild_facts
    from keystage.returns import actions as returns
    from keystage.returns.models import ReturnGeneration
    from keystage.submissions.actions import get_collection
    from keystage.submissions.importing import import_paths
    from keystage.submissions.models import PupilRecord, Upload

    officer = _user(users, Role.LA_OFFICER)
    london = ZoneInfo("Europe/London")
    made: dict[str, dict] = {}
    for code in PHONICS:
        d = definitions.load(code)
        collection = get_collection(code)
        folder = files / code
        if not (folder / "manifest.csv").exists():
            out(f"Writing synthetic {d.name} files for LAs {', '.join(las)} to {folder} ...")
            collections.module_of(d, "synthetic").generate(
                folder, las=las, error_rate=0.03, seed=SEED, definition=d
            )
        tally: dict[str, int] = {}
        if not Upload.objects.filter(collection=collection).exists():
            school_files = sorted(
                p for la in las for p in (folder / la).rglob("*")
                if p.is_file() and not p.name.startswith(".")
            )  # fmt: skip
            ends = d.dates["check_week_ends"]
            days = (ends + timedelta(days=7 - ends.weekday()), d.dates["school_deadline"])
            for i, day in enumerate(days):
                batch = school_files[i :: len(days)]
                out(f"Importing {len(batch)} {d.name} files as uploaded on "
                    f"{day.day} {day:%B %Y} ...")  # fmt: skip
                results = import_paths([str(p) for p in batch], collection_code=code,
                                       user=officer, source="demo")  # fmt: skip
                ids = [r.upload_id for r in results if r.upload_id and r.outcome != "unchanged"]
                Upload.objects.filter(pk__in=ids).update(
                    uploaded_at=datetime(day.year, day.month, day.day, 10, 30, tzinfo=london)
                )
                for r in results:
                    tally[r.outcome] = tally.get(r.outcome, 0) + 1
        made[code] = {
            "name": d.name,
            "files": tally,
            "pupils": PupilRecord.objects.filter(collection=collection, is_current=True).count(),
        }
    latest = get_collection(PHONICS[-1])
    school = _user(users, Role.SCHOOL_USER).membership.school
    has_pupils = PupilRecord.objects.filter(collection=latest, school=school, is_current=True)
    if not Release.objects.filter(collection=latest).exists() and has_pupils.exists():
        out(f"Releasing the {latest.name} checking reports of {school.name} to its school user ...")
        do_release(officer, latest, [school],
                   note="Please check your pupils' phonics marks and confirm.")  # fmt: skip
    main_la = LocalAuthority.objects.get(code=las[0])
    if not ReturnGeneration.objects.filter(la=main_la, collection=latest).exists():
        # Built, not submitted: the approver checks it and submits it on the return's page
        # (loading it into the national collection would double the phonics part's time).
        out(f"Building {main_la.name}'s {latest.name} return, not yet submitted ...")
        returns.do_build_return(main_la, latest, user=officer, confirm=True)
    for code in PHONICS:
        out(f"Counting the {made[code]['name']} report figures ...")
        made[code]["facts"] = rebuild_facts(get_collection(code))
    return made


def _setting_file(folder: Path, la: str, urn: str, year: int) -> Path:
    """The demo setting's profiles as `EYFSP_UUUUUU_yy.csv`: a few children of the reception
    cohort, most at the expected level, one emerging in a prime goal, one not assessed."""
    from keystage.engine import upn

    goals = ",".join(f"ELG{n:02d}" for n in range(1, 18))
    lines = [f"UPN,Surname,Forename,DOB,Sex,{goals}"]
    for i, (forename, surname, sex) in enumerate(SETTING_CHILDREN, 1):
        judgements = ["2"] * 17
        if i == 3:
            judgements[0] = "1"  # emerging in listening, attention and understanding
        elif i == 6:
            judgements = ["A"] * 17
        elif i % 4 == 0:
            judgements[16] = "1"
        born = f"{10 + i:02d}/{(i % 12) + 1:02d}/{year - 6 if (i % 12) + 1 >= 9 else year - 5}"
        code = upn.make(la, urn[:4], f"{year % 100:02d}", f"{i:03d}")
        lines.append(f"{code},{surname},{forename},{born},{sex}," + ",".join(judgements))
    path = folder / f"EYFSP_{urn}_{year % 100:02d}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _seed_eyfsp(files: Path, las, users, *, out) -> dict:
    """The EYFS profile of `EYFSP`: the LAs' synthetic school files (in demo-files/eyfsp-2024/;
    the schools are those of KS1's register, as for phonics), the first LA's PVI settings loaded
    from a settings register and one setting's CSV, all imported by the LA officer on the
    schools' deadline, then the report figures counted. Done once: a collection with uploads
    is left as it is. Returns its name, pupils, files imported by outcome and facts."""
    from keystage.accounts.models import Role
    from keystage.engine import collections
    from keystage.engine import definition as definitions
    from keystage.orgs.actions import do_load_settings
    from keystage.reports.facts import rebuild_facts
    from keystage.submissions.actions import get_collection
    from keystage.submissions.importing import import_paths
    from keystage.submissions.models import PupilRecord, Upload

    officer = _user(users, Role.LA_OFFICER)
    d = definitions.load(EYFSP)
    collection = get_collection(EYFSP)
    folder = files / EYFSP
    if not (folder / "manifest.csv").exists():
        out(f"Writing synthetic {d.name} files for LAs {', '.join(las)} to {folder} ...")
        collections.module_of(d, "synthetic").generate(
            folder, las=las, error_rate=0.03, seed=SEED, definition=d
        )
    register = folder / "settings.csv"
    register.write_text("URN,LA (code),SettingName,SettingStatus\n" + "".join(
        f"{urn},{las[0]},{name},Open\n" for urn, name in DEMO_SETTINGS
    ), encoding="utf-8")  # fmt: skip
    do_load_settings(register)
    tally: dict[str, int] = {}
    if not Upload.objects.filter(collection=collection).exists():
        setting = _setting_file(folder, las[0], DEMO_SETTINGS[0][0], d.year)
        school_files = sorted(
            p for la in las for p in (folder / la).rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )  # fmt: skip
        day = d.dates["school_deadline"]
        out(f"Importing {len(school_files) + 1} {d.name} files as uploaded on "
            f"{day.day} {day:%B %Y} ...")  # fmt: skip
        results = import_paths([str(p) for p in [*school_files, setting]], collection_code=EYFSP,
                               user=officer, source="demo")  # fmt: skip
        ids = [r.upload_id for r in results if r.upload_id and r.outcome != "unchanged"]
        london = ZoneInfo("Europe/London")
        Upload.objects.filter(pk__in=ids).update(
            uploaded_at=datetime(day.year, day.month, day.day, 10, 30, tzinfo=london)
        )
        for r in results:
            tally[r.outcome] = tally.get(r.outcome, 0) + 1
    out(f"Counting the {d.name} report figures ...")
    return {
        "name": d.name, "files": tally,
        "pupils": PupilRecord.objects.filter(collection=collection, is_current=True).count(),
        "facts": rebuild_facts(collection),
    }  # fmt: skip


def pages_to_open(users, las) -> dict[str, list[tuple[str, str]]]:
    """username -> (what, path) of the main pages each demo user can open: KS1's, then those
    of the latest phonics year the service offers."""
    from django.contrib.auth import get_user_model

    from keystage.accounts.models import Role
    from keystage.engine import definition as definitions
    from keystage.reports.models import NATIONAL_CODE
    from keystage.web.links import offered, reverse

    la = las[0]
    latest = next((c for c in reversed(PHONICS) if c in offered()), None)
    pages: dict[str, list[tuple[str, str]]] = {}
    for user in users:
        links = [("Home", reverse("home"))]
        if user.role == Role.NATIONAL_ADMIN:
            links += [
                ("National collection", reverse("national-dashboard")),
                (f"LA {la} in the collection", reverse("collected-la", kwargs={"code": la})),
                ("National report", reverse("report-national")),
                ("England summary", reverse("report-summary",
                                            kwargs={"level": "england", "code": NATIONAL_CODE})),
            ]  # fmt: skip
            where = {"level": "england", "code": NATIONAL_CODE}
            mine = [("national collection", "national-dashboard", {})]
        elif user.role == Role.SCHOOL_USER:
            account = get_user_model().objects.get(username=user.username)
            laestab = account.membership.school.laestab
            links += [
                ("Check your pupils", reverse("school-check", kwargs={"laestab": laestab})),
                ("Your results", reverse("report-summary",
                                         kwargs={"level": "school", "code": laestab})),
                ("Gaps between groups", reverse("report-gap",
                                                kwargs={"level": "school", "code": laestab})),
                ("Upload a file", reverse("upload")),
            ]  # fmt: skip
            mine = [("check your pupils", "school-check", {"laestab": laestab})]
            where = {"level": "school", "code": laestab}
        else:
            code = user.username.removeprefix("la").split("-")[0]
            links += [
                ("LA dashboard", reverse("la-dashboard", kwargs={"code": code})),
                ("Pupils", reverse("la-pupils", kwargs={"code": code})),
                ("Data Errors", reverse("la-errors", kwargs={"code": code})),
            ]
            mine = [("Data Errors", "la-errors", {"code": code})]
            where = None
            if user.role != Role.LA_RESTRICTED:
                links += [
                    ("Checking by schools", reverse("la-checking", kwargs={"code": code})),
                    ("Return", reverse("la-returns", kwargs={"code": code})),
                    ("LA summary report", reverse("report-summary",
                                                  kwargs={"level": "la", "code": code})),
                    ("Gaps between groups", reverse("report-gap",
                                                    kwargs={"level": "la", "code": code})),
                ]  # fmt: skip
                where = {"level": "la", "code": code}
                mine.append(("return", "la-returns", {"code": code}))
        if where is not None:
            mine.append(("summary report", "report-summary", where))
        if latest:
            # "Phonics 2024 Data Errors", "Phonics 2024 summary report", ...
            short = f"Phonics {definitions.load(latest).year}"
            links += [(f"{short} {what}", reverse(name, kwargs={**kw, "collection": latest}))
                      for what, name, kw in mine]  # fmt: skip
        if EYFSP in offered():
            # "EYFSP 2024 dashboard", "EYFSP 2024 Data Errors", "EYFSP 2024 summary report"
            short = f"EYFSP {definitions.load(EYFSP).year}"
            theirs = [m for m in mine if m[1] != "la-returns" and m[1] != "school-check"]
            if user.role not in (Role.NATIONAL_ADMIN, Role.SCHOOL_USER):
                theirs.insert(0, ("dashboard", "la-dashboard", {"code": code}))
            links += [(f"{short} {what}", reverse(name, kwargs={**kw, "collection": EYFSP}))
                      for what, name, kw in theirs]  # fmt: skip
        pages[user.username] = links
    return pages
