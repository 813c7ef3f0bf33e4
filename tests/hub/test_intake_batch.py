"""The hub's event intake in batches (real SQLite, no broker): one transaction for many
events, each outcome as if it had come alone, acks only after the commit."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.hub import intake
from kiosk.hub.db import Database
from kiosk.hub.intake import (
    AfterCommit,
    Arrival,
    EventIntake,
    EventRefused,
    IntakeLine,
    KioskRefused,
    Rejection,
)
from kiosk.hub.metrics import Counter
from kiosk.hub.models import KioskEventRecord
from kiosk.protocol.messages import Envelope

NOTE = "note.taken"


class Note(Envelope):
    """A stand-in event type: its text says what the applier does with it."""

    text: str


class Notebook:
    """An applier that refuses "refuse", fails on "boom" and "conflict" (and on the first
    "flaky"), and otherwise notes the text once the transaction has committed."""

    def __init__(self) -> None:
        self.noted: list[str] = []

        self.tries: Tally[str] = Tally()

    def apply(self, _session: Session, _kiosk: str, message: Note) -> AfterCommit | None:
        self.tries[message.text] += 1
        if message.text == "refuse":
            raise EventRefused("notes saying refuse are refused")
        if message.text == "boom":
            raise RuntimeError("a bug in a handler")
        if message.text == "conflict":
            raise IntegrityError("INSERT …", None, ValueError("a constraint of its own"))
        if message.text == "flaky" and self.tries["flaky"] == 1:
            raise RuntimeError("a passing failure")
        return lambda: self.noted.append(message.text)


class Rig:
    def __init__(self, database: Database, revoked: set[str] | None = None) -> None:
        self.acks: list[tuple[str, list[str]]] = []
        self.notebook = Notebook()
        self.duplicates = Counter("dups", "duplicates", ("type",))
        self.revoked = revoked or set()
        self.intake = EventIntake(
            database,
            lambda kiosk, ids: self.acks.append((kiosk, list(ids))),
            clock=lambda: datetime.now(UTC),
            duplicates=self.duplicates,
            admit=self.admit,
        )
        self.intake.register(NOTE, Note, self.notebook.apply)

    def admit(self, _session: Session, kiosk: str) -> None:
        if kiosk in self.revoked:
            raise KioskRefused(f"kiosk {kiosk!r} is revoked")

    def acked(self) -> list[str]:
        return [event_id for _kiosk, ids in self.acks for event_id in ids]


def note(text: str, kiosk: str = "k1", event_id: str | None = None) -> Arrival:
    message = Note(text=text) if event_id is None else Note(text=text, id=event_id)
    return Arrival(kiosk, NOTE, message.id, message.to_bytes())


def ledger(database: Database) -> dict[str, str]:
    with database.read() as session:
        rows = session.execute(select(KioskEventRecord.event_id, KioskEventRecord.status))
        return {event_id: status for event_id, status in rows}


@pytest.fixture
def commits(database: Database) -> Iterator[list[int]]:
    counted: list[int] = []

    def on_commit(_connection: Any) -> None:
        counted.append(1)

    event.listen(database.engine, "commit", on_commit)
    yield counted
    event.remove(database.engine, "commit", on_commit)


def test_fifty_events_are_applied_in_one_commit_and_acked_after_it(
    database: Database, commits: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "BATCH_SECONDS", 60.0)  # this test is about grouping
    rig = Rig(database)
    arrivals = [note(f"n{i}") for i in range(50)]
    assert rig.intake.handle_batch(arrivals) == []
    assert len(commits) == 1
    assert rig.notebook.noted == [f"n{i}" for i in range(50)], "in order, after the commit"
    assert rig.acked() == [a.event_id for a in arrivals]
    assert set(ledger(database).values()) == {"applied"}


def test_each_event_in_a_batch_gets_the_outcome_it_would_get_alone(
    database: Database,
) -> None:
    rig = Rig(database)
    earlier = note("applied before")
    rig.intake.handle_batch([earlier])
    again = note("twice in one batch")
    unknown = Arrival("k1", "slot.booked", "f" * 32, b'{"v": 1}')
    garbled = Arrival("k1", NOTE, "e" * 32, b'{"text": 5')
    batch = [
        note("first"),
        note("refuse"),
        again,
        note("boom"),
        Arrival(again.kiosk, again.event_type, again.event_id, again.payload),
        earlier,
        unknown,
        garbled,
        note("last"),
    ]
    rejections = rig.intake.handle_batch(batch)
    assert sorted((r.arrival.event_id, r.acked) for r in rejections) == sorted(
        [(batch[1].event_id, True), (unknown.event_id, False), (garbled.event_id, True)]
    )
    assert rig.notebook.noted == ["applied before", "first", "twice in one batch", "last"]
    states = ledger(database)
    assert states[batch[1].event_id] == states[garbled.event_id] == "refused"
    assert unknown.event_id not in states, "kept by the kiosk for a hub that knows the type"
    assert batch[3].event_id not in states, "a failing handler: the kiosk retries"
    assert rig.intake.handler_errors == 1
    acked = rig.acked()
    assert batch[3].event_id not in acked and unknown.event_id not in acked
    assert acked.count(again.event_id) == 1, "one ack for both deliveries in the batch"
    assert acked.count(earlier.event_id) == 2, "once when applied, once for the redelivery"
    assert rig.duplicates.value(type=NOTE) == 2


def test_a_revoked_kiosk_is_not_heard_and_spoils_nothing_for_the_others(
    database: Database,
) -> None:
    rig = Rig(database, revoked={"k2"})
    mine, theirs = note("k1's", "k1"), note("k2's", "k2")
    rejections = rig.intake.handle_batch([theirs, mine])
    assert [(r.arrival.kiosk, r.acked) for r in rejections] == [("k2", False)]
    assert "revoked" in rejections[0].reason
    assert rig.acks == [("k1", [mine.event_id])]
    assert ledger(database) == {mine.event_id: "applied"}


def test_the_line_applies_what_was_queued_before_it_stops(database: Database) -> None:
    rig = Rig(database)
    done: list[tuple[int, list[Rejection]]] = []
    line = IntakeLine(rig.intake, lambda arrivals, r: done.append((len(arrivals), r)), batch=7)
    line.start()
    arrivals = [note(f"n{i}") for i in range(30)] + [note("refuse")]
    for arrival in arrivals:
        line.put(arrival)
    line.stop()
    assert sum(n for n, _ in done) == 31
    assert max(n for n, _ in done) <= 7
    assert [r.arrival.event_id for _, rs in done for r in rs] == [arrivals[-1].event_id]
    assert rig.notebook.noted == [f"n{i}" for i in range(30)]
    assert len(rig.acked()) == 31


def test_a_second_copy_of_a_failed_event_is_tried_again_not_acked_as_a_duplicate(
    database: Database,
) -> None:
    rig = Rig(database)
    boom = note("boom")
    flaky = note("flaky")
    rig.intake.handle_batch([boom, _copy(boom), flaky, _copy(flaky)])
    assert boom.event_id not in rig.acked(), "never applied, so never acked"
    assert rig.acked() == [flaky.event_id], "the copy was applied, once, and acked"
    assert rig.notebook.noted == ["flaky"]
    assert ledger(database) == {flaky.event_id: "applied"}
    assert rig.intake.handler_errors == 3


def test_a_constraint_an_applier_trips_spoils_only_its_own_event(database: Database) -> None:
    rig = Rig(database)
    before, conflict, after = note("before"), note("conflict"), note("after")
    assert rig.intake.handle_batch([before, conflict, after]) == []
    assert rig.acked() == [before.event_id, after.event_id]
    assert rig.intake.handler_errors == 1 and conflict.event_id not in ledger(database)


def test_a_long_batch_is_committed_in_turns_so_other_writers_get_theirs(
    database: Database, commits: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "BATCH_SECONDS", 0.0)
    rig = Rig(database)
    arrivals = [note(f"n{i}") for i in range(5)]
    assert rig.intake.handle_batch([*arrivals, _copy(arrivals[0])]) == []
    assert len(commits) == 6, "one arrival per transaction once the time is up"
    assert rig.notebook.noted == [f"n{i}" for i in range(5)]
    assert sorted(rig.acked()) == sorted(a.event_id for a in arrivals)
    assert rig.duplicates.value(type=NOTE) == 1


def _copy(arrival: Arrival) -> Arrival:
    return Arrival(arrival.kiosk, arrival.event_type, arrival.event_id, arrival.payload)
