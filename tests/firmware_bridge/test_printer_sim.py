"""The real SerialPrinter driver against the printer simulator over a real pty."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from firmware_bridge.printer.driver import (
    PrinterStatus,
    PrinterUnavailable,
    SerialPrinter,
    parse_online,
    parse_paper,
)
from firmware_bridge.printer.escpos import PrinterProfile, qr_image, render_receipt
from firmware_bridge.sim.paper import MARGIN
from firmware_bridge.sim.printer import PrinterSimulator, status_reply
from kiosk.domain.receipt import Text
from kiosk.settings import PrinterSettings
from tests.firmware_bridge.helpers import CENTRE_NAME, QR_DATA, WAIT, eventually, ticket

TICKET_LINES = [
    CENTRE_NAME,
    "社保医保",
    "A001",
    "前面还有 3 人等候",
    "2026-11-22 09:30",
    f"[QR: {QR_DATA}]",
    "请留意叫号，过号请重新取号",
]


def _contains(picture: Image.Image, part: Image.Image, x: int) -> bool:
    """Whether ``part`` appears pixel for pixel in ``picture`` at column ``x``, any row."""
    for y in range(picture.height - part.height + 1):
        window = picture.crop((x, y, x + part.width, y + part.height))
        if ImageChops.difference(window, part).getbbox() is None:
            return True
    return False


def test_a_ticket_lands_as_bin_txt_png_and_a_journal_line(
    sim: PrinterSimulator, printer: SerialPrinter
) -> None:
    data = render_receipt(ticket(), PrinterProfile())
    before = time.time()
    printer.write(data)
    (job,) = sim.wait_for_jobs(1, WAIT)
    folder = sim.receipts_dir
    assert (folder / "1.bin").read_bytes() == data
    assert (folder / "1.txt").read_text(encoding="utf-8").splitlines() == TICKET_LINES
    assert job["n"] == 1 and job["bytes"] == len(data)
    assert before <= job["first_byte_at"] <= job["last_byte_at"] <= time.time()
    assert job["text"].splitlines() == TICKET_LINES
    with Image.open(folder / "1.png") as png:
        picture = png.convert("L")
    assert picture.width == 576 + 2 * MARGIN
    # The QR code is the one the qrcode package makes from the data, centred, so it scans.
    code = qr_image(QR_DATA, 6, border=0)
    assert _contains(picture, code, MARGIN + (576 - code.width) // 2)
    assert not list(folder.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ({}, PrinterStatus(online=True, paper="ok", cover_open=False)),
        ({"paper": "near_end"}, PrinterStatus(online=True, paper="near_end", cover_open=False)),
        ({"paper": "out"}, PrinterStatus(online=False, paper="out", cover_open=False)),
        ({"cover_open": True}, PrinterStatus(online=False, paper="ok", cover_open=True)),
        ({"offline": True}, PrinterStatus(online=False, paper="ok", cover_open=False)),
        ({"silent": True}, PrinterStatus(online=None, paper="unknown", cover_open=None)),
    ],
)
def test_status_answers(
    sim: PrinterSimulator, printer: SerialPrinter, fault: dict[str, object], expected: PrinterStatus
) -> None:
    for name, value in fault.items():
        setattr(sim, name, value)
    assert printer.status() == expected


def test_silence_is_unknown_and_costs_only_the_short_timeouts(
    sim: PrinterSimulator, printer: SerialPrinter
) -> None:
    sim.silent = True
    started = time.monotonic()
    assert printer.status().paper == "unknown"
    assert time.monotonic() - started < 1.0  # two reads of 0.3 s, not python-escpos's 1 s each


def test_status_queries_are_not_part_of_a_job(
    sim: PrinterSimulator, printer: SerialPrinter
) -> None:
    printer.status()
    printer.write(b"\x1b@\x1c&" + "一".encode("gbk") + b"\n")
    printer.status()
    printer.write(b"\x1dVA\x00")
    (job,) = sim.wait_for_jobs(1, WAIT)
    assert (sim.receipts_dir / "1.bin").read_bytes() == b"\x1b@\x1c&\xd2\xbb\n\x1dVA\x00"
    assert job["text"] == "一\n"
    assert sim.status_queries == 4


def test_jobs_split_at_esc_at_after_data_and_after_an_idle_gap(
    sim: PrinterSimulator, printer: SerialPrinter
) -> None:
    printer.write(b"\x1b@first\n\x1b@second\n")  # no cut at all
    first, second = sim.wait_for_jobs(2, WAIT)
    assert (first["text"], second["text"]) == ("first\n", "second\n")
    assert second["last_byte_at"] - first["first_byte_at"] < 0.25  # split by ESC @, not idle


def test_numbering_continues_after_existing_receipts(tmp_path: Path) -> None:
    folder = tmp_path / "receipts"
    folder.mkdir()
    (folder / "7.bin").write_bytes(b"")
    with (
        PrinterSimulator(tmp_path / "tty", folder, idle_gap=0.3) as sim,
        SerialPrinter(PrinterSettings(port=str(tmp_path / "tty"))) as printer,
    ):
        printer.write(render_receipt([Text("八")], PrinterProfile()))
        (job,) = sim.wait_for_jobs(1, WAIT)
    assert job["n"] == 8 and (folder / "8.png").exists()


def test_garbage_before_a_job_does_not_stop_the_simulator(
    sim: PrinterSimulator, printer: SerialPrinter
) -> None:
    noise = random.Random(20261122).randbytes(2000)  # noqa: S311 - test data
    data = render_receipt(ticket(), PrinterProfile())
    printer.write(noise + data)
    printed = sim.wait_for_jobs(1, WAIT)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and not any(
        j["text"].splitlines()[-7:] == TICKET_LINES for j in printed
    ):
        time.sleep(0.05)
        printed = sim.jobs()
    assert any(j["text"].splitlines()[-7:] == TICKET_LINES for j in printed)
    assert sim.garbage_bytes > 0
    # Still a printer: it answers and prints the next job cleanly.
    printer.status()  # the noise may have held status queries; their replies are flushed
    assert printer.status() == PrinterStatus(online=True, paper="ok", cover_open=False)
    count = len(sim.jobs())
    printer.write(data)
    assert sim.wait_for_jobs(count + 1, WAIT)[-1]["text"].splitlines() == TICKET_LINES


def test_wire_time_at_a_baud_rate(tmp_path: Path) -> None:
    data = render_receipt(ticket(), PrinterProfile())
    with (
        PrinterSimulator(tmp_path / "tty", tmp_path / "r", baud=9600, idle_gap=0.3) as sim,
        SerialPrinter(PrinterSettings(port=str(tmp_path / "tty"))) as printer,
    ):
        printer.write(data)
        (job,) = sim.wait_for_jobs(1, WAIT)
    wire = len(data) * 10 / 9600
    assert job["last_byte_at"] - job["first_byte_at"] >= wire * 0.9


def test_a_stale_link_is_replaced_and_removed_at_stop(tmp_path: Path) -> None:
    link = tmp_path / "printer.tty"
    link.symlink_to("/dev/pts/does-not-exist")
    with PrinterSimulator(link, tmp_path / "receipts") as sim:
        assert os.readlink(link) == sim.device
    assert not link.exists() and not link.is_symlink()


def test_driver_errors_are_printer_unavailable(tmp_path: Path, sim: PrinterSimulator) -> None:
    missing = SerialPrinter(PrinterSettings(port=str(tmp_path / "nothing")))
    with pytest.raises(PrinterUnavailable, match=r"cannot open the receipt printer on .*nothing"):
        missing.open()
    with pytest.raises(PrinterUnavailable, match="not open"):
        missing.write(b"x")
    settings = PrinterSettings(port=str(sim.link))
    # One owner only: a second writer would interleave two tickets.
    with SerialPrinter(settings), pytest.raises(PrinterUnavailable, match="cannot open"):
        SerialPrinter(settings).open()


def test_a_vanished_printer_is_unavailable_not_silent(tmp_path: Path) -> None:
    sim = PrinterSimulator(tmp_path / "tty", tmp_path / "receipts")
    sim.start()
    printer = SerialPrinter(PrinterSettings(port=str(sim.link)))
    printer.open()
    sim.stop()  # the pty's other end is gone, as when the USB cable is pulled
    with pytest.raises(PrinterUnavailable):
        printer.write(b"\x1b@" * 10)
        printer.status()
    printer.close()


def test_status_bytes_follow_the_epson_layout() -> None:
    assert [status_reply(4, paper=p) for p in ("ok", "near_end", "out")] == [0x12, 0x1E, 0x72]
    assert status_reply(1, paper="ok") == 0x12 and status_reply(1, paper="out") == 0x1A
    assert status_reply(9, paper="ok") is None
    assert [parse_paper(b) for b in (0x12, 0x1E, 0x72, None, 0xFF)] == [
        "ok",
        "near_end",
        "out",
        "unknown",
        "unknown",
    ]
    assert [parse_online(b) for b in (0x12, 0x1A, None, 0x00)] == [True, False, None, None]


def test_command_line_runs_until_sigterm(tmp_path: Path) -> None:
    link = tmp_path / "printer.tty"
    process = subprocess.Popen(
        [
            sys.executable,
            *("-m", "firmware_bridge.sim.printer", "--link", str(link)),
            *("--receipts", str(tmp_path / "receipts"), "--paper", "near_end"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"PRINTER-SIM READY {link}"
        assert link.is_symlink()
        with SerialPrinter(PrinterSettings(port=str(link))) as printer:
            assert printer.status().paper == "near_end"
            process.send_signal(signal.SIGUSR1)  # near_end → out
            eventually(lambda: printer.status().paper == "out", "paper out after SIGUSR1")
            printer.write(render_receipt([Text("再见")], PrinterProfile()))
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
    assert not link.is_symlink()
    assert (tmp_path / "receipts" / "1.txt").read_text(encoding="utf-8") == "再见\n"


def test_a_pyserial_url_is_a_printer_port_too() -> None:
    # loop:// echoes the status query: not a status byte, so "unknown", never "ok".
    with SerialPrinter(PrinterSettings(port="loop://")) as printer:
        printer.write(b"\x1b@")
        assert printer.status() == PrinterStatus(online=None, paper="unknown", cover_open=None)
