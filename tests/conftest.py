"""Shared fixtures: a database with the reference LAs and a small schools register."""

from __future__ import annotations

import os

import pytest

from tests.builders import write_register


def pytest_collection_modifyitems(config, items):
    """scripts/test runs the app tests twice, on SQLite and then on PostgreSQL
    (KEYSTAGE_TEST_PASS names the pass). A test marked `one_pass` uses no database at all (the
    test command's own behaviour, say), so a second run would prove nothing the first did not:
    the PostgreSQL pass leaves it out, and pytest counts it as deselected."""
    if os.environ.get("KEYSTAGE_TEST_PASS") != "postgresql":
        return
    once = [item for item in items if item.get_closest_marker("one_pass")]
    if once:
        config.hook.pytest_deselected(items=once)
        items[:] = [item for item in items if item not in once]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, with the 9 regions and 153 LAs shipped with Keystage loaded once and
    committed: each test's transaction starts with them and rolls back to them, so `loaded`
    need not load them again (about 0.1 s a test). A transactional test (live server, browser)
    empties every table when it ends; pytest-django runs those after all the others, and
    `loaded` loads the reference data again when it finds it missing."""
    from keystage.orgs.actions import do_load_reference

    with django_db_blocker.unblock():
        do_load_reference()


def _load_reference_unless_there() -> None:
    from keystage import reference
    from keystage.orgs.actions import do_load_reference
    from keystage.orgs.models import LocalAuthority, Region

    want = (len(reference.REGION_CODES), len(reference.local_authorities()))
    if (Region.objects.count(), LocalAuthority.objects.count()) != want:
        do_load_reference()


@pytest.fixture
def register_file(tmp_path):
    return write_register(tmp_path / "schools.csv")


@pytest.fixture
def loaded(db, register_file, settings, tmp_path):
    """Reference data and four schools loaded; uploads kept under tmp_path, and the data
    directory (where zips are unpacked) there too."""
    from keystage.orgs.actions import do_load_register
    from keystage.submissions.actions import get_collection

    settings.UPLOAD_STORE = tmp_path / "store"
    settings.DATA_DIR = tmp_path / "data"
    _load_reference_unless_there()
    do_load_register(register_file)
    return get_collection()


@pytest.fixture(autouse=True)
def _empty_page_cache():
    """Each test starts with the pages' cache empty: a rolled-back test's audit ids are handed
    out again to the next test, so a stamp can recur for other data (in a running service it
    cannot: committed audit rows are never taken back)."""
    from keystage.web.readcache import forget_all

    forget_all()
    yield
