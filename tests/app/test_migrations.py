"""Migrations that move data: a database of before keeps what it knew."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from keystage.engine.definition import available

BEFORE = ("orgs", "0001_initial")
AFTER = ("orgs", "0003_remove_school_expected_ks1")


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.fixture
def migrations_undone(transactional_db):
    """The orgs app migrated back as a test needs, and forward to its latest migration after,
    whatever happened (later tests of the process need the tables as they are now). In a
    transactional test: PostgreSQL alters no table in the transaction that filled a table
    referring to it. The reference LAs are loaded first: an earlier transactional test may have
    emptied them."""
    from tests.conftest import _load_reference_unless_there

    _load_reference_unless_there()
    yield
    latest = [n for n in MigrationExecutor(connection).loader.graph.leaf_nodes() if n[0] == "orgs"]
    MigrationExecutor(connection).migrate(latest)


def test_expected_schools_are_worked_out_for_every_collection_from_the_stored_schools(
    migrations_undone,
):
    """A database of before `ExpectedSchool` held `expected_ks1` (KS1 2023's answer) only: the
    migration works each collection's expected schools out again from the schools' stored
    register fields, so a phonics collection expects the schools with year 1 at once."""
    old = _migrate(BEFORE)
    School = old.get_model("orgs", "School")
    la = old.get_model("orgs", "LocalAuthority").objects.get(code="938")
    for urn, name, phase, low, high, was in (
        ("125000", "Primary", "Primary", 4, 11, True),
        ("125001", "Infant", "Primary", 4, 7, True),
        ("125002", "Junior", "Primary", 7, 11, False),
        ("125003", "Secondary", "Secondary", 11, 16, False),
        ("125004", "Reception and year 1", "Primary", 4, 6, False),
    ):
        School.objects.create(
            urn=urn, la=la, estab=urn[-4:], laestab=f"938{urn[-4:]}", name=name,
            type_name="Community school", phase_name=phase, status_name="Open",
            low_age=low, high_age=high, expected_ks1=was,
        )  # fmt: skip
    new = _migrate(AFTER)
    found: dict[str, set[str]] = {}
    for urn, code in new.get_model("orgs", "ExpectedSchool").objects.values_list(
        "school__urn", "collection"
    ):
        found.setdefault(urn, set()).add(code)
    every = set(available())
    # A school of reception and year 1 has the phonics check and the EYFS profile, not KS1.
    early = {c for c in every if c.startswith(("phonics-", "eyfsp-"))}
    assert found == {"125000": every, "125001": every, "125004": early}
    # And back: the column again, for the default collection's (KS1 2023's) expected schools.
    back = _migrate(BEFORE)
    assert set(
        back.get_model("orgs", "School")
        .objects.filter(expected_ks1=True)
        .values_list("urn", flat=True)
    ) == {"125000", "125001"}
