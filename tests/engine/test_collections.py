"""A collection is a package: shared code finds a definition's package by its collection code,
the package's rule book takes the shared rules under its prefix, and a new package in
`engine/collections/` is all a new collection needs for its rules to run."""

from __future__ import annotations

import dataclasses
import sys
import textwrap

import pytest

from keystage.engine import collections as collection_packages
from keystage.engine import definition, rules
from keystage.engine.collections import ks1
from keystage.engine.records import PupilRecord

D = definition.load()


def test_a_definition_finds_its_collections_package():
    assert collection_packages.for_definition(D) is ks1
    assert collection_packages.module_of(D, "rules").BOOK.prefix == "KS1"
    assert rules.rule_id(D, "F01") == "KS1-F01"


def test_a_definition_of_a_collection_without_a_package_is_refused_with_what_to_do():
    other = dataclasses.replace(D, id="ks2-2024", collection="KS2")  # no KS2 package (yet)
    with pytest.raises(KeyError) as e:
        rules.context_for(other)
    message = str(e.value)
    assert "ks2-2024" in message and "'KS2'" in message
    assert "keystage/engine/collections/" in message and "KS1" in message


def test_the_shared_rules_take_the_books_prefix_and_its_own_follow():
    book = collection_packages.module_of(D, "rules").BOOK
    shared = set(rules.SHARED.own)
    assert "P01" in shared and not any("-" in n for n in shared)
    ids = list(book.rules)
    assert {f"KS1-{n}" for n in shared} <= set(ids)
    own = [i for i in ids if i not in {f"KS1-{n}" for n in shared}]
    assert own == sorted(book.own) and ids[-len(own) :] == own
    assert book.rules["KS1-P01"].check is rules.SHARED.own["P01"].check


@pytest.fixture
def new_collection(tmp_path, monkeypatch):
    """A collection package written into a folder on the collections' path: code ZZ, prefix
    ZZ, one rule of its own."""
    package = tmp_path / "zz"
    package.mkdir()
    (package / "__init__.py").write_text('COLLECTION = "ZZ"\n')
    (package / "rules.py").write_text(
        textwrap.dedent(
            """
            from keystage.engine.rulebook import RuleBook

            BOOK = RuleBook("ZZ")


            @BOOK.pupil_rule("R01", "query", field="upn", title="Made up", spec_status="LIKELY")
            def made_up(pupil, ctx):
                return "A made-up rule: check it." if pupil.forename == "Zed" else None
            """
        )
    )
    monkeypatch.setattr(
        collection_packages, "__path__", [*collection_packages.__path__, str(tmp_path)]
    )
    collection_packages.packages.cache_clear()
    yield dataclasses.replace(D, id="zz-2023", collection="ZZ", rules={})
    collection_packages.packages.cache_clear()
    for name in [m for m in sys.modules if m.startswith("keystage.engine.collections.zz")]:
        del sys.modules[name]


def test_a_new_package_is_all_a_new_collection_needs(new_collection):
    pupil = PupilRecord(line=1, upn="", surname="Ng", forename="Zed", dob="2016-01-14", sex="M")
    found = {f.rule for f in rules.check_pupil(pupil, new_collection)}
    assert "ZZ-R01" in found and "ZZ-P01" in found  # its own rule, and the shared UPN rule
    assert not any(r.startswith("KS1-") for r in found)
    # KS1's definition still runs KS1's rules only.
    assert all(f.rule.startswith("KS1-") for f in rules.check_pupil(pupil, D))
