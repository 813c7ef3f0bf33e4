"""The hub worker on a real central Mosquitto, with the project's ACL: kiosk k1 talks to it
as it would through its bridge."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from paho.mqtt.properties import Properties

from kiosk.hub.desk import QueueDesk
from kiosk.hub.worker import HubWorker
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import (
    Board,
    DeviceState,
    HubState,
    ServicesListParams,
    ServicesListResult,
    TicketTakeParams,
    TicketTakeResult,
    decode,
)
from kiosk.protocol.rpc import RpcClient, RpcFailed
from tests import brokers
from tests.brokers import RunningBroker
from tests.hub.conftest import CENTRE, CENTRE_NAME, WAIT, eventually, kiosk_state


class Inbox:
    """Messages a link receives on one topic filter, decoded as ``model``."""

    def __init__(self, link: MqttLink, topic_filter: str) -> None:
        self.payloads: list[bytes] = []
        self._lock = threading.Lock()
        link.subscribe(topic_filter, self._on)

    def _on(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        with self._lock:
            self.payloads.append(payload)

    def last(self) -> bytes | None:
        with self._lock:
            return self.payloads[-1] if self.payloads else None


@contextmanager
def observer(broker: RunningBroker, topic_filter: str) -> Iterator[Inbox]:
    link = MqttLink(f"observer-{uuid.uuid4().hex[:8]}", broker.mqtt_settings("observer"))
    inbox = Inbox(link, topic_filter)
    link.start()
    assert link.wait_connected(WAIT)
    try:
        yield inbox
    finally:
        link.stop()


def _announce(kiosk_link: MqttLink, desk: QueueDesk) -> None:
    """Publish k1's retained birth and wait until the hub has it."""
    kiosk_link.publish(topics.kiosk_state("k1"), kiosk_state("k1"), retain=True)
    eventually(lambda: [k for k in desk.kiosks() if k.state == "online"], "k1's state")


def _take(rpc: RpcClient, service: str = "social", event_id: str | None = None) -> TicketTakeResult:
    params = TicketTakeParams(service=service, event_id=event_id or uuid.uuid4().hex)
    return rpc.call("ticket.take", params, TicketTakeResult, timeout=WAIT)


def test_the_hub_says_online_retained_and_offline_when_it_stops(
    central_broker: RunningBroker, live_desk: QueueDesk
) -> None:
    hub = HubWorker(central_broker.mqtt_settings("hub"), live_desk, client_id="hub-presence")
    hub.start()
    assert hub.wait_connected(WAIT)
    with observer(central_broker, topics.HUB_STATE) as inbox:
        online = eventually(inbox.last, "the hub's birth")
        assert decode(HubState, online).state == "online"
        hub.stop()
        offline = eventually(
            lambda: inbox.last() if inbox.last() != online else None, "the farewell"
        )
    state = decode(HubState, offline)
    assert (state.state, state.boot_id) == ("offline", hub.boot_id)


def test_the_hub_contradicts_a_late_will_of_its_own(
    central_broker: RunningBroker, live_desk: QueueDesk
) -> None:
    """A restarted broker can hand on the hub's Will after its new birth: the hub, still
    up, puts "online" back, or every kiosk would show its banner for as long as it runs."""
    hub = HubWorker(central_broker.mqtt_settings("hub"), live_desk, client_id="hub-contradicts")
    hub.start()
    assert hub.wait_connected(WAIT)
    late_will = HubState(state="offline", boot_id=hub.boot_id)
    try:
        with observer(central_broker, topics.HUB_STATE) as inbox:
            eventually(inbox.last, "the hub's birth")
            stand_in = MqttLink("hub-will-stand-in", central_broker.mqtt_settings("hub"))
            stand_in.start()
            assert stand_in.wait_connected(WAIT)
            stand_in.publish(topics.HUB_STATE, late_will, retain=True).wait_for_publish(WAIT)
            stand_in.stop()
            states = eventually(
                lambda: [decode(HubState, p).state for p in inbox.payloads][1:] or None,
                "the late Will",
            )
            corrected = eventually(
                lambda: inbox.payloads[2:] and decode(HubState, inbox.payloads[-1]),
                "the hub's correction",
            )
    finally:
        hub.stop()
    assert states[0] == "offline"
    assert (corrected.state, corrected.boot_id) == ("online", hub.boot_id)


def test_services_list_answers_with_the_kiosks_centre(
    worker: HubWorker, kiosk_link: MqttLink, live_desk: QueueDesk
) -> None:
    rpc = RpcClient(kiosk_link, "k1")
    with pytest.raises(RpcFailed) as refused:
        rpc.call("services.list", ServicesListParams(), ServicesListResult, timeout=WAIT)
    assert refused.value.code == "unknown_kiosk", "no state from k1 yet"
    _announce(kiosk_link, live_desk)
    result = rpc.call("services.list", ServicesListParams(), ServicesListResult, timeout=WAIT)
    assert (result.centre, result.centre_name) == (CENTRE, CENTRE_NAME)
    assert [(s.code, s.prefix) for s in result.services] == [("social", "A"), ("civil", "B")]


def test_ticket_take_over_mqtt(
    worker: HubWorker, kiosk_link: MqttLink, live_desk: QueueDesk
) -> None:
    _announce(kiosk_link, live_desk)
    rpc = RpcClient(kiosk_link, "k1")
    event_id = uuid.uuid4().hex
    ticket = _take(rpc, "civil", event_id)
    assert (ticket.number, ticket.service, ticket.service_name) == ("B001", "civil", "民政救助")
    assert (ticket.centre_name, ticket.waiting_ahead) == (CENTRE_NAME, 0)
    assert ticket.day == live_desk.today().isoformat()
    assert _take(rpc, "civil", event_id).number == "B001", "a retry gets the same ticket"
    with pytest.raises(RpcFailed) as refused:
        _take(rpc, "passport")
    assert refused.value.code == "unknown_service"
    assert "unknown service" in str(refused.value)


def test_fifty_concurrent_rpc_calls_get_fifty_consecutive_numbers(
    worker: HubWorker, kiosk_link: MqttLink, live_desk: QueueDesk
) -> None:
    _announce(kiosk_link, live_desk)
    rpc = RpcClient(kiosk_link, "k1")
    with ThreadPoolExecutor(max_workers=50) as pool:
        numbers = list(pool.map(lambda _i: _take(rpc).number, range(50)))
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 51)]


def test_malformed_payloads_are_counted_and_dropped(
    worker: HubWorker, kiosk_link: MqttLink, live_desk: QueueDesk
) -> None:
    _announce(kiosk_link, live_desk)
    before = worker.rejected
    kiosk_link.publish(topics.kiosk_state("k1"), b"\xff not json")
    kiosk_link.publish(topics.kiosk_rpc("k1", "ticket.take"), b'{"corr": 5}')
    kiosk_link.publish(topics.kiosk_device("k1", "printer"), b"[]")
    forged = kiosk_state("k2").to_bytes()  # k1 may not speak for k2
    kiosk_link.publish(topics.kiosk_state("k1"), forged)
    eventually(lambda: worker.rejected >= before + 4, "four rejections")
    assert worker.handler_errors == 0
    assert [k.id for k in live_desk.kiosks()] == ["k1"]
    assert _take(RpcClient(kiosk_link, "k1")).number == "A001", "the worker still answers"


def test_a_stale_offline_does_not_hide_a_live_kiosk(
    worker: HubWorker, kiosk_link: MqttLink, live_desk: QueueDesk
) -> None:
    live = kiosk_state("k1", boot_id="boot-2", session=1)
    kiosk_link.publish(topics.kiosk_state("k1"), live, retain=True)
    a_year_ago = live.ts - timedelta(days=365)
    old_will = kiosk_state("k1", "offline", boot_id="boot-1", session=4, ts=a_year_ago)
    kiosk_link.publish(topics.kiosk_state("k1"), old_will, retain=True)
    eventually(lambda: live_desk.kiosks(), "k1 known")
    printer = DeviceState(kiosk="k1", device="printer", status="online", paper="near_end")
    kiosk_link.publish(topics.kiosk_device("k1", "printer"), printer, retain=True)
    (kiosk,) = eventually(lambda: [k for k in live_desk.kiosks() if k.devices], "the printer")
    assert (kiosk.state, kiosk.boot_id, kiosk.online) == ("online", "boot-2", True)
    assert kiosk.devices["printer"]["paper"] == "near_end"


def test_after_a_call_the_board_is_retained_for_the_centre(
    worker: HubWorker,
    kiosk_link: MqttLink,
    live_desk: QueueDesk,
    central_broker: RunningBroker,
) -> None:
    _announce(kiosk_link, live_desk)
    _take(RpcClient(kiosk_link, "k1"))
    call = live_desk.call_next(CENTRE, 1, actor="user:clerk")
    assert call is not None
    expected = "请 A001 号到 1 号窗口"

    def board_says() -> Board | None:
        with observer(central_broker, topics.centre_board(CENTRE)) as inbox:
            payload = eventually(inbox.last, "the retained board")
        board = decode(Board, payload)
        return board if board.calls and board.calls[0].text == expected else None

    # Subscribed after the call: only a retained board can answer.
    board = eventually(board_says, "the board with A001")
    assert (board.centre, board.calls[0].number, board.calls[0].counter) == (CENTRE, "A001", 1)


def test_a_kiosk_reads_its_centres_board(
    worker: HubWorker, kiosk_link: MqttLink, live_desk: QueueDesk
) -> None:
    inbox = Inbox(kiosk_link, topics.centre_board(CENTRE))
    _announce(kiosk_link, live_desk)
    _take(RpcClient(kiosk_link, "k1"))
    live_desk.call_next(CENTRE, 2, actor="user:clerk")
    eventually(lambda: (p := inbox.last()) and decode(Board, p).calls, "the board at the kiosk")


def test_the_hub_sees_a_kiosks_bridge_go_up_and_down(
    tmp_path: Path, central_broker: RunningBroker, worker: HubWorker, live_desk: QueueDesk
) -> None:
    def uplink() -> str | None:
        kiosks = live_desk.kiosks()
        return kiosks[0].uplink if kiosks else None

    with brokers.edge_broker(tmp_path / "edge", central_broker):
        eventually(lambda: uplink() == "up", "the bridge's notice")
    eventually(lambda: uplink() == "down", "the bridge's goodbye")


def test_a_ticket_through_the_kiosks_edge_broker_and_bridge(
    tmp_path: Path, central_broker: RunningBroker, worker: HubWorker, live_desk: QueueDesk
) -> None:
    with brokers.edge_broker(tmp_path / "edge", central_broker) as edge:
        touch = MqttLink("k1-touch", edge.mqtt_settings("touch"))
        touch.start()
        try:
            assert touch.wait_connected(WAIT)
            touch.publish(topics.kiosk_state("k1"), kiosk_state("k1"), retain=True)
            eventually(
                lambda: [k for k in live_desk.kiosks() if k.online and k.uplink == "up"],
                "k1 online with its bridge up",
            )
            ticket = _take(RpcClient(touch, "k1"), "civil")
        finally:
            touch.stop()
    assert (ticket.number, ticket.centre_name) == ("B001", CENTRE_NAME)
