"""Split an ESC/POS byte stream into commands, the way a printer's firmware reads it.

Bytes arrive in arbitrary chunks, so a command may be incomplete: :meth:`Tokenizer.feed`
keeps it until the rest comes. A declared length in garbage could swallow the next job, so
lengths are bounded, and :meth:`Tokenizer.flush` (called after an idle gap) drops the
first byte of a command that never completed and reads the rest again.
"""

from __future__ import annotations

from dataclasses import dataclass

LF = 0x0A
CR = 0x0D
HT = 0x09
ESC = 0x1B
GS = 0x1D
FS = 0x1C
DLE = 0x10
EOT = 0x04
ENQ = 0x05
DC4 = 0x14

MAX_QR_STORE = 7089 + 3  # GS ( k: the largest QR symbol's data plus cn, fn, m
MAX_RASTER_WIDTH_BYTES = 256  # GS v 0: wider than any receipt printer (2048 dots)
MAX_RASTER_HEIGHT = 4095  # GS v 0: the spec's limit
MAX_BIT_IMAGE_DOTS = 3072  # ESC *: columns
MAX_BARCODE = 255
MAX_GRAPHICS = 1 << 20  # GS 8 L: a 32-bit length; no receipt needs a megabyte


@dataclass(frozen=True, slots=True)
class Command:
    """One command (or a run of text, or garbage) with the exact bytes it came in.

    ``name``: text, lf, cr, ht, status, init, kanji_on, kanji_off, align, bold, size,
    print_mode, feed_lines, feed_dots, cut, qr, raster, other, garbage.
    ``args`` holds its parameter bytes, ``data`` its payload (text, QR data, raster bits).
    """

    name: str
    raw: bytes
    args: bytes = b""
    data: bytes = b""

    @property
    def arg(self) -> int:
        return self.args[0] if self.args else 0


Parsed = tuple[Command, int] | None  # the command and its length, or None: need more bytes

# Commands of fixed length: (prefix, code) → (name, number of parameter bytes).
_FIXED: dict[tuple[int, int], tuple[str, int]] = {
    (ESC, ord("@")): ("init", 0),
    (ESC, ord("!")): ("print_mode", 1),
    (ESC, ord("E")): ("bold", 1),
    (ESC, ord("a")): ("align", 1),
    (ESC, ord("d")): ("feed_lines", 1),
    (ESC, ord("J")): ("feed_dots", 1),
    (GS, ord("!")): ("size", 1),
    (FS, ord("&")): ("kanji_on", 0),
    (FS, ord(".")): ("kanji_off", 0),
    (DLE, EOT): ("status", 1),
}
# Commands we read past without acting on them: (prefix, code) → parameter bytes.
_IGNORED: dict[tuple[int, int], int] = {
    **{(ESC, ord(c)): 1 for c in " -3=?GMRTUV{cemrt"},
    **{(ESC, ord(c)): 0 for c in "2<LS"},
    **{(ESC, ord(c)): 2 for c in "$\\"},
    (ESC, ord("p")): 3,
    (ESC, ord("W")): 8,
    **{(GS, ord(c)): 1 for c in "BEHIabfhrTwx"},
    **{(GS, ord(c)): 2 for c in "$LPW\\"},
    (GS, ord("^")): 3,
    **{(FS, ord(c)): 1 for c in "!-CW"},
    **{(FS, ord(c)): 2 for c in "Sp"},
    (DLE, ENQ): 1,
    (DLE, DC4): 3,
}


def parse_command(buf: bytes, start: int) -> Parsed:
    """The command at ``buf[start]``; None if it is not complete yet."""
    first = buf[start]
    if first >= 0x20:
        return _text(buf, start)
    if first in (ESC, GS, FS, DLE):
        return _prefixed(buf, start)
    name = {LF: "lf", CR: "cr", HT: "ht"}.get(first, "garbage")
    return Command(name, bytes([first])), 1


def _text(buf: bytes, start: int) -> Parsed:
    end = start
    while end < len(buf) and buf[end] >= 0x20:
        end += 1
    chunk = bytes(buf[start:end])
    return Command("text", chunk, data=chunk), end - start


def _prefixed(buf: bytes, start: int) -> Parsed:
    if start + 1 >= len(buf):
        return None
    key = (buf[start], buf[start + 1])
    special = _SPECIAL.get(key)
    if special is not None:
        return special(buf, start)
    if key in _FIXED:
        name, count = _FIXED[key]
        return _fixed(buf, start, name, count)
    if key in _IGNORED:
        return _fixed(buf, start, "other", _IGNORED[key])
    if key[1] < 0x20:  # not a command: resynchronise on the next byte
        return Command("garbage", bytes([buf[start]])), 1
    return Command("other", bytes(buf[start : start + 2])), 2


def _fixed(buf: bytes, start: int, name: str, count: int) -> Parsed:
    end = start + 2 + count
    if end > len(buf):
        return None
    return Command(name, bytes(buf[start:end]), args=bytes(buf[start + 2 : end])), end - start


def _need(buf: bytes, end: int) -> bool:
    return end > len(buf)


def _garbage(buf: bytes, start: int) -> tuple[Command, int]:
    return Command("garbage", bytes([buf[start]])), 1


def _cut(buf: bytes, start: int) -> Parsed:
    """``GS V m`` (m = 0, 1, 48, 49) or ``GS V m n`` (m = 65, 66, 97-104)."""
    if _need(buf, start + 3):
        return None
    mode = buf[start + 2]
    count = 1 if mode in (0, 1, 48, 49) else 2
    return _fixed(buf, start, "cut", count)


def _paren(buf: bytes, start: int) -> Parsed:
    """``GS ( X pL pH …``: QR codes (X = k, cn = 49) and other functions, skipped."""
    if _need(buf, start + 5):
        return None
    function = buf[start + 2]
    length = buf[start + 3] | buf[start + 4] << 8
    if function == ord("k") and length > MAX_QR_STORE:
        return _garbage(buf, start)
    end = start + 5 + length
    if _need(buf, end):
        return None
    raw = bytes(buf[start:end])
    if function == ord("k") and length >= 2:
        return Command("qr", raw, args=raw[5:7], data=raw[7:]), end - start
    return Command("other", raw), end - start


def _raster(buf: bytes, start: int) -> Parsed:
    """``GS v 0 m xL xH yL yH d…``: a raster image, ``x`` bytes wide and ``y`` dots high."""
    if _need(buf, start + 8):
        return None
    if buf[start + 2] != ord("0") or buf[start + 3] not in (0, 1, 2, 3, 48, 49, 50, 51):
        return _garbage(buf, start)
    width = buf[start + 4] | buf[start + 5] << 8
    height = buf[start + 6] | buf[start + 7] << 8
    if not (1 <= width <= MAX_RASTER_WIDTH_BYTES and 1 <= height <= MAX_RASTER_HEIGHT):
        return _garbage(buf, start)
    end = start + 8 + width * height
    if _need(buf, end):
        return None
    raw = bytes(buf[start:end])
    return Command("raster", raw, args=raw[3:8], data=raw[8:]), end - start


def _barcode(buf: bytes, start: int) -> Parsed:
    """``GS k m d… NUL`` (m = 0-6) or ``GS k m n d…`` (m = 65-79)."""
    if _need(buf, start + 4):
        return None
    mode = buf[start + 2]
    if mode <= 6:
        end = buf.find(b"\x00", start + 3, start + 4 + MAX_BARCODE)
        if end < 0:
            return None if len(buf) < start + 4 + MAX_BARCODE else _garbage(buf, start)
        end += 1
    elif 65 <= mode <= 79:
        end = start + 4 + buf[start + 3]
    else:
        return _garbage(buf, start)
    if _need(buf, end):
        return None
    return Command("other", bytes(buf[start:end])), end - start


def _bit_image(buf: bytes, start: int) -> Parsed:
    """``ESC * m nL nH d…``: column bit image, 1 or 3 bytes per column."""
    if _need(buf, start + 5):
        return None
    mode = buf[start + 2]
    columns = buf[start + 3] | buf[start + 4] << 8
    if mode not in (0, 1, 32, 33) or columns > MAX_BIT_IMAGE_DOTS:
        return _garbage(buf, start)
    end = start + 5 + columns * (3 if mode >= 32 else 1)
    if _need(buf, end):
        return None
    return Command("other", bytes(buf[start:end])), end - start


def _graphics(buf: bytes, start: int) -> Parsed:
    """``GS 8 L p1 p2 p3 p4 …``: graphics data with a 32-bit length, skipped."""
    if _need(buf, start + 7):
        return None
    if buf[start + 2] != ord("L"):
        return _garbage(buf, start)
    length = int.from_bytes(buf[start + 3 : start + 7], "little")
    if length > MAX_GRAPHICS:
        return _garbage(buf, start)
    end = start + 7 + length
    if _need(buf, end):
        return None
    return Command("other", bytes(buf[start:end])), end - start


def _tabs(buf: bytes, start: int) -> Parsed:
    """``ESC D n1 … NUL``: at most 32 tab positions."""
    end = buf.find(b"\x00", start + 2, start + 35)
    if end < 0:
        return None if len(buf) < start + 35 else _garbage(buf, start)
    return Command("other", bytes(buf[start : end + 1])), end + 1 - start


_SPECIAL = {
    (GS, ord("V")): _cut,
    (GS, ord("(")): _paren,
    (GS, ord("v")): _raster,
    (GS, ord("k")): _barcode,
    (GS, ord("8")): _graphics,
    (ESC, ord("*")): _bit_image,
    (ESC, ord("D")): _tabs,
}


class Tokenizer:
    """Feeds bytes in, takes whole commands out."""

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back as the start of an incomplete command."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Command]:
        self._buf += data
        return self._drain(final=False)

    def flush(self) -> list[Command]:
        """Nothing more is coming for now: give up on an incomplete command's first byte."""
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> list[Command]:
        commands: list[Command] = []
        buf = bytes(self._buf)
        pos = 0
        while pos < len(buf):
            parsed = parse_command(buf, pos)
            if parsed is None:
                if not final:
                    break
                parsed = _garbage(buf, pos)
            command, length = parsed
            commands.append(command)
            pos += length
        del self._buf[:pos]
        return commands
