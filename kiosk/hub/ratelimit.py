"""Login rate limiting: failed attempts per account-and-address and per address.

In memory, per hub process: enough for one hub (the usual case); several hub processes
behind one address each keep their own count, which at worst multiplies the allowance by
their number. A success clears that account's count from that address.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_PER_ACCOUNT = 5  # failures per account and address in the window
MAX_PER_ADDRESS = 20  # failures per address, any accounts (guessing many names)
WINDOW = 15 * 60.0  # seconds
_MAX_KEYS = 10_000  # forget the oldest keys beyond this: memory stays bounded


class LoginLimiter:
    def __init__(
        self,
        *,
        per_account: int = MAX_PER_ACCOUNT,
        per_address: int = MAX_PER_ADDRESS,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, address: str) -> tuple[str, str]:
        return f"u:{username.casefold()}|{address}", f"a:{address}"

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str) -> float | None:
        """Seconds until another try is allowed, or None when it is allowed now."""
        now = self._clock()
        account, addr = self._keys(username, address)
        waits = []
        with self._lock:
            for key, limit in ((account, self.per_account), (addr, self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(self.window - (now - times[-limit]))
        return max(waits) if waits else None

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            if len(self._failures) > _MAX_KEYS:
                oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
                for key in oldest[: len(oldest) // 2]:
                    del self._failures[key]
            for key in self._keys(username, address):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str, address: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(username, address)[0], None)
