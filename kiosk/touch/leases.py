"""Ticket numbers the hub leased to this kiosk, for when the hub cannot be reached.

The hub hands out blocks of numbers per service and day from a range online numbering
never uses (``kiosk.domain.queue`` writes the rule down). While the hub answers, the
kiosk keeps at least half a block in hand for each service; when the hub is away it issues
from them, and when they run out it counts fallback numbers of its own (``A-k1-003``).
Both are kept in the kiosk's SQLite file, next to the outbox, and taken in the same
transaction as the event that reports the ticket: a number is never issued twice, even
across a power cut.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from kiosk.domain.queue import LEASE_BLOCK
from kiosk.protocol.messages import TicketLeaseResult
from kiosk.touch.outbox import Outbox

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticket_leases (
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL,
    next INTEGER NOT NULL,
    prefix TEXT NOT NULL,
    service_name TEXT NOT NULL,
    centre_name TEXT NOT NULL,
    PRIMARY KEY (service, day, first)
);
CREATE TABLE IF NOT EXISTS fallback_counts (
    service TEXT NOT NULL,
    day TEXT NOT NULL,
    last INTEGER NOT NULL,
    PRIMARY KEY (service, day)
);
"""

LOW_WATER = LEASE_BLOCK // 2  # ask for another block when fewer numbers than this are left


@dataclass(frozen=True, slots=True)
class LeasedService:
    """What a slip needs to know of a service, as the hub said it with the lease."""

    prefix: str
    service_name: str
    centre_name: str


class LeaseBook:
    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        with outbox.transaction() as db:
            _create(db)  # executescript would commit the open transaction

    def add(self, lease: TicketLeaseResult) -> None:
        with self._outbox.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO ticket_leases VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    lease.service,
                    lease.day,
                    lease.first,
                    lease.last,
                    lease.first,
                    lease.prefix,
                    lease.service_name,
                    lease.centre_name,
                ),
            )
            # Yesterday's blocks are of no use any more.
            db.execute("DELETE FROM ticket_leases WHERE day < ?", (lease.day,))

    def remaining(self, service: str, day: str) -> int:
        with self._outbox.reading() as db:
            row = db.execute(
                "SELECT coalesce(sum(last - next + 1), 0) FROM ticket_leases"
                " WHERE service = ? AND day = ? AND next <= last",
                (service, day),
            ).fetchone()
        return int(row[0])

    def service(self, service: str, day: str) -> LeasedService | None:
        """The service as named in today's latest lease, if any."""
        with self._outbox.reading() as db:
            row = db.execute(
                "SELECT prefix, service_name, centre_name FROM ticket_leases"
                " WHERE service = ? AND day = ? ORDER BY first DESC LIMIT 1",
                (service, day),
            ).fetchone()
        return LeasedService(*row) if row else None

    @staticmethod
    def take(db: sqlite3.Connection, service: str, day: str) -> int | None:
        """The next leased number, inside the caller's transaction; None when none is left."""
        row = db.execute(
            "SELECT first, next FROM ticket_leases WHERE service = ? AND day = ? AND next <= last"
            " ORDER BY first LIMIT 1",
            (service, day),
        ).fetchone()
        if row is None:
            return None
        first, number = row
        db.execute(
            "UPDATE ticket_leases SET next = next + 1 WHERE service = ? AND day = ? AND first = ?",
            (service, day, first),
        )
        return int(number)

    @staticmethod
    def next_fallback(db: sqlite3.Connection, service: str, day: str) -> int:
        """This kiosk's next fallback count for ``service`` on ``day`` (from 1)."""
        db.execute(
            "INSERT INTO fallback_counts VALUES (?, ?, 1)"
            " ON CONFLICT (service, day) DO UPDATE SET last = last + 1",
            (service, day),
        )
        row = db.execute(
            "SELECT last FROM fallback_counts WHERE service = ? AND day = ?", (service, day)
        ).fetchone()
        return int(row[0])


def _create(db: sqlite3.Connection) -> None:
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
