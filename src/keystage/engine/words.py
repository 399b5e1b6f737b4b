"""The words pages and messages use for dates, counts and sizes ("19 June 2011", "1 error",
"2 errors", "1.4 GB"), in one place so every page says them the same way (GOV.UK style)."""

from __future__ import annotations

import datetime as dt

# Month names written out, not strftime("%B"), which follows the process locale.
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")  # fmt: skip


def long_date(d: dt.date | None, empty: str = "") -> str:
    """'19 June 2011' (GOV.UK style: no leading zero, the month in words)."""
    if d is None:
        return empty
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def long_datetime(moment: dt.datetime | None, empty: str = "") -> str:
    """'19 June 2011 at 2:05pm' in the time zone the moment is in (pass a local time)."""
    if moment is None:
        return empty
    hour = moment.hour % 12 or 12
    half = "am" if moment.hour < 12 else "pm"
    return f"{long_date(moment)} at {hour}:{moment.minute:02d}{half}"


def sentence_start(text: str) -> str:
    """`text` as it begins a sentence or a heading: only its first letter raised ('expected
    standard' -> 'Expected standard'; str.capitalize() would lower the rest, 'LA' -> 'La')."""
    return text[:1].upper() + text[1:]


def mid_sentence(text: str) -> str:
    """`text` as it reads inside a sentence: 'Sent back to the LA' -> 'sent back to the LA'.
    Only the first letter is lowered, and not at all when the first word is an abbreviation
    ('LA edit'), so "LA" stays in capitals (str.lower() would make it 'la')."""
    first = text.split(" ", 1)[0]
    if not text or (len(first) > 1 and first.isupper()):
        return text
    return text[0].lower() + text[1:]


def digits_only(value: str) -> bool:
    """Written in the digits 0-9 alone (and not empty). `str.isdigit()` is also true of "²"
    (which `int()` cannot read: a crash) and of other scripts' digits ("٣٢"), which no file
    or form of ours means as a number."""
    return value.isascii() and value.isdigit()


def number(value) -> str:
    """A count as GOV.UK writes it, with thousands separated by commas ("7,201"); anything
    that is not a whole number (a suppressed "c", a dash) as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 error', '2 errors', '0 errors'; `many` for words that do not take an s."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def either(items) -> str:
    """Choices in words: 'A', 'A or D', 'A, D or L'."""
    items = list(items)
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else "".join(items)


def amount(size: int) -> str:
    """A number of bytes in words: '1.4 GB', '12.0 KB', '800 bytes'; a limit set in megabytes
    (a multiple of 1,048,576 bytes) as that many MB: '100 MB'."""
    mib = 1024 * 1024
    if size >= mib and size % mib == 0:
        return f"{size // mib:,} MB"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return plural(size, "byte")
