"""The ID-card reader as the bridge sees it: send one SAM command, get its answer.

:class:`SerialCardReader` drives a reader on a serial port with plain pyserial (115200 8N1,
opened exclusively: a second process polling the same SAM would break every read). What
the commands mean, and when to send which, is :mod:`.poller`'s business.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

import serial

from firmware_bridge.idreader.frames import FrameError, FrameParser, FrameStats, Request, Response
from firmware_bridge.serial_errors import OPEN_ERRORS, PORT_ERRORS
from kiosk.settings import IdReaderSettings

READ_SLICE = 0.05  # seconds one blocking read may take: how soon a deadline is noticed
WRITE_TIMEOUT = 1.0  # seconds: a command is 10 bytes, a blocked write means a dead port


class ReaderError(Exception):
    """Base of the driver's errors."""


class ReaderUnavailable(ReaderError, OSError):
    """The reader's port cannot be opened or used (unplugged, busy, wrong port)."""


class NoResponse(ReaderError):
    """No whole, valid answer arrived in time (silence, a short read, only garbage)."""


@dataclass(slots=True)
class ReaderStats:
    """What the driver saw on the line since it was made (it survives reopening)."""

    frames: FrameStats = field(default_factory=FrameStats)
    commands: int = 0
    timeouts: int = 0
    stray_frames: int = 0  # whole frames that arrived when no command was waiting
    malformed: int = 0  # frames too short to be an answer


class CardReader(Protocol):
    """A SAM reader. ``open`` and ``transact`` raise :class:`ReaderUnavailable` when the port
    fails, ``transact`` :class:`NoResponse` when the reader does not answer in time."""

    stats: ReaderStats

    def open(self) -> None: ...

    def close(self) -> None: ...

    def transact(self, request: Request, timeout: float) -> Response: ...


class SerialCardReader:
    """A SAM reader on a serial port or any pyserial URL (``socket://``, ``rfc2217://``)."""

    def __init__(self, settings: IdReaderSettings) -> None:
        self.port = settings.port
        self._baudrate = settings.baudrate
        self.stats = ReaderStats()
        self._parser = FrameParser(stats=self.stats.frames)
        self._serial: serial.Serial | None = None
        self._lock = threading.Lock()  # one command and its answer on the wire at a time

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        """Open the port for this process alone; :class:`ReaderUnavailable` if that fails."""
        with self._lock:
            if self._serial is not None:
                return
            try:
                if "://" in self.port:  # URL handlers take no "exclusive"
                    port = serial.serial_for_url(
                        self.port, baudrate=self._baudrate, timeout=READ_SLICE
                    )
                else:
                    port = serial.Serial(
                        self.port, self._baudrate, timeout=READ_SLICE, exclusive=True
                    )
                port.write_timeout = WRITE_TIMEOUT
                port.reset_input_buffer()
            except OPEN_ERRORS as err:
                raise ReaderUnavailable(
                    f"cannot open the ID-card reader on {self.port}: {err}"
                ) from err
            self._serial = port

    def close(self) -> None:
        with self._lock:
            port, self._serial = self._serial, None
            self._parser.clear()
        if port is not None:
            with contextlib.suppress(*PORT_ERRORS):  # gone either way
                port.close()

    def transact(self, request: Request, timeout: float) -> Response:
        """Send ``request`` and return the first answer frame that arrives within ``timeout``."""
        with self._lock:
            port = self._serial
            if port is None:
                raise ReaderUnavailable(f"the ID-card reader on {self.port} is not open")
            try:
                self._drain(port)
                port.write(request.to_bytes())
                self.stats.commands += 1
                return self._answer(port, time.monotonic() + timeout)
            except PORT_ERRORS as err:
                raise ReaderUnavailable(f"the ID-card reader on {self.port} failed: {err}") from err

    def _drain(self, port: serial.Serial) -> None:
        # Bytes that came in unasked (line noise, the late answer to a command that timed
        # out) must never be taken as the answer to the next command: parse them to count
        # them, and drop them.
        waiting = port.in_waiting
        if waiting:
            self.stats.stray_frames += len(self._parser.feed(port.read(waiting)))
        self._parser.clear()

    def _answer(self, port: serial.Serial, deadline: float) -> Response:
        while True:
            if time.monotonic() >= deadline:
                # The line went quiet in the middle of something: a frame may still hide
                # behind a false start (a corrupted length field).
                for frame in self._parser.flush():
                    with contextlib.suppress(FrameError):
                        return Response.from_frame(frame)
                self.stats.timeouts += 1
                raise NoResponse(f"no answer from the ID-card reader on {self.port}")
            # Returns as soon as one byte is there, or after READ_SLICE of silence.
            received = self._parser.feed(port.read(port.in_waiting or 1))
            for index, frame in enumerate(received):
                try:
                    response = Response.from_frame(frame)
                except FrameError:
                    self.stats.malformed += 1
                    continue
                self.stats.stray_frames += len(received) - index - 1
                return response

    def __enter__(self) -> SerialCardReader:
        self.open()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
