"""Carries the outbox to the hub, in order, without ever blocking the resident.

A background thread publishes what is due: a new event at once, an unacked one again
after its back-off, everything waiting at once (spread by a little jitter) when the link
comes back or the hub announces itself. At most ``window`` events wait for their acks at
a time, so a kiosk replaying a day offline never floods its brokers (DESIGN.md §3: bounded
QoS 1 in flight). The page that created an event never waits for any of this.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kiosk.touch.outbox import Outbox, Pending

_LOGGER = logging.getLogger(__name__)

WINDOW = 100  # events waiting for the hub's ack at once
TICK = 1.0  # seconds between looks at the outbox when nothing wakes the courier

Publish = Callable[[Pending], bool]


class Courier:
    def __init__(
        self,
        outbox: Outbox,
        publish: Publish,
        is_connected: Callable[[], bool],
        *,
        window: int = WINDOW,
        tick: float = TICK,
    ) -> None:
        self._outbox = outbox
        self._publish = publish
        self._is_connected = is_connected
        self._window = window
        self._tick = tick
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        outbox.on_added(self.wake)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-courier", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wake(self) -> None:
        self._wake.set()

    def replay(self, after: float, spread: float) -> None:
        """The link is back (or the hub is): send everything waiting again, in ``after`` to
        ``after + spread`` seconds; new events still go at once."""
        self._outbox.retry_soon(after, spread)
        self.wake()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._tick)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.send_due()
            except Exception:  # a full disk must not end deliveries for good
                _LOGGER.exception("outbox delivery failed; trying again")

    def send_due(self) -> int:
        """Publish what is due now, within the window; returns how many were sent."""
        if not self._is_connected():
            return 0
        now = time.time()
        room = self._window - self._outbox.in_flight(now)
        if room <= 0:
            return 0
        due = self._outbox.due(now, room)
        sent = [event for event in due if self._publish(event)]
        if sent:
            self._outbox.sent(sent, now)
        return len(sent)
