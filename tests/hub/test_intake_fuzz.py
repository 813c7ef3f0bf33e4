"""Fuzzing the hub's MQTT intake through a real central broker.

Hypothesis makes batches of messages for kiosk k1's event, state, device and rpc topics:
valid ones (calls for staff, ticket requests, states, device states), some of them
replayed or out of order, interleaved with rubbish (wrong types, missing fields, huge
strings, invalid UTF-8, another kiosk's name, unknown event types). Everything is
published in one go as kiosk k1 (the broker's ACL lets it write only under its own
topics), then checked once:

- the worker is still connected and answers a new request;
- every valid message was applied exactly once (a replayed event id changes nothing);
- every message dropped is counted in the hub's metrics (``rejected`` by kind, the text
  ``/metrics`` serves), and a request with bad params gets an error answer.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from kiosk.domain.queue import format_fallback_number, format_ticket_number, service_day
from kiosk.hub.db import Database
from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import Alert, Ticket
from kiosk.hub.monitor import FleetMonitor, FleetPolicy
from kiosk.hub.worker import HubWorker
from kiosk.protocol import topics
from kiosk.protocol.messages import (
    DeviceState,
    Envelope,
    EventAck,
    HelpRequested,
    KioskState,
    RpcReply,
    RpcRequest,
    TicketIssued,
    decode,
)
from tests.brokers import RunningBroker
from tests.hub.conftest import CENTRE, WAIT, eventually, wait_hub_online

KIOSK = "k1"
OTHER_KIOSK = "k2"
EXAMPLES = 60
BOOT = "boot-fuzz"

Kind = Literal["event", "state", "device", "rpc"]
Expect = Literal["reject", "help", "ticket", "offline", "error_reply", "state", "device"]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    kind: Kind
    expect: Expect
    key: str = ""  # help: the event id; ticket: the ticket's event id; error_reply: corr
    corr: str = ""
    how: str = ""  # what is wrong with it (rubbish only)


@dataclass
class Plan:
    """Everything to publish, in order, and what each message should do."""

    messages: list[Message] = field(default_factory=list)
    help_ids: set[str] = field(default_factory=set)
    ticket_ids: set[str] = field(default_factory=set)
    offline_ids: dict[str, str] = field(default_factory=dict)  # event id → display number

    def add(self, message: Message) -> None:
        self.messages.append(message)
        if message.expect == "help":
            self.help_ids.add(message.key)
        elif message.expect == "ticket":
            self.ticket_ids.add(message.key)
        elif message.expect == "offline":
            self.offline_ids[message.key] = message.corr

    def rejected(self) -> Counter[str]:
        return Counter(m.kind for m in self.messages if m.expect == "reject")

    def sent(self) -> Counter[str]:
        return Counter(m.kind for m in self.messages)


# --- valid messages -------------------------------------------------------------------

_seq = iter(range(1, 1_000_000))
_session = iter(range(1, 1_000_000))
START = datetime.now(UTC)


def _help(offset_s: int) -> HelpRequested:
    # ts from the offset, not the clock: out-of-order events carry older stamps.
    return HelpRequested(
        kiosk=KIOSK,
        centre=CENTRE,
        boot_id=BOOT,
        seq=next(_seq),
        source="screen",
        ts=START + timedelta(seconds=offset_s),
    )


_fallback = iter(range(1, 1_000_000))


def _offline_ticket(number: int | None = None) -> TicketIssued:
    """A ticket k1 issued while the hub was away: a fallback number of its own, or (for
    rubbish) a number in the leased range that was never leased to it."""
    issued_at = datetime.now(UTC)
    display = (
        format_fallback_number("A", KIOSK, next(_fallback))
        if number is None
        else format_ticket_number("A", number)
    )
    return TicketIssued(
        kiosk=KIOSK,
        centre=CENTRE,
        service="social",
        day=service_day(issued_at).isoformat(),
        number=number,
        display_number=display,
        issued_at=issued_at,
    )


def _state() -> KioskState:
    return KioskState(
        kiosk=KIOSK,
        centre=CENTRE,
        state="online",
        boot_id=BOOT,
        session=next(_session),
        version="fuzz",
        ts=datetime.now(UTC),
    )


def _device() -> DeviceState:
    return DeviceState(kiosk=KIOSK, device="printer", status="online", paper="ok")


def _ticket_request(event_id: str) -> RpcRequest:
    return RpcRequest(corr=uuid.uuid4().hex, params={"service": "social", "event_id": event_id})


def _topic(kind: Kind, name: str = "") -> str:
    if kind == "event":
        return topics.KIOSK_EVENT.format(kiosk=KIOSK, type=name or "help.requested")
    if kind == "state":
        return topics.kiosk_state(KIOSK)
    if kind == "device":
        return topics.kiosk_device(KIOSK, name or "printer")
    return topics.KIOSK_RPC.format(kiosk=KIOSK, method=name or "ticket.take")


# --- rubbish --------------------------------------------------------------------------

WRONG_TYPES = st.one_of(
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
HUGE = st.integers(min_value=65, max_value=300_000).map(lambda n: "x" * n)


def _valid_of(kind: Kind) -> Envelope:
    if kind == "event":
        return _help(0)
    if kind == "state":
        return _state()
    if kind == "device":
        return _device()
    return _ticket_request(uuid.uuid4().hex)


Pick = Callable[[st.SearchStrategy[Any]], Any]
HOWS: dict[str, tuple[Kind, ...]] = {
    "missing": ("event", "state", "device", "rpc"),
    "wrong_type": ("event", "state", "device", "rpc"),
    "huge_id": ("event", "state", "device", "rpc"),
    "bad_utf8": ("event", "state", "device", "rpc"),
    "not_json": ("event", "state", "device", "rpc"),
    "not_object": ("event", "state", "device", "rpc"),
    "unknown_field": ("event", "state", "device", "rpc"),
    "version": ("event", "state", "device", "rpc"),
    "other_kiosk": ("event", "state", "device"),
    "unknown_type": ("event",),
}
COMBINATIONS = [(kind, how) for how, kinds in HOWS.items() for kind in kinds]


def _first(strategy: st.SearchStrategy[Any]) -> Any:
    """A fixed pick for the deterministic messages: the simplest value hypothesis knows."""
    return find(strategy, lambda _value: True, settings=settings(database=None))


def rubbish_message(kind: Kind, how: str, pick: Pick) -> Message:
    """A message the hub must drop (and count), whatever the rest of it says."""
    body: dict[str, Any] = json.loads(_valid_of(kind).to_bytes())
    topic = _topic(kind)
    if how == "unknown_type":
        topic = _topic("event", pick(st.sampled_from(["no.such.event", "help.request", "x"])))
    else:
        _spoil_body(kind, how, body, pick)
    payload = _spoil_bytes(how, json.dumps(body, ensure_ascii=False).encode(), pick)
    return Message(topic, payload, kind, "reject", how=how)


def _spoil_body(kind: Kind, how: str, body: dict[str, Any], pick: Pick) -> None:
    model = type(_valid_of(kind))
    required = [name for name, info in model.model_fields.items() if info.is_required()]
    if how == "missing":
        del body[pick(st.sampled_from(required))]
    elif how == "wrong_type":
        body[pick(st.sampled_from(required))] = pick(WRONG_TYPES)
    elif how == "huge_id":
        body["id"] = pick(HUGE)
    elif how == "unknown_field":
        body[pick(st.sampled_from(["extra", "note", "kiosk_id"]))] = pick(st.text(max_size=20))
    elif how == "version":
        body["v"] = pick(st.sampled_from([0, 2, None, [1]]))
    elif how == "other_kiosk":
        body["kiosk"] = OTHER_KIOSK


def _spoil_bytes(how: str, payload: bytes, pick: Pick) -> bytes:
    if how == "bad_utf8":
        # A lone continuation byte inside a string value: not UTF-8, whatever follows.
        cut = payload.index(b'"id": "') + len(b'"id": "')
        bad: bytes = pick(st.sampled_from([b"\xff", b"\x80", b"\xc3("]))
        return payload[:cut] + bad + payload[cut:]
    if how == "not_json":
        return bytes(pick(st.binary(min_size=1, max_size=200).filter(_not_json)))
    if how == "not_object":
        value = pick(st.one_of(st.integers(), st.lists(st.none()), st.text()))
        return json.dumps(value).encode()
    return payload


@st.composite
def rubbish(draw: st.DrawFn) -> Message:
    kind, how = draw(st.sampled_from(COMBINATIONS))
    return rubbish_message(kind, how, draw)


def _not_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return True
    return False


def _helps(draw: st.DrawFn) -> list[Message]:
    # Out of order: a later event may carry an earlier time stamp and sequence.
    event = _help(draw(st.integers(min_value=-3600, max_value=3600)))
    message = Message(_topic("event"), event.to_bytes(), "event", "help", event.id)
    return [message] * draw(st.integers(min_value=1, max_value=2))  # maybe replayed


def _tickets(draw: st.DrawFn) -> list[Message]:
    event_id = uuid.uuid4().hex
    out = []
    for _ in range(draw(st.integers(min_value=1, max_value=2))):
        request = _ticket_request(event_id)  # a retry: same event id, new corr
        out.append(
            Message(_topic("rpc"), request.to_bytes(), "rpc", "ticket", event_id, request.corr)
        )
    return out


def _offline(draw: st.DrawFn) -> list[Message]:
    offline = _offline_ticket()
    topic = _topic("event", "ticket.issued")
    message = Message(
        topic, offline.to_bytes(), "event", "offline", offline.id, offline.display_number
    )
    return [message] * draw(st.integers(min_value=1, max_value=2))  # maybe replayed


def _unleased(draw: st.DrawFn) -> list[Message]:
    # Refused for good (never leased to k1): kept with the reason, counted, acked.
    unleased = _offline_ticket(draw(st.integers(min_value=9001, max_value=9999)))
    topic = _topic("event", "ticket.issued")
    return [Message(topic, unleased.to_bytes(), "event", "reject", how="unleased")]


def _states(_draw: st.DrawFn) -> list[Message]:
    return [Message(_topic("state"), _state().to_bytes(), "state", "state")]


def _devices(_draw: st.DrawFn) -> list[Message]:
    return [Message(_topic("device"), _device().to_bytes(), "device", "device")]


def _bad_params(draw: st.DrawFn) -> list[Message]:
    bad = RpcRequest(corr=uuid.uuid4().hex, params={"service": draw(WRONG_TYPES)})
    return [Message(_topic("rpc"), bad.to_bytes(), "rpc", "error_reply", bad.corr, bad.corr)]


def _rubbish(draw: st.DrawFn) -> list[Message]:
    return [draw(rubbish())]


DRAWERS = {
    "rubbish": _rubbish,
    "help": _helps,
    "ticket": _tickets,
    "offline": _offline,
    "unleased": _unleased,
    "state": _states,
    "device": _devices,
    "bad_params": _bad_params,
}
WEIGHTED = ["rubbish", "rubbish", "rubbish", *DRAWERS]


@st.composite
def batch(draw: st.DrawFn) -> list[Message]:
    """A few valid messages and rubbish in a drawn order; some valid ones come twice."""
    out: list[Message] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        out += DRAWERS[draw(st.sampled_from(WEIGHTED))](draw)
    return draw(st.permutations(out))


def make_plan() -> Plan:
    plan = Plan()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch())
    def collect(messages: list[Message]) -> None:
        for message in messages:
            plan.add(message)

    collect()
    # Whatever hypothesis drew, one of every kind of rubbish on every topic it applies to.
    # (Each valid kind is drawn anyway: the test checks that it was.)
    drawn = {(m.kind, m.how) for m in plan.messages if m.expect == "reject"}
    for kind, how in COMBINATIONS:
        if (kind, how) not in drawn:
            plan.add(rubbish_message(kind, how, _first))
    return plan


# --- the hub and kiosk k1 on the broker -------------------------------------------------


@pytest.fixture
def fuzz_hub(
    central_broker: RunningBroker, live_desk: QueueDesk, database: Database
) -> Iterator[HubWorker]:
    monitor = FleetMonitor(database, FleetPolicy(), clock=live_desk.now)
    hub = HubWorker(
        central_broker.mqtt_settings("hub"), live_desk, client_id="hub-fuzz", monitor=monitor
    )
    hub.start()
    wait_hub_online(central_broker, hub)
    yield hub
    hub.stop()


class Kiosk:
    """Kiosk k1 as its bridge appears on the central broker: publishes, reads its replies."""

    def __init__(self, broker: RunningBroker) -> None:
        self.replies: dict[str, list[RpcReply]] = {}
        self.acked: set[str] = set()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"k1-fuzz-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(100)
        self.client.username_pw_set(KIOSK, broker.users[KIOSK])
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_args: self._subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe([(topics.kiosk_reply(KIOSK), 1), (topics.kiosk_ack(KIOSK), 1)])
        self.client.loop_start()
        assert self._subscribed.wait(WAIT), broker.log()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == topics.kiosk_ack(KIOSK):
            ack = decode(EventAck, bytes(msg.payload))
            with self._lock:
                self.acked.update(ack.event_ids)
            return
        reply = decode(RpcReply, bytes(msg.payload))
        with self._lock:
            self.replies.setdefault(reply.corr, []).append(reply)

    def reply(self, corr: str) -> RpcReply | None:
        with self._lock:
            found = self.replies.get(corr)
            return found[0] if found else None

    def publish_all(self, messages: list[Message]) -> None:
        infos = [self.client.publish(m.topic, m.payload, qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(WAIT)
            assert info.is_published()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _metric(text: str, name: str, kind: str) -> float:
    found = re.search(rf'^{name}{{kind="{kind}"}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _scrape(hub: HubWorker, name: str, kinds: list[str]) -> Counter[str]:
    text = hub.metrics.render()  # what GET /metrics serves
    return Counter({kind: int(_metric(text, name, kind)) for kind in kinds})


KINDS = ["event", "state", "device", "rpc"]


def test_rubbish_is_counted_and_valid_messages_apply_once(
    fuzz_hub: HubWorker, central_broker: RunningBroker, database: Database, live_desk: QueueDesk
) -> None:
    plan = make_plan()
    drawn = {m.expect for m in plan.messages} | {m.how for m in plan.messages}
    assert drawn >= {"help", "ticket", "offline", "unleased", "error_reply"}, drawn
    kiosk = Kiosk(central_broker)
    try:
        # k1 announces itself first: the hub answers requests of known kiosks only.
        birth = Message(_topic("state"), _state().to_bytes(), "state", "state")
        kiosk.publish_all([birth])
        eventually(lambda: live_desk.kiosks(), "k1 known to the hub")
        intake_before = _scrape(fuzz_hub, "kiosk_hub_intake_messages_total", KINDS)
        rejected_before = _scrape(fuzz_hub, "kiosk_hub_rejected_messages_total", KINDS)
        kiosk.publish_all(plan.messages)
        sent = plan.sent()
        eventually(
            lambda: (
                _scrape(fuzz_hub, "kiosk_hub_intake_messages_total", KINDS) - intake_before == sent
            ),
            f"the hub to take in {sum(sent.values())} messages",
            timeout=60,
        )
        rejected = _scrape(fuzz_hub, "kiosk_hub_rejected_messages_total", KINDS) - rejected_before
        assert rejected == plan.rejected(), _rejection_report(plan, rejected)

        # Still connected and answering: a fresh request after all that gets its ticket.
        assert fuzz_hub.is_connected
        last = _ticket_request(uuid.uuid4().hex)
        kiosk.publish_all([Message(_topic("rpc"), last.to_bytes(), "rpc", "ticket")])
        answer = eventually(lambda: kiosk.reply(last.corr), "an answer to a fresh request")
        assert answer.ok, answer.error

        _assert_applied_once(plan, kiosk, database)
        _assert_duplicates_counted(fuzz_hub, plan)
        # Acked end to end: each valid event (replays are acked again), and each refused
        # for good (kept at the hub with the reason; retrying could never help).
        unleased = {
            decode(TicketIssued, m.payload).id for m in plan.messages if m.how == "unleased"
        }
        wanted = plan.help_ids | set(plan.offline_ids) | unleased
        eventually(lambda: wanted <= kiosk.acked, "acks of every event")
    finally:
        kiosk.close()


def _assert_applied_once(plan: Plan, kiosk: Kiosk, database: Database) -> None:
    requests = [m for m in plan.messages if m.expect == "ticket"]
    for message in requests:
        reply = eventually(functools.partial(kiosk.reply, message.corr), f"answer {message.corr}")
        assert reply.ok, reply.error
    numbers: dict[str, set[str]] = {}
    for message in requests:
        answer = kiosk.reply(message.corr)
        assert answer is not None and answer.result is not None
        numbers.setdefault(message.key, set()).add(str(answer.result["number"]))
    assert all(len(n) == 1 for n in numbers.values()), "a retried request got another number"
    for message in (m for m in plan.messages if m.expect == "error_reply"):
        reply = eventually(functools.partial(kiosk.reply, message.corr), "an error answer")
        assert not reply.ok and reply.error is not None and reply.error.code == "bad_params"
    with database.read() as session:
        per_event = Counter(
            session.scalars(select(Ticket.event_id).where(Ticket.event_id.in_(plan.ticket_ids)))
        )
        offline = Counter(
            session.execute(
                select(Ticket.event_id, Ticket.display_number).where(
                    Ticket.event_id.in_(plan.offline_ids)
                )
            ).all()
        )
        help_count = session.scalar(
            select(func.coalesce(func.sum(Alert.count), 0)).where(
                Alert.kiosk == KIOSK, Alert.kind == "help"
            )
        )
    assert per_event == Counter(dict.fromkeys(plan.ticket_ids, 1)), "tickets not once each"
    assert offline == Counter(dict.fromkeys(plan.offline_ids.items(), 1)), (
        "tickets issued offline not filed once each"
    )
    assert help_count == len(plan.help_ids), (
        f"{len(plan.help_ids)} distinct calls for staff (some replayed), "
        f"the hub counted {help_count}"
    )


def _assert_duplicates_counted(hub: HubWorker, plan: Plan) -> None:
    text = hub.metrics.render()
    for event_type, expect, distinct in (
        ("help.requested", "help", len(plan.help_ids)),
        ("ticket.issued", "offline", len(plan.offline_ids)),
    ):
        replays = sum(1 for m in plan.messages if m.expect == expect) - distinct
        found = re.search(
            rf'^kiosk_hub_duplicate_events_total{{type="{event_type}"}} (\S+)$', text, re.M
        )
        counted = int(float(found.group(1))) if found else 0
        assert counted == replays, f"{event_type}: {replays} replays, {counted} counted"


def _rejection_report(plan: Plan, rejected: Counter[str]) -> str:
    return (
        f"rejections counted {dict(rejected)}, rubbish sent {dict(plan.rejected())}; "
        f"rubbish topics: {Counter(m.topic for m in plan.messages if m.expect == 'reject')}"
    )
