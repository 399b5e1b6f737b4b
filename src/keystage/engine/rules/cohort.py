"""Cross-record identity rules (spec §5.3) over all current pupils of an LA, across schools:
one UPN on several records (P03) and one child under several UPNs (P14)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Hashable
from itertools import islice

from keystage.engine.rules import CohortEntry, Hit, RuleContext, cohort_rule
from keystage.engine.words import long_date

_NAMED_AT_MOST = 3  # a message lists this many other records, then "and N more"


def fold_name(name: str) -> str:
    """A name as compared across records: trimmed, case and accents ignored, one space
    between words ("  Zoë  Núñez" and "ZOE NUNEZ" fold alike)."""
    folded = _FOLDED.get(name)
    if folded is None:
        if len(_FOLDED) >= _FOLDED_LIMIT:
            _FOLDED.clear()
        folded = _FOLDED[name] = _fold(name)
    return folded


# Names repeat across a cohort (and a country's cohorts), so each is folded once: with the keys
# built in one pass (below), about a fifth off the checks across schools of a national import.
_FOLDED: dict[str, str] = {}
_FOLDED_LIMIT = 200_000


def _fold(name: str) -> str:
    if not name.isascii():
        name = unicodedata.normalize("NFKD", name.replace("’", "'"))
        name = "".join(ch for ch in name if not unicodedata.combining(ch))
    return " ".join(name.casefold().split())


def _who(entry: CohortEntry) -> str:
    return f"{entry.forename.strip()} {entry.surname.strip()}".strip() or "a pupil with no name"


def _where(other: CohortEntry, entry: CohortEntry) -> str:
    if other.laestab == entry.laestab:
        return "at the same school"
    name = other.school.strip()
    return f"at {name} ({other.laestab})" if name else f"at {other.laestab}"


def _born(dob) -> str:
    """A date of birth in words ("14 January 2016"); as written when it is not a date."""
    text = str(dob).strip()
    try:
        return long_date(dt.date.fromisoformat(text))
    except ValueError:
        return text


def _listed(named: list[str], total: int) -> str:
    """A few descriptions, then "and N more" for the rest of `total`."""
    text = ", ".join(named)
    return f"{text} and {total - len(named)} more" if total > len(named) else text


def _groups(entries: list[CohortEntry], keys: list[Hashable | None]) -> list[list[CohortEntry]]:
    """The entries that share a key with another entry, grouped by key (None: no key)."""
    counts = Counter(keys)
    repeated: dict[Hashable, list[CohortEntry]] = defaultdict(list)
    for key, entry in zip(keys, entries, strict=True):
        if key is not None and counts[key] > 1:
            repeated[key].append(entry)
    return list(repeated.values())


def _upn(entry: CohortEntry) -> str:
    return entry.upn.strip().upper()


@cohort_rule(
    "P03",
    "error",
    field="upn",
    title="UPN on more than one record",
    spec_status="CONFIRMED",
    dfe_ref="1520",
)
def upn_repeated(entries: list[CohortEntry], ctx: RuleContext) -> list[Hit]:
    hits: list[Hit] = []
    # Keys built in one pass, not a function call per record: an LA has thousands.
    for group in _groups(entries, [e.upn.strip().upper() or None for e in entries]):
        for entry in group:
            # islice keeps a message's cost flat however many records share the UPN.
            shown = islice((o for o in group if o is not entry), _NAMED_AT_MOST)
            others = _listed([f"{_who(o)} {_where(o, entry)}" for o in shown], len(group) - 1)
            hits.append(
                Hit(
                    "upn",
                    entry.upn,
                    f"UPN {entry.upn.strip()} of {_who(entry)} is also on the record of "
                    f"{others}: check which record is right and correct the other, as a UPN "
                    "belongs to one pupil only.",
                    key=entry.key,
                )
            )
    return hits


def _same_child_keys(entries: list[CohortEntry]) -> list[tuple[str, str, str] | None]:
    """(surname, forename, date of birth) as compared, for each entry; None when one is
    missing."""
    keys: list[tuple[str, str, str] | None] = []
    for e in entries:
        surname, forename = fold_name(e.surname), fold_name(e.forename)
        dob = str(e.dob).strip()
        keys.append((surname, forename, dob) if surname and forename and dob else None)
    return keys


@cohort_rule(
    "P14",
    "query",
    field="upn",
    title="Same pupil under different UPNs",
    spec_status="UNCERTAIN",
)
def pupil_repeated(entries: list[CohortEntry], ctx: RuleContext) -> list[Hit]:
    def describe(other: CohortEntry, entry: CohortEntry) -> str:
        # The names match as compared (case, accents, spaces), not always as written.
        named = "" if _who(other) == _who(entry) else f", named {_who(other)}"
        if not other.upn.strip():
            return f"a record with no UPN {_where(other, entry)}{named}"
        return f"UPN {other.upn.strip()} {_where(other, entry)}{named}"

    hits: list[Hit] = []
    for group in _groups(entries, _same_child_keys(entries)):
        first: dict[str, CohortEntry] = {}  # one record for each UPN in the group
        for e in group:
            first.setdefault(_upn(e), e)
        if len(first) < 2:
            continue  # the same UPN twice is P03's business
        for entry in group:
            own_key = _upn(entry)
            shown = islice((o for u, o in first.items() if u != own_key), _NAMED_AT_MOST)
            others = _listed([describe(o, entry) for o in shown], len(first) - 1)
            own = entry.upn.strip() or "none"
            hits.append(
                Hit(
                    "upn",
                    entry.upn,
                    f"{_who(entry)}, born {_born(entry.dob)}, UPN {own}, also appears "
                    f"under {others}: "
                    "if this is the same child, keep one record with the right UPN; if not, "
                    "confirm they are different pupils.",
                    key=entry.key,
                )
            )
    return hits
