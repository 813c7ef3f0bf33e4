"""The touch app's connection to its kiosk's edge broker: presence, rpc to the hub, printing,
events for the hub, and what the firmware bridge reports (card reads, GPIO).

Everything the touch app says to the outside goes through here. The edge broker bridges
``svc/v1/kiosk/{kiosk}/…`` to the central broker; ``local/v1/…`` (print jobs, card reads)
stays on the Pi.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from paho.mqtt.properties import Properties

from kiosk import __version__
from kiosk.domain.receipt import Receipt
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink, Will
from kiosk.protocol.messages import (
    CardEvent,
    Envelope,
    EventAck,
    GpioEvent,
    HubState,
    InvalidPayload,
    KioskState,
    Params,
    PresenceState,
    PrintJob,
    PrintResult,
    ServicesListParams,
    ServicesListResult,
    TicketLeaseParams,
    TicketLeaseResult,
    TicketTakeParams,
    TicketTakeResult,
    decode,
    new_id,
)
from kiosk.protocol.rpc import RpcClient, RpcFailed, RpcTimeout
from kiosk.settings import Settings
from kiosk.touch.courier import Courier
from kiosk.touch.outbox import Backoff, Effect, Outbox, Pending

_LOGGER = logging.getLogger(__name__)

R = TypeVar("R", bound=Params)
T = TypeVar("T")

MAX_TRACKED_JOBS = 256  # print results kept; a kiosk prints a few hundred slips a day
PRINT_RESEND_AFTER = 5.0  # seconds without a word from the bridge before a job goes again
PRINT_RESEND_FOR = 600.0  # seconds a job is resent for; later a person has to look
OUTBOX_FILE = "touch.sqlite3"  # in settings.state_dir: the outbox and other kiosk-local tables
REPLAY_GRACE = 3.0  # seconds a returning hub has to ack what the brokers kept for it
PROBE_EVERY = 10.0  # seconds between asks of a hub that stopped answering (see probe_hub)
# Seconds between asks of a hub whose Will said offline: its return is announced, but an
# announcement can be lost or overtaken by a late Will, and the banner must not stay.
PROBE_OFFLINE_EVERY = 15.0

HubStatus = Literal["unknown", "online", "offline", "unreachable"]

CardListener = Callable[[CardEvent], None]
GpioListener = Callable[[GpioEvent], None]
# A remote command's name (from its topic) and raw payload; kiosk/touch/commands.py
# validates it, so a malformed one is counted there and answered where possible.
CommandListener = Callable[[str, bytes], None]
AnnounceListener = Callable[[], None]


class HubOffline(RpcTimeout):
    """The hub is known to be down (its Will), or the edge broker is: it was not even asked.

    A subclass of :class:`RpcTimeout` so callers treat both as "the hub cannot be reached".
    """


class UnknownPrintJob(LookupError):
    """No print job with this id was sent by this process (or it is long forgotten)."""


@dataclass(frozen=True, slots=True)
class _CachedServices:
    result: ServicesListResult
    fetched_at: float  # time.monotonic()


class KioskLink:
    """One MQTT connection of the touch app (client id ``{kiosk}-touch``) and what rides on it."""

    def __init__(self, settings: Settings, *, boot_id: str | None = None) -> None:
        self.kiosk = topics.check_id(settings.kiosk.id, "kiosk")
        self.centre = settings.kiosk.centre
        self.boot_id = boot_id or new_id()
        self._touch = settings.touch
        self._state_topic = topics.kiosk_state(self.kiosk)
        self._lock = threading.Lock()
        self._session = 0
        self._hub_status: HubStatus = "unknown"
        self._hub_boot: str | None = None
        self._hub_news = 0  # counts the hub's state messages: a probe's answer must be newer
        self._services: _CachedServices | None = None
        # One refresh at a time: a down hub must not hold every web thread for rpc_timeout.
        self._refresh = threading.Lock()
        self._last_probe = 0.0
        self._jobs: OrderedDict[str, PrintResult | None] = OrderedDict()
        self._unanswered: dict[str, tuple[PrintJob, float]] = {}
        self._event_seq = 0
        self._card_listeners: list[CardListener] = []
        self._gpio_listeners: list[GpioListener] = []
        self._command_listeners: list[CommandListener] = []
        self._announce_listeners: list[AnnounceListener] = []
        self._stopped = False
        self._mqtt = MqttLink(
            f"{self.kiosk}-touch",
            settings.mqtt,
            will=self._will(session=1),
            on_connected=self._on_connected,
        )
        self._rpc = RpcClient(self._mqtt, self.kiosk)
        self._outbox_path = settings.state_dir / OUTBOX_FILE
        self._outbox: Outbox | None = None
        self._courier: Courier | None = None
        self._mqtt.subscribe(topics.HUB_STATE, self._on_hub_state)
        self._mqtt.subscribe(topics.kiosk_ack(self.kiosk), self._on_ack)
        self._mqtt.subscribe(topics.PRINT_RESULT, self._on_print_result)
        self._mqtt.subscribe(topics.CARD_EVENT, self._on_card_event)
        self._mqtt.subscribe(topics.GPIO_EVENT, self._on_gpio_event)
        self._mqtt.subscribe(topics.KIOSK_CMD.format(kiosk=self.kiosk, name="+"), self._on_command)

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background; the birth goes out on every (re)connect, and the
        outbox is carried to the hub from then on."""
        self._courier_for(self.outbox).start()
        threading.Thread(target=self._watch_prints, name="print-watch", daemon=True).start()
        self._mqtt.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._mqtt.wait_connected(timeout)

    @property
    def is_connected(self) -> bool:
        return self._mqtt.is_connected

    @property
    def session(self) -> int:
        return self._session

    def stop(self) -> None:
        """Say offline ourselves: a clean DISCONNECT suppresses the Will."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._mqtt.stop(farewell=[(self._state_topic, self._state("offline", self._session))])
        if self._courier is not None:
            self._courier.stop()

    # --- presence -----------------------------------------------------------------------

    def _state(self, state: PresenceState, session: int) -> KioskState:
        return KioskState(
            kiosk=self.kiosk,
            centre=self.centre,
            state=state,
            boot_id=self.boot_id,
            session=session,
            version=__version__,
        )

    def _will(self, session: int) -> Will:
        return Will(self._state_topic, self._state("offline", session).to_bytes())

    def _on_connected(self) -> None:
        # Runs on the network thread, between CONNACK and the first message.
        with self._lock:
            self._session += 1
            session = self._session
        self._announce()
        self._replay()
        # The Will is read at each CONNECT; the next connect is session + 1, and a receiver
        # that orders by (boot_id, session) would ignore a Will with an older session.
        self._mqtt.set_will(self._will(session + 1))

    def _announce(self) -> None:
        with self._lock:
            # Published under the lock stop() takes first: no birth can follow the farewell.
            if self._stopped:
                return
            online = self._state("online", self._session)
            self._mqtt.publish(self._state_topic, online, retain=True)
        for listener in list(self._announce_listeners):
            listener()  # health (kiosk/touch/health.py) goes out with every birth

    def announce(self) -> None:
        """Re-announce our state now, and whatever is hooked with :meth:`on_announce`."""
        self._announce()

    def on_announce(self, listener: AnnounceListener) -> Callable[[], None]:
        """Call ``listener`` after every birth (connect, hub back, rebirth); returns an undo."""
        self._announce_listeners.append(listener)
        return lambda: self._announce_listeners.remove(listener)

    def publish_health(self, message: Envelope) -> None:
        """Retained, QoS 1 on ``svc/v1/kiosk/{kiosk}/health``."""
        self._mqtt.publish(topics.kiosk_health(self.kiosk), message, qos=1, retain=True)

    # --- the hub's presence -----------------------------------------------------------

    @property
    def hub_online(self) -> bool:
        """True once the hub said online (or answered), until it says otherwise."""
        return self._hub_status == "online"

    @property
    def hub_known_offline(self) -> bool:
        """True when asking is pointless: the hub's Will said offline, or our broker is gone."""
        return self._hub_status == "offline" or not self._mqtt.is_connected

    @property
    def hub_unreachable(self) -> bool:
        """What the pages' banner shows: known offline, or the last request went unanswered.

        ``unknown`` (no word from the hub yet, right after start) does not count: a banner
        that flashes at every boot would teach people to ignore it.
        """
        return self.hub_known_offline or self._hub_status == "unreachable"

    def _on_hub_state(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        news = decode(HubState, payload)
        with self._lock:
            # _hub_boot is None after a probe revived the link: any Will then counts.
            stale = news.state == "offline" and self._hub_boot not in (None, news.boot_id)
            if stale and self._hub_status == "online":
                # The Will of an earlier hub process, delivered late: the newer boot is up.
                return
            self._hub_status = news.state
            self._hub_boot = news.boot_id
            self._hub_news += 1
        if news.state == "online":
            self._hub_back()

    def _hub_back(self) -> None:
        # The hub may have lost track of us (new process, new database): tell it again,
        # and send at once what it has not acked.
        self._announce()
        self._replay()

    def probe_hub(self) -> None:
        """Ask again, in the background, a hub that went silent (at most every PROBE_EVERY s)
        or that said it went offline (every PROBE_OFFLINE_EVERY s).

        "unreachable" only ends when the hub answers: without this, the pages' banner would
        stay until someone pressed a button. A hub known offline announces its return
        itself, and the slower probe covers an announcement that never arrived.
        """
        now = time.monotonic()
        with self._lock:
            every = {"unreachable": PROBE_EVERY, "offline": PROBE_OFFLINE_EVERY}.get(
                self._hub_status
            )
            if every is None or now - self._last_probe < every or not self._mqtt.is_connected:
                return
            self._last_probe = now
            news = self._hub_news
        threading.Thread(target=self._probe, args=(news,), name="hub-probe", daemon=True).start()

    def _probe(self, news: int) -> None:
        try:
            result = self._rpc.call(
                "services.list", ServicesListParams(), ServicesListResult, self._touch.rpc_timeout
            )
        except RpcTimeout:
            self._hub_silent()
            return
        except RpcFailed:
            result = None  # refusing, but answering: the hub is up
        with self._lock:
            # The answer outranks only what we knew when we asked: a Will that came while
            # the question was on its way is the newer word.
            back = self._hub_news == news and self._hub_status != "online"
            if back:
                self._hub_status = "online"
                self._hub_boot = None  # which process answered is unknown
        if result is not None:
            self._services = _CachedServices(result, time.monotonic())
        if back:
            _LOGGER.info("the hub answered although it was last heard of as offline")
            self._hub_back()

    def _hub_answered(self) -> None:
        with self._lock:
            # An answer in flight when the hub's Will came must not undo it: the hub's own
            # state is the authority, and it announces itself when it is back.
            if self._hub_status != "offline":
                self._hub_status = "online"

    def _hub_silent(self) -> None:
        with self._lock:
            if self._hub_status in ("online", "unknown"):
                self._hub_status = "unreachable"

    # --- rpc --------------------------------------------------------------------------

    def _call(self, method: str, params: Params, result_type: type[R]) -> R:
        if not self._mqtt.is_connected:
            # paho would queue the request and send it on reconnect: a ticket nobody holds.
            raise HubOffline("the edge broker is not connected")
        if self._hub_status == "offline":
            raise HubOffline("the hub is offline")
        try:
            result = self._rpc.call(method, params, result_type, self._touch.rpc_timeout)
        except RpcTimeout:
            self._hub_silent()
            raise
        except RpcFailed:
            self._hub_answered()  # an error answer still proves the hub is up
            raise
        self._hub_answered()
        return result

    def services(self) -> ServicesListResult:
        """The centre's services, cached for ``services_ttl``; a stale copy beats no copy."""
        cached = self._services
        if cached and time.monotonic() - cached.fetched_at < self._touch.services_ttl:
            return cached.result
        if self.hub_known_offline:
            if cached:
                return cached.result
            raise HubOffline("the hub is offline and no services list is cached")
        if cached:
            if not self._refresh.acquire(blocking=False):
                return cached.result  # another thread is refreshing right now
        elif not self._refresh.acquire(timeout=2 * self._touch.rpc_timeout):
            raise RpcTimeout("no services list yet")
        try:
            return self._refresh_services(cached)
        finally:
            self._refresh.release()

    @property
    def cached_services(self) -> ServicesListResult | None:
        """Whatever list was fetched last, however old; never asks the hub."""
        cached = self._services
        return cached.result if cached else None

    def _refresh_services(self, cached: _CachedServices | None) -> ServicesListResult:
        latest = self._services
        if latest is not cached and latest is not None:
            return latest.result  # refreshed by the thread we waited for
        try:
            result = self._call("services.list", ServicesListParams(), ServicesListResult)
        except RpcTimeout:
            if cached:
                _LOGGER.warning("hub unreachable; showing the services list cached earlier")
                return cached.result
            raise
        self._services = _CachedServices(result, time.monotonic())
        return result

    def lease_tickets(self, service_code: str) -> TicketLeaseResult:
        """A block of numbers to issue ``service_code`` from while the hub is away."""
        return self._call(
            "ticket.lease", TicketLeaseParams(service=service_code), TicketLeaseResult
        )

    def take_ticket(self, service_code: str, event_id: str | None = None) -> TicketTakeResult:
        """Ask the hub for the next number. The same ``event_id`` gets the same ticket back."""
        params = TicketTakeParams(service=service_code, event_id=event_id or new_id())
        return self._call("ticket.take", params, TicketTakeResult)

    # --- events for the hub -------------------------------------------------------------

    def next_event_seq(self) -> int:
        """The per-boot sequence number of the next event this kiosk publishes (from 1)."""
        with self._lock:
            self._event_seq += 1
            return self._event_seq

    @property
    def outbox(self) -> Outbox:
        """The kiosk's SQLite file of undelivered events (opened on first use)."""
        with self._lock:
            if self._outbox is None:
                self._outbox = Outbox(self._outbox_path, Backoff(first=self._touch.outbox_retry))
            return self._outbox

    def queue_event(
        self, event_type: str, message: Envelope, effect: Effect[T] | None = None
    ) -> T | None:
        """Run ``effect`` on the kiosk's file and keep ``message`` for the hub, in one
        transaction; it is published at once and again until the hub acks its id."""
        return self.outbox.add(event_type, message, effect)

    def _courier_for(self, outbox: Outbox) -> Courier:
        with self._lock:
            if self._courier is None:
                self._courier = Courier(
                    outbox,
                    self._send,
                    lambda: self._mqtt.is_connected,
                    window=self._touch.outbox_window,
                )
            return self._courier

    def _send(self, event: Pending) -> bool:
        topic = topics.kiosk_event(self.kiosk, event.event_type)
        return self._mqtt.publish(topic, event.payload, qos=1).rc == 0

    def _replay(self) -> None:
        if self._courier is not None:
            grace = min(REPLAY_GRACE, self._touch.outbox_retry)
            self._courier.replay(grace, self._touch.outbox_replay_spread)

    def _on_ack(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        ack = decode(EventAck, payload)
        if ack.kiosk != self.kiosk:
            raise InvalidPayload(f"ack for kiosk {ack.kiosk!r} on {self.kiosk!r}'s topic")
        self.outbox.acked(ack.event_ids)
        if self._courier is not None:
            self._courier.wake()  # room in the window for what waits

    # --- the firmware bridge's card reader and GPIO -------------------------------------

    def on_card(self, listener: CardListener) -> Callable[[], None]:
        """Call ``listener`` (on the network thread) for every card event; returns an undo."""
        self._card_listeners.append(listener)
        return lambda: self._card_listeners.remove(listener)

    def on_gpio(self, listener: GpioListener) -> Callable[[], None]:
        """Call ``listener`` (on the network thread) for every GPIO event; returns an undo."""
        self._gpio_listeners.append(listener)
        return lambda: self._gpio_listeners.remove(listener)

    def on_command(self, listener: CommandListener) -> Callable[[], None]:
        """Call ``listener`` (on the network thread) for every remote command; returns an undo."""
        self._command_listeners.append(listener)
        return lambda: self._command_listeners.remove(listener)

    def _on_command(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        name = topic.rsplit("/", 1)[-1]
        for listener in list(self._command_listeners):
            listener(name, payload)

    def _on_card_event(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        # A card event carries a resident's raw identity: never log it (its repr is masked,
        # and decode's errors name fields, not values).
        event = decode(CardEvent, payload)
        for listener in list(self._card_listeners):
            listener(event)

    def _on_gpio_event(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        event = decode(GpioEvent, payload)
        for listener in list(self._gpio_listeners):
            listener(event)

    # --- printing -----------------------------------------------------------------------

    def print(self, receipt: Receipt, label: str = "") -> str:
        """Hand a receipt to the firmware bridge (QoS 1, not waited for); returns the job id.

        Until the bridge answers (spooled, printed…), the job is sent again every
        PRINT_RESEND_AFTER seconds for PRINT_RESEND_FOR: a bridge restarting or an edge
        broker killed with the job in its queue would otherwise lose the slip. The bridge
        knows every job id it has put on paper, so a resend never prints twice.
        """
        job = PrintJob(receipt=receipt, label=label)
        with self._lock:
            self._jobs[job.id] = None
            self._unanswered[job.id] = (job, time.monotonic())
            while len(self._jobs) > MAX_TRACKED_JOBS:
                dropped, _ = self._jobs.popitem(last=False)
                self._unanswered.pop(dropped, None)
        self._mqtt.publish(topics.PRINT_JOB, job, qos=1)
        return job.id

    def resend_unanswered_prints(self, now: float | None = None) -> int:
        """Send again the jobs the bridge has not answered; returns how many were sent."""
        now = time.monotonic() if now is None else now
        if not self._mqtt.is_connected:
            return 0
        with self._lock:
            for job_id, (_, since) in list(self._unanswered.items()):
                if now - since > PRINT_RESEND_FOR:
                    del self._unanswered[job_id]
                    _LOGGER.warning("print job %s never answered; given up", job_id)
            due = [
                job for job, since in self._unanswered.values() if now - since >= PRINT_RESEND_AFTER
            ]
        for job in due:
            self._mqtt.publish(topics.PRINT_JOB, job, qos=1)
        return len(due)

    def _watch_prints(self) -> None:
        while not self._stopped:
            time.sleep(PRINT_RESEND_AFTER)
            try:
                self.resend_unanswered_prints()
            except Exception:
                _LOGGER.exception("resending print jobs failed")

    def print_result(self, job_id: str) -> PrintResult | None:
        """The bridge's latest word on a job we sent; None while it has said nothing."""
        with self._lock:
            if job_id not in self._jobs:
                raise UnknownPrintJob(job_id)
            return self._jobs[job_id]

    def _on_print_result(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        result = decode(PrintResult, payload)
        with self._lock:
            if result.job_id in self._jobs:  # another process's job is not ours to track
                self._jobs[result.job_id] = result
                self._unanswered.pop(result.job_id, None)
