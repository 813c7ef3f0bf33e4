"""The 256-byte text block: fixed offsets per card type, checks, and no value in any error."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.idreader.textblock import (
    TEXT_SIZE,
    TextBlockError,
    build_text_block,
    card_type_of,
    parse_text_block,
)
from firmware_bridge.sim.cards import TEST_CARDS
from kiosk.domain.identity import mask_id_number, mask_name

TODAY = date(2026, 11, 22)


def _at(block: bytes, offset: int, size: int) -> str:
    return block[offset : offset + size].decode("utf-16-le").rstrip(" ")


def test_resident_card_fields_sit_at_the_reference_offsets() -> None:
    block = TEST_CARDS["resident"].text_block()
    assert len(block) == TEXT_SIZE
    assert _at(block, 0, 30) == "张小红"
    assert _at(block, 30, 2) == "2" and _at(block, 32, 4) == "01"
    assert _at(block, 36, 16) == "19491231"
    assert _at(block, 122, 36) == "11010519491231002X"
    assert _at(block, 204, 16) == "长期"
    assert block[248:250] == b" \x00" and block[-2:] == b" \x00"  # space padded


def test_permit_flags_and_their_own_fields() -> None:
    hmt = TEST_CARDS["hmt"].text_block()
    assert hmt[248:250] == "J".encode("utf-16-le") and _at(hmt, 220, 18) == "H12345678"
    i_card = TEST_CARDS["foreign2017"].text_block()
    assert i_card[248:250] == b"I\x00"
    assert _at(i_card, 0, 120) == "SMITH JOHN" and _at(i_card, 122, 30) == "USA310019800101"
    assert _at(i_card, 220, 16) == "19800101"
    y_card = TEST_CARDS["foreign2023"].text_block()
    assert y_card[248:250] == b"Y\x00" and _at(y_card, 0, 30) == "安娜"
    assert _at(y_card, 242, 6) == "USA"


@pytest.mark.parametrize(
    ("key", "card_type", "name", "number", "gender", "birth", "valid_to"),
    [
        ("resident", "resident", "张小红", "11010519491231002X", "female", "19491231", ""),
        ("hmt", "hmt", "陈大文", "810000198506151031", "male", "19850615", "20300101"),
        (
            "foreign2017",
            "foreign2017",
            "SMITH JOHN",
            "USA310019800101",
            "male",
            "19800101",
            "20370601",
        ),
        (
            "foreign2023",
            "foreign2023",
            "安娜",
            "931840199005061238",
            "female",
            "19900506",
            "20330601",
        ),
        ("expired", "resident", "李测试", "440106199003071231", "male", "19900307", "20200307"),
    ],
)
def test_each_card_type_parses(
    key: str, card_type: str, name: str, number: str, gender: str, birth: str, valid_to: str
) -> None:
    card = parse_text_block(TEST_CARDS[key].text_block(), TODAY)
    assert (card.card_type, card.name, card.id_number) == (card_type, name, number)
    assert (card.gender, card.birth_date, card.valid_to) == (gender, birth, valid_to)
    assert "*" in mask_id_number(card.id_number) and mask_name(card.name) != card.name
    assert number not in repr(card) and name not in str(card)


def test_a_long_english_name_is_joined_across_its_two_fields() -> None:
    values = dict(TEST_CARDS["foreign2023"].values, name="")
    card = parse_text_block(build_text_block("foreign2023", values), TODAY)
    assert card.name == "TESTER ANNA MARIA KATHARINA VON DEM DEMOHAUSEN"


def test_a_wrong_check_digit_is_refused_without_quoting_the_number() -> None:
    with pytest.raises(TextBlockError, match="check digit") as caught:
        parse_text_block(TEST_CARDS["bad-checksum"].text_block(), TODAY)
    assert "1101" not in str(caught.value) and "王" not in str(caught.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"birth_date": "19491230"}, "does not match the ID number"),
        ({"valid_to": "2030.1.1"}, "valid-to date is not YYYYMMDD"),
        ({"valid_to": "20300231"}, "not a real date"),
        ({"name": ""}, "name field is empty"),
    ],
)
def test_inconsistent_fields_are_refused(change: dict[str, str], message: str) -> None:
    values = dict(TEST_CARDS["resident"].values, **change)
    with pytest.raises(TextBlockError, match=message) as caught:
        parse_text_block(build_text_block("resident", values), TODAY)
    assert "11010519491231002X" not in str(caught.value)


def test_a_block_of_the_wrong_size_or_flag_is_refused() -> None:
    with pytest.raises(TextBlockError, match="256 bytes"):
        parse_text_block(b"\x20\x00" * 10)
    block = bytearray(TEST_CARDS["resident"].text_block())
    block[248:250] = "Q".encode("utf-16-le")
    with pytest.raises(TextBlockError, match="card type flag"):
        card_type_of(bytes(block))
    block[248:250] = b"\x00\x00"  # some readers leave the reserved bytes zero
    assert card_type_of(bytes(block)) == "resident"


def test_a_lone_surrogate_in_a_name_does_not_make_the_card_unreadable() -> None:
    block = bytearray(TEST_CARDS["resident"].text_block())
    block[2:4] = b"\x00\xd8"  # half a surrogate pair: not UCS-2
    assert parse_text_block(bytes(block), TODAY).name == "张\ufffd红"


def test_building_refuses_unknown_fields_and_overlong_values() -> None:
    with pytest.raises(TextBlockError, match="no field"):
        build_text_block("resident", {"pass_number": "H1"})
    with pytest.raises(TextBlockError, match="holds 15 characters"):
        build_text_block("resident", {"name": "名" * 16})


@given(st.binary(min_size=TEXT_SIZE, max_size=TEXT_SIZE))
def test_any_block_parses_or_raises_text_block_error(block: bytes) -> None:
    with contextlib.suppress(TextBlockError):
        parse_text_block(block, TODAY)


@given(st.sampled_from(sorted(TEST_CARDS)), st.integers(0, TEXT_SIZE - 1), st.integers(0, 255))
def test_a_damaged_test_card_parses_or_raises_text_block_error(
    key: str, index: int, value: int
) -> None:
    block = bytearray(TEST_CARDS[key].text_block())
    block[index] = value
    with contextlib.suppress(TextBlockError):
        parse_text_block(bytes(block), TODAY)
