"""File and return-header rules (spec §5.1): F01 records a rejected school file; H01..H08
check the header of the LA -> COLLECT return before it is uploaded."""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from keystage.engine.records import RejectedFile
from keystage.engine.rules import Hit, ReturnHeaderCase, RuleContext, file_rule, header_rule
from keystage.engine.words import digits_only
from keystage.reference import local_authorities

_REGENERATE = "generate the return again"


@cache
def valid_las() -> frozenset[str]:
    """LA codes a 2023 return may come from (the LAs of summer 2023)."""
    return frozenset(la.code for la in local_authorities())


@file_rule("F01", "error", field="file", title="File rejected", spec_status="UNCERTAIN")
def file_rejected(rejected: RejectedFile, ctx: RuleContext) -> str:
    where = f" (line {rejected.line})" if rejected.line else ""
    reason = rejected.reason.rstrip(".") or "it could not be read"
    return (
        f"The file could not be imported{where}: {reason}. Ask the school for a corrected file "
        "and upload it again."
    )


def _wrong(name: str, value: str, wanted: str) -> Hit:
    if not value:
        return Hit(
            "header", "", f"The return header has no {name}: set it to {wanted} and {_REGENERATE}."
        )
    return Hit(
        "header",
        value,
        f"The return header's {name} is '{value}', not {wanted}: set it to {wanted} and "
        f"{_REGENERATE}.",
    )


@header_rule("H01", "error", field="header", title="Wrong collection", spec_status="LIKELY")
def wrong_collection(header: ReturnHeaderCase, ctx: RuleContext) -> Hit | None:
    value, wanted = header.get("Collection"), ctx.definition.collection
    return None if value == wanted else _wrong("Collection", value, wanted)


@header_rule("H02", "error", field="header", title="Wrong year", spec_status="LIKELY")
def wrong_year(header: ReturnHeaderCase, ctx: RuleContext) -> Hit | None:
    value, wanted = header.get("Year"), str(ctx.definition.year)
    return None if value == wanted else _wrong("Year", value, wanted)


@header_rule("H03", "error", field="header", title="Wrong term", spec_status="UNCERTAIN")
def wrong_term(header: ReturnHeaderCase, ctx: RuleContext) -> Hit | None:
    value, wanted = header.get("Term"), ctx.definition.term
    return None if not value or value == wanted else _wrong("Term", value, wanted)


@header_rule("H04", "error", field="header", title="Not an LA-level return", spec_status="LIKELY")
def wrong_source_level(header: ReturnHeaderCase, ctx: RuleContext) -> Hit | None:
    value = header.get("SourceLevel")
    wanted = str(ctx.definition.return_layout.get("source_level", "L"))
    return None if value == wanted else _wrong("SourceLevel", value, wanted)


@header_rule("H05", "error", field="header", title="Invalid or mismatched LA", spec_status="LIKELY")
def wrong_la(header: ReturnHeaderCase, ctx: RuleContext) -> Hit | None:
    value = header.get("LEA")
    if value in valid_las() and (value == header.la or not header.la):
        return None
    if not value:
        problem = "has no LEA"
    elif value not in valid_las():
        problem = f"gives LEA '{value}', which is not an LA code in {ctx.definition.year}"
    else:
        problem = f"gives LEA {value}, but the return is for LA {header.la}"
    return Hit(
        "header",
        value,
        f"The return header {problem}: set LEA to {header.la or 'your 3-digit LA number'} and "
        f"{_REGENERATE}.",
    )


@header_rule(
    "H06",
    "error",
    field="header",
    title="Software code or release missing",
    spec_status="LIKELY",
)
def software_missing(header: ReturnHeaderCase, ctx: RuleContext) -> list[Hit]:
    return [
        Hit(
            "header",
            "",
            f"The return header has no {name}: {_REGENERATE} from Keystage, which fills it in.",
        )
        for name in ("SoftwareCode", "Release")
        if not header.get(name)
    ]


@header_rule("H07", "error", field="header", title="Serial number invalid", spec_status="LIKELY")
def serial_invalid(header: ReturnHeaderCase, ctx: RuleContext) -> Hit | None:
    value = header.get("SerialNo")
    if digits_only(value) and int(value) > 0:
        return None
    problem = f"'{value}' is not a whole number above 0" if value else "is missing"
    return Hit(
        "header",
        value,
        f"The return header's SerialNo {problem}: {_REGENERATE}, which numbers each return "
        "1, 2, 3 and so on.",
    )


def _created(value: str) -> dt.datetime | None:
    if len(value) != 19 or value[10] != "T" or value[4] != "-" or value[13] != ":":
        return None
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None


def _local_now(now: dt.datetime) -> dt.datetime:
    # The header's DateTime is English local time with no offset; compare like with like.
    if now.tzinfo is None:
        return now
    try:
        return now.astimezone(ZoneInfo("Europe/London")).replace(tzinfo=None)
    except ZoneInfoNotFoundError:  # no time-zone database: the machine's local time will do
        return now.astimezone().replace(tzinfo=None)


@header_rule("H08", "error", field="header", title="Creation date invalid", spec_status="LIKELY")
def created_invalid(header: ReturnHeaderCase, ctx: RuleContext) -> Hit | None:
    value = header.get("DateTime")
    created = _created(value)
    if created is None:
        problem = (
            f"'s DateTime '{value}' is not a date and time like 2023-07-03T09:15:00"
            if value
            else " has no DateTime"
        )
    else:
        slack = dt.timedelta(
            minutes=float(ctx.setting(ctx.ids["H08"], "future_tolerance_minutes", 5))
        )
        if created <= _local_now(header.now) + slack:
            return None
        problem = f"'s DateTime {value} is in the future"
    return Hit(
        "header",
        value,
        f"The return header{problem}: check the computer's clock and {_REGENERATE}.",
    )
