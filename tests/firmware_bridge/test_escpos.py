"""ESC/POS rendering: golden bytes derived by hand from the Epson command reference."""

from __future__ import annotations

import pytest
from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy

from firmware_bridge.printer.escpos import (
    PrinterProfile,
    fit_module_size,
    qr_image,
    qr_native_commands,
    raster_command,
    render_receipt,
    size_command,
)
from firmware_bridge.sim.escpos_stream import Tokenizer
from firmware_bridge.sim.paper import ImageRow, Page, QrRow, page_text
from kiosk.domain.receipt import Cut, Feed, QrCode, Receipt, Text
from kiosk.protocol.messages import InvalidPayload, PrintJob, decode
from kiosk.settings import PrinterSettings
from tests.firmware_bridge.helpers import QR_DATA, ticket

GBK_NO_CUTTER = PrinterProfile(encoding="gbk", paper_width_mm=58, native_qr=True, cut=False)


def test_small_receipt_golden_bytes() -> None:
    receipt: Receipt = [
        Text("社保：A001", align="center", scale=2, bold=True),
        Text("¥5"),
        Feed(2),
        Cut(),
    ]
    expected = bytes.fromhex(
        "1b40"  # ESC @        initialise: left, not bold, normal size
        "1c26"  # FS &         Chinese (Kanji) mode on
        "1b6101"  # ESC a 1    centre
        "1b4501"  # ESC E 1    bold on
        "1d2111"  # GS ! 0x11  width 2 (high nibble 1), height 2 (low nibble 1)
        "c9e7b1a3a3ba41303031"  # 社 保 ： A 0 0 1 in GBK
        "0a"  # LF             print the line
        "1b6100"  # ESC a 0    left
        "1b4500"  # ESC E 0    bold off
        "1d2100"  # GS ! 0     normal size
        "a3a435"  # ￥ 5
        "0a"  # LF
        "1b6402"  # ESC d 2    print and feed two lines
        "1b6404"  # ESC d 4    no cutter: feed past the tear bar instead
    )
    assert render_receipt(receipt, GBK_NO_CUTTER) == expected


def test_native_qr_golden_bytes_and_cut() -> None:
    expected = bytes.fromhex(
        "1b40 1c26"
        "1b6101"  # ESC a 1: native QR codes follow the justification
        "1b4a10"  # ESC J 16: quiet zone of 4 modules of 4 dots above
        "1d286b 0400 31 41 3200"  # GS ( k fn 65: model 2
        "1d286b 0300 31 43 04"  # GS ( k fn 67: module size 4
        "1d286b 0300 31 45 31"  # GS ( k fn 69: error correction M
        "1d286b 0500 31 50 30 4142"  # GS ( k fn 80: store "AB" (pL = 2 + 3)
        "1d286b 0300 31 51 30"  # GS ( k fn 81: print the symbol
        "1b4a10"  # ESC J 16: quiet zone below
        "1d564100"  # GS V 65 0: feed to the cutter and cut
    )
    assert render_receipt([QrCode("AB", module_size=4), Cut()], PrinterProfile()) == expected


def test_native_qr_bytes_match_python_escpos() -> None:
    dummy = Dummy()
    dummy.qr(QR_DATA, ec=QR_ECLEVEL_M, size=6, native=True)
    assert qr_native_commands(QR_DATA.encode(), 6) == dummy.output


def test_style_commands_are_sent_only_when_they_change() -> None:
    data = render_receipt(
        [Text("一", align="center", bold=True), Text("二", align="center", bold=True)],
        PrinterProfile(),
    )
    assert data.count(b"\x1ba") == 1
    assert data.count(b"\x1bE") == 1
    assert b"\x1d!" not in data  # scale 1 is what ESC @ left


def test_a_receipt_without_cut_gets_one() -> None:
    assert render_receipt([Text("x")], PrinterProfile()).endswith(b"x\n\x1dVA\x00")
    assert render_receipt([], PrinterProfile()) == b"\x1b@\x1c&\x1dVA\x00"


def test_queue_ticket_with_native_qr_fits_in_400_bytes() -> None:
    data = render_receipt(ticket("A001"), PrinterProfile())
    assert len(data) <= 400, len(data)
    assert data.startswith(b"\x1b@\x1c&")
    assert "演示社区党群服务中心".encode("gb18030") in data
    assert "社保医保".encode("gb18030") in data
    assert b"\x1d!\x33A001\n" in data  # the number, 4 x 4, as text
    assert b"0TKT:demo:2026-11-22:A001" in data  # the QR data, stored natively


def test_image_qr_fallback_draws_the_same_symbol() -> None:
    profile = PrinterProfile(native_qr=False, paper_width_mm=58)
    data = render_receipt([QrCode(QR_DATA, module_size=4)], profile)
    assert b"\x1d(k" not in data
    page = Page()
    for command in Tokenizer().feed(data):
        page.apply(command)
    (row,) = [r for r in page.finish() if isinstance(r, ImageRow)]
    assert row.align == "center"
    expected = qr_image(QR_DATA, 4, border=0)
    assert row.image.crop((0, 0, expected.width, expected.height)).tobytes() == expected.tobytes()


def test_raster_command_header_and_bits() -> None:
    from PIL import Image

    picture = Image.new("L", (10, 2), 255)
    picture.putpixel((0, 0), 0)
    picture.putpixel((9, 1), 0)
    # GS v 0, m = 0, 2 bytes wide (10 dots padded to 16), 2 dots high; 1 bits are black.
    assert raster_command(picture) == bytes.fromhex("1d763000 0200 0200 8000 0040")


def test_size_command_scales_width_and_height() -> None:
    assert size_command(1) == b"\x1d!\x00"
    assert size_command(4) == b"\x1d!\x33"
    assert size_command(8) == b"\x1d!\x77"
    with pytest.raises(ValueError, match="scale must be between 1 and 8"):
        size_command(9)


def test_blocks_out_of_range_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="scale must be between 1 and 8"):
        Text("x", scale=9)
    sneaky = Text("x")
    object.__setattr__(sneaky, "scale", 0)  # past the dataclass check
    with pytest.raises(ValueError, match="scale must be between 1 and 8, got 0"):
        render_receipt([sneaky], PrinterProfile())
    with pytest.raises(ValueError, match="not a receipt block"):
        render_receipt(["text"], PrinterProfile())  # type: ignore[list-item]
    with pytest.raises(ValueError, match="control characters"):
        render_receipt([QrCode("A\x10\x04\x01")], PrinterProfile())


def test_a_print_job_with_a_bad_scale_is_an_invalid_payload() -> None:
    payload = PrintJob(receipt=[Text("x")]).to_bytes().replace(b'"scale":1', b'"scale":9')
    with pytest.raises(InvalidPayload, match="scale"):
        decode(PrintJob, payload)


def test_profile_from_settings() -> None:
    narrow = PrinterProfile.from_settings(
        PrinterSettings(encoding="gb2312", paper_width_mm=58, native_qr=False, cut=False)
    )
    assert (narrow.dots, narrow.chars_per_line, narrow.encoding) == (384, 32, "gb2312")
    assert (narrow.native_qr, narrow.cut) == (False, False)
    wide = PrinterProfile.from_settings(PrinterSettings())
    assert (wide.dots, wide.chars_per_line, wide.native_qr, wide.cut) == (576, 48, True, True)


def test_a_big_qr_code_shrinks_to_fit_narrow_paper() -> None:
    data = "X" * 250  # version 11 at level M in byte mode: 61 modules
    assert fit_module_size(data, 16, 384) == 384 // (61 + 8)
    assert fit_module_size(QR_DATA, 6, 384) == 6


def test_rendered_ticket_reads_back_as_its_text() -> None:
    page = Page()
    for command in Tokenizer().feed(render_receipt(ticket("B017"), PrinterProfile())):
        page.apply(command)
    rows = page.finish()
    assert page_text(rows).splitlines() == [
        "演示社区党群服务中心",
        "社保医保",
        "B017",
        "前面还有 3 人等候",
        "2026-11-22 09:30",
        "[QR: TKT:demo:2026-11-22:B017]",
        "请留意叫号，过号请重新取号",
    ]
    assert any(isinstance(r, QrRow) and r.module_size == 6 for r in rows)
