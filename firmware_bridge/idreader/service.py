"""The ID-card reader on MQTT: card events to the touch app, the reader's state to the hub.

- ``local/v1/idreader/card`` (QoS 1, edge broker only, never retained): a
  :class:`CardEvent` ``placed`` with the card (or without one, if it cannot be used) once
  per placement, ``removed`` when it is taken away. It expires after
  :data:`CARD_EVENT_EXPIRY` seconds, so a touch app that reconnects later never identifies
  a resident who has long gone.
- ``svc/v1/kiosk/{kiosk}/device/idreader`` (retained): online with the SAM id, or offline
  and why. Never personal data.

Nothing here logs or stores a card's content: log lines say only the card type.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from firmware_bridge.idreader.driver import CardReader
from firmware_bridge.idreader.poller import CardPoller
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import CardEvent, DeviceState, DeviceStatus, Envelope, IdentityCard
from kiosk.settings import IdReaderSettings

_LOGGER = logging.getLogger(__name__)

CARD_EVENT_EXPIRY = 30  # seconds a card event is worth delivering
STOP_TIMEOUT = 5.0

StateListener = Callable[[DeviceState], None]


class IdReaderService:
    """Polls the reader on its own thread and publishes what happens (see module doc)."""

    def __init__(
        self,
        kiosk: str,
        link: MqttLink,
        reader: CardReader,
        settings: IdReaderSettings,
        *,
        boot_id: str,
        on_state: StateListener | None = None,
    ) -> None:
        self.kiosk = kiosk
        self.poller = CardPoller(reader, self, settings)
        self.dropped = 0  # card events not sent because the edge broker was unreachable
        self._link = link
        self._boot_id = boot_id
        self._on_state = on_state
        self._topic = topics.kiosk_device(kiosk, "idreader")
        self._lock = threading.Lock()
        self._state = self._message("unknown", "not opened yet")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> DeviceState:
        with self._lock:
            return self._state

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self.poller.run, args=(self._stopping,), name="bridge-idreader", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def announce(self) -> None:
        self._link.publish(self._topic, self.state, retain=True)

    def farewell(self) -> list[tuple[str, Envelope]]:
        return [(self._topic, self._message("offline", "firmware bridge stopped"))]

    # --- ReaderListener (the polling thread) ---------------------------------------------

    def card_placed(self, card: IdentityCard | None, reason: str) -> None:
        if card is None:
            # The reason names a field or a rule, never a value (textblock's promise).
            _LOGGER.info("card placed: cannot be used (%s)", reason)
        else:
            _LOGGER.info("card placed: %s card read", card.card_type)
        self._send(CardEvent(event="placed", card=card))

    def card_removed(self) -> None:
        _LOGGER.info("card removed")
        self._send(CardEvent(event="removed"))

    def reader_state(self, status: DeviceStatus, detail: str) -> None:
        message = self._message(status, detail)
        with self._lock:
            old = self._state
            if (old.status, old.detail) == (message.status, message.detail):
                return
            self._state = message
        log = _LOGGER.info if status == "online" else _LOGGER.warning
        log("ID-card reader %s: %s", status, message.detail)
        self._link.publish(self._topic, message, retain=True)
        if self._on_state is not None:
            self._on_state(message)

    def _send(self, event: CardEvent) -> None:
        if not self._link.is_connected:
            # paho would queue it and deliver it on reconnect, maybe minutes later, to a
            # touch app whose resident has gone: the card is read again when put back.
            _LOGGER.warning("card %s not sent: the edge broker is unreachable", event.event)
            self.dropped += 1
            return
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.MessageExpiryInterval = CARD_EVENT_EXPIRY
        self._link.publish(topics.CARD_EVENT, event, qos=1, retain=False, properties=props)

    def _message(self, status: DeviceStatus, detail: str) -> DeviceState:
        return DeviceState(
            kiosk=self.kiosk,
            device="idreader",
            status=status,
            detail=detail[:200],
            boot_id=self._boot_id,
        )
