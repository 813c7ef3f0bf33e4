"""What a printer puts on paper for a sequence of ESC/POS commands, as text and as a picture.

The picture follows the printer's geometry: 12 × 24-dot half-width and 24 × 24-dot
full-width character cells, scaled by ``GS !``, at the paper's width in dots, so a person
can judge a layout (what wraps, what is centred) before printing on a real head.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from firmware_bridge.printer.escpos import qr_image
from firmware_bridge.sim.escpos_stream import Command

_LOGGER = logging.getLogger(__name__)

Align = Literal["left", "center", "right"]

CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
)
CELL = 24  # dots: the height of a character and the width of a full-width one
LINE_PITCH = 30  # dots from one line to the next at the default line spacing (ESC 2)
MARGIN = 16  # white border around the paper in the picture
_ALIGN_CODES: dict[int, Align] = {0: "left", 1: "center", 2: "right"}


@dataclass(frozen=True, slots=True)
class Span:
    """Characters printed in one style."""

    text: str
    bold: bool = False
    width: int = 1
    height: int = 1


@dataclass(frozen=True, slots=True)
class TextRow:
    """One printed line (it may wrap on paper). No spans: an empty line."""

    spans: tuple[Span, ...]
    align: Align = "left"

    @property
    def text(self) -> str:
        return "".join(span.text for span in self.spans)


@dataclass(frozen=True, slots=True)
class QrRow:
    data: str
    module_size: int
    align: Align = "center"


@dataclass(frozen=True, slots=True)
class ImageRow:
    image: Image.Image  # mode "L", black on white
    align: Align = "left"


@dataclass(frozen=True, slots=True)
class SpaceRow:
    """Blank paper fed by dots (``ESC J``)."""

    dots: int


Row = TextRow | QrRow | ImageRow | SpaceRow


@dataclass(slots=True)
class _State:
    align: Align = "left"
    bold: bool = False
    width: int = 1
    height: int = 1
    kanji: bool = True  # Chinese printers power on in Chinese mode
    qr_module: int = 3
    qr_data: bytes = b""


@dataclass(slots=True)
class Page:
    """Applies commands in order and collects the rows they print."""

    encoding: str = "gb18030"
    rows: list[Row] = field(default_factory=list)
    _state: _State = field(default_factory=_State)
    _spans: list[Span] = field(default_factory=list)
    _pending: bytearray = field(default_factory=bytearray)
    _line_align: Align | None = None

    def apply(self, command: Command) -> None:
        handler = _HANDLERS.get(command.name)
        if handler is not None:
            handler(self, command)

    def finish(self) -> list[Row]:
        """Print what is still buffered (a printer would on the next LF) and return the rows."""
        if self._pending or self._spans:
            self._end_line()
        return self.rows

    # --- text ---------------------------------------------------------------------------

    def _text(self, command: Command) -> None:
        if self._line_align is None:
            self._line_align = self._state.align  # ESC a counts at the start of a line only
        self._pending += command.data

    def _close_span(self) -> None:
        if not self._pending:
            return
        codec = self.encoding if self._state.kanji else "cp437"
        text = bytes(self._pending).decode(codec, errors="replace")
        state = self._state
        self._spans.append(Span(text, state.bold, state.width, state.height))
        self._pending.clear()

    def _end_line(self) -> None:
        self._close_span()
        align = self._line_align or self._state.align
        self.rows.append(TextRow(tuple(self._spans), align))
        self._spans = []
        self._line_align = None

    def _has_line(self) -> bool:
        return bool(self._pending or self._spans)

    # --- commands -----------------------------------------------------------------------

    def _lf(self, _command: Command) -> None:
        self._end_line()

    def _init(self, _command: Command) -> None:
        # ESC @ clears the print buffer: unterminated text never reaches the paper.
        self._pending.clear()
        self._spans = []
        self._line_align = None
        self._state = _State(kanji=self._state.kanji)

    def _style(self, command: Command) -> None:
        self._close_span()
        state, arg = self._state, command.arg
        if command.name == "bold":
            state.bold = bool(arg & 1)
        elif command.name == "size":
            state.width, state.height = (arg >> 4 & 7) + 1, (arg & 7) + 1
        elif command.name == "print_mode":
            state.bold = bool(arg & 0x08)
            state.height = 2 if arg & 0x10 else 1
            state.width = 2 if arg & 0x20 else 1
        elif command.name == "align":
            state.align = _ALIGN_CODES.get(arg % 48, state.align)
        else:
            state.kanji = command.name == "kanji_on"

    def _feed_lines(self, command: Command) -> None:
        lines = command.arg
        if self._has_line():
            self._end_line()  # ESC d prints the buffer; that line's feed is the first one
            lines -= 1
        self.rows.extend(TextRow(()) for _ in range(max(0, lines)))

    def _feed_dots(self, command: Command) -> None:
        if self._has_line():
            self._end_line()
        self.rows.append(SpaceRow(command.arg))

    def _cut(self, _command: Command) -> None:
        if self._has_line():
            self._end_line()

    def _qr(self, command: Command) -> None:
        cn, fn = command.args[0], command.args[1]
        if cn != 0x31:
            return
        if fn == 0x43 and command.data:
            self._state.qr_module = max(1, min(16, command.data[0]))
        elif fn == 0x50 and command.data:
            self._state.qr_data = command.data[1:]  # after m = 48
        elif fn == 0x51 and self._state.qr_data:
            if self._has_line():
                self._end_line()
            data = self._state.qr_data.decode("utf-8", errors="replace")
            self.rows.append(QrRow(data, self._state.qr_module, self._state.align))

    def _raster(self, command: Command) -> None:
        mode, width, height = command.args[0] % 48, command.args[1], command.args[3]
        width |= command.args[2] << 8
        height |= command.args[4] << 8
        if self._has_line():
            self._end_line()
        bits = Image.frombytes("1", (width * 8, height), command.data, "raw", "1;I")
        picture = bits.convert("L")
        scale_x, scale_y = (2 if mode & 1 else 1), (2 if mode & 2 else 1)
        if scale_x > 1 or scale_y > 1:
            size = (picture.width * scale_x, picture.height * scale_y)
            picture = picture.resize(size, Image.Resampling.NEAREST)
        self.rows.append(ImageRow(picture, self._state.align))


_HANDLERS = {
    "text": Page._text,
    "lf": Page._lf,
    "init": Page._init,
    "bold": Page._style,
    "size": Page._style,
    "print_mode": Page._style,
    "align": Page._style,
    "kanji_on": Page._style,
    "kanji_off": Page._style,
    "feed_lines": Page._feed_lines,
    "feed_dots": Page._feed_dots,
    "cut": Page._cut,
    "qr": Page._qr,
    "raster": Page._raster,
}


# --- as text ------------------------------------------------------------------------------


def page_text(rows: list[Row]) -> str:
    """One line per printed line; a QR code as ``[QR: data]``; dot feeds leave no line."""
    lines: list[str] = []
    for row in rows:
        if isinstance(row, TextRow):
            lines.append(row.text)
        elif isinstance(row, QrRow):
            lines.append(f"[QR: {row.data}]")
        elif isinstance(row, ImageRow):
            lines.append(f"[image {row.image.width}x{row.image.height}]")
    return "".join(f"{line}\n" for line in lines)


# --- as a picture -------------------------------------------------------------------------


Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=1)
def cjk_font() -> Font:
    """A font with Chinese glyphs (Simplified forms where the collection has them)."""
    for path in CJK_FONTS:
        if path.exists():
            return _simplified_face(path)
    _LOGGER.warning(
        "no CJK font found (tried %s); receipt pictures will show boxes for Chinese",
        ", ".join(str(p) for p in CJK_FONTS),
    )
    return ImageFont.load_default(size=CELL - 2)


def _simplified_face(path: Path) -> Font:
    """The face of a collection named … SC (Noto's collection starts with the Japanese one)."""
    first = ImageFont.truetype(str(path), CELL - 2, index=0)
    for index in range(1, 10):
        try:
            face = ImageFont.truetype(str(path), CELL - 2, index=index)
        except OSError:
            break
        if " SC" in (face.getname()[0] or ""):
            return face
    return first


def char_cells(char: str) -> int:
    """Half-width cells a character takes: 2 for hanzi and full-width forms, else 1."""
    return 2 if unicodedata.east_asian_width(char) in ("F", "W") else 1


@lru_cache(maxsize=4096)
def _glyph(char: str, bold: bool, width: int, height: int) -> Image.Image:
    """One character cell, black on white, at the printer's scale."""
    cell_w = CELL // 2 * char_cells(char)
    cell = Image.new("L", (cell_w, CELL), 255)
    draw = ImageDraw.Draw(cell)
    for dx in (0, 1) if bold else (0,):  # emphasis is a second strike one dot to the right
        draw.text((cell_w / 2 + dx, CELL / 2), char, fill=0, font=cjk_font(), anchor="mm")
    if (width, height) == (1, 1):
        return cell
    return cell.resize((cell_w * width, CELL * height), Image.Resampling.NEAREST)


def _wrap(spans: tuple[Span, ...], dots: int) -> list[list[Image.Image]]:
    """Glyph images line by line, wrapped where the next character would overflow."""
    lines: list[list[Image.Image]] = [[]]
    used = 0
    for span in spans:
        for char in span.text:
            glyph = _glyph(char, span.bold, span.width, span.height)
            if used + glyph.width > dots and lines[-1]:
                lines.append([])
                used = 0
            lines[-1].append(glyph)
            used += glyph.width
    return lines


def _x(align: Align, width: int, dots: int) -> int:
    if align == "center":
        return max(0, (dots - width) // 2)
    if align == "right":
        return max(0, dots - width)
    return 0


def _text_strips(row: TextRow, dots: int) -> list[Image.Image]:
    strips = []
    for glyphs in _wrap(row.spans, dots):
        height = max((g.height for g in glyphs), default=CELL)
        strip = Image.new("L", (dots, height + LINE_PITCH - CELL), 255)
        x = _x(row.align, sum(g.width for g in glyphs), dots)
        for glyph in glyphs:
            strip.paste(glyph, (x, height - glyph.height))  # characters share a baseline
            x += glyph.width
        strips.append(strip)
    return strips


def _picture_strip(picture: Image.Image, align: Align, dots: int) -> Image.Image:
    picture = picture.crop((0, 0, min(picture.width, dots), picture.height))
    strip = Image.new("L", (dots, picture.height), 255)
    strip.paste(picture, (_x(align, picture.width, dots), 0))
    return strip


def _strips(row: Row, dots: int) -> list[Image.Image]:
    if isinstance(row, TextRow):
        return _text_strips(row, dots)
    if isinstance(row, QrRow):
        return [_picture_strip(qr_image(row.data, row.module_size, border=0), row.align, dots)]
    if isinstance(row, ImageRow):
        return [_picture_strip(row.image, row.align, dots)]
    return [Image.new("L", (dots, max(1, row.dots)), 255)]


def page_png(rows: list[Row], dots: int) -> Image.Image:
    """The receipt as a picture: the paper's width in dots plus a white border."""
    strips = [strip for row in rows for strip in _strips(row, dots)]
    height = sum(strip.height for strip in strips)
    paper = Image.new("L", (dots + 2 * MARGIN, height + 2 * MARGIN), 255)
    y = MARGIN
    for strip in strips:
        paper.paste(strip, (MARGIN, y))
        y += strip.height
    return paper
