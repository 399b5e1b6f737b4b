"""UPN check letter and format checks (spec §6): the worked examples and properties of the
mod-23 check."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keystage.engine import definition, upn

LA_CODES = definition.load().upn_la_codes

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
permanent_bodies = st.text(alphabet="0123456789", min_size=12, max_size=12)
temporary_bodies = st.builds(
    lambda d, letter: d + letter,
    st.text(alphabet="0123456789", min_size=11, max_size=11),
    st.sampled_from(upn.LETTERS),
)
bodies = permanent_bodies | temporary_bodies


@pytest.mark.parametrize(
    "value",
    ["B801200005001", "H801200001001", "G80120000101A", "A938200123001", "P938200123002"],
)
def test_worked_examples_are_valid(value):
    assert upn.problems(value) == []
    assert upn.problems(value, LA_CODES) == []
    assert upn.check_letter(value[1:]) == value[0]


def test_wrong_check_letter_fails_1510():
    assert upn.problems("Z801200001001") == ["1510"]


def test_arbor_example_letter_is_p_not_q():
    # Arbor's help article has an arithmetic slip and says Q; the weighted sum is 266 -> P.
    assert upn.check_letter("207000016049") == "P"
    assert upn.problems("P207000016049") == []
    assert upn.problems("B207000016049") == ["1510"]
    assert upn.problems("Q207000016049") == ["1510"]


def test_temporary():
    assert upn.is_temporary("G80120000101A")
    assert not upn.is_temporary("A938200123001")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ["1500"]),
        ("   ", ["1500"]),
        (None, ["1500"]),
        ("A999200123001", ["1530"]),  # 999 is not an LA code
        ("AX38200123001", ["1530"]),
        ("A9382001A3001", ["1540"]),
        ("A93820012300I", ["1550"]),  # I is never used
        ("A93820012300O", ["1550"]),
        ("A93820012300S", ["1550"]),
        ("A93820012300", ["1550"]),  # 12 characters
        ("A9382001230011", ["1550"]),  # 14 characters
        ("A9", ["1530", "1540", "1550"]),
        ("A９３８200123001", ["1530"]),  # full-width digits are not UPN digits
        ("A938200123００1", ["1540"]),
        ("A93820012300１", ["1550"]),
    ],
)
def test_format_problems(value, expected):
    assert upn.problems(value, LA_CODES) == expected


def test_lower_case_and_spaces_are_tolerated():
    assert upn.problems(" a938200123001 ", LA_CODES) == []


def test_without_la_codes_any_three_digits_pass():
    assert upn.problems(upn.make("999", "2001", "23", "001")) == []
    assert upn.problems(upn.make("999", "2001", "23", "001"), LA_CODES) == ["1530"]


def test_check_letter_rejects_bad_bodies():
    with pytest.raises(ValueError):
        upn.check_letter("93820012300")
    with pytest.raises(ValueError):
        upn.check_letter("93820012300I")


def _slow_check_letter(body: str) -> str:
    alphabet = upn.LETTERS + "0123456789"
    return upn.LETTERS[sum(alphabet.index(c) * w for w, c in enumerate(body, start=2)) % 23]


@given(bodies)
def test_check_letter_matches_the_spec_algorithm(body):
    assert upn.check_letter(body) == _slow_check_letter(body)


@given(bodies)
def test_exactly_one_check_letter_is_valid(body):
    valid = [letter for letter in upn.LETTERS if upn.is_valid(letter + body)]
    assert valid == [upn.check_letter(body)]


@given(bodies, st.integers(min_value=0, max_value=10), digits)
def test_changing_any_one_digit_breaks_validity(body, position, digit):
    # Positions 2-12 are digits in every UPN; weights 2..13 and digit differences 1..9 are
    # all non-zero mod the prime 23, so a single changed digit is always caught.
    if body[position] == digit:
        return
    changed = body[:position] + digit + body[position + 1 :]
    assert not upn.is_valid(upn.check_letter(body) + changed)


@given(bodies, st.integers(min_value=0, max_value=10))
def test_swapping_neighbouring_digits_breaks_validity(body, position):
    a, b = body[position], body[position + 1]
    if a == b or not (a.isdigit() and b.isdigit()):
        return
    swapped = body[:position] + b + a + body[position + 2 :]
    assert not upn.is_valid(upn.check_letter(body) + swapped)


@given(temporary_bodies, st.sampled_from(upn.LETTERS))
def test_changing_the_temporary_letter_breaks_validity(body, letter):
    if body[-1] == letter:
        return
    assert not upn.is_valid(upn.check_letter(body) + body[:-1] + letter)


@given(st.text(max_size=20))
def test_problems_never_raises_and_uses_dfe_numbers(value):
    found = upn.problems(value, LA_CODES)
    assert set(found) <= {"1500", "1510", "1530", "1540", "1550"}
    assert found == sorted(found)
    assert ("1510" in found) <= (found == ["1510"])  # the check letter only on a sound UPN


@given(bodies)
def test_make_builds_valid_upns(body):
    value = upn.make(body[:3], body[3:7], body[7:9], body[9:])
    assert upn.is_valid(value)
    assert upn.is_temporary(value) == body[-1].isalpha()
