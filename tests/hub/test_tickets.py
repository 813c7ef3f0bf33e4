"""Ticket numbering and calls on a real SQLite file, with a clock the test moves."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import DayCounter, TicketEvent
from kiosk.protocol.messages import Board
from kiosk.protocol.rpc import RpcRefused
from tests.hub.conftest import CENTRE, FakeClock, kiosk_state


def _eid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def desk_k1(desk: QueueDesk) -> QueueDesk:
    desk.kiosk_state(kiosk_state("k1"))
    desk.kiosk_state(kiosk_state("k2"))
    return desk


def test_the_first_ticket_of_the_day_is_a001_and_numbers_follow(desk_k1: QueueDesk) -> None:
    numbers = [desk_k1.take("k1", "social", _eid()).number for _ in range(5)]
    assert numbers == ["A001", "A002", "A003", "A004", "A005"]


def test_each_service_counts_on_its_own_with_its_prefix(desk_k1: QueueDesk) -> None:
    assert desk_k1.take("k1", "social", _eid()).number == "A001"
    assert desk_k1.take("k2", "civil", _eid()).number == "B001"
    assert desk_k1.take("k2", "social", _eid()).number == "A002"


def test_numbering_restarts_at_midnight_in_shanghai_not_utc(
    desk_k1: QueueDesk, clock: FakeClock
) -> None:
    clock.now = datetime(2024, 5, 6, 15, 59, 58, tzinfo=UTC)  # 23:59:58 in Shanghai
    first = desk_k1.take("k1", "social", _eid())
    assert (first.number, first.day) == ("A001", date(2024, 5, 6))
    assert desk_k1.take("k1", "social", _eid()).number == "A002"
    clock.now = datetime(2024, 5, 6, 16, 0, 0, tzinfo=UTC)  # 00:00:00 on the 7th
    next_day = desk_k1.take("k1", "social", _eid())
    assert (next_day.number, next_day.day) == ("A001", date(2024, 5, 7))
    clock.now = datetime(2024, 5, 7, 0, 0, 1, tzinfo=UTC)  # UTC midnight: same local day
    assert desk_k1.take("k1", "social", _eid()).number == "A002"


def test_the_same_event_id_gets_the_same_ticket_and_burns_no_number(
    desk_k1: QueueDesk, clock: FakeClock
) -> None:
    event_id = _eid()
    first = desk_k1.take("k1", "social", event_id)
    clock.advance(seconds=30)
    again = desk_k1.take("k1", "social", event_id)
    assert again.number == first.number == "A001"
    assert again.issued_at == first.issued_at
    assert desk_k1.take("k1", "social", _eid()).number == "A002"
    with desk_k1.database.read() as session:
        counter = session.scalars(select(DayCounter)).one()
        issued = session.scalars(select(TicketEvent).where(TicketEvent.type == "issued")).all()
    assert counter.last_number == 2
    assert len(issued) == 2


def test_an_event_id_reused_for_another_service_is_refused(desk_k1: QueueDesk) -> None:
    event_id = _eid()
    desk_k1.take("k1", "social", event_id)
    with pytest.raises(RpcRefused) as refused:
        desk_k1.take("k1", "civil", event_id)
    assert refused.value.code == "event_id_conflict"


def test_an_unknown_service_is_refused_in_chinese_and_english(desk_k1: QueueDesk) -> None:
    with pytest.raises(RpcRefused) as refused:
        desk_k1.take("k1", "passport", _eid())
    assert refused.value.code == "unknown_service"
    assert "没有此项业务" in str(refused.value) and "unknown service" in str(refused.value)


def test_a_kiosk_the_hub_has_not_heard_from_is_refused(desk: QueueDesk) -> None:
    with pytest.raises(RpcRefused) as refused:
        desk.take("k9", "social", _eid())
    assert refused.value.code == "unknown_kiosk"


def test_a_kiosk_of_a_centre_the_hub_does_not_serve_is_refused(desk: QueueDesk) -> None:
    desk.kiosk_state(kiosk_state("k1", centre="elsewhere"))
    with pytest.raises(RpcRefused) as refused:
        desk.take("k1", "social", _eid())
    assert refused.value.code == "unknown_centre"


def test_waiting_ahead_counts_earlier_tickets_of_the_service_still_waiting(
    desk_k1: QueueDesk, clock: FakeClock
) -> None:
    ahead: list[int] = []
    for _ in range(3):
        ahead.append(desk_k1.take("k1", "social", _eid()).waiting_ahead)
        clock.advance(seconds=1)
    assert ahead == [0, 1, 2]
    assert desk_k1.take("k1", "civil", _eid()).waiting_ahead == 0, "other services do not count"
    desk_k1.call_next(CENTRE, 1, actor="user:test")
    assert desk_k1.take("k1", "social", _eid()).waiting_ahead == 2


def test_call_next_calls_the_oldest_waiting_ticket_of_any_service(
    desk_k1: QueueDesk, clock: FakeClock
) -> None:
    desk_k1.take("k1", "civil", _eid())
    clock.advance(seconds=5)
    desk_k1.take("k2", "social", _eid())
    clock.advance(seconds=5)
    first = desk_k1.call_next(CENTRE, 3, actor="user:clerk")
    second = desk_k1.call_next(CENTRE, 1, actor="user:clerk")
    assert first is not None and second is not None
    assert (first.number, first.counter, first.text) == ("B001", 3, "请 B001 号到 3 号窗口")
    assert (second.number, second.text) == ("A001", "请 A001 号到 1 号窗口")
    assert second.called_at == clock.now
    assert desk_k1.call_next(CENTRE, 1, actor="user:clerk") is None, "nobody left"
    with desk_k1.database.read() as session:
        called = session.scalars(select(TicketEvent).where(TicketEvent.type == "called")).all()
    assert [(e.counter, e.actor) for e in called] == [(3, "user:clerk"), (1, "user:clerk")]


def test_yesterdays_waiting_tickets_are_not_called_today(
    desk_k1: QueueDesk, clock: FakeClock
) -> None:
    desk_k1.take("k1", "social", _eid())
    clock.advance(days=1)
    assert desk_k1.call_next(CENTRE, 1, actor="user:clerk") is None


def test_counter_numbers_start_at_one(desk_k1: QueueDesk) -> None:
    with pytest.raises(ValueError, match="start at 1"):
        desk_k1.call_next(CENTRE, 0, actor="user:clerk")


def test_the_board_lists_todays_latest_calls_newest_first(
    desk_k1: QueueDesk, clock: FakeClock
) -> None:
    for _ in range(6):
        desk_k1.take("k1", "social", _eid())
        clock.advance(seconds=1)
    for counter in (1, 2, 1, 3, 2):
        desk_k1.call_next(CENTRE, counter, actor="user:clerk")
        clock.advance(seconds=1)
    board = desk_k1.board(CENTRE)
    assert board.centre == CENTRE
    assert [c.number for c in board.calls] == ["A005", "A004", "A003", "A002"], "board_size 4"
    assert [c.number for c in desk_k1.latest_calls(CENTRE, counter=1)] == ["A003", "A001"]
    clock.advance(days=1)
    assert desk_k1.board(CENTRE).calls == [], "a new day starts with an empty board"


def test_board_listeners_hear_every_call(desk_k1: QueueDesk) -> None:
    heard: list[Board] = []

    def broken(_board: Board) -> None:
        raise RuntimeError("broker down")

    desk_k1.on_board(heard.append)
    desk_k1.on_board(broken)
    desk_k1.take("k1", "social", _eid())
    call = desk_k1.call_next(CENTRE, 2, actor="user:clerk")
    assert call is not None, "a failing listener does not undo the call"
    assert [b.calls[0].number for b in heard] == ["A001"]
    desk_k1.call_next(CENTRE, 2, actor="user:clerk")
    assert len(heard) == 1, "no call, no new board"


def test_boards_are_sent_again_when_the_service_day_turns(
    desk_k1: QueueDesk, clock: FakeClock
) -> None:
    """Call displays drop yesterday's calls at local midnight, not at the first call."""
    heard: list[Board] = []
    desk_k1.on_board(heard.append)
    desk_k1.take("k1", "social", _eid())
    desk_k1.call_next(CENTRE, 1, actor="user:clerk")
    assert not desk_k1.announce_new_day(), "the first look only notes the day"
    clock.now = datetime(2024, 5, 6, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    assert not desk_k1.announce_new_day()
    assert [b.calls[0].number for b in heard] == ["A001"]
    clock.now = datetime(2024, 5, 6, 16, 0, 1, tzinfo=UTC)  # 00:00:01 on the 7th
    assert desk_k1.announce_new_day()
    assert (heard[-1].centre, heard[-1].calls, len(heard)) == (CENTRE, [], 2)
    assert not desk_k1.announce_new_day(), "once a day"


def test_todays_summary_per_service(desk_k1: QueueDesk, clock: FakeClock) -> None:
    for service in ("social", "social", "civil"):
        desk_k1.take("k1", service, _eid())
        clock.advance(seconds=1)
    desk_k1.call_next(CENTRE, 1, actor="user:clerk")
    summary = {s.code: (s.issued, s.waiting, s.called) for s in desk_k1.summary(CENTRE)}
    assert summary == {"social": (2, 1, 1), "civil": (1, 1, 0)}
    rows = desk_k1.tickets(CENTRE)
    assert [(r.number, r.status, r.kiosk) for r in rows] == [
        ("A001", "called", "k1"),
        ("A002", "waiting", "k1"),
        ("B001", "waiting", "k1"),
    ]
