"""The simulator's ESC/POS reader: chunking, bounds, garbage, and what lands on paper."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.printer.escpos import PrinterProfile, render_receipt
from firmware_bridge.sim.escpos_stream import Command, Tokenizer
from firmware_bridge.sim.paper import Page, QrRow, SpaceRow, TextRow, page_png, page_text
from kiosk.domain.receipt import Text
from tests.firmware_bridge.helpers import ticket

TICKET = render_receipt(ticket(), PrinterProfile())


def _names(commands: list[Command]) -> list[str]:
    return [c.name for c in commands]


def test_a_ticket_is_read_as_the_commands_it_was_made_of() -> None:
    commands = Tokenizer().feed(TICKET)
    assert b"".join(c.raw for c in commands) == TICKET
    names = _names(commands)
    assert names[:3] == ["init", "kanji_on", "align"]
    assert names.count("qr") == 5 and names[-1] == "cut"
    assert "garbage" not in names and "other" not in names


@given(cuts=st.lists(st.integers(min_value=0, max_value=len(TICKET)), max_size=12))
def test_chunk_boundaries_do_not_change_the_commands(cuts: list[int]) -> None:
    tokenizer = Tokenizer()
    commands: list[Command] = []
    bounds = [0, *sorted(cuts), len(TICKET)]
    for start, end in itertools.pairwise(bounds):
        commands += tokenizer.feed(TICKET[start:end])
    assert tokenizer.pending == 0
    merged = [c for c in commands if c.name != "text"]
    assert merged == [c for c in Tokenizer().feed(TICKET) if c.name != "text"]
    assert b"".join(c.raw for c in commands) == TICKET


@settings(max_examples=300)
@given(noise=st.binary(max_size=400))
def test_garbage_never_raises_and_every_byte_is_accounted_for(noise: bytes) -> None:
    tokenizer = Tokenizer()
    commands = tokenizer.feed(noise) + tokenizer.flush()
    assert tokenizer.pending == 0
    assert b"".join(c.raw for c in commands) == noise
    page = Page()
    for command in commands:
        page.apply(command)
    rows = page.finish()
    page_text(rows)
    page_png(rows, 384)


def test_an_absurd_declared_length_is_garbage_not_a_trap() -> None:
    # GS v 0 claiming 65535 x 65535 would otherwise swallow every job after it.
    commands = Tokenizer().feed(b"\x1dv0\x00\xff\xff\xff\xff" + TICKET)
    assert commands[0].name == "garbage"
    assert "cut" in _names(commands)


def test_an_incomplete_command_is_given_up_after_the_idle_flush() -> None:
    tokenizer = Tokenizer()
    head = tokenizer.feed(b"\x1d(k\x10\x00" + b"\x1b@" + "社".encode("gb18030") + b"\n")
    assert head == [] and tokenizer.pending == 10  # it might be QR data still coming
    commands = tokenizer.flush()
    assert _names(commands)[0] == "garbage"
    assert "init" in _names(commands) and "lf" in _names(commands)


def test_status_queries_are_separate_commands() -> None:
    commands = Tokenizer().feed(b"A\x10\x04\x01B\x10\x04\x04")
    assert [(c.name, c.raw) for c in commands] == [
        ("text", b"A"),
        ("status", b"\x10\x04\x01"),
        ("text", b"B"),
        ("status", b"\x10\x04\x04"),
    ]
    assert [c.arg for c in commands if c.name == "status"] == [1, 4]


def test_spans_keep_their_style_and_the_line_its_alignment() -> None:
    data = b"\x1b@\x1ba\x02" + "普通".encode("gbk") + b"\x1bE\x01\x1d!\x11" + b"B\n"
    page = Page()
    for command in Tokenizer().feed(data):
        page.apply(command)
    (row,) = page.finish()
    assert isinstance(row, TextRow)
    assert row.align == "right" and row.text == "普通B"
    assert [(s.bold, s.width, s.height) for s in row.spans] == [(False, 1, 1), (True, 2, 2)]


def test_feeds_and_the_qr_code_on_paper() -> None:
    page = Page()
    for command in Tokenizer().feed(TICKET):
        page.apply(command)
    rows = page.finish()
    assert sum(isinstance(r, SpaceRow) for r in rows) == 2  # the QR code's quiet zone
    (qr,) = [r for r in rows if isinstance(r, QrRow)]
    assert (qr.data, qr.module_size, qr.align) == ("TKT:demo:2026-11-22:A001", 6, "center")


def test_text_without_a_line_feed_before_esc_at_never_prints() -> None:
    page = Page()
    for command in Tokenizer().feed(b"lost\x1b@kept\n"):
        page.apply(command)
    assert page_text(page.finish()) == "kept\n"


def test_a_long_line_wraps_on_paper_but_stays_one_line_of_text() -> None:
    data = render_receipt([Text("很长" * 20, scale=2)], PrinterProfile(paper_width_mm=58))
    page = Page()
    for command in Tokenizer().feed(data):
        page.apply(command)
    rows = page.finish()
    assert page_text(rows) == "很长" * 20 + "\n"
    picture = page_png(rows, 384)
    assert picture.height > 5 * 48  # 40 characters of 48 dots on 384 dots: 5 lines
