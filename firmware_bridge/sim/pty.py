"""A serial device simulated on a pty, reachable through a stable symlink, unpluggable.

The driver under test opens the pty's slave through the symlink, as it opens
``/dev/kiosk-printer`` on a kiosk (udev gives real devices stable names). Unplugging closes
the pty and removes the link, so the driver sees what a pulled USB cable does: I/O errors on
the open port, then no device to open; replugging makes a new pty behind the same link.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import threading
import time
import tty
from pathlib import Path
from types import TracebackType
from typing import Self

_LOGGER = logging.getLogger(__name__)

READ_SIZE = 4096
WRITE_TIMEOUT = 1.0  # seconds a reply may wait for room in the pty before it is dropped


class PtyDevice:
    """Base of the simulators: the pty, its link, the reader thread. Use as a context manager.

    Subclasses implement :meth:`_receive`, and :meth:`_idle_timeout` / :meth:`_on_idle` if
    they act on silence. ``baud`` makes :meth:`send` take the wire time, which a pty skips.
    """

    kind = "device"

    def __init__(self, link: Path, *, baud: int | None = None) -> None:
        self.link = link
        self.baud = baud
        self.device = ""  # the pty slave's path while plugged in
        self._master = -1
        self._slave = -1
        self._wake_r = -1
        self._wake_w = -1
        self._port_lock = threading.Lock()  # plugging and unplugging
        self._write_lock = threading.Lock()  # one reply on the wire at a time
        self._stopping = threading.Event()
        self._reader: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Create the pty and the link, and start reading. The link exists on return."""
        self._wake_r, self._wake_w = os.pipe()
        self._stopping.clear()
        self.replug()
        self._reader = threading.Thread(target=self._read_loop, name=f"{self.kind}-sim-read")
        self._reader.daemon = True
        self._reader.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading and remove the pty and the link."""
        if self._reader is None:
            return
        self._stopping.set()
        self._wake()
        self._reader.join(timeout)
        self._reader = None
        self._before_unplug()
        self._close_port()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- plugging -----------------------------------------------------------------------

    @property
    def plugged(self) -> bool:
        return self._master >= 0

    def unplug(self) -> None:
        """As if the cable were pulled: the open port fails, the link disappears."""
        self._before_unplug()
        self._close_port()
        _LOGGER.info("%s simulator unplugged", self.kind)

    def replug(self) -> None:
        """A new pty behind the same link (a no-op while plugged in)."""
        with self._port_lock:
            if self._master >= 0:
                return
            master, slave = os.openpty()
            # Raw: no echo, no CR/LF translation; the driver's own settings come on top.
            tty.setraw(slave)
            os.set_blocking(master, False)  # a reply nobody reads must not hang us
            # Holding the slave open ourselves keeps the master from EIO when the driver
            # closes its end between two opens.
            self._master, self._slave = master, slave
            self.device = os.ttyname(slave)
            _replace_symlink(self.link, self.device)
        self._wake()
        _LOGGER.info("%s simulator on %s (%s)", self.kind, self.link, self.device)

    def _close_port(self) -> None:
        with self._port_lock:
            master, slave = self._master, self._slave
            self._master = self._slave = -1
            with contextlib.suppress(OSError):
                if self.device and os.readlink(self.link) == self.device:
                    self.link.unlink()
        self._wake()  # the reader thread stops watching the old descriptor first
        for fd in (master, slave):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _before_unplug(self) -> None:
        """Hook: what a subclass finishes before the pty goes away."""

    # --- writing ------------------------------------------------------------------------

    def send(self, data: bytes, *, chunk: int = 64) -> bool:
        """Put ``data`` on the wire; False if the device is unplugged or nobody reads it.

        With ``baud`` set, it goes in ``chunk``-byte pieces at the wire's pace, the way a
        USB-serial adapter delivers it.
        """
        with self._write_lock:
            view = memoryview(data)
            step = chunk if self.baud else len(view) or 1
            began = time.monotonic()
            for start in range(0, len(view), step):
                piece = view[start : start + step]
                if self.baud:
                    # Paced against the start, so the oversleep of each piece does not add up.
                    due = began + (start + len(piece)) * 10 / self.baud
                    time.sleep(max(0.0, due - time.monotonic()))
                if not self._write_all(piece):
                    return False
            return True

    def _write_all(self, data: memoryview) -> bool:
        deadline = time.monotonic() + WRITE_TIMEOUT
        while data:
            master = self._master
            if master < 0:
                return False
            try:
                written = os.write(master, data)
            except BlockingIOError:
                written = 0
            except OSError as err:
                if err.errno not in (errno.EIO, errno.EBADF):
                    _LOGGER.warning("%s simulator: cannot write: %s", self.kind, err)
                return False
            data = data[written:]
            if data:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    _LOGGER.warning("%s simulator: nobody reads; reply dropped", self.kind)
                    return False
                with contextlib.suppress(OSError, ValueError):
                    select.select([], [master], [], min(remaining, 0.05))
        return True

    # --- the reader thread --------------------------------------------------------------

    def _wake(self) -> None:
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"\0")

    def _read_loop(self) -> None:
        while not self._stopping.is_set():
            master = self._master
            watched = [self._wake_r] + ([master] if master >= 0 else [])
            try:
                ready, _, _ = select.select(watched, [], [], self._idle_timeout())
                if self._wake_r in ready:
                    os.read(self._wake_r, 64)
                if master >= 0 and master in ready:
                    self._read_from(master)
                elif not ready:
                    self._on_idle()
            except (OSError, ValueError) as err:  # the pty was closed under us: look again
                if master == self._master and not self._stopping.is_set():
                    _LOGGER.error("%s simulator: cannot read the pty: %s", self.kind, err)
                    self._stopping.wait(0.5)  # do not spin on a broken descriptor
            except Exception:  # a simulator bug must not look like a dead device
                _LOGGER.exception("%s simulator: cannot handle the bytes received", self.kind)

    def _read_from(self, master: int) -> None:
        try:
            data = os.read(master, READ_SIZE)
        except BlockingIOError:
            return
        if data:
            self._receive(data)

    def _receive(self, data: bytes) -> None:
        raise NotImplementedError

    def _idle_timeout(self) -> float | None:
        """Seconds until :meth:`_on_idle` is due; None for never."""
        return None

    def _on_idle(self) -> None:
        """Hook: the line has been quiet for :meth:`_idle_timeout`."""


def _replace_symlink(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` in one step, replacing a stale link of an earlier run."""
    link.parent.mkdir(parents=True, exist_ok=True)
    temp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    os.symlink(target, temp)
    os.replace(temp, link)
