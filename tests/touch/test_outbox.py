"""The kiosk's outbox and its courier on a real SQLite file (no broker: pure delivery rules)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kiosk.protocol.messages import HelpRequested, TicketLeaseResult
from kiosk.touch.courier import Courier
from kiosk.touch.leases import LeaseBook
from kiosk.touch.outbox import Backoff, Outbox, Pending
from tests.waiting import eventually


def _event(seq: int = 1) -> HelpRequested:
    return HelpRequested(kiosk="k1", centre="demo", boot_id="b", seq=seq, source="screen")


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "touch.sqlite3", Backoff(first=10.0, longest=80.0, jitter=0.2))


def test_an_event_and_its_local_effect_commit_together_or_not_at_all(outbox: Outbox) -> None:
    def effect(db: sqlite3.Connection) -> str:
        db.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
        db.execute("INSERT INTO notes VALUES ('kept')")
        return "done"

    assert outbox.add("help.requested", _event(1), effect) == "done"

    def failing(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO notes VALUES ('lost')")
        raise RuntimeError("the printer layout failed")

    with pytest.raises(RuntimeError):
        outbox.add("help.requested", _event(2), failing)
    assert outbox.depth() == 1
    with outbox.transaction() as db:
        assert db.execute("SELECT text FROM notes").fetchall() == [("kept",)]


def test_events_survive_a_restart_of_the_process(tmp_path: Path) -> None:
    first = Outbox(tmp_path / "touch.sqlite3")
    first.add("help.requested", _event(1))
    first.add("help.requested", _event(2))
    first.close()  # kill -9 leaves the same file: every add is committed with FULL sync
    again = Outbox(tmp_path / "touch.sqlite3")
    assert again.depth() == 2 and len(again.pending("help.requested")) == 2


def test_due_is_in_order_and_a_sent_event_waits_for_its_back_off(outbox: Outbox) -> None:
    events = [_event(i) for i in range(1, 4)]
    for event in events:
        outbox.add("help.requested", event)
    now = time.time()
    due = outbox.due(now, 10)
    assert [d.event_id for d in due] == [e.id for e in events]
    outbox.sent(due[:2], now)
    assert [d.event_id for d in outbox.due(now, 10)] == [events[2].id]
    assert outbox.in_flight(now) == 2
    # After the back-off (10 s ± 20 %) they are due again, still in order.
    assert [d.event_id for d in outbox.due(now + 12.1, 10)] == [e.id for e in events]


def test_the_same_event_queued_twice_is_kept_once(outbox: Outbox) -> None:
    event = _event()
    outbox.add("help.requested", event)
    outbox.add("help.requested", event)
    assert outbox.depth() == 1


def test_only_the_hubs_ack_removes_an_event(outbox: Outbox) -> None:
    kept, acked = _event(1), _event(2)
    outbox.add("help.requested", kept)
    outbox.add("help.requested", acked)
    outbox.sent(outbox.due(time.time(), 10), time.time())  # published: not enough
    assert outbox.depth() == 2
    assert outbox.acked([acked.id, "an-id-never-queued"]) == 1
    assert outbox.pending("help.requested") == [kept.to_bytes()]
    assert outbox.oldest_age() is not None and outbox.oldest_age() >= 0


def test_back_off_doubles_up_to_a_ceiling_with_bounded_jitter() -> None:
    backoff = Backoff(first=10.0, longest=80.0, jitter=0.2)
    assert [backoff.delay(n, rand=lambda: 0.5) for n in (1, 2, 3, 4, 5, 9)] == [
        10.0,
        20.0,
        40.0,
        80.0,
        80.0,
        80.0,
    ]
    assert backoff.delay(1, rand=lambda: 0.0) == pytest.approx(8.0)
    assert backoff.delay(1, rand=lambda: 1.0) == pytest.approx(12.0)


def test_a_replay_makes_everything_waiting_due_again_after_a_grace(outbox: Outbox) -> None:
    for i in range(1, 4):
        outbox.add("help.requested", _event(i))
    now = time.time()
    outbox.sent(outbox.due(now, 10), now)
    assert outbox.due(now, 10) == []
    outbox.retry_soon(after=1.0, spread=0.5)
    assert outbox.due(time.time() + 0.9, 10) == [], "the grace first"
    assert len(outbox.due(time.time() + 1.6, 10)) == 3
    with outbox.transaction() as db:
        moments = {row[0] for row in db.execute("SELECT next_attempt_at FROM outbox")}
    assert len(moments) == 3, "each event its own moment within the spread"


def test_the_courier_keeps_at_most_a_window_waiting_for_acks(outbox: Outbox) -> None:
    sent: list[Pending] = []
    lock = threading.Lock()

    def publish(event: Pending) -> bool:
        with lock:
            sent.append(event)
        return True

    courier = Courier(outbox, publish, lambda: True, window=3, tick=0.05)
    courier.start()
    try:
        for i in range(1, 8):
            outbox.add("help.requested", _event(i))
        eventually(lambda: len(sent) == 3, "the first window")
        time.sleep(0.2)
        assert len(sent) == 3, "no more than the window without acks"
        outbox.acked([e.event_id for e in sent[:2]])
        courier.wake()
        eventually(lambda: len(sent) == 5, "two more after two acks")
    finally:
        courier.stop()
    assert [e.seq for e in sent] == sorted(e.seq for e in sent), "in the order created"


def test_the_courier_sends_nothing_while_disconnected(outbox: Outbox) -> None:
    connected = threading.Event()
    sent: list[Pending] = []
    courier = Courier(outbox, lambda e: sent.append(e) is None, connected.is_set, tick=0.05)
    courier.start()
    try:
        outbox.add("help.requested", _event())
        time.sleep(0.2)
        assert sent == [] and outbox.depth() == 1
        connected.set()
        courier.replay(after=0.0, spread=0.0)
        eventually(lambda: len(sent) == 1, "the event once the link is back")
    finally:
        courier.stop()


def test_leased_numbers_are_taken_once_each_then_fallback_counts(outbox: Outbox) -> None:
    book = LeaseBook(outbox)
    lease = TicketLeaseResult(
        service="social",
        prefix="A",
        service_name="社保医保",
        centre_name="中心",
        day="2026-12-01",
        first=9001,
        last=9002,
    )
    book.add(lease)
    book.add(lease)  # the same block heard twice is one block
    assert book.remaining("social", "2026-12-01") == 2
    with outbox.transaction() as db:
        taken = [LeaseBook.take(db, "social", "2026-12-01") for _ in range(3)]
        fallbacks = [LeaseBook.next_fallback(db, "social", "2026-12-01") for _ in range(2)]
    assert taken == [9001, 9002, None]
    assert fallbacks == [1, 2]
    assert book.remaining("social", "2026-12-01") == 0
    assert book.service("social", "2026-12-01") is not None
    assert book.service("social", "2026-12-02") is None
