"""Shared fixtures: a database with the reference LAs and a small schools register."""

from __future__ import annotations

import pytest

from tests.builders import write_register


@pytest.fixture
def register_file(tmp_path):
    return write_register(tmp_path / "schools.csv")


@pytest.fixture
def loaded(db, register_file, settings, tmp_path):
    """Reference data and four schools loaded; uploads kept under tmp_path."""
    from keystage.orgs.actions import do_load_reference, do_load_register
    from keystage.submissions.actions import get_collection

    settings.UPLOAD_STORE = tmp_path / "store"
    do_load_reference()
    do_load_register(register_file)
    return get_collection()
