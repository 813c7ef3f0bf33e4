"""The receipt printer as the bridge sees it: open, write bytes, ask for status, close."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Literal, Protocol

import serial

from firmware_bridge.serial_errors import OPEN_ERRORS, PORT_ERRORS
from kiosk.settings import PrinterSettings

Paper = Literal["ok", "near_end", "out", "unknown"]

DLE_EOT = b"\x10\x04"
STATUS_PRINTER = 1  # DLE EOT 1: online / offline
STATUS_OFFLINE_CAUSE = 2  # DLE EOT 2: cover open, paper-end stop, error
STATUS_PAPER = 4  # DLE EOT 4: roll paper sensors

# Bits of the status bytes (Epson ESC/POS, DLE EOT): every reply has bit 1 and bit 4 set
# and bits 0 and 7 clear; anything else is line noise, not an answer.
FIXED_MASK = 0x93
FIXED_BITS = 0x12
OFFLINE_BIT = 0x08  # DLE EOT 1
COVER_OPEN_BIT = 0x04  # DLE EOT 2
PAPER_NEAR_END_BITS = 0x0C  # DLE EOT 4: roll paper near-end sensor
PAPER_OUT_BITS = 0x60  # DLE EOT 4: roll paper end sensor

STATUS_TIMEOUT = 0.3  # seconds for one status reply: a printer answers within milliseconds


class PrinterUnavailable(OSError):
    """The printer cannot be opened or written to (unplugged, busy, wrong port)."""


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer said about itself; ``None``/``"unknown"`` where it said nothing."""

    online: bool | None
    paper: Paper
    cover_open: bool | None

    @property
    def answered(self) -> bool:
        return self.online is not None or self.paper != "unknown"


UNKNOWN_STATUS = PrinterStatus(online=None, paper="unknown", cover_open=None)


class ReceiptPrinter(Protocol):
    """A receipt printer that takes ESC/POS bytes. All methods may raise PrinterUnavailable."""

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def status(self) -> PrinterStatus: ...


def is_status_byte(value: int) -> bool:
    return value & FIXED_MASK == FIXED_BITS


def parse_online(reply: int | None) -> bool | None:
    """DLE EOT 1 → online (True), offline (False) or no valid answer (None)."""
    if reply is None or not is_status_byte(reply):
        return None
    return not reply & OFFLINE_BIT


def parse_paper(reply: int | None) -> Paper:
    """DLE EOT 4 → paper state; silence or noise is "unknown", never "ok"."""
    if reply is None or not is_status_byte(reply):
        return "unknown"
    if reply & PAPER_OUT_BITS:
        return "out"
    if reply & PAPER_NEAR_END_BITS:
        return "near_end"
    return "ok"


def parse_cover_open(reply: int | None) -> bool | None:
    """DLE EOT 2 → whether the cover is open."""
    if reply is None or not is_status_byte(reply):
        return None
    return bool(reply & COVER_OPEN_BIT)


class SerialPrinter:
    """An ESC/POS printer on a serial port, driven with plain pyserial.

    Not python-escpos's ``Serial``: its status read waits for 16 bytes (so every query costs
    the whole timeout), it reports silence as "paper adequate", and it turns DSR/DTR flow
    control on by default. Here a status query reads one byte with a short timeout.
    """

    def __init__(self, settings: PrinterSettings, *, status_timeout: float = STATUS_TIMEOUT):
        self._settings = settings
        self._status_timeout = status_timeout
        self._port: serial.Serial | None = None
        self._lock = threading.Lock()  # one command sequence on the wire at a time

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        """Open the port for this process alone; :class:`PrinterUnavailable` if that fails."""
        with self._lock:
            if self._port is not None:
                return
            port = self._settings.port
            try:
                if "://" in port:  # a pyserial URL (socket://, rfc2217://): no "exclusive"
                    self._port = serial.serial_for_url(
                        port,
                        self._settings.baudrate,
                        dsrdtr=self._settings.dsrdtr,
                        timeout=self._status_timeout,
                        write_timeout=self._write_timeout(0),
                    )
                else:
                    self._port = serial.Serial(
                        port,
                        self._settings.baudrate,
                        dsrdtr=self._settings.dsrdtr,
                        exclusive=True,  # a second writer would interleave two tickets
                        timeout=self._status_timeout,
                        write_timeout=self._write_timeout(0),
                    )
            except OPEN_ERRORS as err:
                raise PrinterUnavailable(
                    f"cannot open the receipt printer on {self._settings.port}: {err}"
                ) from err

    def close(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(*PORT_ERRORS):  # gone either way
                port.close()

    def write(self, data: bytes) -> None:
        """Send ``data`` and wait until it has left the serial port."""
        with self._lock:
            port = self._require_open()
            try:
                port.write_timeout = self._write_timeout(len(data))
                port.write(data)
                port.flush()
            except PORT_ERRORS as err:
                raise PrinterUnavailable(
                    f"writing to the receipt printer on {self._settings.port} failed: {err}"
                ) from err

    def status(self) -> PrinterStatus:
        """Ask the printer (DLE EOT 1 and 4, and 2 when it is offline); silence is unknown."""
        with self._lock:
            port = self._require_open()
            try:
                port.reset_input_buffer()  # a late or stray reply must not be taken as ours
                online = parse_online(self._query(port, STATUS_PRINTER))
                paper = parse_paper(self._query(port, STATUS_PAPER))
                cover_open: bool | None = False if online else None
                if online is False:
                    cover_open = parse_cover_open(self._query(port, STATUS_OFFLINE_CAUSE))
            except PORT_ERRORS as err:
                raise PrinterUnavailable(
                    f"the receipt printer on {self._settings.port} stopped answering: {err}"
                ) from err
        return PrinterStatus(online=online, paper=paper, cover_open=cover_open)

    def _query(self, port: serial.Serial, kind: int) -> int | None:
        port.write(DLE_EOT + bytes([kind]))
        reply = port.read(1)
        return reply[0] if reply else None

    def _require_open(self) -> serial.Serial:
        if self._port is None:
            raise PrinterUnavailable(f"the receipt printer on {self._settings.port} is not open")
        return self._port

    def _write_timeout(self, size: int) -> float:
        # Twice the wire time (10 bits a byte) plus slack for a printer busy cutting.
        return 2.0 + 2 * size * 10 / self._settings.baudrate

    def __enter__(self) -> SerialPrinter:
        self.open()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
