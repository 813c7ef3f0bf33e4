"""The outbox end to end: a real kiosk link and ticket desk on its edge broker, bridged to
the central broker, and the real hub worker on a real SQLite file. The hub goes away and
comes back; what the kiosk made meanwhile arrives exactly once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kiosk.domain.queue import service_day
from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import KioskEventRecord, Ticket
from kiosk.hub.worker import HubWorker
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import EventAck, TicketIssued, decode, utcnow
from kiosk.settings import KioskSettings, Settings, TouchSettings
from kiosk.touch.issuing import TicketDesk
from kiosk.touch.link import KioskLink
from tests import brokers
from tests.brokers import RunningBroker
from tests.hub.conftest import CENTRE, WAIT, eventually, kiosk_state, wait_hub_online


@pytest.fixture
def edge(tmp_path: Path, central_broker: RunningBroker) -> Iterator[RunningBroker]:
    with brokers.edge_broker(tmp_path / "edge", central_broker) as broker:
        yield broker


def _start_hub(central: RunningBroker, desk: QueueDesk) -> HubWorker:
    hub = HubWorker(central.mqtt_settings("hub"), desk, client_id="hub-outbox-test")
    hub.start()
    wait_hub_online(central, hub)
    return hub


@pytest.fixture
def kiosk(tmp_path: Path, edge: RunningBroker) -> Iterator[KioskLink]:
    settings = Settings(
        state_dir=tmp_path / "kiosk",
        kiosk=KioskSettings(id="k1", centre=CENTRE),
        mqtt=edge.mqtt_settings("touch"),
        touch=TouchSettings(rpc_timeout=1.0, outbox_retry=1.0, outbox_replay_spread=0.2),
    )
    link = KioskLink(settings)
    link.start()
    assert link.wait_connected(WAIT)
    yield link
    link.stop()


def _tickets(desk: QueueDesk) -> list[tuple[str, str]]:
    with desk.database.read() as session:
        rows = session.execute(
            select(Ticket.display_number, Ticket.status).order_by(Ticket.issued_at)
        ).all()
    return [(number, status) for number, status in rows]


def test_tickets_issued_while_the_hub_is_away_reach_it_once_when_it_is_back(
    central_broker: RunningBroker, live_desk: QueueDesk, kiosk: KioskLink
) -> None:
    hub = _start_hub(central_broker, live_desk)
    desk = TicketDesk(kiosk)
    try:
        eventually(lambda: kiosk.hub_online, "the hub's birth at the kiosk")
        online = desk.issue("social")
        assert (online.ticket.number, online.offline) == ("A001", False)
        # The online ticket also leased a block for later, in the background.
        day = online.ticket.day
        eventually(lambda: desk.leases.remaining("social", day) > 0, "a lease of numbers")
    finally:
        hub.stop()
    eventually(lambda: kiosk.hub_known_offline, "the hub's goodbye at the kiosk")
    offline = [desk.issue("social") for _ in range(3)]
    assert [t.ticket.number for t in offline] == ["A9001", "A9002", "A9003"]
    assert all(t.offline for t in offline)
    assert kiosk.outbox.depth() == 3

    hub = _start_hub(central_broker, live_desk)  # the same persistent session, a new boot
    try:
        eventually(lambda: kiosk.outbox.depth() == 0, "the hub's acks for all three")
        assert _tickets(live_desk) == [
            ("A001", "waiting"),
            ("A9001", "waiting"),
            ("A9002", "waiting"),
            ("A9003", "waiting"),
        ]
        with live_desk.database.read() as session:
            assert session.scalar(select(func.count()).select_from(KioskEventRecord)) == 3
    finally:
        hub.stop()


def test_a_redelivered_event_is_applied_once_and_acked_again(
    central_broker: RunningBroker,
    live_desk: QueueDesk,
    worker: HubWorker,
    kiosk_link: MqttLink,
) -> None:
    _announce_k1(kiosk_link, live_desk)
    event = _offline_ticket("A-k1-001", None)
    acks = _Acks(kiosk_link)
    kiosk_link.publish(topics.kiosk_event("k1", topics.TICKET_ISSUED), event)
    eventually(lambda: acks.count(event.id) == 1, "the ack")
    for _ in range(2):  # redelivered; the two may share a batch, and then an ack
        kiosk_link.publish(topics.kiosk_event("k1", topics.TICKET_ISSUED), event)
    eventually(
        lambda: worker.metrics.duplicates.value(type=topics.TICKET_ISSUED) == 2,
        "both redeliveries counted as duplicates",
    )
    eventually(lambda: acks.count(event.id) >= 2, "an ack for the redeliveries")
    assert _tickets(live_desk) == [("A-k1-001", "waiting")]


def test_an_event_against_the_rules_is_kept_with_its_reason_and_acked(
    central_broker: RunningBroker,
    live_desk: QueueDesk,
    worker: HubWorker,
    kiosk_link: MqttLink,
) -> None:
    _announce_k1(kiosk_link, live_desk)
    forged = _offline_ticket("A9500", 9500)  # a number never leased to k1
    acks = _Acks(kiosk_link)
    kiosk_link.publish(topics.kiosk_event("k1", topics.TICKET_ISSUED), forged)
    eventually(lambda: acks.count(forged.id) == 1, "the ack of a refused event")
    with live_desk.database.read() as session:
        record = session.get(KioskEventRecord, forged.id)
        assert record is not None and record.status == "refused"
        assert "not leased to k1" in (record.detail or "")
        assert json.loads(record.payload or "{}")["display_number"] == "A9500"
    assert _tickets(live_desk) == []
    assert worker.metrics.rejected.value(kind="event") == 1


def test_an_unknown_event_type_is_not_acked(
    central_broker: RunningBroker,
    live_desk: QueueDesk,
    worker: HubWorker,
    kiosk_link: MqttLink,
) -> None:
    _announce_k1(kiosk_link, live_desk)
    acks = _Acks(kiosk_link)
    future = {"v": 1, "id": uuid.uuid4().hex, "ts": utcnow().isoformat(), "kiosk": "k1"}
    kiosk_link.publish(topics.kiosk_event("k1", "slot.booked"), json.dumps(future).encode())
    eventually(lambda: worker.metrics.rejected.value(kind="event") == 1, "the refusal counted")
    assert acks.count(future["id"]) == 0, "the kiosk keeps it for a hub that knows the type"


class _Acks:
    def __init__(self, link: MqttLink) -> None:
        self.ids: list[str] = []
        link.subscribe(topics.kiosk_ack("k1"), self._on)

    def _on(self, _topic: str, payload: bytes, _props: object) -> None:
        self.ids.extend(decode(EventAck, payload).event_ids)

    def count(self, event_id: str) -> int:
        return self.ids.count(event_id)


def _announce_k1(link: MqttLink, desk: QueueDesk) -> None:
    link.publish(topics.kiosk_state("k1"), kiosk_state("k1"), retain=True)
    eventually(lambda: desk.kiosks(), "k1 known to the hub")


def _offline_ticket(display_number: str, number: int | None) -> TicketIssued:
    return TicketIssued(
        kiosk="k1",
        centre=CENTRE,
        service="social",
        day=service_day(utcnow()),
        number=number,
        display_number=display_number,
        issued_at=utcnow(),
    )
