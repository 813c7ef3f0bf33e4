"""Tracking codes: layout, forgiving reading, and typos caught by the check letter."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.domain.cases.codes import (
    CHECK_ALPHABET,
    MAX_SEQ,
    InvalidTrackingCode,
    TrackingCode,
    check_letter,
    make_code,
    parse_code,
    pin_matches,
    rating_pin,
    slip_qr,
    split_scanned,
)

codes = st.builds(
    TrackingCode,
    channel=st.sampled_from(["box", "proposal"]),
    year=st.integers(2000, 2999),
    seq=st.integers(1, MAX_SEQ),
)
TYPED = string.ascii_uppercase + string.digits


def test_the_layout() -> None:
    assert make_code("box", 2026, 42) == "MQ-2026-0042-Q"
    assert make_code("proposal", 2026, 42).startswith("TA-2026-0042-")
    assert make_code("box", 2026, 123456).startswith("MQ-2026-123456-")


def test_the_check_alphabet_has_no_look_alikes() -> None:
    assert len(CHECK_ALPHABET) == 23 and len(set(CHECK_ALPHABET)) == 23
    assert not set(CHECK_ALPHABET) & set("0O1IZ" + string.digits)


@pytest.mark.parametrize(
    "typed",
    [
        "MQ-2026-0042-Q",
        "mq-2026-0042-q",
        "MQ20260042Q",
        " MQ 2026 0042 Q ",
        "ＭＱ－２０２６－００４２－Ｑ",
        "MQ—2026—0042—Q",
        "MQ-2O26-OO42-Q",
        "MQ-2026-0O42-Q",
    ],
)
def test_reading_forgives_how_people_type(typed: str) -> None:
    assert str(parse_code(typed)) == "MQ-2026-0042-Q"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "looks like"),
        ("MQ-2026-42-Q", "looks like"),
        ("MQ-2026-0042", "looks like"),
        ("XX-2026-0042-Q", "starts with MQ or TA"),
        ("MQ-2026-00042-Q", "a digit too many"),
        ("MQ-2026-0000-A", "sequence must be"),
        ("MQ-2026-0042-A", "check letter"),
        ("TA-2026-0042-Q", "check letter"),
        ("MQ-2026-0042-O", "check letter"),
    ],
)
def test_bad_codes_say_what_is_wrong(typed: str, says: str) -> None:
    with pytest.raises(InvalidTrackingCode, match=says):
        parse_code(typed)


@pytest.mark.parametrize(
    ("channel", "year", "seq"), [("mail", 2026, 1), ("box", 1999, 1), ("box", 2026, MAX_SEQ + 1)]
)
def test_out_of_range_codes_are_not_made(channel: str, year: int, seq: int) -> None:
    with pytest.raises(InvalidTrackingCode):
        make_code(channel, year, seq)  # type: ignore[arg-type]


@given(codes)
def test_a_code_reads_back_as_itself(code: TrackingCode) -> None:
    text = str(code)
    assert parse_code(text) == code
    assert parse_code(text.replace("-", "").lower()) == code
    assert text[-1] == check_letter(code.channel, code.year, code.seq)


def _substitutions(text: str) -> list[str]:
    return [text[:i] + c + text[i + 1 :] for i, old in enumerate(text) for c in TYPED if c != old]


def _transpositions(text: str) -> list[str]:
    return [
        text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        for i in range(len(text) - 1)
        if text[i] != text[i + 1]
    ]


def _never_another_code(typo: str, code: TrackingCode) -> None:
    """A typo is refused, or reads as the same code (``O`` typed for ``0``); never another."""
    try:
        read = parse_code(typo)
    except InvalidTrackingCode:
        return
    assert read == code, f"{typo!r} read as {read}, not {code}"


@settings(max_examples=60, deadline=None)
@given(codes, st.booleans())
def test_every_single_substitution_is_caught(code: TrackingCode, compact: bool) -> None:
    text = str(code).replace("-", "") if compact else str(code)
    for typo in _substitutions(text):
        _never_another_code(typo, code)


@settings(max_examples=60, deadline=None)
@given(codes, st.booleans())
def test_every_adjacent_transposition_is_caught(code: TrackingCode, compact: bool) -> None:
    text = str(code).replace("-", "") if compact else str(code)
    for typo in _transpositions(text):
        _never_another_code(typo, code)


@given(codes, st.data())
def test_a_wrong_digit_is_always_refused(code: TrackingCode, data: st.DataObject) -> None:
    text = str(code)
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    i = data.draw(st.sampled_from(digits))
    other = data.draw(st.sampled_from([d for d in string.digits if d != text[i]]))
    with pytest.raises(InvalidTrackingCode):
        parse_code(text[:i] + other + text[i + 1 :])


# --- the rating PIN (评价码) ---------------------------------------------------------------

SECRET = b"domain-test-secret-0123456789"


def test_the_rating_pin_is_stable_six_digits_and_follows_the_canonical_code() -> None:
    code = make_code("box", 2026, 42)
    pin = rating_pin(SECRET, code)
    assert len(pin) == 6 and pin.isdigit()
    assert pin == rating_pin(SECRET, code) == rating_pin(SECRET, code.lower().replace("-", ""))
    # Pinned: kiosks and the hub of a deployment must keep agreeing across releases.
    assert rating_pin(b"x" * 16, "MQ-2026-0042-Q") == "082265"


def test_the_rating_pin_differs_by_code_and_by_secret() -> None:
    pins = {rating_pin(SECRET, make_code("box", 2026, seq)) for seq in range(1, 201)}
    assert len(pins) >= 195  # 200 draws from a million: a handful of collisions at most
    code = make_code("proposal", 2026, 7)
    assert rating_pin(SECRET, code) != rating_pin(SECRET + b"!", code)
    assert rating_pin(SECRET, code) != rating_pin(SECRET, make_code("box", 2026, 7))


@given(codes)
@settings(max_examples=200)
def test_pins_keep_leading_zeros_and_match_only_themselves(code: TrackingCode) -> None:
    pin = rating_pin(SECRET, str(code))
    assert len(pin) == 6 and pin.isdigit() and pin_matches(SECRET, str(code), pin)
    assert not pin_matches(SECRET, str(code), f"{(int(pin) + 1) % 10**6:06d}")


@pytest.mark.parametrize(
    "typed", ["", "12345", "1234567", "12345a", " 123456", "123456\n", "１２３４５６"]
)
def test_a_malformed_pin_never_matches(typed: str) -> None:
    assert not pin_matches(SECRET, make_code("box", 2026, 1), typed)


def test_a_short_secret_or_a_non_code_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        rating_pin(b"short", make_code("box", 2026, 1))
    with pytest.raises(InvalidTrackingCode):
        rating_pin(SECRET, "MQ-2026-0042-A")


def test_the_slips_qr_carries_the_code_and_its_pin() -> None:
    code = make_code("box", 2026, 42)
    assert slip_qr(code, "012345") == f"{code}#012345" and slip_qr(code, None) == code
    assert split_scanned(f"{code}#012345") == (code, "012345")
    assert split_scanned(f"{code}＃０１２３４５") == (code, "012345")  # full-width scanner
    assert split_scanned(code) == (code, None)
    with pytest.raises(InvalidTrackingCode, match="6 digits"):
        split_scanned(f"{code}#12")
