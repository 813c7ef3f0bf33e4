"""What the firmware bridge reports, turned into the touch app's state.

A card placed on the reader identifies the resident (or is counted as rejected); the GPIO
help button calls staff; the motion sensor wakes the attract screen. The listeners run on
the MQTT network thread and only touch thread-safe objects. No Flask here.
"""

from __future__ import annotations

import logging
import threading

from kiosk.domain.identity import InvalidIdNumber
from kiosk.protocol.messages import CardEvent, GpioEvent
from kiosk.touch.helpdesk import HelpDesk
from kiosk.touch.resident import ResidentDesk

_LOGGER = logging.getLogger(__name__)


class DeviceSignals:
    def __init__(self, residents: ResidentDesk, helpdesk: HelpDesk) -> None:
        self._residents = residents
        self._helpdesk = helpdesk
        self._lock = threading.Lock()
        self.motions = 0

    def on_card(self, event: CardEvent) -> None:
        if event.event != "placed":
            return  # taking the card away does not forget the resident: the screen does
        if event.card is None:
            self._residents.reject_card()
            return
        try:
            self._residents.identify_card(event.card)
        except InvalidIdNumber as err:
            # The reason names no digits (identity.py makes sure); the card's repr is masked.
            _LOGGER.info("a card was refused: %s", err)
            self._residents.reject_card()

    def on_gpio(self, event: GpioEvent) -> None:
        if event.event == "motion":
            with self._lock:
                self.motions += 1
        elif event.event == "help_pressed":
            self._helpdesk.request("button")
