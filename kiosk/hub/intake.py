"""Kiosk events, each applied once and acknowledged end to end.

A kiosk keeps every event it creates in its outbox until the hub says, on
``svc/v1/kiosk/{kiosk}/ack``, that the event is committed; it redelivers the rest. So the
hub must apply an event once however often it arrives. The ledger table ``kiosk_events``
holds every event id the hub has taken, written in the same transaction as the event's
effect: a redelivery finds its row, is counted as a duplicate and acked again.

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
from collections.abc import Callable
from dataclasses import dataclass
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
# Runs first in the event's transaction: notes the kiosk as seen, and raises to refuse a
# kiosk that may not speak (revoked). One transaction, so one fsync, per event.
Admit = Callable[[Session, str], None]


class EventRefused(ValueError):
    """Raised by an applier: this event breaks a rule and never will be applied."""


@dataclass(frozen=True, slots=True)
class _EventType:
    model: type[Envelope]
    apply: EventApplier[Any] | None = None
    effect: IdempotentEffect[Any] | None = None


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
        spec = self._types.get(event_type)
        if spec is None:
            raise InvalidPayload(f"unknown event type {event_type!r}: kept by the kiosk")
        try:
            message = decode(spec.model, payload)
        except InvalidPayload as err:
            self._refuse(kiosk, event_type, event_id, payload, str(err))
            raise
        try:
            after = self._apply(spec, kiosk, event_type, message)
        except EventRefused as err:
            self._refuse(kiosk, event_type, event_id, payload, str(err))
            raise InvalidPayload(f"{event_type} {event_id} refused: {err}") from err
        self._acknowledge(kiosk, [event_id])
        if after is not None:
            after()

    def _apply(
        self, spec: _EventType, kiosk: str, event_type: str, message: Envelope
    ) -> AfterCommit | None:
        if spec.effect is not None:
            if self._seen(message.id):
                self._duplicates.inc(type=event_type)
                return None
            with self._database.write() as session:
                self._admitted(session, kiosk)  # before the effect, in a transaction of its own
            spec.effect(kiosk, message)
        try:
            with self._database.write() as session:
                if spec.effect is None:
                    self._admitted(session, kiosk)
                if session.get(KioskEventRecord, message.id) is not None:
                    self._duplicates.inc(type=event_type)
                    return None
                after = spec.apply(session, kiosk, message) if spec.apply else None
                session.add(self._record(kiosk, event_type, message.id, "applied"))
        except IntegrityError:
            # Another hub worker committed the same event first (PostgreSQL).
            if not self._seen(message.id):
                raise
            self._duplicates.inc(type=event_type)
            return None
        return after

    def _admitted(self, session: Session, kiosk: str) -> None:
        if self._admit is not None:
            self._admit(session, kiosk)

    def _seen(self, event_id: str) -> bool:
        with self._database.read() as session:
            return session.get(KioskEventRecord, event_id) is not None

    def _refuse(
        self, kiosk: str, event_type: str, event_id: str, payload: bytes, reason: str
    ) -> None:
        _LOGGER.warning("event %s %s from %s refused: %s", event_type, event_id, kiosk, reason)
        with self._database.write() as session:
            if session.get(KioskEventRecord, event_id) is None:
                record = self._record(kiosk, event_type, event_id, "refused")
                record.detail = reason[:DETAIL_LENGTH]
                record.payload = payload.decode("utf-8", "replace")[:KEPT_PAYLOAD]
                session.add(record)
        self._acknowledge(kiosk, [event_id])

    def _record(self, kiosk: str, event_type: str, event_id: str, status: str) -> KioskEventRecord:
        return KioskEventRecord(
            event_id=event_id,
            kiosk=kiosk,
            type=event_type[:64],
            received_at=self._clock(),
            status=status,
        )
