"""The hub's MQTT worker: kiosk presence and events in, rpc answers out, boards published.

One :class:`MqttLink` to the central broker with a persistent session, so QoS 1 intake
waits in the broker while the hub restarts. Handlers run on paho's network thread; a
payload that fails validation raises :class:`InvalidPayload`, which the link logs,
counts (``rejected``) and drops. So does a message whose body names another kiosk than
its topic, one from a revoked kiosk, and a state that claims another centre than the
kiosk was enrolled for. Every message is counted by topic kind in the hub's metrics.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.orm import Session

from kiosk.hub import fleet, tickets
from kiosk.hub.commands import CommandDesk
from kiosk.hub.desk import QueueDesk
from kiosk.hub.events import (
    COMMAND_RESULT,
    HELP_REQUESTED,
    CommandResult,
    EventHeader,
    HelpRequested,
    KioskCommand,
)
from kiosk.hub.intake import (
    AfterCommit,
    Arrival,
    EventIntake,
    EventRefused,
    IntakeLine,
    KioskRefused,
    Rejection,
)
from kiosk.hub.metrics import HubMetrics
from kiosk.hub.monitor import FleetMonitor
from kiosk.protocol import topics
from kiosk.protocol.client import Handler, MqttLink, Will
from kiosk.protocol.messages import (
    Board,
    DeviceState,
    EventAck,
    HubState,
    InvalidPayload,
    KioskHealth,
    KioskState,
    Params,
    ServiceInfo,
    ServicesListResult,
    TicketIssued,
    TicketLeaseParams,
    TicketLeaseResult,
    TicketTakeParams,
    TicketTakeResult,
    decode,
)
from kiosk.protocol.rpc import MethodHandler, RpcServer
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
        monitor: FleetMonitor | None = None,
        metrics: HubMetrics | None = None,
        commands: CommandDesk | None = None,
    ) -> None:
        self.boot_id = uuid.uuid4().hex
        self._stopping = False
        self._desk = desk
        self._monitor = monitor
        self._commands = commands
        self.metrics = metrics or (monitor.metrics if monitor else HubMetrics())
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
        self.link.subscribe(topics.ALL_KIOSK_STATES, self._counted("state", self._on_kiosk_state))
        self.link.subscribe(
            topics.ALL_KIOSK_DEVICES, self._counted("device", self._on_device_state)
        )
        self.link.subscribe(topics.ALL_KIOSK_HEALTH, self._counted("health", self._on_kiosk_health))
        self.link.subscribe(BRIDGE_STATES, self._counted("uplink", self._on_bridge_state))
        # Counted by the intake thread once applied (_events_done), not here at arrival.
        self.link.subscribe(topics.ALL_KIOSK_EVENTS, self._on_event)
        self.link.subscribe(topics.HUB_STATE, self._on_hub_state)
        counted_link = _CountedLink(self.link, lambda handler: self._counted("rpc", handler))
        self.rpc = RpcServer(cast(MqttLink, counted_link))
        self.rpc.register("services.list", self._timed("services.list", self._services_list))
        self.rpc.register("ticket.take", self._timed("ticket.take", self._ticket_take))
        self.rpc.register("ticket.lease", self._timed("ticket.lease", self._ticket_lease))
        self.intake = EventIntake(
            desk.database,
            self._acknowledge,
            clock=desk.now,
            duplicates=self.metrics.duplicates,
            admit=self._admit,
        )
        self._events_rejected = 0
        self._line = IntakeLine(self.intake, self._events_done)
        self.intake.register(topics.TICKET_ISSUED, TicketIssued, self._file_offline_ticket)
        self.intake.register(HELP_REQUESTED, HelpRequested, self._help_requested)
        self.intake.register_idempotent(COMMAND_RESULT, CommandResult, self._command_result)
        desk.on_board(self.publish_board)

    @property
    def rejected(self) -> int:
        """Messages dropped because they failed validation."""
        return self.link.rejected + self._events_rejected

    @property
    def handler_errors(self) -> int:
        return self.link.handler_errors + self.intake.handler_errors

    @property
    def is_connected(self) -> bool:
        return self.link.is_connected

    def start(self) -> None:
        self._line.start()
        self.link.start()

    def wait_connected(self, timeout: float) -> bool:
        return self.link.wait_connected(timeout)

    def stop(self) -> None:
        """Say offline (retained), then disconnect; a clean disconnect skips the Will."""
        self._stopping = True
        # What is queued is applied and acked while we are connected (for up to 10 s; the
        # kiosks send again whatever is left).
        self._line.stop()
        offline = HubState(state="offline", boot_id=self.boot_id)
        self.link.stop(farewell=[(topics.HUB_STATE, offline)])

    def publish_board(self, board: Board) -> None:
        self.link.publish(topics.centre_board(board.centre), board, retain=True)

    def publish_command(self, command: KioskCommand, expiry: int) -> bool:
        """QoS 1 with the v5 message expiry: held while the kiosk is away, dropped at the
        deadline. False when the hub is not connected (the command is then not sent)."""
        if not self.is_connected:
            return False
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.MessageExpiryInterval = max(1, expiry)
        topic = topics.kiosk_cmd(command.kiosk, command.name)
        info = self.link.publish(topic, command, qos=1, properties=props)
        return info.rc == 0

    def _announce(self) -> None:
        # Kiosks re-announce their state when they see the hub come online; the boards
        # are republished in case a call was made while the broker was unreachable.
        self.link.publish(
            topics.HUB_STATE, HubState(state="online", boot_id=self.boot_id), retain=True
        )
        for centre in self._desk.catalogue.centres:
            self.publish_board(self._desk.board(centre.code))

    def _on_hub_state(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        """Contradict an "offline" that arrives while this hub is up.

        A broker that shuts down sends our Will; after its restart a bridge can hand that
        Will on after our new "online", and the retained state would then say offline for
        as long as we run: every kiosk would show its banner and issue offline numbers.
        """
        if self._stopping or decode(HubState, payload).state != "offline":
            return
        _LOGGER.info("the retained hub state says offline while this hub is up: correcting")
        online = HubState(state="online", boot_id=self.boot_id)
        self.link.publish(topics.HUB_STATE, online, retain=True)

    # --- intake ----------------------------------------------------------------------

    def _counted(self, kind: str, handler: Handler) -> Handler:
        """Count the message by kind; a refusal is counted as rejected, then re-raised as
        :class:`InvalidPayload` for the link to log, count and drop."""

        def counted(topic: str, payload: bytes, props: Properties | None) -> None:
            self.metrics.intake.inc(kind=kind)
            try:
                handler(topic, payload, props)
            except InvalidPayload:
                self.metrics.rejected.inc(kind=kind)
                raise
            except fleet.Refused as err:
                self.metrics.rejected.inc(kind=kind)
                raise InvalidPayload(str(err)) from err

        return counted

    def _timed(self, method: str, handler: MethodHandler) -> MethodHandler:
        def timed(kiosk: str, params: Params) -> Params:
            started = time.perf_counter()
            try:
                return handler(kiosk, params)
            finally:
                self.metrics.rpc_latency.observe(time.perf_counter() - started, method=method)

        return timed

    def _changed(self, kiosk: str) -> None:
        if self._monitor is not None:
            self._monitor.kiosk_changed(kiosk)

    def _on_kiosk_state(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        if not payload:
            return  # a retained state cleared by an operator (or by `kiosk revoke`)
        kiosk = _kiosk_of(topic)
        message = decode(KioskState, payload)
        if message.kiosk != kiosk:
            raise InvalidPayload(f"state of kiosk {message.kiosk!r} on {kiosk!r}'s topic")
        if not self._desk.kiosk_state(message):
            _LOGGER.info("stale state of %s ignored (%s)", kiosk, message.state)
            return
        self._changed(kiosk)

    def _on_device_state(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        if not payload:
            return
        kiosk = _kiosk_of(topic)
        message = decode(DeviceState, payload)
        if message.kiosk != kiosk or message.device != topics.parse_kiosk_topic(topic).name:
            raise InvalidPayload(f"device state of {message.kiosk}/{message.device} on {topic}")
        if self._desk.device_state(message):
            self._changed(kiosk)

    def _on_kiosk_health(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        if not payload:
            return
        kiosk = _kiosk_of(topic)
        message = decode(KioskHealth, payload)
        if message.kiosk != kiosk:
            raise InvalidPayload(f"health of kiosk {message.kiosk!r} on {kiosk!r}'s topic")
        with self._desk.database.write() as session:
            accepted = fleet.record_health(session, message, self._desk.now())
        if accepted:
            self._changed(kiosk)  # health alerts open and resolve like device alerts

    def _on_event(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        """Read the header on the network thread; the intake thread applies the event."""
        try:
            arrival = _arrival(topic, payload)
        except InvalidPayload:
            self.metrics.intake.inc(kind="event")
            self.metrics.rejected.inc(kind="event")
            raise
        self._line.put(arrival)

    def _events_done(self, arrivals: Sequence[Arrival], rejections: list[Rejection]) -> None:
        # Rejections first: once the intake count says a message is in, its verdict counts.
        self._events_rejected += len(rejections)
        self.metrics.rejected.inc(len(rejections), kind="event")
        self.metrics.intake.inc(len(arrivals), kind="event")

    def _admit(self, session: Session, kiosk: str) -> None:
        try:
            fleet.record_seen(session, kiosk, self._desk.now())
        except fleet.Refused as err:
            raise KioskRefused(str(err)) from err

    def _acknowledge(self, kiosk: str, event_ids: list[str]) -> None:
        self.link.publish(topics.kiosk_ack(kiosk), EventAck(kiosk=kiosk, event_ids=event_ids))

    def _help_requested(
        self, session: Session, kiosk: str, message: HelpRequested
    ) -> AfterCommit | None:
        if self._monitor is None:
            return None
        detail = _HELP_DETAIL[message.source]
        return self._monitor.raise_help(session, kiosk, message.centre, detail)[1]

    def _command_result(self, kiosk: str, message: CommandResult) -> None:
        if self._commands is not None and not self._commands.result(message):
            _LOGGER.info("result of unknown or finished command %s dropped", message.command_id)

    def _file_offline_ticket(
        self, session: Session, kiosk: str, message: TicketIssued
    ) -> AfterCommit | None:
        if message.kiosk != kiosk:
            raise EventRefused(f"ticket of kiosk {message.kiosk!r} sent by {kiosk!r}")
        centre = self._desk.centre_of(kiosk)
        if message.centre != centre.code:
            raise EventRefused(
                f"ticket of centre {message.centre!r} from a kiosk of {centre.code!r}"
            )
        try:
            tickets.file_offline_ticket(session, centre, message, kiosk=kiosk, now=self._desk.now())
        except tickets.OfflineTicketRefused as err:
            raise EventRefused(str(err)) from err
        return None  # the board shows calls; a ticket joining the queue changes none

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
        self._changed(kiosk)

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

    def _ticket_lease(self, kiosk: str, params: Params) -> TicketLeaseResult:
        if not isinstance(params, TicketLeaseParams):
            raise TypeError(f"ticket.lease got {type(params).__name__}")
        lease = self._desk.lease(kiosk, params.service)
        return TicketLeaseResult(
            service=lease.service.code,
            prefix=lease.service.prefix,
            service_name=lease.service.name,
            centre_name=lease.centre.name,
            day=lease.day.isoformat(),
            first=lease.first,
            last=lease.last,
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


_HELP_DETAIL = {"screen": "群众在屏幕上点了“呼叫工作人员”", "button": "群众按了终端上的呼叫按钮"}


class _CountedLink:
    """The link as :class:`RpcServer` sees it: its subscriptions are counted like the
    worker's own (RpcServer subscribes itself; paho keeps one callback per filter)."""

    def __init__(self, link: MqttLink, wrap: Callable[[Handler], Handler]) -> None:
        self._link = link
        self._wrap = wrap

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        self._link.subscribe(topic_filter, self._wrap(handler), qos)

    def publish(self, *args: Any, **kwargs: Any) -> Any:
        return self._link.publish(*args, **kwargs)


def _kiosk_of(topic: str) -> str:
    try:
        return topics.parse_kiosk_topic(topic).kiosk
    except topics.TopicError as err:
        raise InvalidPayload(str(err)) from err


def _arrival(topic: str, payload: bytes) -> Arrival:
    where = topics.parse_kiosk_topic(topic)
    header = decode(EventHeader, payload)
    if header.kiosk != where.kiosk:
        # Kiosk A may publish only under its own topics (the broker sees to that), but
        # what it writes inside them is its own: it must not speak for kiosk B.
        raise InvalidPayload(f"event of kiosk {header.kiosk!r} on {where.kiosk!r}'s topic")
    if where.name is None:
        raise InvalidPayload(f"no event type in {topic}")
    return Arrival(where.kiosk, where.name, header.id, payload)
