"""The hub's MQTT worker: kiosk presence in, rpc answers out, call boards published.

One :class:`MqttLink` to the central broker with a persistent session, so QoS 1 intake
waits in the broker while the hub restarts. Handlers run on paho's network thread; a
payload that fails validation raises :class:`InvalidPayload`, which the link logs,
counts (``rejected``) and drops.
"""

from __future__ import annotations

import logging
import uuid

from paho.mqtt.properties import Properties

from kiosk.hub.desk import QueueDesk
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink, Will
from kiosk.protocol.messages import (
    Board,
    DeviceState,
    HubState,
    InvalidPayload,
    KioskState,
    Params,
    ServiceInfo,
    ServicesListResult,
    TicketTakeParams,
    TicketTakeResult,
    decode,
)
from kiosk.protocol.rpc import RpcServer
from kiosk.settings import MqttSettings

_LOGGER = logging.getLogger(__name__)

# Stable across restarts: the broker keeps a persistent session only for the same id.
DEFAULT_CLIENT_ID = "hub"
SESSION_EXPIRY = 3600  # seconds the broker queues QoS 1 intake for a hub that is away

# The central broker's notices about each kiosk's edge bridge (`notifications true`); the
# bridge's remote client id is `<kiosk>-edge` (broker_config/edge.conf.template).
BRIDGE_STATES = "$SYS/broker/connection/+/state"
_BRIDGE_SUFFIX = "-edge"


class HubWorker:
    def __init__(
        self,
        mqtt: MqttSettings,
        desk: QueueDesk,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        session_expiry: int = SESSION_EXPIRY,
    ) -> None:
        self.boot_id = uuid.uuid4().hex
        self._desk = desk
        offline = HubState(state="offline", boot_id=self.boot_id)
        self.link = MqttLink(
            client_id,
            mqtt,
            will=Will(topics.HUB_STATE, offline.to_bytes()),
            on_connected=self._announce,
            session_expiry=session_expiry,
        )
        # States first: at subscribe the broker sends the retained states before any rpc
        # of a later subscription, so a kiosk is known when its first request arrives.
        self.link.subscribe(topics.ALL_KIOSK_STATES, self._on_kiosk_state)
        self.link.subscribe(topics.ALL_KIOSK_DEVICES, self._on_device_state)
        self.link.subscribe(BRIDGE_STATES, self._on_bridge_state)
        self.rpc = RpcServer(self.link)
        self.rpc.register("services.list", self._services_list)
        self.rpc.register("ticket.take", self._ticket_take)
        desk.on_board(self.publish_board)

    @property
    def rejected(self) -> int:
        """Messages dropped because they failed validation."""
        return self.link.rejected

    @property
    def handler_errors(self) -> int:
        return self.link.handler_errors

    @property
    def is_connected(self) -> bool:
        return self.link.is_connected

    def start(self) -> None:
        self.link.start()

    def wait_connected(self, timeout: float) -> bool:
        return self.link.wait_connected(timeout)

    def stop(self) -> None:
        """Say offline (retained), then disconnect; a clean disconnect skips the Will."""
        offline = HubState(state="offline", boot_id=self.boot_id)
        self.link.stop(farewell=[(topics.HUB_STATE, offline)])

    def publish_board(self, board: Board) -> None:
        self.link.publish(topics.centre_board(board.centre), board, retain=True)

    def _announce(self) -> None:
        # Kiosks re-announce their state when they see the hub come online; the boards
        # are republished in case a call was made while the broker was unreachable.
        self.link.publish(
            topics.HUB_STATE, HubState(state="online", boot_id=self.boot_id), retain=True
        )
        for centre in self._desk.catalogue.centres:
            self.publish_board(self._desk.board(centre.code))

    # --- intake ----------------------------------------------------------------------

    def _on_kiosk_state(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        if not payload:
            return  # a retained state cleared by an operator
        kiosk = _kiosk_of(topic)
        message = decode(KioskState, payload)
        if message.kiosk != kiosk:
            raise InvalidPayload(f"state of kiosk {message.kiosk!r} on {kiosk!r}'s topic")
        if not self._desk.kiosk_state(message):
            _LOGGER.info("stale state of %s ignored (%s)", kiosk, message.state)

    def _on_device_state(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        if not payload:
            return
        kiosk = _kiosk_of(topic)
        message = decode(DeviceState, payload)
        if message.kiosk != kiosk or message.device != topics.parse_kiosk_topic(topic).name:
            raise InvalidPayload(f"device state of {message.kiosk}/{message.device} on {topic}")
        self._desk.device_state(message)

    def _on_bridge_state(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        client_id = topic.split("/")[3]
        if not client_id.endswith(_BRIDGE_SUFFIX) or payload not in (b"0", b"1"):
            return  # some other bridge, not a kiosk's
        kiosk = client_id.removesuffix(_BRIDGE_SUFFIX)
        try:
            topics.check_id(kiosk, "kiosk")
        except topics.TopicError as err:
            raise InvalidPayload(str(err)) from err
        self._desk.uplink(kiosk, payload == b"1")

    # --- rpc methods -----------------------------------------------------------------

    def _services_list(self, kiosk: str, _params: Params) -> ServicesListResult:
        centre = self._desk.centre_of(kiosk)
        return ServicesListResult(
            centre=centre.code,
            centre_name=centre.name,
            services=[
                ServiceInfo(code=s.code, name=s.name, prefix=s.prefix) for s in centre.services
            ],
        )

    def _ticket_take(self, kiosk: str, params: Params) -> TicketTakeResult:
        if not isinstance(params, TicketTakeParams):  # RpcServer validated it as this type
            raise TypeError(f"ticket.take got {type(params).__name__}")
        ticket = self._desk.take(kiosk, params.service, params.event_id)
        return TicketTakeResult(
            number=ticket.number,
            service=ticket.service.code,
            service_name=ticket.service.name,
            centre_name=ticket.centre.name,
            day=ticket.day.isoformat(),
            waiting_ahead=ticket.waiting_ahead,
            issued_at=ticket.issued_at,
        )


def _kiosk_of(topic: str) -> str:
    try:
        return topics.parse_kiosk_topic(topic).kiosk
    except topics.TopicError as err:
        raise InvalidPayload(str(err)) from err
