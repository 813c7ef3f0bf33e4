"""Golden bytes of our Chinese encoder, where python-escpos's MagicEncode prints '?'."""

from __future__ import annotations

import pytest

from firmware_bridge.printer.encoding import ENCODINGS, Encoding, encode_text


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_punctuation_alone_is_chinese_not_question_marks(encoding: Encoding) -> None:
    assert encode_text("：，", encoding) == bytes.fromhex("a3ba a3ac")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_digits_alone_are_ascii(encoding: Encoding) -> None:
    assert encode_text("0123456789", encoding) == b"0123456789"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_yen_is_the_two_byte_full_width_sign_in_every_encoding(encoding: Encoding) -> None:
    # Not GB18030's 4-byte 81 30 84 36 (junk on GBK heads), not '?' (GBK/GB2312 lack it).
    assert encode_text("¥", encoding) == bytes.fromhex("a3a4")
    assert encode_text("￥12", encoding) == bytes.fromhex("a3a4 3132")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_full_width_letters(encoding: Encoding) -> None:
    assert encode_text("Ａ", encoding) == bytes.fromhex("a3c1")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_mixed_chinese_ascii_and_punctuation(encoding: Encoding) -> None:
    assert encode_text("社保：A001号", encoding) == bytes.fromhex("c9e7 b1a3 a3ba 41303031 bac5")
    assert encode_text("前面还有 3 人", encoding) == bytes.fromhex(
        "c7b0 c3e6 bbb9 d3d0 203320 c8cb"
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_middle_dot_and_dash_of_chinese_text(encoding: Encoding) -> None:
    # U+00B7 and U+2014 are what people type; Python's GB2312 codec knows them only as
    # U+30FB and U+2015, which are the same bytes on paper.
    assert encode_text("阿依·木合", encoding)[4:6] == bytes.fromhex("a1a4")
    assert encode_text("—", encoding) == bytes.fromhex("a1aa")


def test_rare_characters_print_where_the_encoding_has_them() -> None:
    assert encode_text("𠀀", "gb18030") == bytes.fromhex("95328236")
    assert encode_text("㐀", "gb18030") == bytes.fromhex("8139ee39")
    assert encode_text("𠀀", "gbk") == b"?"
    assert encode_text("张𠀀", "gb2312") == bytes.fromhex("d5c5") + b"?"
    assert encode_text("〇", "gbk") == bytes.fromhex("a996")
    assert encode_text("〇", "gb2312") == b"?"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_control_characters_cannot_inject_commands(encoding: Encoding) -> None:
    assert encode_text("A\x1b@\x1dV\x10\x04B", encoding) == b"A?@?V??B"
    assert encode_text("一\n二\t三", encoding) == bytes.fromhex("d2bb 20 b6fe 20 c8fd")


def test_an_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported printer encoding"):
        encode_text("社保", "utf-8")  # type: ignore[arg-type]
