"""Kiosk events, each applied once and acknowledged end to end.

A kiosk keeps every event it creates in its outbox until the hub says, on
``svc/v1/kiosk/{kiosk}/ack``, that the event is committed; it redelivers the rest. So the
hub must apply an event once however often it arrives. The ledger table ``kiosk_events``
holds every event id the hub has taken, written in the same transaction as the event's
effect: a redelivery finds its row, is counted as a duplicate and acked again.

Events are applied in batches: every event waiting when a batch starts goes into one
transaction (each in a savepoint of its own, so one refusal spoils nothing else), and
the acks go out after the single commit. One fsync for many events is what lets the hub
keep up with a fleet replaying its outboxes (DESIGN.md §8). ``IntakeLine`` is the thread
that feeds the batches, so the MQTT network thread only reads headers and queues.

Three outcomes, and what the kiosk hears:
- applied (or applied before): acked.
- refused for good (invalid for its type, or against the rules, e.g. a ticket number not
  leased to that kiosk): the payload is kept in ``kiosk_events`` with the reason, counted
  as rejected, and acked: retrying could never help, and nothing is lost.
- not understood now (an unknown event type from a newer kiosk, a failing handler): not
  acked. The kiosk keeps it and retries with back-off.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.hub.db import Database
from kiosk.hub.metrics import Counter
from kiosk.hub.models import KioskEventRecord
from kiosk.protocol.messages import Envelope, InvalidPayload, decode

_LOGGER = logging.getLogger(__name__)

DETAIL_LENGTH = 200  # kiosk_events.detail
KEPT_PAYLOAD = 64 * 1024  # characters of a refused payload kept for a person to read

E = TypeVar("E", bound=Envelope)
AfterCommit = Callable[[], None]
# Runs inside the ledger's transaction; may return what to do once it has committed
# (announce to the console, say), which must not touch the database.
EventApplier = Callable[[Session, str, E], AfterCommit | None]
# Runs in a transaction of its own, before the ledger records the event: only for effects
# that are idempotent themselves (a help alert that is already open stays one alert).
IdempotentEffect = Callable[[str, E], None]
Acknowledge = Callable[[str, list[str]], None]
# Runs first in the batch's transaction, once per kiosk in it: notes the kiosk as seen,
# and raises KioskRefused for a kiosk that may not speak (revoked).
Admit = Callable[[Session, str], None]

BATCH = 200  # events in one transaction at most
BATCH_SECONDS = 0.2  # and no longer than this with the write lock held
QUEUE = 20_000  # events waiting for the intake thread before the network thread waits too


class EventRefused(ValueError):
    """Raised by an applier: this event breaks a rule and never will be applied."""


class KioskRefused(ValueError):
    """Raised by the admit hook: this kiosk may not speak now (revoked). Its events are
    counted as rejected and not acked."""


@dataclass(frozen=True, slots=True)
class Arrival:
    """One event message as it came off the wire."""

    kiosk: str
    event_type: str
    event_id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class Rejection:
    arrival: Arrival
    reason: str
    acked: bool  # refused for good (stored, acked) or kept by the kiosk (not acked)


@dataclass(frozen=True, slots=True)
class _EventType:
    model: type[Envelope]
    apply: EventApplier[Any] | None = None
    effect: IdempotentEffect[Any] | None = None


@dataclass
class _Batch:
    """What one batch did, to be announced once its transaction has committed."""

    acks: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    after: list[AfterCommit] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    failures: int = 0  # handlers that raised: not acked, the kiosk retries

    def ack(self, arrival: Arrival) -> None:
        self.acks[arrival.kiosk].append(arrival.event_id)

    def reject(self, arrival: Arrival, reason: str, *, acked: bool) -> None:
        self.rejections.append(Rejection(arrival, reason, acked))
        if acked:
            self.ack(arrival)

    def merge(self, other: _Batch) -> None:
        for kiosk, event_ids in other.acks.items():
            self.acks[kiosk].extend(event_ids)
        self.after.extend(other.after)
        self.rejections.extend(other.rejections)
        self.failures += other.failures


class EventIntake:
    def __init__(
        self,
        database: Database,
        acknowledge: Acknowledge,
        *,
        clock: Callable[[], datetime],
        duplicates: Counter,
        admit: Admit | None = None,
    ) -> None:
        self._database = database
        self._admit = admit
        self._acknowledge = acknowledge
        self._clock = clock
        self._duplicates = duplicates
        self._types: dict[str, _EventType] = {}
        self.handler_errors = 0

    def register(self, event_type: str, model: type[E], apply: EventApplier[E]) -> None:
        """Apply events of ``event_type`` inside the ledger's own transaction."""
        self._types[event_type] = _EventType(model, apply=cast(EventApplier[Any], apply))

    def register_idempotent(
        self, event_type: str, model: type[E], effect: IdempotentEffect[E]
    ) -> None:
        """Apply events of ``event_type`` with an effect that is safe to repeat."""
        self._types[event_type] = _EventType(model, effect=cast(IdempotentEffect[Any], effect))

    def handle(self, kiosk: str, event_type: str, event_id: str, payload: bytes) -> None:
        """Apply one event and ack it. Raises :class:`InvalidPayload` for what was refused
        (after storing and acking it) and for an unknown type (not acked)."""
        rejections = self.handle_batch([Arrival(kiosk, event_type, event_id, payload)])
        if rejections:
            raise InvalidPayload(rejections[0].reason)

    def handle_batch(self, arrivals: Sequence[Arrival]) -> list[Rejection]:
        """Apply the events in order, in one transaction (or a few, see BATCH_SECONDS),
        then ack them per kiosk; returns what was rejected (each already logged)."""
        batch = _Batch()
        together: list[tuple[Arrival, EventApplier[Any], Envelope]] = []
        for arrival in arrivals:
            spec = self._types.get(arrival.event_type)
            if spec is None:
                reason = f"unknown event type {arrival.event_type!r}: kept by the kiosk"
                batch.reject(arrival, reason, acked=False)
                continue
            try:
                message = decode(spec.model, arrival.payload)
            except InvalidPayload as err:
                self._store_refused(arrival, str(err))
                batch.reject(arrival, str(err), acked=True)
                continue
            if spec.effect is not None:
                self._apply_effect(batch, arrival, spec.effect, message)
            elif spec.apply is not None:
                together.append((arrival, spec.apply, message))
        if together:
            self._apply_together(batch, together)
        self._announce(batch)
        return batch.rejections

    def _announce(self, batch: _Batch) -> None:
        for rejection in batch.rejections:
            arrival = rejection.arrival
            _LOGGER.warning(
                "event %s %s from %s refused: %s",
                arrival.event_type,
                arrival.event_id,
                arrival.kiosk,
                rejection.reason,
            )
        self.handler_errors += batch.failures
        for kiosk, event_ids in batch.acks.items():
            unique = list(dict.fromkeys(event_ids))  # a redelivery in the same batch
            for start in range(0, len(unique), BATCH):
                self._acknowledge(kiosk, unique[start : start + BATCH])
        for after in batch.after:
            try:
                after()
            except Exception:  # committed and acked: an announcement failing changes neither
                _LOGGER.exception("an after-commit step failed")

    def _apply_together(
        self, batch: _Batch, events: list[tuple[Arrival, EventApplier[Any], Envelope]]
    ) -> None:
        while events:
            events = self._apply_some(batch, events)

    def _apply_some(
        self, batch: _Batch, events: list[tuple[Arrival, EventApplier[Any], Envelope]]
    ) -> list[tuple[Arrival, EventApplier[Any], Envelope]]:
        """Apply events in one transaction until BATCH_SECONDS have passed; returns the
        rest. Other writers (a ticket taken online, a clerk's call) wait for the write lock
        at most that long, even while a fleet's backlog drains."""
        done = _Batch()  # kept apart until the commit: a failed commit acks nothing
        rest: list[tuple[Arrival, EventApplier[Any], Envelope]] = []
        deadline = time.monotonic() + BATCH_SECONDS
        with self._database.write() as session:
            refused = self._admit_kiosks(session, {arrival.kiosk for arrival, _, _ in events})
            acked: set[str] = set()  # a second copy of a failed event must fail too
            for index, (arrival, apply, message) in enumerate(events):
                if index and time.monotonic() > deadline:
                    rest = events[index:]
                    break
                if arrival.kiosk in refused:
                    done.reject(arrival, refused[arrival.kiosk], acked=False)
                elif message.id in acked or _in_ledger(session, message.id):
                    self._duplicates.inc(type=arrival.event_type)
                    done.ack(arrival)
                elif self._apply_one(session, done, arrival, apply, message):
                    acked.add(message.id)
        batch.merge(done)
        return rest

    def _admit_kiosks(self, session: Session, kiosks: set[str]) -> dict[str, str]:
        """Admit each kiosk of the batch; returns those refused, with the reason."""
        refused: dict[str, str] = {}
        if self._admit is None:
            return refused
        for kiosk in sorted(kiosks):
            try:
                with session.begin_nested():
                    self._admit(session, kiosk)
            except KioskRefused as err:
                refused[kiosk] = str(err)
        return refused

    def _apply_one(
        self,
        session: Session,
        batch: _Batch,
        arrival: Arrival,
        apply: EventApplier[Any],
        message: Envelope,
    ) -> bool:
        """Apply one event in a savepoint of its own; True if it is to be acked."""
        try:
            with session.begin_nested():
                after = apply(session, arrival.kiosk, message)
                session.add(self._record(arrival, message.id, "applied"))
                session.flush()
        except EventRefused as err:
            with session.begin_nested():
                session.add(self._refused_record(arrival, str(err)))
            batch.reject(arrival, str(err), acked=True)
            return True
        except IntegrityError:
            if self._seen(message.id):  # another hub worker committed it first (PostgreSQL)
                self._duplicates.inc(type=arrival.event_type)
                batch.ack(arrival)
                return True
            self._failed(batch, arrival)
            return False
        except Exception:
            self._failed(batch, arrival)
            return False
        batch.ack(arrival)
        if after is not None:
            batch.after.append(after)
        return True

    @staticmethod
    def _failed(batch: _Batch, arrival: Arrival) -> None:
        _LOGGER.exception(
            "applying %s %s failed; the kiosk will retry", arrival.event_type, arrival.event_id
        )
        batch.failures += 1

    def _apply_effect(
        self, batch: _Batch, arrival: Arrival, effect: IdempotentEffect[Any], message: Envelope
    ) -> None:
        """An idempotent effect runs in a transaction of its own, before the ledger notes
        the event: a crash in between repeats the effect, which is safe."""
        if self._seen(message.id):
            self._duplicates.inc(type=arrival.event_type)
            batch.ack(arrival)
            return
        try:
            with self._database.write() as session:
                refused = self._admit_kiosks(session, {arrival.kiosk})
            if refused:
                batch.reject(arrival, refused[arrival.kiosk], acked=False)
                return
            effect(arrival.kiosk, message)
            with self._database.write() as session:
                if not _in_ledger(session, message.id):
                    session.add(self._record(arrival, message.id, "applied"))
        except EventRefused as err:
            self._store_refused(arrival, str(err))
            batch.reject(arrival, str(err), acked=True)
            return
        except Exception:
            self._failed(batch, arrival)
            return
        batch.ack(arrival)

    def _seen(self, event_id: str) -> bool:
        with self._database.read() as session:
            return _in_ledger(session, event_id)

    def _store_refused(self, arrival: Arrival, reason: str) -> None:
        with self._database.write() as session:
            if not _in_ledger(session, arrival.event_id):
                session.add(self._refused_record(arrival, reason))

    def _refused_record(self, arrival: Arrival, reason: str) -> KioskEventRecord:
        record = self._record(arrival, arrival.event_id, "refused")
        record.detail = reason[:DETAIL_LENGTH]
        record.payload = arrival.payload.decode("utf-8", "replace")[:KEPT_PAYLOAD]
        return record

    def _record(self, arrival: Arrival, event_id: str, status: str) -> KioskEventRecord:
        return KioskEventRecord(
            event_id=event_id,
            kiosk=arrival.kiosk,
            type=arrival.event_type[:64],
            received_at=self._clock(),
            status=status,
        )


def _in_ledger(session: Session, event_id: str) -> bool:
    return session.get(KioskEventRecord, event_id) is not None


Done = Callable[[Sequence[Arrival], list[Rejection]], None]


class IntakeLine:
    """The thread that takes events off the network thread and applies them in batches.

    ``done`` hears of every batch once it is applied and acked (the worker counts it).
    A full queue makes :meth:`put` wait: the broker then holds the rest (QoS 1).
    """

    def __init__(self, intake: EventIntake, done: Done, *, batch: int = BATCH) -> None:
        self._intake = intake
        self._done = done
        self._batch = batch
        self._queue: queue.Queue[Arrival | None] = queue.Queue(QUEUE)
        self._thread = threading.Thread(target=self._run, name="event-intake", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, arrival: Arrival) -> None:
        self._queue.put(arrival)

    def stop(self, timeout: float = 10.0) -> None:
        """Apply what is queued, then end the thread."""
        if not self._thread.is_alive():
            return  # never started (or already stopped)
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            arrivals, stopping = self._next_batch()
            if arrivals:
                self._apply(arrivals)

    def _next_batch(self) -> tuple[list[Arrival], bool]:
        """What waits (waiting for the first), up to the batch size; True once stop() came."""
        arrivals: list[Arrival] = []
        item = self._queue.get()
        while item is not None:
            arrivals.append(item)
            if len(arrivals) >= self._batch:
                return arrivals, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return arrivals, False
        return arrivals, True

    def _apply(self, arrivals: list[Arrival]) -> None:
        try:
            rejections = self._intake.handle_batch(arrivals)
        except Exception:  # the database is away: nothing acked, the kiosks retry
            _LOGGER.exception("a batch of %d events failed; the kiosks will retry", len(arrivals))
            self._intake.handler_errors += len(arrivals)
            rejections = []
        self._done(arrivals, rejections)
