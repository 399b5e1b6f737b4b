"""The `keystage` command: set up the database, load the schools register, import school
files, print the Data Errors report and the pupil list, run the web service and its demo.
See docs/cli.md."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_FAILED = 0, 1, 2, 3


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keystage.web.settings")
    import django

    django.setup()


def _fmt_arg(p: argparse.ArgumentParser, default: str = "text") -> None:
    p.add_argument(
        "--format",
        choices=("text", "json", "csv"),
        default=default,
        help="output format (default: %(default)s)",
    )


def _kept_from_before(results) -> int:
    """The pupils that year-group files kept from their schools' files of before this import:
    a school whose earlier file came in this same import has its pupils counted already in
    what was stored."""
    seen: set[str] = set()
    kept = 0
    for r in results:
        if r.outcome == "superseded" and r.laestab not in seen:
            kept += r.year_group.get("kept", 0)
        if r.outcome in ("accepted", "superseded"):
            seen.add(r.laestab)
    return kept


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keystage",
        description="Keystage: KS1 teacher-assessment data collection for LAs, schools and DfE.",
    )
    parser.add_argument("--collection", default=None, help="collection definition, e.g. ks1-2023")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("init", help="create or migrate the database and load the LAs and regions")

    schools = sub.add_parser("schools", help="the schools register")
    ssub = schools.add_subparsers(dest="schools_command", required=True, metavar="SUBCOMMAND")
    load = ssub.add_parser("load", help="load a GIAS establishment extract (CSV)")
    load.add_argument("file")
    _fmt_arg(load)

    early = sub.add_parser("settings", help="the register of early-years (PVI) settings")
    esub = early.add_subparsers(dest="settings_command", required=True, metavar="SUBCOMMAND")
    load = esub.add_parser("load", help="load a register of early-years settings (CSV)")
    load.add_argument("file")
    _fmt_arg(load)

    imp = sub.add_parser("import", help="import school files (CTF XML or CSV), folders or zips")
    imp.add_argument("paths", nargs="+", metavar="PATH")
    imp.add_argument(
        "--la",
        help="only accept files for this LA (and use it for CSV files "
        "that give only the establishment number)",
    )
    imp.add_argument("--jobs", type=int, default=None, help="worker processes (default: cores)")
    imp.add_argument("--quiet", action="store_true", help="no per-file lines, only the summary")
    _fmt_arg(imp)

    errs = sub.add_parser("errors", help="the Data Errors report, school then pupil")
    errs.add_argument("--la")
    errs.add_argument("--school", metavar="LAESTAB")
    errs.add_argument("--severity", choices=("error", "query"))
    _fmt_arg(errs)

    pup = sub.add_parser("pupils", help="the pupil list with outcomes and error counts")
    pup.add_argument("--la")
    pup.add_argument("--school", metavar="LAESTAB")
    _fmt_arg(pup)

    rep = sub.add_parser("report", help="measures read from the fact tables, with comparators")
    rep.add_argument("kind", choices=("summary", "gap", "national"))
    rep.add_argument("--la", metavar="LLL")
    rep.add_argument("--school", metavar="LAESTAB")
    rep.add_argument("--region", metavar="NAME", help="a region's name or DfE code (980-990)")
    _fmt_arg(rep)

    gen = sub.add_parser("generate", help="write synthetic school files and a schools register")
    gen.add_argument("--out", required=True, type=Path)
    where = gen.add_mutually_exclusive_group(required=True)
    where.add_argument("--la", action="append", metavar="LLL", help="an LA code (repeatable)")
    where.add_argument("--national", action="store_true", help="every LA in England")
    gen.add_argument("--error-rate", type=float, default=0.02)
    gen.add_argument("--seed", type=int, default=0)
    # Also after the command (`generate --collection phonics-2023`); SUPPRESS keeps the global
    # option's value when it is not given here.
    gen.add_argument("--collection", default=argparse.SUPPRESS,
                     help="the collection whose files to write (default ks1-2023)")  # fmt: skip
    _fmt_arg(gen)

    serve = sub.add_parser("serve", help="run the web service and its background task workers")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on")
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="web processes (gunicorn; default: twice the cores plus one; 0: task workers only)",
    )
    serve.add_argument(
        "--task-workers",
        type=int,
        default=1,
        metavar="M",
        help="background task worker processes (default: %(default)s)",
    )
    serve.add_argument(
        "--no-worker", action="store_true", help="no background task worker (--task-workers 0)"
    )
    serve.add_argument(
        "--dev",
        action="store_true",
        help="Django's development server instead of gunicorn (a demo or a tester's machine)",
    )
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="do not migrate the database (one machine of several: `keystage init` did it)",
    )

    ret = sub.add_parser("return", help="the LA's statutory return to the national collection")
    rsub = ret.add_subparsers(dest="return_command", required=True, metavar="SUBCOMMAND")
    build = rsub.add_parser("build", help="write the LA's return: one XML per school and a zip")
    build.add_argument("--la", required=True, metavar="LLL")
    build.add_argument("--out", required=True, type=Path, help="folder to copy the files to")
    build.add_argument(
        "--yes",
        action="store_true",
        help="write even with errors still open or queries without explanation",
    )
    _fmt_arg(build)

    keep = sub.add_parser(
        "retention", help="delete pupil-level data past its retention (figures are kept)"
    )
    keep.add_argument(
        "--dry-run", action="store_true", help="list what would be deleted; delete nothing"
    )
    keep.add_argument(
        "--as-of", metavar="YYYY-MM-DD", help="the day to judge retention on (default: today)"
    )
    keep.add_argument("--yes", action="store_true", help="delete with an --as-of later than today")
    _fmt_arg(keep)

    demo = sub.add_parser("demo", help="seed the database with demo LAs, users and uploads")
    demo.add_argument(
        "--la", action="append", metavar="LLL", help="LA code (repeatable; default 938 202 826)"
    )
    demo.add_argument(
        "--host", default="127.0.0.1", help="address of the web service (links printed, e-mailed)"
    )
    demo.add_argument("--port", type=int, default=8000, help="port of the web service")
    demo.add_argument(
        "--serve", action="store_true", help="then run the web service there, as `serve` does"
    )

    backup = sub.add_parser("backup", help="write a backup: the database and the kept files")
    backup.add_argument("--out", required=True, type=Path, help="the backup file to write (new)")
    _fmt_arg(backup)
    restore = sub.add_parser(
        "restore", help="restore a backup into an empty data directory and database"
    )
    restore.add_argument("file", type=Path, help="a file `keystage backup` wrote")
    _fmt_arg(restore)
    _collection_after_the_command(sub)
    return parser


def _collection_after_the_command(sub) -> None:
    """`--collection` is taken after any command too (`keystage import --collection
    phonics-2024 ...`), as people type it; SUPPRESS keeps the global option's value when it is
    not given there."""
    for command in sub.choices.values():
        if "--collection" not in command._option_string_actions:
            command.add_argument("--collection", default=argparse.SUPPRESS, metavar="ID",
                                 help="the collection (as the global option)")  # fmt: skip
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _collection_after_the_command(action)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_collection(args.collection)
    except UsageError as e:
        print(f"keystage: {e}", file=sys.stderr)
        return EXIT_USAGE
    handler = {
        "init": cmd_init,
        "schools": cmd_schools,
        "settings": cmd_settings,
        "import": cmd_import,
        "errors": cmd_errors,
        "pupils": cmd_pupils,
        "report": cmd_report,
        "generate": cmd_generate,
        "serve": cmd_serve,
        "return": cmd_return,
        "demo": cmd_demo,
        "retention": cmd_retention,
        "backup": cmd_backup,
        "restore": cmd_restore,
    }[args.command]
    try:
        return handler(args)
    except UsageError as e:
        print(f"keystage {args.command}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print(
            "keystage: interrupted; files stored before the interruption are kept, "
            "the file being stored was not",
            file=sys.stderr,
        )
        return 130
    except Exception as e:
        from django.db import Error as DatabaseError

        if not isinstance(e, DatabaseError):
            raise
        # The database refused or lost a write: say so in one line. Groups of files stored
        # before it are kept; the group being stored was rolled back whole.
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"keystage {args.command}: the database failed ({detail}); what was stored before "
              "is kept; fix the database and run the same command again", file=sys.stderr)  # fmt: skip
        return EXIT_FAILED


class UsageError(Exception):
    pass


def _check_collection(chosen: str | None) -> None:
    """A usage error, naming the known collections, when --collection (or KEYSTAGE_COLLECTION,
    when no --collection is given) names no collection definition Keystage has."""
    from keystage.engine import definition

    if chosen is None:
        chosen, where = os.environ.get("KEYSTAGE_COLLECTION") or None, "KEYSTAGE_COLLECTION"
    else:
        where = "--collection"
    known = definition.available()
    if chosen is not None and chosen not in known:
        raise UsageError(
            f"{where} {chosen!r} is not a collection Keystage knows; "
            f"known collections: {', '.join(known)}"
        )


# -- commands ------------------------------------------------------------------------------


def cmd_init(args) -> int:
    _django()
    from django.core.management import call_command

    from keystage.orgs.actions import do_load_reference, do_refresh_expected
    from keystage.submissions.actions import get_collection

    call_command("migrate", verbosity=0, interactive=False)
    regions, las = do_load_reference()
    collection = get_collection(args.collection)
    print(f"Database ready: {regions} regions, {las} local authorities; collection {collection}.")
    # A new version may ship a collection the register was not loaded for yet.
    if changed := do_refresh_expected():
        print(f"Collections each school is expected to submit worked out again: "
              f"{_count(changed, 'school')} changed.")  # fmt: skip
    return EXIT_OK


def _require_db() -> None:
    from django.db import connection
    from django.db.utils import OperationalError, ProgrammingError

    try:
        tables = connection.introspection.table_names()
    except OperationalError as e:
        raise UsageError(f"cannot reach the database ({e}); check DATABASE_URL") from None
    except ProgrammingError as e:  # pragma: no cover - PostgreSQL permissions
        raise UsageError(str(e)) from None
    if "orgs_localauthority" not in tables:
        raise UsageError("the database is not set up yet: run `keystage init` first")


def cmd_schools(args) -> int:
    return _load_register(args, "schools", "do_load_register", "Schools register")


def cmd_settings(args) -> int:
    return _load_register(args, "settings", "do_load_settings", "Settings register")


def _load_register(args, command: str, action: str, title: str) -> int:
    """`keystage schools load` and `keystage settings load`: the same summary and statuses."""
    _django()
    _require_db()
    from keystage.engine.register import RegisterError
    from keystage.orgs import actions

    load = getattr(actions, action)

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"{args.file}: no such file")
    try:
        result = load(path)
    except RegisterError as e:
        # The reason names the file already.
        print(f"keystage {command} load: {e}", file=sys.stderr)
        return EXIT_REJECTED
    for line, reason in sorted(result.skipped):
        print(f"{args.file}: line {line}: skipped: {reason}", file=sys.stderr)
    summary = {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "skipped": len(result.skipped),
    }
    _print_summary(
        args.format,
        summary,
        f"{title} loaded from {path.name}: {result.created} added, "
        f"{result.updated} updated, {result.unchanged} unchanged, "
        f"{_count(len(result.skipped), 'row')} skipped.",
    )
    # Like an import with a rejected file: the rows that could be used are loaded, and the
    # exit status says that some were not.
    return EXIT_REJECTED if result.skipped else EXIT_OK


def _print_summary(fmt: str, summary: dict, text: str) -> None:
    """A command's one-row summary: a sentence as text, or the fields as JSON or CSV."""
    if fmt == "text":
        print(text)
        return
    from keystage.output import write_table

    write_table(sys.stdout, tuple(summary), [summary], fmt)


class Progress:
    """A one-line progress bar on a terminal; nothing when output is not a terminal."""

    def __init__(self, stream, enabled: bool):
        self.stream, self.enabled, self.start = stream, enabled, time.monotonic()
        self.pupils = 0
        self.drawn = 0.0

    def update(self, done: int, total: int, pupils: int) -> None:
        self.pupils += pupils
        now = time.monotonic()
        # Redraw at most ten times a second: a national import has 16,500 files.
        if not self.enabled or (done < total and now - self.drawn < 0.1):
            return
        self.drawn = now
        width = 30
        filled = int(width * done / total) if total else width
        elapsed = time.monotonic() - self.start
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files, "
            f"{self.pupils:,} pupils, {elapsed:.0f}s"
        )
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 79 + "\r")
            self.stream.flush()


def _describe(r) -> str:
    from keystage.submissions.actions import year_group_words

    if r.outcome == "rejected":
        return f"rejected    {r.reason}"
    counts = (
        f"{_count(r.pupils, 'pupil')}, {_count(r.errors, 'error')}, "
        f"{_count(r.queries, 'query', 'queries')}"
    )
    replaced = year_group_words(r.as_dict())
    if replaced:
        counts += f"; {replaced}"
    elif r.outcome == "superseded":
        c = r.changes
        counts += (
            f"; replaces the previous file: {len(c.get('added', []))} added, "
            f"{len(c.get('removed', []))} removed, {len(c.get('changed', []))} changed"
        )
    if r.outcome == "unchanged":
        return f"unchanged   {r.file_name} ({r.reason})"
    return f"{r.outcome:<11} {r.laestab} {r.school_name}: {counts}  [{r.file_name}]"


def cmd_import(args) -> int:
    from keystage.server import lower_priority

    lower_priority()  # background work: the web pages come first (KEYSTAGE_TASK_NICE)
    _django()
    _require_db()
    from keystage.output import write_table
    from keystage.submissions.importing import UsageError as PathError
    from keystage.submissions.importing import import_paths

    progress = Progress(sys.stderr, sys.stderr.isatty() and args.format == "text")
    printed_rejections = []

    def on_file(result, done, total):
        progress.update(
            done, total, result.pupils if result.outcome in ("accepted", "superseded") else 0
        )
        if result.outcome == "rejected":
            printed_rejections.append(result)

    started = time.monotonic()
    try:
        results = import_paths(
            args.paths,
            collection_code=args.collection,
            only_la=args.la,
            jobs=args.jobs,
            progress=on_file,
        )
    except PathError as e:
        progress.finish()
        raise UsageError(str(e)) from None
    progress.finish()
    _rebuild_facts(args.collection, results)
    elapsed = time.monotonic() - started
    for r in printed_rejections:
        print(r.reason, file=sys.stderr)
    if args.format == "text":
        if not args.quiet:
            for r in results:
                if r.outcome != "rejected":
                    print(_describe(r))
        tally = {
            k: sum(r.outcome == k for r in results)
            for k in ("accepted", "superseded", "unchanged", "rejected")
        }
        pupils = sum(r.pupils for r in results if r.outcome in ("accepted", "superseded"))
        kept = _kept_from_before(results)
        print(
            f"{_count(len(results), 'file')} in {elapsed:.1f}s: {tally['accepted']} accepted, "
            f"{tally['superseded']} superseded an earlier file, {tally['unchanged']} unchanged, "
            f"{tally['rejected']} rejected; {_count(pupils, 'pupil')} stored"
            + (
                f", and {_count(kept, 'pupil')} of other year groups kept from the schools' "
                "earlier files."
                if kept
                else "."
            )
        )
    else:
        fields = (
            "file",
            "outcome",
            "laestab",
            "school",
            "pupils",
            "errors",
            "queries",
            "added",
            "removed",
            "changed",
            "kept",
            "reason",
        )
        write_table(sys.stdout, fields, (r.as_dict() for r in results), args.format)
    return EXIT_REJECTED if any(r.outcome == "rejected" for r in results) else EXIT_OK


def _rebuild_facts(collection_code: str | None, results) -> None:
    """Recount the fact tables of the schools whose data changed (and the sums above them)."""
    from keystage.orgs.models import School
    from keystage.reports.tasks import rebuild_facts_task
    from keystage.submissions.actions import get_collection

    laestabs = {r.laestab for r in results if r.outcome in ("accepted", "superseded")}
    if laestabs:
        ids = list(School.objects.filter(laestab__in=laestabs).values_list("pk", flat=True))
        # Queued, not run here: the task worker (`keystage serve`, or
        # `python -m keystage.manage db_worker`) recounts them, so an import's time is the
        # import's alone.
        rebuild_facts_task.enqueue(get_collection(collection_code).pk, ids)


def cmd_report(args) -> int:
    _django()
    _require_db()
    from keystage.output import write_table
    from keystage.reports import queries
    from keystage.submissions.actions import get_collection

    collection = get_collection(args.collection)
    where = {"la": args.la, "school": args.school, "region": args.region}
    if sum(v is not None for v in where.values()) > 1:
        raise UsageError("give at most one of --la, --school and --region")
    try:
        if args.kind == "summary":
            fields, rows = queries.SUMMARY_FIELDS, queries.summary(collection, **where)
        elif args.kind == "gap":
            fields, rows = queries.GAP_EXPORT_FIELDS, queries.gap(collection, **where)
        else:
            fields, rows = queries.NATIONAL_FIELDS, queries.national(collection)
    except queries.AreaNotFound as e:
        raise UsageError(str(e)) from None
    fields = queries.fields_for(collection, fields)  # phonics: no greater depth columns
    if args.format == "text" and not rows:
        print(
            "No figures yet: import files first. Each import queues a recount of the fact "
            "tables for the task worker (`keystage serve`, or "
            "`python -m keystage.manage db_worker`)."
        )
        return EXIT_OK
    if args.format == "text":  # a figure that does not apply is blank, not "None"
        rows = [{k: "" if v is None else v for k, v in r.items()} for r in rows]
    write_table(sys.stdout, fields, rows, args.format)
    return EXIT_OK


def cmd_errors(args) -> int:
    _django()
    _require_db()
    from keystage.output import write_table
    from keystage.submissions.actions import get_collection
    from keystage.submissions.queries import ERROR_FIELDS, data_errors

    collection = get_collection(args.collection)
    rows = data_errors(collection, la=args.la, school=args.school, severity=args.severity)
    if args.format != "text":
        write_table(sys.stdout, ERROR_FIELDS, rows, args.format)
        return EXIT_OK
    _print_errors_text(list(rows))
    return EXIT_OK


def _print_errors_text(rows: list[dict]) -> None:
    out = sys.stdout
    if not rows:
        out.write("No errors or queries.\n")
        return
    by_school: dict[str, list[dict]] = {}
    for r in rows:
        by_school.setdefault(r["laestab"], []).append(r)
    for laestab, items in by_school.items():
        e = sum(r["severity"] == "error" for r in items)
        q = len(items) - e
        out.write(
            f"{laestab or '(school not known)'} {items[0]['_school']}: "
            f"{_count(e, 'error')}, {_count(q, 'query', 'queries')}\n"
        )
        current = None
        for r in items:
            who = (r["upn"], r["surname"], r["forename"]) if (r["upn"] or r["surname"]) else None
            if who != current:
                current = who
                label = (
                    (
                        f"{r['upn'] or '(no UPN)'} {r['surname'] or '(no surname)'}, "
                        f"{r['forename'] or '(no forename)'}"
                    )
                    if who
                    else "school and file"
                )
                out.write(f"  {label}\n")
            out.write(f"    {r['severity']:<5} {r['rule']:<8} {r['field']}: {r['message']}\n")
    e = sum(r["severity"] == "error" for r in rows)
    out.write(
        f"\n{_count(len(by_school), 'school')}, {_count(e, 'error')}, "
        f"{_count(len(rows) - e, 'query', 'queries')}.\n"
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    from keystage.engine import words

    return words.plural(n, one, many)


def cmd_pupils(args) -> int:
    _django()
    _require_db()
    from keystage.output import write_table
    from keystage.submissions.actions import get_collection
    from keystage.submissions.queries import pupil_fields, pupil_list

    collection = get_collection(args.collection)
    write_table(
        sys.stdout,
        pupil_fields(collection),
        pupil_list(collection, la=args.la, school=args.school),
        args.format,
    )
    return EXIT_OK


def cmd_generate(args) -> int:
    from keystage import reference
    from keystage.engine import collections, definition

    known = {la.code for la in reference.local_authorities()}
    if args.la:
        bad = [c for c in args.la if c not in known]
        if bad:
            raise UsageError(f"not an English LA code of 2023: {', '.join(bad)}")
    if not 0 <= args.error_rate <= 0.5:
        raise UsageError("--error-rate is a fraction between 0 and 0.5, e.g. 0.02")
    chosen = (
        args.collection or os.environ.get("KEYSTAGE_COLLECTION") or definition.DEFAULT_COLLECTION
    )
    d = definition.load(chosen)
    try:
        synthetic = collections.module_of(d, "synthetic")
    except ModuleNotFoundError:
        raise UsageError(f"Keystage cannot write synthetic files for {d.id} yet") from None
    try:
        summary = synthetic.generate(
            args.out,
            las=args.la,
            national=args.national,
            error_rate=args.error_rate,
            seed=args.seed,
            definition=d,
            workers=min(4, os.cpu_count() or 1),
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    data = {
        "las": summary.las,
        "schools": summary.schools,
        "pupils": summary.pupils,
        "pupil_records": summary.pupil_records,
        "files": sum(summary.files.values()),
        "errors_injected": summary.total_errors,
        "register": str(summary.register),
        "megabytes": round(summary.bytes_written / 1e6, 1),
        "seconds": round(summary.seconds, 1),
    }
    faults = ", ".join(f"{n} {kind}" for kind, n in sorted(summary.errors.items())) or "none"
    _print_summary(
        args.format,
        data,
        f"Wrote {data['files']} files from {data['schools']} schools ({data['pupils']:,} "
        f"pupils) in {data['las']} LAs to {args.out} in {data['seconds']}s; schools "
        f"register {summary.register}.\nMistakes injected: {faults}.",
    )
    return EXIT_OK


def _site_url(host: str, port: int) -> str:
    """The address people reach the service at, for the links it prints and e-mails:
    KEYSTAGE_SITE_URL when it is set (e.g. behind a proxy), else the address it listens on."""
    if not 0 < port < 65536:
        raise UsageError(f"--port {port}: give a port number from 1 to 65535, e.g. 8000")
    chosen = os.environ.get("KEYSTAGE_SITE_URL", "").strip()
    if chosen:
        return chosen.rstrip("/")
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _check_port_free(host: str, port: int) -> None:
    """A usage error when the address cannot be listened on (Django's server would end the
    process at once, leaving the task worker behind)."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise UsageError(f"cannot listen on {host} port {port} ({e.strerror}): "
                         "give another --port, or stop what uses it") from None  # fmt: skip


def _use_site_url(url: str) -> None:
    from django.conf import settings

    settings.KEYSTAGE_SITE_URL = url


def _serve_counts(args) -> tuple[int, int]:
    """The web and task worker processes asked for, checked."""
    if args.dev and args.workers is not None:
        raise UsageError("--dev runs Django's development server, one process: leave out "
                         "--workers, or leave out --dev for gunicorn")  # fmt: skip
    workers = args.workers if args.workers is not None else 2 * (os.cpu_count() or 1) + 1
    if workers < 0:
        raise UsageError(f"--workers {workers}: give 1 or more web processes (0 for none)")
    if args.task_workers < 0:
        raise UsageError(f"--task-workers {args.task_workers}: give 0 or more, e.g. 2")
    if args.no_worker and args.task_workers not in (0, 1):
        raise UsageError("--no-worker means --task-workers 0: give one of them")
    task_workers = 0 if args.no_worker else args.task_workers
    if workers == 0 and task_workers == 0:
        raise UsageError("--workers 0 with no task worker runs nothing: give --task-workers M")
    return workers, task_workers


def _check_migrated() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise UsageError("the database needs migrating: run `keystage init` once (from one "
                         "machine), then start `keystage serve --no-migrate` again")  # fmt: skip


def cmd_serve(args) -> int:
    from django.core.exceptions import ImproperlyConfigured

    from keystage import server

    site = _site_url(args.host, args.port)
    workers, task_workers = _serve_counts(args)
    try:
        _django()
    except ImproperlyConfigured as e:  # the production settings without their secret or hosts
        raise UsageError(str(e)) from None
    if not args.dev and (why := server.refusal()):
        raise UsageError(f"{why}; or run `keystage serve --dev` for Django's development server")
    from django.core.management import call_command
    from django.db import connections

    if args.dev or workers:
        _check_port_free(args.host, args.port)  # before the migrations: told at once
    if args.no_migrate:
        _check_migrated()
    else:
        call_command("migrate", verbosity=0, interactive=False)
    connections.close_all()  # the supervisor itself holds no database connection
    # Every child links to the same address in its e-mails and pages.
    env = {**os.environ, "KEYSTAGE_SITE_URL": site}
    sock = None
    if args.dev:
        web = server.runserver_argv(args.host, args.port)
        kind = "Django's development server"
    elif workers == 0:  # a machine of task workers only (docs/deploy.md)
        web, kind = None, "no web process"
    else:
        # The socket is opened here and handed to gunicorn: an address in use is found before
        # anything starts, and the address answers as soon as this says it is running.
        try:
            sock = server.listen(args.host, args.port)
        except OSError as e:
            raise UsageError(f"cannot listen on {args.host} port {args.port} ({e.strerror}): "
                             "give another --port, or stop what uses it") from None  # fmt: skip
        web = server.gunicorn_argv(sock.fileno(), workers)
        kind = f"gunicorn, {_count(workers, 'web process', 'web processes')}"
    supervisor = server.Supervisor(
        web, task_workers, env, pass_fds=() if sock is None else (sock.fileno(),)
    )
    listening = f"http://{f'[{args.host}]' if ':' in args.host else args.host}:{args.port}/"
    where = listening if site + "/" == listening else f"{listening} (links say {site}/)"
    tasks = _count(task_workers, "task worker")
    if web is None:
        running = f"Keystage's task workers are running ({tasks}; Ctrl-C stops them)."
    else:
        running = f"Keystage is running at {where} ({kind}, {tasks}; Ctrl-C stops it)."
    try:
        status = supervisor.run(started=lambda: print(running, flush=True))
    finally:
        if sock is not None:
            sock.close()
    return EXIT_OK if status == 0 else EXIT_FAILED


def cmd_return(args) -> int:
    import shutil

    _django()
    _require_db()
    from keystage.orgs.models import LocalAuthority
    from keystage.returns import actions
    from keystage.submissions.actions import get_collection

    la = LocalAuthority.objects.filter(code=args.la).first()
    if la is None:
        raise UsageError(f"no LA {args.la!r}: give a 3-digit LA code, e.g. 938")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"{args.out} is not a folder")
    collection = get_collection(args.collection)
    try:
        generation = actions.do_build_return(la, collection, confirm=args.yes)
    except actions.OpenItems as e:
        for item in e.items:
            who = " ".join(x for x in (item["laestab"], item["upn"]) if x)
            print(f"{who}: {item['rule']} {item['severity']}: {item['message']}", file=sys.stderr)
        print(f"keystage return build: not written: {e.reasons[0]} (run again with --yes to "
              "write it anyway)", file=sys.stderr)  # fmt: skip
        return EXIT_REJECTED
    args.out.mkdir(parents=True, exist_ok=True)
    names = [f["name"] for f in generation.files] + [generation.bundle_name]
    for name in names:
        shutil.copyfile(actions.generation_path(generation, name), args.out / name)
    summary = {
        "la": la.code,
        "serial": generation.serial,
        "schools": generation.school_count,
        "pupils": generation.pupil_count,
        "open_errors": generation.open_errors,
        "unexplained_queries": generation.unexplained_queries,
        "zip": str(args.out / generation.bundle_name),
    }
    _print_summary(
        args.format,
        summary,
        f"Return {generation.serial} for {la.code} {la.name}: "
        f"{_count(generation.school_count, 'school')}, {_count(generation.pupil_count, 'pupil')}, "
        f"written to {args.out} ({generation.bundle_name}).",
    )
    return EXIT_OK


def cmd_retention(args) -> int:
    import datetime as dt

    _django()
    _require_db()
    from django.utils import timezone

    from keystage.operations import retention

    today = timezone.localdate()
    if args.as_of is None:
        as_of = today
    else:
        try:
            as_of = dt.date.fromisoformat(args.as_of)
        except ValueError:
            raise UsageError(f"--as-of {args.as_of!r}: give a date as YYYY-MM-DD, "
                             "e.g. 2028-10-12") from None  # fmt: skip
    if as_of > today and not args.dry_run and not args.yes:
        raise UsageError(f"--as-of {as_of.isoformat()} is later than today: that would delete "
                         "data before its retention ends; add --dry-run to plan, or --yes "
                         "to delete anyway")  # fmt: skip
    only = args.collection
    try:
        if args.dry_run:
            result = retention.RetentionResult(retention.plan(as_of, only=only))
        else:
            result = retention.do_apply_retention(as_of, only=only)
    except retention.RetentionSettingError as e:
        raise UsageError(str(e)) from None
    if args.format == "text":
        _print_retention(result.plans, as_of, args.dry_run)
    else:
        from keystage.output import write_table

        rows = [row for p in result.plans for row in p.rows()]
        write_table(sys.stdout, retention.FIELDS, rows, args.format)
    for path, why in result.file_errors:
        print(f"keystage retention: {path}: not removed ({why}); the database no longer "
              "points at it: remove it by hand", file=sys.stderr)  # fmt: skip
    return EXIT_FAILED if result.file_errors else EXIT_OK


def _print_retention(plans, as_of, dry_run: bool) -> None:
    from keystage.engine.words import long_date

    print(f"Retention on {long_date(as_of)}: pupil-level data goes once a collection is past "
          "its retention; figures are kept.")  # fmt: skip
    if not plans:
        print("No collections in the database.")
    due = False
    for p in plans:
        if p.status == "no definition":
            print(f"{p.name} ({p.code}): Keystage has no definition for it: left as it is.")
            continue
        head = (f"{p.name} ({p.code}): closed {long_date(p.closes)}, kept "
                f"{_count(p.years, 'year')}")  # fmt: skip
        if p.status == "within":
            print(f"{head}: within its retention until {long_date(p.delete_from)}: untouched.")
            continue
        if p.status == "clear":
            print(f"{head}: past its retention since {long_date(p.delete_from)}: "
                  "no pupil-level data left.")  # fmt: skip
            continue
        due = True
        print(f"{head}: past its retention since {long_date(p.delete_from)}: "
              f"{'would delete' if dry_run else 'deleted'}:")  # fmt: skip
        for items in p.las:
            print(f"  {items.la or '(no LA)'} {items.la_name}: {_retention_counts(items)}")
    if due and dry_run:
        print("Nothing was deleted (--dry-run). Run `keystage retention` to delete it.")


def _retention_counts(items) -> str:
    from keystage.engine.words import plural

    parts = [
        plural(items.pupils, "pupil"),
        plural(items.findings, "finding"),
        plural(items.edits, "edit"),
        plural(items.uploads, "upload"),
        f"{plural(items.kept_files, 'kept file')} ({_size(items.kept_bytes)})",
        f"{plural(items.return_files, 'return file')} ({_size(items.return_bytes)})",
        plural(items.batches, "web upload batch", "web upload batches"),
        plural(items.collected_pupils, "collected pupil"),
        plural(items.collected_findings, "collected finding"),
        plural(items.messages, "message"),
        plural(items.audit_details, "audit row", "audit rows") + " cleared of pupil details",
    ]
    return ", ".join(parts)


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"  # pragma: no cover


def _files_by_outcome(tally: dict[str, int], verb: str = "") -> str:
    """ "12 files: 11 accepted, 1 rejected" (with `verb`, "12 files imported: ...")."""
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(tally.items()))
    return f"{_count(sum(tally.values()), 'file')}{' ' + verb if verb else ''}: {counts}"


def cmd_demo(args) -> int:
    site = _site_url(args.host, args.port)
    _django()
    from django.conf import settings

    from keystage import demo, reference

    las = args.la or list(demo.DEFAULT_LAS)
    known = {la.code for la in reference.local_authorities()}
    bad = [c for c in las if c not in known]
    if bad:
        raise UsageError(f"not an English LA code of 2023: {', '.join(bad)}")
    # The check loop's e-mails (printed by the console backend) link to the address printed
    # below, where `--serve` (or `keystage serve` with the same --host and --port) listens.
    _use_site_url(site)
    try:
        made = demo.seed(Path(settings.DATA_DIR), las, collection_id=args.collection)
    except demo.DemoError as e:
        raise UsageError(str(e)) from None
    print()
    print("Batches uploaded (one a day, as the LA officer):")
    if not made["uploads"]:
        print("  none this time: the uploads of the first run are kept (see /uploads/)")
    for day, tally in made["uploads"].items():
        print(f"  {day} June 2023: {_files_by_outcome(tally)}")
    print()
    print("Phonics screening check, the same LAs:")
    if not made["phonics"]:
        print(f"  none: this service does not offer {' or '.join(demo.PHONICS)}; list them in "
              "KEYSTAGE_COLLECTIONS and run the demo again to add them")  # fmt: skip
    for seeded in made["phonics"].values():
        tally = seeded["files"]
        files = _files_by_outcome(tally, "imported") if tally else (
            "the uploads of an earlier run are kept")  # fmt: skip
        print(f"  {seeded['name']}: {_count(seeded['pupils'], 'pupil')}; {files}")
    print()
    print("EYFS profile, the same LAs and two settings of the first:")
    if not made["eyfsp"]:
        print(f"  none: this service does not offer {demo.EYFSP}; list it in "
              "KEYSTAGE_COLLECTIONS and run the demo again to add it")  # fmt: skip
    else:
        seeded = made["eyfsp"]
        tally = seeded["files"]
        files = _files_by_outcome(tally, "imported") if tally else (
            "the uploads of an earlier run are kept")  # fmt: skip
        print(f"  {seeded['name']}: {_count(seeded['pupils'], 'child', 'children')}; {files}")
    print()
    print("Demo users (also in demo-users.txt in the data directory):")
    for user in made["users"]:
        print(f"  {user.username:<22} password {user.password}   {user.label}")
        if user.totp_secret:
            print(f"  {'':<22} authenticator key {user.secret_for_people}")
    print("Admins sign in with a code: add the authenticator key to an app (Google "
          "Authenticator, Microsoft Authenticator, 1Password) as a time-based key.")  # fmt: skip
    print()
    print("Pages to open, per user:")
    for username, links in made["pages"].items():
        print(f"  {username}")
        for label, path in links:
            print(f"    {label:<30} {site}{path}")
    print()
    print(f"Sign in at {site}/ with a user above; upload files at {site}/uploads/.")
    if not os.environ.get("DATABASE_URL"):
        print(f"The CLI works on the same data: KEYSTAGE_DATA_DIR={settings.DATA_DIR} "
              f"keystage errors --la {las[0]}")  # fmt: skip
    if not args.serve:
        print(f"Start the web service with: keystage serve --host {args.host} --port {args.port}")
        return EXIT_OK
    sys.stdout.flush()
    # The demo runs Django's development server: no secret, host list or HTTPS to set up, and
    # the service's own pages, not debug pages (docs/adr/0008-production-server.md).
    return cmd_serve(
        build_parser().parse_args(["serve", "--dev", "--host", args.host, "--port", str(args.port)])
    )


def cmd_backup(args) -> int:
    _django()
    from keystage.audit.models import record
    from keystage.operations import backup

    try:
        manifest = backup.make_backup(args.out)
    except backup.Refused as e:
        raise UsageError(str(e)) from None
    except backup.Failed as e:
        print(f"keystage backup: {e}", file=sys.stderr)
        return EXIT_FAILED
    db, tables = manifest["database"], manifest["database"]["tables"]
    files = [m for m in manifest["members"] if m.startswith("files/")]
    summary = {
        "file": str(args.out),
        "bytes": manifest["file"]["bytes"],
        "sha256": manifest["file"]["sha256"],
        "made_at": manifest["made_at"],
        "vendor": db["vendor"],
        "tables": len(tables),
        "rows": sum(tables.values()),
        "files": len(files),
    }
    # After the snapshot, so the backup does not hold its own row.
    record("operations.backup_made", **{k: summary[k] for k in ("file", "bytes", "sha256")})
    _print_summary(
        args.format,
        summary,
        f"Backup written to {args.out} ({summary['bytes'] / 1e6:.1f} MB, sha256 "
        f"{summary['sha256']}): the {db['vendor']} database ({_count(len(tables), 'table')}, "
        f"{_count(summary['rows'], 'row')}) and {_count(len(files), 'kept file')}.",
    )
    return EXIT_OK


def cmd_restore(args) -> int:
    # The restore process needs no secret key; without one set, the settings would make one in
    # the data directory, which must be empty. The backup brings back the installation's own.
    os.environ.setdefault("KEYSTAGE_SECRET_KEY", "restore-" + os.urandom(16).hex())
    _django()
    from django.conf import settings

    from keystage.audit.models import record
    from keystage.operations import backup

    try:
        manifest = backup.restore_backup(args.file)
    except backup.Refused as e:
        raise UsageError(str(e)) from None
    except backup.Damaged as e:
        print(f"keystage restore: {e}", file=sys.stderr)
        return EXIT_REJECTED
    except backup.Failed as e:
        print(f"keystage restore: {e}", file=sys.stderr)
        return EXIT_FAILED
    db, tables = manifest["database"], manifest["database"]["tables"]
    files = [m for m in manifest["members"] if m.startswith("files/")]
    pending = manifest["pending_migrations"]
    if not pending:  # an older schema may lack today's audit table; `init` migrates first
        record("operations.restored", file=str(args.file), made_at=manifest["made_at"])
    summary = {
        "file": str(args.file),
        "made_at": manifest["made_at"],
        "keystage_version": manifest["keystage_version"],
        "vendor": db["vendor"],
        "tables": len(tables),
        "rows": sum(tables.values()),
        "files": len(files),
        "data_dir": str(settings.DATA_DIR),
        "pending_migrations": len(pending),
    }
    then = (
        f" This version has {_count(len(pending), 'migration')} the backup has not: run "
        "`keystage init` before starting the service."
        if pending
        else ""
    )
    _print_summary(
        args.format,
        summary,
        f"Restored {args.file} (made {manifest['made_at']} by Keystage "
        f"{manifest['keystage_version']}): the {db['vendor']} database "
        f"({_count(len(tables), 'table')}, {_count(summary['rows'], 'row')}, every table's count "
        f"checked) and {_count(len(files), 'kept file')} into {settings.DATA_DIR}.{then}",
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
