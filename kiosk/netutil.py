"""Small network helpers shared by the demo, the tests and the benchmarks."""

from __future__ import annotations

import socket
import time


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    """True once something accepts TCP connections on host:port, False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.05)
    return False


def free_port() -> int:
    """A port nobody listens on right now (tests only: another process could take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_block(size: int, low: int = 20000, high: int = 60000, tries: int = 50) -> int:
    """A base port such that base … base+size-1 are all free right now."""
    import random

    for _ in range(tries):
        base = random.randrange(low, high - size)  # noqa: S311 - not a secret
        if all(_bindable(port) for port in range(base, base + size)):
            return base
    raise RuntimeError(f"no block of {size} free ports found")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
