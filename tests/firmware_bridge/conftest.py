"""Firmware bridge fixtures: a printer simulator on a real pty and settings that point at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.printer.driver import SerialPrinter
from firmware_bridge.sim.printer import PrinterSimulator
from kiosk.settings import PrinterSettings

IDLE_GAP = 0.3  # seconds: shorter than the simulator's default, to keep tests quick


@pytest.fixture
def printer_settings(tmp_path: Path) -> PrinterSettings:
    return PrinterSettings(port=str(tmp_path / "printer.tty"), spool_dir=tmp_path / "spool")


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[PrinterSimulator]:
    with PrinterSimulator(
        tmp_path / "printer.tty", tmp_path / "receipts", idle_gap=IDLE_GAP
    ) as simulator:
        yield simulator


@pytest.fixture
def printer(sim: PrinterSimulator, printer_settings: PrinterSettings) -> Iterator[SerialPrinter]:
    with SerialPrinter(printer_settings) as driver:
        yield driver
