from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.domain.identity import (
    InvalidIdNumber,
    InvalidPhone,
    check_char,
    mask_id_number,
    mask_name,
    mask_phone,
    person_key,
    validate_id_number,
)

SAMPLE = "11010519491231002X"  # the standard's own sample number


def test_the_standards_sample_is_valid() -> None:
    checked = validate_id_number(SAMPLE)
    assert checked.birth_date == date(1949, 12, 31)
    assert SAMPLE not in repr(checked) and SAMPLE not in str(checked)


def test_lower_case_x_and_spaces_are_normalised() -> None:
    assert validate_id_number(" 11010519491231002x ").value == SAMPLE


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_char_is_accepted(first17: str) -> None:
    good = check_char(first17)
    for candidate in "0123456789X":
        number = first17 + candidate
        if candidate != good:
            with pytest.raises(InvalidIdNumber, match="check digit"):
                validate_id_number(number)


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("1101051949123100", "17 digits"),
        ("11010519491231002Y", "17 digits"),
        ("110105194912310021", "check digit"),
    ],
)
def test_bad_numbers_say_why_without_echoing(number: str, says: str) -> None:
    with pytest.raises(InvalidIdNumber, match=says) as err:
        validate_id_number(number)
    assert number not in str(err.value)


def _with_check(first17: str) -> str:
    return first17 + check_char(first17)


def test_impossible_birth_date() -> None:
    with pytest.raises(InvalidIdNumber, match="not a real date"):
        validate_id_number(_with_check("11010519490231002"))
    with pytest.raises(InvalidIdNumber, match="out of range"):
        validate_id_number(_with_check("11010520990101002"), today=date(2026, 11, 22))


def test_card_types() -> None:
    hmt = _with_check("81000019800101001")
    assert validate_id_number(hmt, "hmt").card_type == "hmt"
    with pytest.raises(InvalidIdNumber, match="810000"):
        validate_id_number(SAMPLE, "hmt")
    assert validate_id_number("USA123456789012", "foreign2017").birth_date is None
    with pytest.raises(InvalidIdNumber, match="starts with 9"):
        validate_id_number(SAMPLE, "foreign2023")
    assert validate_id_number(_with_check("93000019800101001"), "foreign2023")


def test_masks() -> None:
    assert mask_id_number(SAMPLE) == "110***********002X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_phone("138 1234 5678") == "138****5678"
    with pytest.raises(InvalidPhone):
        mask_phone("12345")


def test_person_key_is_stable_keyed_and_normalised() -> None:
    secret = b"s" * 32
    assert person_key(secret, SAMPLE) == person_key(secret, SAMPLE.lower())
    assert person_key(secret, SAMPLE) != person_key(b"t" * 32, SAMPLE)
    assert SAMPLE not in person_key(secret, SAMPLE)
    with pytest.raises(ValueError, match="16 bytes"):
        person_key(b"short", SAMPLE)
