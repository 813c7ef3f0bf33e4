"""SAM frames: golden bytes from the reference tables, and the parser under any input."""

from __future__ import annotations

import contextlib
from functools import reduce
from operator import xor as xor2

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.idreader import frames
from firmware_bridge.idreader.frames import (
    Frame,
    FrameError,
    FrameParser,
    Request,
    Response,
    format_sam_id,
    xor,
)

# reference/iot.md §5.2, byte for byte.
GOLDEN_REQUESTS = {
    frames.RESET: "aa aa aa 96 69 00 03 10 ff ec",
    frames.SAM_STATUS: "aa aa aa 96 69 00 03 11 ff ed",
    frames.SAM_ID: "aa aa aa 96 69 00 03 12 ff ee",
    frames.FIND_CARD: "aa aa aa 96 69 00 03 20 01 22",
    frames.SELECT_CARD: "aa aa aa 96 69 00 03 20 02 21",
    frames.READ_TEXT_PHOTO: "aa aa aa 96 69 00 03 30 01 32",
    frames.READ_NEW_ADDRESS: "aa aa aa 96 69 00 03 30 03 30",
}


@pytest.mark.parametrize(("command", "wire"), GOLDEN_REQUESTS.items())
def test_requests_match_the_reference_bytes(command: tuple[int, int], wire: str) -> None:
    assert Request.of(command).to_bytes().hex(" ") == wire


def test_responses_match_the_reference_bytes() -> None:
    assert Request(0x61, 0xFF, b"\x50").to_bytes().hex(" ") == "aa aa aa 96 69 00 04 61 ff 50 ca"
    assert Response(frames.OK).to_bytes().hex(" ")[15:] == "00 04 00 00 90 94"
    found = Response(frames.CARD_FOUND, bytes(4)).to_bytes()
    assert found.hex(" ")[15:] == "00 08 00 00 9f 00 00 00 00 97"
    assert Response(frames.NO_CARD).to_bytes().hex(" ")[15:] == "00 04 00 00 80 84"
    selected = Response(frames.OK, bytes(8)).to_bytes()
    assert selected.hex(" ")[15:] == "00 0c 00 00 90 " + "00 " * 8 + "9c"
    assert Response(frames.READ_FAILED).to_bytes().hex(" ")[15:] == "00 04 00 00 41 45"
    read = Response(frames.OK, b"\x01\x00\x04\x00" + bytes(256 + 1024)).to_bytes()
    assert len(read) == 1295 and read[5:7] == b"\x05\x08"  # Len 1288


def test_the_sam_id_reads_as_vendors_show_it() -> None:
    data = bytes([5, 0, 1, 0]) + b"".join(n.to_bytes(4, "little") for n in (20101028, 7, 42))
    assert format_sam_id(data) == "05.01-20101028-000000007-000000042"
    assert format_sam_id(b"\x01\x02") == "0102"


def test_a_parser_finds_frames_behind_garbage_and_false_starts() -> None:
    answer = Response(frames.OK, b"\x01\x02").to_bytes()
    bad_checksum = answer[:-1] + bytes([answer[-1] ^ 1])
    absurd_length = frames.PREAMBLE + b"\xff\xff\x00"
    parser = FrameParser()
    received = parser.feed(b"\x00\xaa\xaa" + absurd_length + bad_checksum + answer)
    assert received == [Frame(bytes([0, 0, frames.OK, 1, 2]))]
    assert (parser.stats.bad_lengths, parser.stats.bad_checksums) == (1, 1)
    assert parser.stats.frames == 1 and parser.pending == 0


def test_a_frame_split_anywhere_comes_out_whole_once() -> None:
    wire = Response(frames.CARD_FOUND, bytes(4)).to_bytes() * 2
    parser = FrameParser()
    out = [frame for byte in wire for frame in parser.feed(bytes([byte]))]
    assert len(out) == 2 and parser.stats.garbage_bytes == 0


def test_a_frame_behind_a_corrupted_length_is_found_when_the_line_goes_quiet() -> None:
    # A header claiming 4000 bytes would swallow the real answer that follows it.
    answer = Response(frames.OK).to_bytes()
    parser = FrameParser()
    assert parser.feed(frames.PREAMBLE + b"\x0f\xa0" + answer) == []
    assert [Response.from_frame(f).sw3 for f in parser.flush()] == [frames.OK]
    assert parser.stats.truncated == 1 and parser.pending == 0


def test_clear_drops_a_partial_frame_and_counts_it() -> None:
    parser = FrameParser()
    parser.feed(Response(frames.OK).to_bytes()[:6])
    parser.clear()
    assert parser.pending == 0 and parser.stats.truncated == 1
    assert parser.stats.garbage_bytes == 6


def test_building_refuses_what_no_frame_can_carry() -> None:
    with pytest.raises(FrameError, match="byte"):
        Request(0x100, 0).to_bytes()
    with pytest.raises(FrameError, match="carries"):
        Response(frames.OK, bytes(frames.MAX_DATA + 1)).to_bytes()
    with pytest.raises(FrameError, match="SW1, SW2 and SW3"):
        Response.from_frame(Frame(b"\x20\x01"))
    with pytest.raises(FrameError, match="CMD and PARA"):
        Request.from_frame(Frame(b"\x20"))


def test_a_response_repr_never_shows_its_data() -> None:
    secret = "11010519491231002X".encode("utf-16-le")
    assert "1101" not in repr(Response(frames.OK, secret))
    assert repr(Response(frames.OK, secret)) == "Response(90 (success), 36 bytes)"


# --- properties ---------------------------------------------------------------------------

data_bytes = st.binary(max_size=300)
requests = st.builds(Request, st.integers(0, 255), st.integers(0, 255), data_bytes)
responses = st.builds(
    Response, st.integers(0, 255), data_bytes, st.integers(0, 255), st.integers(0, 255)
)


@given(st.binary(max_size=2000))
def test_xor_is_the_xor_of_every_byte(data: bytes) -> None:
    assert xor(data) == reduce(xor2, data, 0)


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=200), max_size=20), st.booleans())
def test_no_input_makes_the_parser_raise_and_every_byte_is_accounted_for(
    chunks: list[bytes], flush: bool
) -> None:
    parser = FrameParser()
    out = [frame for chunk in chunks for frame in parser.feed(chunk)]
    if flush:
        out += parser.flush()
    framed = sum(len(frame.body) + frames.HEADER_SIZE + 1 for frame in out)
    assert framed + parser.stats.garbage_bytes + parser.pending == sum(map(len, chunks))
    for frame in out:  # decoding raises nothing but FrameError
        for decode in (Request.from_frame, Response.from_frame):
            with contextlib.suppress(FrameError):
                decode(frame)


@given(st.lists(requests | responses, min_size=1, max_size=5), st.data())
def test_valid_frames_round_trip_however_the_stream_is_cut(
    messages: list[Request | Response], data: st.DataObject
) -> None:
    wire = b"".join(m.to_bytes() for m in messages)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    pieces = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    parser = FrameParser()
    out = [frame for piece in pieces for frame in parser.feed(piece)]
    decoded = [
        (Request if isinstance(m, Request) else Response).from_frame(f)
        for m, f in zip(messages, out, strict=True)
    ]
    assert decoded == messages
    assert parser.stats.garbage_bytes == 0 and parser.pending == 0


@given(st.binary(max_size=100).filter(lambda b: frames.PREAMBLE[:1] not in b), responses)
def test_a_valid_frame_after_garbage_is_found(garbage: bytes, response: Response) -> None:
    parser = FrameParser()
    out = parser.feed(garbage + response.to_bytes())
    assert [Response.from_frame(f) for f in out] == [response]
    assert parser.stats.garbage_bytes == len(garbage)


@given(
    st.integers(-5, 300),
    st.integers(-5, 300),
    st.binary(max_size=frames.MAX_DATA + 10),
)
def test_building_raises_only_frame_errors(cmd: int, para: int, data: bytes) -> None:
    try:
        wire = Request(cmd, para, data).to_bytes()
    except FrameError:
        return
    assert FrameParser().feed(wire) == [Frame(bytes([cmd, para]) + data)]
