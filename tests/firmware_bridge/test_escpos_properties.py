"""The ESC/POS encoder under any input: only its documented ValueError, only whole commands."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from firmware_bridge.printer.encoding import ENCODINGS, encode_text
from firmware_bridge.printer.escpos import INIT, KANJI_ON, PrinterProfile, render_receipt
from firmware_bridge.sim.escpos_stream import Tokenizer
from kiosk.domain.receipt import MAX_QR, MAX_TEXT, Block, Cut, Feed, QrCode, Text

encodings = st.sampled_from(ENCODINGS)
profiles = st.builds(
    PrinterProfile,
    encoding=encodings,
    paper_width_mm=st.sampled_from([58, 80]),
    native_qr=st.booleans(),
    cut=st.booleans(),
)


@given(st.text(max_size=60), encodings)
def test_any_text_encodes_without_a_control_byte(text: str, encoding: Any) -> None:
    # No byte below 0x20 or 0x7F: a resident's input can never become a printer command.
    # (GB18030/GBK lead bytes are >= 0x81 and trail bytes >= 0x30, never 0x7F.)
    data = encode_text(text, encoding)
    assert not [b for b in data if b < 0x20 or b == 0x7F]


@given(st.text(max_size=20), st.text(max_size=10))
def test_an_unknown_encoding_is_the_only_error(text: str, encoding: str) -> None:
    assume(encoding not in ENCODINGS)
    with pytest.raises(ValueError, match="unsupported printer encoding"):
        encode_text(text, encoding)  # type: ignore[arg-type]


def _block(kind: str, text: str, number: int, flag: bool, align: str, broken: bool) -> Block:
    """A receipt block; ``broken`` gives it values its constructor would refuse (out of
    range, unknown alignment, overlong QR data): the encoder must check them itself, as
    a PrintJob may come from anywhere."""
    if not broken:
        number, align = max(1, min(8, abs(number))), align if align != "justify" else "left"
    if kind == "text":
        block: Block = Text(text[:MAX_TEXT])
        changes: dict[str, Any] = {"scale": number, "align": align, "bold": flag}
    elif kind == "qr":
        block = QrCode(text[:MAX_QR] or "x")
        changes = {"module_size": number, "data": text if broken else text[:MAX_QR] or "x"}
    elif kind == "feed":
        block = Feed()
        changes = {"lines": number}
    else:
        return Cut()
    for name, value in changes.items():
        object.__setattr__(block, name, value)  # frozen dataclass: bypass its checks
    return block


blocks = st.builds(
    _block,
    st.sampled_from(["text", "qr", "feed", "cut"]),
    st.text(max_size=80),
    st.integers(-3, 20),
    st.booleans(),
    st.sampled_from(["left", "center", "right", "justify"]),
    st.sampled_from([False] * 9 + [True]),
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(blocks, max_size=8), profiles)
def test_any_receipt_renders_to_whole_commands_or_raises_value_error(
    receipt: list[Block], profile: PrinterProfile
) -> None:
    try:
        data = render_receipt(receipt, profile)
    except ValueError:
        event("refused")
        return
    event("rendered")
    assert data.startswith(INIT + KANJI_ON)
    tokenizer = Tokenizer()
    commands = tokenizer.feed(data) + tokenizer.flush()
    names = [c.name for c in commands]
    assert "garbage" not in names and "other" not in names
    assert names[-1] in ("cut", "feed_lines")  # every job ends on a fresh slip
    assert b"".join(c.raw for c in commands) == data
