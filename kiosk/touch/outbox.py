"""What the kiosk created for the hub, on disk until the hub says it is committed.

Every event (an offline ticket, a case, a help request, a command's result) is written to
the kiosk's SQLite file in the same transaction as its local effect, then published. It
leaves the outbox only when the hub's end-to-end ack for its event id arrives on
``svc/v1/kiosk/{kiosk}/ack`` — not on the broker's PUBACK, which only says the edge broker
has it. A power cut, a dead uplink or a hub restart therefore loses nothing, and the hub
applies each event id once however often it arrives.

The file is WAL with ``synchronous=FULL``: an event the resident saw confirmed survives a
power cut. Other kiosk-local tables (leases, for one) live in the same file, so their
effects commit with the event that reports them.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from kiosk.protocol.messages import Envelope

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0
);
"""

Effect = Callable[[sqlite3.Connection], T]


@dataclass(frozen=True, slots=True)
class Pending:
    seq: int
    event_id: str
    event_type: str
    payload: bytes
    attempts: int


@dataclass(frozen=True, slots=True)
class Backoff:
    """When an unacked event is sent again: ``first`` seconds after the first try, doubling
    up to ``longest``, each spread by ±``jitter`` (a fraction) so kiosks that lost the hub
    together do not all come back in the same second."""

    first: float = 10.0
    longest: float = 300.0
    jitter: float = 0.2

    def delay(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.longest, self.first * 2.0 ** max(0, attempts - 1))
        return float(base * (1 + self.jitter * (2 * rand() - 1)))


class Outbox:
    """One SQLite file; safe to use from many threads (one connection, one lock)."""

    def __init__(self, path: Path, backoff: Backoff | None = None) -> None:
        self.path = path
        self.backoff = backoff or Backoff()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(SCHEMA)
        self._listeners: list[Callable[[], None]] = []
        self._changes_at_notify = self._db.total_changes

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the kiosk's file: local tables and :meth:`put` commit
        together. Events put inside it are sent once it has committed."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            added = self._db.total_changes != self._changes_at_notify
            self._changes_at_notify = self._db.total_changes
        if added:
            for listener in list(self._listeners):
                listener()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The kiosk's file for reading (no write lock taken)."""
        with self._lock:
            yield self._db

    def put(self, db: sqlite3.Connection, event_type: str, message: Envelope) -> None:
        """Keep ``message`` for the hub, inside :meth:`transaction`. The same event (its
        id) queued again while still waiting is kept once, and sent again at once."""
        db.execute(
            "INSERT INTO outbox (event_id, event_type, payload, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (event_id) DO UPDATE SET next_attempt_at = 0",
            (message.id, event_type, message.to_bytes(), time.time()),
        )

    def add(self, event_type: str, message: Envelope, effect: Effect[T] | None = None) -> T | None:
        """Run ``effect`` and keep ``message`` for the hub, both or neither."""
        with self.transaction() as db:
            result = effect(db) if effect is not None else None
            self.put(db, event_type, message)
        return result

    def on_added(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after a transaction that changed anything has committed."""
        self._listeners.append(listener)

    def acked(self, event_ids: list[str]) -> int:
        """Forget events the hub has committed; returns how many were still here."""
        with self.transaction() as db:
            return sum(
                db.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,)).rowcount
                for event_id in event_ids
            )

    def due(self, now: float, limit: int) -> list[Pending]:
        """Up to ``limit`` events to send now, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, event_type, payload, attempts FROM outbox"
                " WHERE next_attempt_at <= ? ORDER BY seq LIMIT ?",
                (now, limit),
            ).fetchall()
        return [Pending(*row) for row in rows]

    def in_flight(self, now: float) -> int:
        """Events sent and still waiting for their ack (their retry time not yet come)."""
        with self._lock:
            row = self._db.execute(
                "SELECT count(*) FROM outbox WHERE attempts > 0 AND next_attempt_at > ?", (now,)
            ).fetchone()
        return int(row[0])

    def sent(self, events: list[Pending], now: float) -> None:
        """Note a try of each; the next one waits for the back-off."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE seq = ?",
                [(e.attempts + 1, now + self.backoff.delay(e.attempts + 1), e.seq) for e in events],
            )

    def retry_soon(self, after: float = 0.0, spread: float = 0.0) -> None:
        """Every event already sent goes again in ``after`` to ``after + spread`` seconds
        (each its own moment): the link is back. The grace lets acks for what the brokers
        kept arrive first, so a returning hub is not handed everything twice."""
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET next_attempt_at = ? + (abs(random()) % 1000000) / 1e6 * ?"
                " WHERE attempts > 0",
                (time.time() + after, spread),
            )

    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def oldest_age(self, now: float | None = None) -> float | None:
        """Seconds since the oldest undelivered event was created; None when empty."""
        with self._lock:
            oldest = self._db.execute("SELECT min(created_at) FROM outbox").fetchone()[0]
        if oldest is None:
            return None
        return max(0.0, (now if now is not None else time.time()) - float(oldest))

    def pending(self, event_type: str) -> list[bytes]:
        """The payloads of ``event_type`` still waiting for the hub, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT payload FROM outbox WHERE event_type = ? ORDER BY seq", (event_type,)
            ).fetchall()
        return [bytes(row[0]) for row in rows]
