"""The resident in front of the kiosk: who they said they are, in this process's memory only.

DESIGN.md §4: the ID-card reader's raw data never leaves the Pi. Here it is held for the
current resident and nowhere else (no database, no log line, no cookie); pages and the API
see only :meth:`Resident.public`, the masked view. It is forgotten when the resident asks,
when the page's idle timer runs out, and by the server itself after the same idle time
(so a closed or crashed page cannot leave it behind). No Flask here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from kiosk.domain.identity import (
    IdNumber,
    mask_id_number,
    mask_name,
    mask_phone,
    validate_id_number,
    validate_phone,
)
from kiosk.protocol.messages import IdentityCard

Method = Literal["card", "phone"]
PublicView = dict[str, str | bool]


@dataclass(frozen=True, slots=True, repr=False)
class Resident:
    """One identified resident; ``repr`` and ``str`` never show who."""

    method: Method
    name: str = ""
    id_number: IdNumber | None = None
    phone: str = ""

    def __repr__(self) -> str:
        return f"Resident({self.method}, ***)"

    __str__ = __repr__

    def public(self) -> PublicView:
        """The masked view: the only form in which a resident leaves this module."""
        if self.id_number is not None:
            return {
                "identified": True,
                "method": "card",
                "name": mask_name(self.name),
                "id_masked": mask_id_number(self.id_number.value),
                "card_type": self.id_number.card_type,
            }
        return {"identified": True, "method": "phone", "phone_masked": mask_phone(self.phone)}


NOBODY: PublicView = {"identified": False}


class ResidentDesk:
    """At most one resident at a time (a kiosk has one screen), forgotten after ``forget_after``
    seconds without activity.

    ``changes`` and ``rejected_cards`` count events so that polling pages notice them.
    """

    def __init__(self, forget_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._forget_after = forget_after
        self._clock = clock
        self._lock = threading.Lock()
        self._resident: Resident | None = None
        self._last_activity = clock()
        self._timer: threading.Timer | None = None
        self.changes = 0
        self.rejected_cards = 0

    def identify_card(self, card: IdentityCard) -> Resident:
        """Check the card's number (raises InvalidIdNumber) and make its holder the resident."""
        number = validate_id_number(card.id_number, card.card_type)
        return self._set(Resident("card", name=card.name.strip(), id_number=number))

    def identify_phone(self, phone: str) -> Resident:
        """Check the number (raises InvalidPhone) and make its owner the resident."""
        return self._set(Resident("phone", phone=validate_phone(phone)))

    def reject_card(self) -> None:
        """A card could not be used; the card screen says so."""
        with self._lock:
            self.rejected_cards += 1

    def current(self) -> Resident | None:
        with self._lock:
            if self._resident is not None and self._idle_for() >= self._forget_after:
                self._clear()  # the timer is late (a busy Pi): never show an expired resident
            return self._resident

    def touched(self) -> None:
        """A touch on the screen: the idle clock starts again."""
        with self._lock:
            self._last_activity = self._clock()

    def forget(self) -> None:
        with self._lock:
            self._clear()

    # --- inside the lock ----------------------------------------------------------------

    def _set(self, resident: Resident) -> Resident:
        with self._lock:
            self._resident = resident
            self._last_activity = self._clock()
            self.changes += 1
            self._arm(self._forget_after)
        return resident

    def _clear(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._resident is not None:
            self._resident = None
            self.changes += 1

    def _idle_for(self) -> float:
        return self._clock() - self._last_activity

    def _arm(self, delay: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        # One timer that re-arms itself: touches only move a timestamp, no thread per touch.
        self._timer = threading.Timer(max(delay, 0.01), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            if self._resident is None:
                return
            remaining = self._forget_after - self._idle_for()
            if remaining <= 0:
                self._clear()
            else:
                self._arm(remaining)
