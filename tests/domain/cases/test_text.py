"""Input rules: junk out, everything a person meant kept, lengths refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.domain.cases.text import LIMITS, InvalidText, clean, validate, validate_optional


def test_html_and_script_stay_text() -> None:
    raw = "<script>alert(\"x\")</script><b onclick='x'>&amp;</b>"
    assert validate("description", raw) == raw


@pytest.mark.parametrize(
    "text",
    [
        "楼道灯坏了 😡👍🏽",
        "👨‍👩‍👧‍👦 一家人",  # ZWJ family
        "❤️ 邻里",  # variation selector
        "𠀀𪚥 生僻字 䶮",  # CJK Extension B and A
        "\ue000 私用区的字",  # private use: old input methods put rare characters here
        "Ünïcödé café",
    ],
)
def test_emoji_and_rare_characters_are_kept(text: str) -> None:
    assert validate("title", text) == text


def test_control_and_invisible_characters_go() -> None:
    assert validate("title", "路\x00灯\x07坏\u202e了\ufeff\u200b") == "路灯坏了"
    assert clean("a\ud800b", multiline=False) == "ab"  # a lone surrogate from a JSON escape


def test_whitespace_is_tidied() -> None:
    assert validate("title", "  路灯\n坏了\t　 一周 ") == "路灯 坏了 一周"
    text = "第一段  \r\n\r\n\r\n\r\n第二段\u2028尾"
    assert validate("description", text) == "第一段\n\n第二段尾"


def test_lengths() -> None:
    assert validate("title", "路灯") == "路灯"
    with pytest.raises(InvalidText) as short:
        validate("title", "灯")
    assert (short.value.field, short.value.problem) == ("title", "too_short")
    with pytest.raises(InvalidText, match="the title is empty"):
        validate("title", " \x00 ")
    assert validate("description", "") == ""
    long = "很" * 2001
    with pytest.raises(InvalidText, match="2001 characters; at most 2000") as err:
        validate("description", long)
    assert err.value.problem == "too_long"
    assert validate_optional("reason", None) is None and validate_optional("reason", " \n") is None
    assert validate_optional("reason", " 重复 ") == "重复"


@given(st.text(max_size=300))
def test_cleaning_is_idempotent_and_never_grows(text: str) -> None:
    once = clean(text, multiline=True)
    assert clean(once, multiline=True) == once
    assert "\x00" not in once and "\r" not in once


@given(st.text(max_size=3000), st.sampled_from(sorted(LIMITS)))
def test_validate_either_fits_or_says_why(text: str, field: str) -> None:
    limits = LIMITS[field]  # type: ignore[index]
    try:
        result = validate(field, text)  # type: ignore[arg-type]
    except InvalidText as err:
        assert err.field == field and err.problem in ("empty", "too_short", "too_long")
    else:
        assert limits.min_len <= len(result) <= limits.max_len
        assert limits.multiline or "\n" not in result
