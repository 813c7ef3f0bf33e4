"""Numbers for kiosks that lose the hub: leases, online numbering around them, and filing
the tickets a kiosk issued offline (on a real migrated SQLite file)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from kiosk.domain.queue import FALLBACK_BASE, LEASE_BLOCK, LEASED_NUMBERS, service_day
from kiosk.hub import tickets
from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import DayCounter, Ticket
from kiosk.protocol.messages import InvalidPayload, TicketIssued, decode
from kiosk.protocol.rpc import RpcRefused
from tests.hub.conftest import CENTRE, FakeClock, kiosk_state


def _issued(
    clock: FakeClock,
    display: str,
    number: int | None,
    *,
    kiosk: str = "k1",
    service: str = "social",
    request_id: str | None = None,
    at: datetime | None = None,
) -> TicketIssued:
    return TicketIssued(
        kiosk=kiosk,
        centre=CENTRE,
        service=service,
        day=service_day(clock.now),
        number=number,
        display_number=display,
        issued_at=at or clock.now,
        request_id=request_id,
    )


def _file(desk: QueueDesk, event: TicketIssued, kiosk: str = "k1") -> str:
    centre = desk.catalogue.centre(CENTRE)
    with desk.database.write() as session:
        return tickets.file_offline_ticket(session, centre, event, kiosk=kiosk, now=desk.now())


def _take(desk: QueueDesk, kiosk: str = "k1") -> str:
    return desk.take(kiosk, "social", uuid.uuid4().hex).number


@pytest.fixture(autouse=True)
def kiosks_known(desk: QueueDesk) -> None:
    for kiosk in ("k1", "k2"):
        desk.kiosk_state(kiosk_state(kiosk, ts=desk.now()))


def test_leases_are_consecutive_blocks_from_the_leased_range(desk: QueueDesk) -> None:
    first = desk.lease("k1", "social")
    second = desk.lease("k2", "social")
    other = desk.lease("k1", "civil")
    assert (first.first, first.last) == (
        LEASED_NUMBERS.start,
        LEASED_NUMBERS.start + LEASE_BLOCK - 1,
    )
    assert (second.first, second.last) == (first.last + 1, first.last + LEASE_BLOCK)
    assert other.first == LEASED_NUMBERS.start, "each service has its own range"


def test_online_numbers_stay_consecutive_and_never_enter_the_leased_range(
    desk: QueueDesk,
) -> None:
    desk.lease("k1", "social")
    assert [_take(desk) for _ in range(3)] == ["A001", "A002", "A003"]
    with desk.database.write() as session:
        session.execute(update(DayCounter).values(last_number=LEASED_NUMBERS.start - 2))
    assert [_take(desk), _take(desk)] == ["A9000", "A10000"]


def test_a_kiosk_cannot_hoard_leases(desk: QueueDesk) -> None:
    for _ in range(tickets.MAX_LEASES_PER_DAY):
        desk.lease("k1", "social")
    with pytest.raises(RpcRefused) as refused:
        desk.lease("k1", "social")
    assert refused.value.code == "lease_exhausted"
    assert desk.lease("k2", "social").first > 0, "another kiosk still gets its block"


def test_a_leased_ticket_joins_the_queue_when_it_was_issued(
    desk: QueueDesk, clock: FakeClock
) -> None:
    lease = desk.lease("k1", "social")
    early = clock.now
    clock.advance(minutes=5)
    online = _take(desk, "k2")
    _file(desk, _issued(clock, f"A{lease.first}", lease.first, at=early))
    with desk.database.read() as session:
        order = session.scalars(select(Ticket.display_number).order_by(Ticket.issued_at)).all()
    assert order == [f"A{lease.first}", online]
    call = desk.call_next(CENTRE, 1, actor="staff:1")
    assert call is not None and call.number == f"A{lease.first}", "called in the order issued"


def test_a_number_not_leased_to_that_kiosk_is_refused(desk: QueueDesk, clock: FakeClock) -> None:
    lease = desk.lease("k2", "social")
    with pytest.raises(tickets.OfflineTicketRefused, match="not leased to k1"):
        _file(desk, _issued(clock, f"A{lease.first}", lease.first))
    with pytest.raises(tickets.OfflineTicketRefused, match="does not match"):
        _file(desk, _issued(clock, "A9999", lease.first, kiosk="k2"), kiosk="k2")


def test_fallback_numbers_get_internal_numbers_of_their_own(
    desk: QueueDesk, clock: FakeClock
) -> None:
    assert _file(desk, _issued(clock, "A-k1-001", None)) == "A-k1-001"
    _file(desk, _issued(clock, "A-k2-001", None, kiosk="k2"), kiosk="k2")
    with desk.database.read() as session:
        numbers = session.scalars(select(Ticket.number).order_by(Ticket.id)).all()
    assert numbers == [FALLBACK_BASE + 1, FALLBACK_BASE + 2]
    with pytest.raises(tickets.OfflineTicketRefused, match="not a number of k1"):
        _file(desk, _issued(clock, "A-k2-002", None))
    with pytest.raises(tickets.OfflineTicketRefused, match="not written"):
        _file(desk, _issued(clock, "A-k1-0002", None))


def test_the_ticket_of_an_unanswered_request_is_voided(desk: QueueDesk, clock: FakeClock) -> None:
    request_id = uuid.uuid4().hex
    ghost = desk.take("k1", "social", request_id).number  # the reply was lost on the way
    _file(desk, _issued(clock, "A-k1-001", None, request_id=request_id))
    with desk.database.read() as session:
        status = dict(session.execute(select(Ticket.display_number, Ticket.status)).all())
    assert status == {ghost: "skipped", "A-k1-001": "waiting"}


def test_a_ticket_from_yesterday_is_filed_on_its_own_day(desk: QueueDesk, clock: FakeClock) -> None:
    yesterday = clock.now - timedelta(days=1)
    event = _issued(clock, "A-k1-001", None, at=yesterday)
    event = event.model_copy(update={"day": service_day(yesterday)})
    _file(desk, event)
    with desk.database.read() as session:
        day = session.scalar(select(Ticket.day))
    assert day == service_day(yesterday)


def test_a_late_copy_of_the_unanswered_request_finds_the_offline_ticket(
    desk: QueueDesk, clock: FakeClock
) -> None:
    request_id = uuid.uuid4().hex
    _file(desk, _issued(clock, "A-k1-001", None, request_id=request_id))
    late = desk.take("k1", "social", request_id)  # the timed-out request, arriving now
    assert late.number == "A-k1-001", "no second ticket that nobody holds"
    assert [number for number, _ in _statuses(desk)] == ["A-k1-001"]


def test_a_ticket_issued_event_with_a_bad_day_is_invalid() -> None:
    payload = _issued(FakeClock(), "A-k1-001", None).model_dump(mode="json")
    payload["day"] = "yesterday"
    with pytest.raises(InvalidPayload, match="day"):
        decode(TicketIssued, json.dumps(payload).encode())


def _statuses(desk: QueueDesk) -> list[tuple[str, str]]:
    with desk.database.read() as session:
        rows = session.execute(select(Ticket.display_number, Ticket.status)).all()
    return [(number, status) for number, status in rows]
