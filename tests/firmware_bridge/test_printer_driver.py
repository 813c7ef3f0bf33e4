"""The printer driver when its device goes away under an open port."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from firmware_bridge.printer.driver import PrinterUnavailable, SerialPrinter
from kiosk.settings import PrinterSettings


@pytest.fixture
def orphaned_printer() -> Iterator[SerialPrinter]:
    """A driver with its port open on a pty whose other end (the printer) has closed:
    every call then fails with EIO, and some of them as termios.error, not OSError."""
    controller, device = os.openpty()
    printer = SerialPrinter(PrinterSettings(port=os.ttyname(device)))
    printer.open()
    os.close(controller)
    yield printer
    printer.close()
    os.close(device)


def test_a_status_query_to_a_vanished_printer_says_unavailable(
    orphaned_printer: SerialPrinter,
) -> None:
    with pytest.raises(PrinterUnavailable, match="stopped answering"):
        orphaned_printer.status()


def test_writing_to_a_vanished_printer_says_unavailable(orphaned_printer: SerialPrinter) -> None:
    with pytest.raises(PrinterUnavailable, match="failed"):
        orphaned_printer.write(b"\x1b@")
