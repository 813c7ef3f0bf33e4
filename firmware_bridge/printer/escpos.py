"""Turn a :data:`~kiosk.domain.receipt.Receipt` into ESC/POS bytes for one printer profile.

The few commands we need are written here by hand (byte values from the Epson ESC/POS
reference) rather than through python-escpos: its Chinese path is unusable (see
:mod:`.encoding`), and its ``set()`` sends only what it is given, so we would track the
style ourselves anyway. Only the style commands that change are sent, which keeps a queue
ticket with a native QR code to about 200 bytes (0.2 s at 9600 baud).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import qrcode
from PIL import Image, ImageOps
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_8BIT_BYTE, QRData

from firmware_bridge.printer.encoding import Encoding, encode_text
from kiosk.domain.receipt import MAX_QR, Align, Block, Cut, Feed, QrCode, Receipt, Text
from kiosk.settings import PrinterSettings

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"
LF = b"\n"

INIT = ESC + b"@"  # ESC @: reset to power-on state (left, not bold, normal size)
KANJI_ON = FS + b"&"  # FS &: Chinese mode; most printers default to it, some do not
ALIGN_CODES: dict[Align, int] = {"left": 0, "center": 1, "right": 2}

PAPER_DOTS: dict[int, int] = {58: 384, 80: 576}  # printable dots at 203 dpi
PAPER_CHARS: dict[int, int] = {58: 32, 80: 48}  # 12-dot half-width characters of font A

QR_FUNCTION = GS + b"(k"
QR_MODEL_2 = 0x32
QR_EC_M = 0x31  # 15 % of the symbol may be damaged (thermal paper smudges, folds)
QUIET_MODULES = 4  # white modules a QR code needs around it to scan reliably
TEAR_FEED_LINES = 4  # lines that carry the last printed line past the tear bar


@dataclass(frozen=True, slots=True)
class PrinterProfile:
    """What the bytes depend on: the printer's encoding, paper, QR support and cutter."""

    encoding: Encoding = "gb18030"
    paper_width_mm: Literal[58, 80] = 80
    native_qr: bool = True
    cut: bool = True

    @property
    def dots(self) -> int:
        """Printable width in dots."""
        return PAPER_DOTS[self.paper_width_mm]

    @property
    def chars_per_line(self) -> int:
        """Half-width characters on one line at scale 1 (a hanzi takes two)."""
        return PAPER_CHARS[self.paper_width_mm]

    @classmethod
    def from_settings(cls, settings: PrinterSettings) -> PrinterProfile:
        return cls(
            encoding=settings.encoding,
            paper_width_mm=settings.paper_width_mm,
            native_qr=settings.native_qr,
            cut=settings.cut,
        )


# --- single commands ----------------------------------------------------------------------


def align_command(align: Align) -> bytes:
    """``ESC a n``; takes effect at the start of a line."""
    return ESC + b"a" + bytes([ALIGN_CODES[align]])


def bold_command(bold: bool) -> bytes:
    """``ESC E n``."""
    return ESC + b"E" + bytes([1 if bold else 0])


def size_command(scale: int) -> bytes:
    """``GS ! n``: width and height multiplier 1-8 (high nibble width, low nibble height)."""
    _check_range("scale", scale, 1, 8)
    return GS + b"!" + bytes([(scale - 1) << 4 | (scale - 1)])


def feed_command(lines: int) -> bytes:
    """``ESC d n``: print what is buffered and feed ``n`` lines."""
    _check_range("lines", lines, 0, 255)
    return ESC + b"d" + bytes([lines])


def dot_feed_command(dots: int) -> bytes:
    """``ESC J n``: feed ``n`` dots (motion units)."""
    return ESC + b"J" + bytes([max(0, min(255, dots))])


def cut_command() -> bytes:
    """``GS V 65 0``: feed to the cutter and cut fully (function B does the feed itself)."""
    return GS + b"VA\x00"


def _qr_part(function: int, payload: bytes) -> bytes:
    """One ``GS ( k pL pH cn fn …`` command of the QR code symbol (cn = 49)."""
    length = len(payload) + 2  # cn and fn count towards pL pH
    return QR_FUNCTION + length.to_bytes(2, "little") + bytes([0x31, function]) + payload


def qr_native_commands(data: bytes, module_size: int) -> bytes:
    """Model 2, module size, EC level M, store the data, print: the printer draws the code."""
    _check_range("module_size", module_size, 1, 16)
    if not 1 <= len(data) <= 7089:
        raise ValueError(f"QR data must be 1-7089 bytes, got {len(data)}")
    return b"".join(
        (
            _qr_part(0x41, bytes([QR_MODEL_2, 0])),
            _qr_part(0x43, bytes([module_size])),
            _qr_part(0x45, bytes([QR_EC_M])),
            _qr_part(0x50, b"0" + data),  # m = 48: store in the symbol save area
            _qr_part(0x51, b"0"),  # m = 48: print the stored symbol
        )
    )


def raster_command(image: Image.Image) -> bytes:
    """``GS v 0``: a black-and-white picture, 8 dots per byte, 1 bits printed black."""
    mono = image.convert("L")
    width_bytes = (mono.width + 7) // 8
    if mono.width % 8:  # the command counts whole bytes: pad with white on the right
        padded = Image.new("L", (width_bytes * 8, mono.height), 255)
        padded.paste(mono, (0, 0))
        mono = padded
    if not 1 <= mono.height <= 0xFFFF:
        raise ValueError(f"image height must be 1-65535 dots, got {mono.height}")
    # Pillow's mode "1" packs 1 for white; the printer wants 1 for black.
    bits = ImageOps.invert(mono).convert("1", dither=Image.Dither.NONE).tobytes()
    header = GS + b"v0\x00" + width_bytes.to_bytes(2, "little") + mono.height.to_bytes(2, "little")
    return header + bits


# --- QR codes -----------------------------------------------------------------------------


def qr_symbol(data: str) -> qrcode.QRCode:
    """The QR symbol as a printer makes it: model 2, EC level M, smallest version, no border."""
    symbol = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    # Byte mode, the largest symbol a printer may choose for this data: sizes computed
    # from it are safe whatever mode the printer's firmware picks.
    symbol.add_data(QRData(data.encode("utf-8"), mode=MODE_8BIT_BYTE))
    return symbol


def fit_module_size(data: str, module_size: int, dots: int) -> int:
    """The largest module size up to ``module_size`` at which the code and its quiet zone fit."""
    version: int = qr_symbol(data).best_fit()  # cheap: no matrix is drawn
    modules = 17 + 4 * version + 2 * QUIET_MODULES
    return max(1, min(module_size, dots // modules))


def qr_image(data: str, module_size: int, *, border: int = QUIET_MODULES) -> Image.Image:
    """The QR code as a picture (mode ``L``), ``module_size`` dots per module."""
    symbol = qr_symbol(data)
    symbol.make(fit=True)
    matrix = symbol.get_matrix()
    side = len(matrix) + 2 * border
    image = Image.new("L", (side, side), 255)
    pixels = image.load()
    assert pixels is not None  # noqa: S101 - Pillow returns None only for empty images
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                pixels[x + border, y + border] = 0
    scaled = side * module_size
    return image.resize((scaled, scaled), Image.Resampling.NEAREST)


def qr_raster_commands(data: str, module_size: int) -> bytes:
    """The QR code as a raster image, for printers without native QR.

    The caller centres it with ``ESC a``, which the common heads apply to raster images as
    to text; padding it to the middle instead would double the bytes on the wire. A head
    that ignores ``ESC a`` prints it on the left, where it scans just as well.
    """
    return raster_command(qr_image(data, module_size, border=0))


# --- a whole receipt ----------------------------------------------------------------------


@dataclass(slots=True)
class _Style:
    """What the printer currently has, so only changes are sent. ESC @ sets these defaults."""

    align: Align = "left"
    bold: bool = False
    scale: int = 1

    def change(self, *, align: Align, bold: bool | None = None, scale: int | None = None) -> bytes:
        out = b""
        if align != self.align:
            out += align_command(align)
            self.align = align
        if bold is not None and bold != self.bold:
            out += bold_command(bold)
            self.bold = bold
        if scale is not None and scale != self.scale:
            out += size_command(scale)
            self.scale = scale
        return out


def render_receipt(receipt: Receipt, profile: PrinterProfile) -> bytes:
    """ESC/POS for ``receipt``: init, Chinese mode, the blocks, and a cut (or a tear feed).

    A receipt that does not end with :class:`Cut` gets one, so the next job always starts on
    a fresh slip. Raises :class:`ValueError` for a block whose values are out of range.
    """
    out = bytearray(INIT + KANJI_ON)
    style = _Style()
    blocks = list(receipt)
    if not blocks or not isinstance(blocks[-1], Cut):
        blocks.append(Cut())
    for block in blocks:
        out += _render_block(block, profile, style)
    return bytes(out)


def _render_block(block: Block, profile: PrinterProfile, style: _Style) -> bytes:
    if isinstance(block, Text):
        return _render_text(block, profile, style)
    if isinstance(block, QrCode):
        return _render_qr(block, profile, style)
    if isinstance(block, Feed):
        _check_range("lines", block.lines, 1, 10)
        return feed_command(block.lines)
    if isinstance(block, Cut):
        return cut_command() if profile.cut else feed_command(TEAR_FEED_LINES)
    raise ValueError(f"not a receipt block: {block!r}")


def _render_text(block: Text, profile: PrinterProfile, style: _Style) -> bytes:
    _check_range("scale", block.scale, 1, 8)
    if block.align not in ALIGN_CODES:
        raise ValueError(f"align must be one of {sorted(ALIGN_CODES)}, got {block.align!r}")
    styling = style.change(align=block.align, bold=block.bold, scale=block.scale)
    return styling + encode_text(block.text, profile.encoding) + LF


def _render_qr(block: QrCode, profile: PrinterProfile, style: _Style) -> bytes:
    _check_range("module_size", block.module_size, 1, 16)
    if not 1 <= len(block.data) <= MAX_QR:
        raise ValueError(f"QR data must be 1-{MAX_QR} characters, got {len(block.data)}")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in block.data):
        raise ValueError("QR data must not hold control characters")
    module_size = fit_module_size(block.data, block.module_size, profile.dots)
    # The printer draws no quiet zone: white space above and below keeps the code scannable.
    margin = dot_feed_command(QUIET_MODULES * module_size)
    if profile.native_qr:
        code = qr_native_commands(block.data.encode("utf-8"), module_size)
        return style.change(align="center") + margin + code + margin
    code = qr_raster_commands(block.data, module_size)
    return style.change(align="center") + margin + code + margin


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")
