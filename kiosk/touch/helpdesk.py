"""Calling staff: the on-screen button and the kiosk's GPIO help button do the same thing.

Both publish a :class:`HelpRequested` event for the hub (QoS 1: the edge broker stores and
forwards it if the uplink is down) and make every page show "已通知工作人员，请稍候".
No Flask here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from kiosk.protocol.messages import HelpRequested
from kiosk.protocol.topics import HELP_REQUESTED
from kiosk.touch.link import KioskLink

EVENT_TYPE = HELP_REQUESTED

HelpSource = Literal["screen", "button"]


class HelpDesk:
    """Publishes help requests, at most one per ``repeat_after`` seconds.

    An elderly resident may press again and again while waiting; every press is confirmed
    on screen, but staff are alerted once. ``requests`` counts presses for polling pages.
    """

    def __init__(
        self,
        link: KioskLink,
        repeat_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._link = link
        self._repeat_after = repeat_after
        self._clock = clock
        self._lock = threading.Lock()
        self._last_sent: float | None = None
        self.requests = 0
        self.sent = 0

    def request(self, source: HelpSource) -> int:
        """Record a press; publish unless one went out recently. Returns ``requests``."""
        with self._lock:
            self.requests += 1
            count = self.requests
            now = self._clock()
            recent = self._last_sent is not None and now - self._last_sent < self._repeat_after
            if not recent:
                self._last_sent = now
                self.sent += 1
        if not recent:
            self._publish(source)
        return count

    def _publish(self, source: HelpSource) -> None:
        link = self._link
        message = HelpRequested(
            kiosk=link.kiosk,
            centre=link.centre,
            boot_id=link.boot_id,
            seq=link.next_event_seq(),
            source=source,
        )
        link.queue_event(EVENT_TYPE, message)
