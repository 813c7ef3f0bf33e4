"""A loopback TCP relay between a kiosk's edge bridge and the central broker.

The fault suite points each kiosk's edge bridge at one of these (``kiosk demo --uplink``)
and cuts it to take the kiosk's uplink away: every open connection is dropped and new
ones are closed as soon as they arrive, as a router that lost its line would. Restoring
it lets the bridge's next reconnect through.
"""

from __future__ import annotations

import contextlib
import socket
import threading

CHUNK = 65536
ACCEPT_SLICE = 0.2  # seconds between checks for stop


class TcpRelay:
    """Listens on 127.0.0.1:``port`` and forwards each connection to ``target_port``."""

    def __init__(self, port: int, target_port: int) -> None:
        self.port = port
        self.target_port = target_port
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._stopping = threading.Event()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.accepted = 0

    @property
    def is_cut(self) -> bool:
        return self._cut

    def start(self) -> None:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        server.settimeout(ACCEPT_SLICE)
        self._server = server
        self._thread = threading.Thread(target=self._serve, name="relay", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Drop every connection now and refuse new ones until :meth:`restore`."""
        with self._lock:
            self._cut = True
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def stop(self) -> None:
        self._stopping.set()
        self.cut()
        if self._thread is not None:
            self._thread.join(5)
        if self._server is not None:
            self._server.close()

    def _serve(self) -> None:
        assert self._server is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._connect(client)

    def _connect(self, client: socket.socket) -> None:
        if self._cut:
            _close(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
        except OSError:
            _close(client)  # the central broker itself is down: the bridge retries
            return
        for sock in (client, upstream):
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._cut:
                _close(client)
                _close(upstream)
                return
            self._open.update((client, upstream))
            self.accepted += 1
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(CHUNK):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._open.discard(src)
                self._open.discard(dst)
            _close(src)
            _close(dst)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
