"""Shared code names no collection's items, codes or rule ids: each collection's own live in its
package (`engine/collections/<name>/`) and its definition (`engine/definitions/`), and shared
code asks them. The words to look for are read from every shipped definition, so a new
collection's items are looked for as soon as its definition exists.

What counts as naming: in Python, a string literal equal to an item key or a code, a code as a
word inside a string (messages, docstrings), an identifier spelled as an item key (`SCIENCE`),
and a rule id (prefix, hyphen, letter and two digits) in a string or a comment; in templates
and scripts, a quoted item key, a code as a word, and a rule id.
"""

from __future__ import annotations

import io
import re
import shutil
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

from keystage.engine import collections as collection_packages
from keystage.engine import definition

SRC = Path(definition.__file__).resolve().parent.parent  # src/keystage
COLLECTIONS = SRC / "engine" / "collections"
DEFINITIONS = SRC / "engine" / "definitions"
# Not Keystage's code: GOV.UK Frontend's built files, copied in at set-up.
VENDORED = SRC / "web" / "static" / "govuk"

# Shared files that may still name a collection's items, and why; each is a move still to make.
# The test fails when a file here no longer names any (take it off) and when a file not here
# does (move the literal into the collection's package or definition, or ask them).
NOT_YET_MOVED: dict[str, str] = {}


@dataclass(frozen=True)
class Literals:
    """What a collection's definitions say is the collection's own."""

    items: frozenset[str]  # item keys ("reading"), compared case-insensitively as identifiers
    codes: frozenset[str]  # outcome codes and EES stems, two characters or more
    rule_prefixes: frozenset[str]

    def rule_id(self) -> re.Pattern[str] | None:
        if not self.rule_prefixes:
            return None
        prefixes = "|".join(re.escape(p) for p in sorted(self.rule_prefixes))
        return re.compile(rf"\b(?:{prefixes})-[A-Z]\d\d\b")


def literals_of(d: definition.Definition) -> Literals:
    items = set(d.subject_keys)
    codes: set[str] = set(d.legacy_codes)
    for s in d.subjects:
        codes.update(s.valid, s.order, s.met, s.higher, s.legacy, {s.short})
    for listed in d.codes.values():
        codes.update(listed)
    measures = d.raw.get("measures", {})
    codes.update(str(c) for c in measures.get("not_eligible", ()))
    if measures.get("combined_short"):
        codes.add(str(measures["combined_short"]))
    for value in measures.get("buckets", {}).values():
        if isinstance(value, list):
            codes.update(str(c) for c in value)
    # One letter is too common to judge (and "M"/"F" are the shared sex codes).
    codes = {c for c in codes if len(c) >= 2} - set(d.sex_codes)
    prefixes = {rule_id.rsplit("-", 1)[0] for rule_id in d.rules if "-" in rule_id}
    try:
        prefixes.add(collection_packages.module_of(d, "rules").BOOK.prefix)
    except KeyError:
        pass  # a definition whose collection has no package yet: its [rules] say the prefix
    return Literals(frozenset(items), frozenset(codes), frozenset(prefixes - {""}))


def every_collection() -> Literals:
    found = [literals_of(definition.load(name)) for name in definition.available()]
    return Literals(
        frozenset().union(*(f.items for f in found)),
        frozenset().union(*(f.codes for f in found)),
        frozenset().union(*(f.rule_prefixes for f in found)),
    )


def _words(codes: frozenset[str]) -> re.Pattern[str] | None:
    if not codes:
        return None
    listed = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{listed})(?![\w-])")


def _string_value(token: str) -> str | None:
    """The text of a plain string literal token; None for f-strings and bytes."""
    match = re.fullmatch(r"([rRuU]?)('''|\"\"\"|'|\")(.*)\2", token, re.S)
    return match.group(3) if match else None


def scan_python(source: str, lit: Literals) -> list[str]:
    """What a Python source names of a collection, as "line N: what" strings."""
    rule_id, words = lit.rule_id(), _words(lit.codes)
    items = {i.lower() for i in lit.items}
    out: list[str] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        line = tok.start[0]
        if tok.type == tokenize.NAME and tok.string.lower() in items:
            out.append(f"line {line}: identifier {tok.string}")
        elif tok.type in (tokenize.STRING, tokenize.COMMENT) or tok.type == getattr(
            tokenize, "FSTRING_MIDDLE", -1
        ):
            text = tok.string
            if rule_id and (found := rule_id.search(text)):
                out.append(f"line {line}: rule id {found.group()}")
            if tok.type == tokenize.COMMENT:
                continue
            value = _string_value(text)
            if value is not None and (value in lit.items or value in lit.codes):
                out.append(f"line {line}: literal {value!r}")
            elif words and (found := words.search(text)):
                out.append(f"line {line}: code {found.group()} in a string")
    return out


def scan_template(source: str, lit: Literals) -> list[str]:
    """What a template or script names of a collection, as "line N: what" strings."""
    rule_id, words = lit.rule_id(), _words(lit.codes)
    listed = "|".join(re.escape(i) for i in sorted(lit.items))
    quoted = re.compile(rf"""(["'])({listed})\1""") if lit.items else None
    out: list[str] = []
    for n, text in enumerate(source.splitlines(), 1):
        for pattern, what in ((rule_id, "rule id"), (words, "code"), (quoted, "literal")):
            if pattern and (found := pattern.search(text)):
                out.append(f"line {n}: {what} {found.group()}")
    return out


def shared_files() -> list[Path]:
    """Every source file outside the collections' packages and the definitions."""
    out = []
    for path in sorted(SRC.rglob("*")):
        if path.suffix not in (".py", ".html", ".js") or not path.is_file():
            continue
        if any(p in path.parents for p in (COLLECTIONS, DEFINITIONS, VENDORED)):
            if path.parent != COLLECTIONS:  # collections/__init__.py is shared
                continue
        out.append(path)
    return out


def scan(path: Path, lit: Literals) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return scan_python(text, lit) if path.suffix == ".py" else scan_template(text, lit)


def offenders(lit: Literals) -> dict[str, list[str]]:
    found = {}
    for path in shared_files():
        hits = scan(path, lit)
        if hits:
            found[path.relative_to(SRC).as_posix()] = hits
    return found


# -- the scanner finds what it should ---------------------------------------------------------

SAMPLE = Literals(frozenset({"reading", "science"}), frozenset({"EXS", "GDS"}), frozenset({"KS1"}))


@pytest.mark.parametrize(
    "source, expected",
    [
        ('SCIENCE = "x"\n', "identifier SCIENCE"),
        ('subjects = ("reading", "x")\n', "literal 'reading'"),
        ('code = "EXS"\n', "literal 'EXS'"),
        ('label = "Expected standard (EXS+)"\n', "code EXS in a string"),
        ('def f():\n    """Counts GDS pupils."""\n', "code GDS in a string"),
        ("x = 1  # KS1-T14 says so\n", "rule id KS1-T14"),
        ('ctx.enabled("KS1-P12")\n', "rule id KS1-P12"),
        ('message = f"see KS1-T05 for {x}"\n', "rule id KS1-T05"),
    ],
)
def test_the_scanner_finds_a_collection_literal_in_python(source, expected):
    assert any(expected in hit for hit in scan_python(source, SAMPLE)), scan_python(source, SAMPLE)


@pytest.mark.parametrize(
    "source",
    [
        "keys = definition.subject_keys\n",
        'ctx.enabled(ctx.ids["P12"])\n',
        'text = "the reading age"  # reading is a word, not an item key in quotes\n',
        'number = "EXSPLAIN"\n',
        "already = read + ing\n",
    ],
)
def test_the_scanner_leaves_shared_words_alone(source):
    assert scan_python(source, SAMPLE) == []


def test_the_scanner_finds_a_collection_literal_in_a_template():
    source = (
        '<p>{{ label }}</p>\n{% if key == "reading" %}x{% endif %}\n<th>Greater depth (GDS)</th>\n'
        "<p>KS1-T07</p>\n"
    )
    hits = scan_template(source, SAMPLE)
    assert [h.split(":")[0] for h in hits] == ["line 2", "line 3", "line 4"]


def test_a_literal_planted_in_a_copy_of_a_shared_module_is_found(tmp_path):
    lit = every_collection()
    shared = SRC / "engine" / "rules" / "identity.py"
    copy = tmp_path / "identity.py"
    shutil.copy(shared, copy)
    assert scan(copy, lit) == []
    with copy.open("a", encoding="utf-8") as f:
        f.write('\nCORE = ("reading", "writing")  # as KS1-T05 does\n')
    hits = scan(copy, lit)
    assert any("literal 'reading'" in h for h in hits)
    assert any("rule id KS1-T05" in h for h in hits)


def test_the_definitions_give_the_scanner_something_to_look_for():
    lit = every_collection()
    assert {"reading", "science"} <= lit.items
    assert {"EXS", "GDS", "PK1", "HNM", "readta"} <= lit.codes
    assert "KS1" in lit.rule_prefixes
    assert "M" not in lit.codes and "A" not in lit.codes


# -- shared code is clean ----------------------------------------------------------------------


def test_shared_code_names_no_collection_items_codes_or_rule_ids():
    found = offenders(every_collection())
    new = {path: hits for path, hits in found.items() if path not in NOT_YET_MOVED}
    assert not new, (
        "shared code names a collection's items, codes or rule ids; move them into the "
        "collection's package (engine/collections/<name>/) or definition, or ask them:\n"
        + "\n".join(f"{path}: {'; '.join(hits[:5])}" for path, hits in sorted(new.items()))
    )
    moved = sorted(set(NOT_YET_MOVED) - set(found))
    assert not moved, f"no collection literal left in {moved}: take them off NOT_YET_MOVED"


def test_the_collections_packages_are_scanned_apart():
    files = shared_files()
    assert SRC / "engine" / "rules" / "identity.py" in files
    assert COLLECTIONS / "__init__.py" in files
    assert not [f for f in files if COLLECTIONS in f.parents and f.parent != COLLECTIONS]
    assert not [f for f in files if DEFINITIONS in f.parents or VENDORED in f.parents]
