"""Unique Pupil Numbers: format and check letter (spec §6).

A UPN is 13 characters: a check letter, the issuing LA (3 digits), the issuing school
(4 digits), the year of issue (2 digits) and a serial (3 digits, or 2 digits and a letter for a
temporary UPN). Only the 23 letters without I, O and S are used.
"""

from __future__ import annotations

from operator import mul

LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_ALPHABET = LETTERS + "0123456789"  # a digit's index is its value + 23, so one mod 23 does both
_VALUE = {ch: i for i, ch in enumerate(_ALPHABET)}
_value = _VALUE.__getitem__
_WEIGHTS = range(2, 14)
_ZEROS = ord("0") * sum(_WEIGHTS)
_LAST_CHARACTERS = frozenset(LETTERS + "0123456789")


def _digits(s: str) -> bool:
    # str.isdigit alone accepts other scripts' digits (e.g. full-width), which a UPN never has.
    return s.isdigit() and s.isascii()


def check_letter(body: str) -> str:
    """The check letter for characters 2-13 of a UPN (12 characters)."""
    if len(body) != 12:
        raise ValueError("a UPN body is 12 characters")
    if body.isdigit() and body.isascii():  # a permanent UPN: weigh the ASCII bytes, minus "0"s
        return LETTERS[(sum(map(mul, _WEIGHTS, body.encode())) - _ZEROS) % 23]
    try:
        total = sum(map(mul, _WEIGHTS, map(_value, body)))
    except KeyError as e:
        raise ValueError(f"{e.args[0]!r} is not a UPN character") from None
    return LETTERS[total % 23]


def problems(upn: str, la_codes: frozenset[str] | set[str] | None = None) -> list[str]:
    """Which UPN checks fail, by DfE check number, in number order ("1500", "1510", "1530",
    "1540", "1550"). Without `la_codes`, 1530 only asks for 3 digits in characters 2-4.

    The check letter (1510) is only checked when everything else is right: with a wrong
    character elsewhere it cannot say anything useful.
    """
    upn = (upn or "").strip().upper()
    if not upn:
        return ["1500"]
    la, middle = upn[1:4], upn[4:12]
    out: list[str] = []
    if len(la) != 3 or not _digits(la) or (la_codes is not None and la not in la_codes):
        out.append("1530")
    if len(middle) != 8 or not _digits(middle):
        out.append("1540")
    if len(upn) != 13 or upn[12] not in _LAST_CHARACTERS:
        out.append("1550")
    if not out and upn[0] != check_letter(upn[1:]):
        out.append("1510")
    return out


def is_temporary(upn: str) -> bool:
    upn = (upn or "").strip().upper()
    return len(upn) == 13 and upn[12] in LETTERS


def is_valid(upn: str, la_codes: frozenset[str] | set[str] | None = None) -> bool:
    return not problems(upn, la_codes)


def make(la: str, estab: str, year2: str, serial: str) -> str:
    """Build a valid UPN from its parts (serial: 3 digits, or 2 digits and a letter)."""
    body = f"{la}{estab}{year2}{serial}"
    return check_letter(body) + body
