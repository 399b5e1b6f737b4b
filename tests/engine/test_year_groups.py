"""Which one year group a school file holds, in a collection of several NC years (phonics:
Year 1 and the Year 2 re-check); a file of one year group replaces only that year group."""

from __future__ import annotations

import pytest

from keystage.engine import definition
from keystage.engine.year_groups import nc_year_key, year_group

pytestmark = pytest.mark.one_pass
PHONICS = definition.load("phonics-2023")


@pytest.mark.parametrize(
    ("nc_years", "expected"),
    [
        (["1", "1"], "1"),
        (["2"], "2"),
        (["Y1", "Year 1", "01", " 1"], "1"),  # as the NC year rule reads them
        (["1", "2"], ""),  # both year groups: replaces everything
        (["1", ""], ""),  # a pupil with no NC year
        (["3", "3"], ""),  # not a year the check takes
    ],
)
def test_a_file_of_one_nc_year_of_the_collection_is_a_year_group_file(nc_years, expected):
    assert year_group(nc_years, PHONICS) == expected


def test_a_collection_of_one_nc_year_has_no_year_group_files():
    assert year_group(["2", "2"], definition.load("ks1-2023")) == ""


def test_nc_years_compare_as_numbers():
    assert [nc_year_key(v) for v in ("Y2", "YR 2", "02", "0", "R")] == ["2", "2", "2", "0", "R"]
