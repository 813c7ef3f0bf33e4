"""A simulator's control socket: one line in (``ACTION [ARG]``), one line out.

A Unix socket next to the simulator's link rather than an MQTT topic: it needs no broker
credentials, works while the edge broker is down (a fault worth testing too), and only the
owner of the state dir can reach it (the socket is made mode 0600).

Reply: ``ok <text>`` or ``error <text>``; :func:`request` returns the text or raises
:class:`SimControlError`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

_LOGGER = logging.getLogger(__name__)

MAX_LINE = 1024
CLIENT_TIMEOUT = 2.0  # seconds a client may take to send its line
ACCEPT_SLICE = 0.5  # seconds between checks for stop
# sockaddr_un holds 108 bytes with the terminating NUL; pytest's and demo paths can be longer.
MAX_SOCKET_PATH = 100

Handler = Callable[[str, str | None], str]


def then(action: Callable[[], object], text: str) -> Callable[[str | None], str]:
    """A control action that takes no argument: do ``action``, answer ``text``."""

    def handler(_arg: str | None) -> str:
        action()
        return text

    return handler


class SimControlError(RuntimeError):
    """The simulator refused the action, or cannot be reached; the message says why."""


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """A path short enough for ``bind``/``connect``: through /proc/self/fd if need be."""
    if len(os.fsencode(path)) < MAX_SOCKET_PATH:
        yield str(path)
        return
    folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{folder}/{path.name}"
    finally:
        os.close(folder)


class ControlServer:
    """Answers control lines with ``handler(action, arg)``; its errors become ``error …``."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)  # a stale socket of a run that was killed
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with _address(self.path) as address:
            server.bind(address)
        self.path.chmod(0o600)
        server.listen(4)
        server.settimeout(ACCEPT_SLICE)
        self._socket = server
        self._thread = threading.Thread(target=self._serve, name="sim-control", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        # A connection of our own wakes accept() at once (closing the socket would not).
        with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
            wake.settimeout(ACCEPT_SLICE)
            with _address(self.path) as address:
                wake.connect(address)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        self.path.unlink(missing_ok=True)

    def _serve(self) -> None:
        assert self._socket is not None  # noqa: S101 - start() sets it before the thread
        while not self._stopping.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError as err:
                if not self._stopping.is_set():
                    _LOGGER.error("control socket %s failed: %s", self.path, err)
                return
            with conn:
                if self._stopping.is_set():
                    return
                try:
                    self._answer(conn)
                except OSError as err:  # a client that went away: its problem
                    _LOGGER.warning("control client on %s: %s", self.path, err)

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(CLIENT_TIMEOUT)
        line = _read_line(conn)
        action, _, arg = line.strip().partition(" ")
        try:
            reply = "ok " + self._handler(action, arg.strip() or None)
        except SimControlError as err:
            reply = f"error {err}"
        except Exception as err:  # a bug in an action must not stop the control socket
            _LOGGER.exception("control action %r failed", action)
            reply = f"error {action} failed: {err}"
        conn.sendall(reply.replace("\n", "\\n").encode() + b"\n")


def _read_line(conn: socket.socket) -> str:
    data = b""
    while b"\n" not in data and len(data) < MAX_LINE:
        chunk = conn.recv(MAX_LINE)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].decode("utf-8", errors="replace")


def request(path: Path, action: str, arg: str | None = None, timeout: float = 5.0) -> str:
    """Send one action to the simulator listening on ``path``; its answer, or an error."""
    line = action if arg is None else f"{action} {arg}"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            with _address(path) as address:
                client.connect(address)
            client.sendall(line.encode() + b"\n")
            reply = _read_line(client)
    except OSError as err:
        raise SimControlError(f"no simulator answers on {path}: {err}") from err
    status, _, text = reply.partition(" ")
    text = text.replace("\\n", "\n")
    if status != "ok":
        raise SimControlError(text or f"the simulator on {path} gave no answer")
    return text


class Simulator(Protocol):
    """What :func:`serve` runs: a device simulator with a control handler."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def control(self, action: str, arg: str | None) -> str: ...


def serve(sim: Simulator, control_path: Path, ready_line: str) -> int:
    """Run ``sim`` and its control socket until SIGTERM or SIGINT (a simulator's ``main``).

    ``ready_line`` is printed once both are up: the demo and the tests wait for it.
    """
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    control = ControlServer(control_path, sim.control)
    sim.start()
    control.start()
    try:
        print(ready_line, flush=True)
        while not stop.wait(ACCEPT_SLICE):
            pass
    finally:
        control.stop()
        sim.stop()
    return 0
