"""What the hub's database says, read-only, against what the kiosks confirmed.

The hub's SQLite file is opened read-only (``mode=ro``) while the hub runs: the checks
never write, and WAL lets them read while the hub does.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.domain.queue import LEASED_NUMBERS
from tests.faults.traffic import Created


@dataclass
class Tally:
    """One fault's outcome: what was confirmed, found once, found twice or more, missing."""

    created: int = 0
    delivered: int = 0
    duplicates: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems and self.duplicates == 0 and self.lost == 0

    def count(self, what: str, found: int) -> None:
        self.created += 1
        if found == 1:
            self.delivered += 1
        elif found == 0:
            self.lost += 1
            self.problems.append(f"lost: {what}")
        else:
            self.delivered += 1
            self.duplicates += found - 1
            self.problems.append(f"{found} times: {what}")


class HubLedger:
    def __init__(self, database: Path, centre: str) -> None:
        self.database = database
        self.centre = centre

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=10)
        try:
            yield db
        finally:
            db.close()

    def _tables(self, db: sqlite3.Connection) -> set[str]:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def _columns(self, db: sqlite3.Connection, table: str) -> set[str]:
        return {r[1] for r in db.execute(f"PRAGMA table_info({table})")}

    # --- snapshots ----------------------------------------------------------------------

    def help_counts(self) -> Counter[str]:
        """Calls for staff the hub recorded per kiosk (each bumps the kiosk's help alert)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT kiosk, COALESCE(SUM(count), 0) FROM alerts WHERE kind = 'help' "
                "GROUP BY kiosk"
            ).fetchall()
        return Counter({kiosk: int(total) for kiosk, total in rows})

    def kiosk_state(self, kiosk: str) -> str | None:
        with self._read() as db:
            row = db.execute("SELECT state FROM kiosks WHERE id = ?", (kiosk,)).fetchone()
        return str(row[0]) if row else None

    def ticket_count(self, number: str) -> int:
        with self._read() as db:
            return int(
                db.execute(
                    "SELECT COUNT(*) FROM tickets WHERE centre = ? AND display_number = ?",
                    (self.centre, number),
                ).fetchone()[0]
            )

    # --- the checks ---------------------------------------------------------------------

    def check(
        self,
        created: Iterable[Created],
        help_before: Counter[str],
        help_unanswered: Counter[str] | None = None,
    ) -> Tally:
        """Every confirmed event once, no duplicates anywhere, the ticket invariants.

        ``help_unanswered``: calls for staff per kiosk that got no answer at all (the touch
        app died mid-request); each may or may not have reached the hub.
        """
        created = list(created)
        tally = Tally()
        with self._read() as db:
            self._check_tickets(db, [c for c in created if c.kind == "ticket"], tally)
            self._check_cases(db, [c for c in created if c.kind == "case"], tally)
            self._check_invariants(db, tally)
        calls = [c for c in created if c.kind == "help"]
        self._check_help(calls, help_before, help_unanswered or Counter(), tally)
        return tally

    def _check_tickets(self, db: sqlite3.Connection, tickets: list[Created], tally: Tally) -> None:
        by_number = Counter(
            r[0]
            for r in db.execute(
                "SELECT display_number FROM tickets WHERE centre = ?", (self.centre,)
            )
        )
        # A ticket taken online carries the kiosk's request id as its event id; one issued
        # offline has an event id of its own and names the request in request_id.
        columns = self._columns(db, "tickets")
        key = "coalesce(request_id, event_id)" if "request_id" in columns else "event_id"
        # A ticket the hub voided (its request went unanswered, the kiosk issued offline
        # instead) is held by nobody: it does not count.
        voided = "tickets.event_id || ':void'"
        by_event = Counter(
            r[0]
            for r in db.execute(
                f"SELECT {key} FROM tickets WHERE NOT EXISTS "  # noqa: S608 - our own SQL
                f"(SELECT 1 FROM ticket_events e WHERE e.event_id = {voided})"
            )
        )
        for ticket in tickets:
            found = by_number[ticket.key]
            if ticket.event_id and found == 1 and by_event[ticket.event_id] != 1:
                tally.problems.append(
                    f"ticket {ticket.key} of {ticket.kiosk}: event id {ticket.event_id} "
                    f"found {by_event[ticket.event_id]} times"
                )
            tally.count(f"ticket {ticket.key} of {ticket.kiosk}", found)

    def _check_cases(self, db: sqlite3.Connection, cases: list[Created], tally: Tally) -> None:
        if not cases:
            return
        if "cases" not in self._tables(db):
            tally.problems.append("the kiosks confirmed cases but the hub has no cases table")
            return
        columns = self._columns(db, "cases")
        column = next((c for c in ("tracking_code", "code") if c in columns), None)
        if column is None:
            tally.problems.append(f"no tracking code column in cases ({sorted(columns)})")
            return
        codes = Counter(r[0] for r in db.execute(f"SELECT {column} FROM cases"))  # noqa: S608
        for case in cases:
            tally.count(f"case {case.key} of {case.kiosk}", codes[case.key])

    def _check_help(
        self, calls: list[Created], before: Counter[str], maybe: Counter[str], tally: Tally
    ) -> None:
        """Calls for staff have no key in the hub: each one bumps the kiosk's help alert, so
        the growth of its count during the fault must equal the calls confirmed (plus at
        most the ones left without an answer)."""
        now = self.help_counts()
        for kiosk in sorted({c.kiosk for c in calls} | set(now) | set(before)):
            confirmed = sum(1 for c in calls if c.kiosk == kiosk)
            recorded = now[kiosk] - before[kiosk]
            tally.created += confirmed
            tally.delivered += min(confirmed, recorded)
            if recorded > confirmed + maybe[kiosk]:
                tally.duplicates += recorded - confirmed - maybe[kiosk]
                tally.problems.append(
                    f"{kiosk}: {recorded} calls for staff recorded, {confirmed} confirmed"
                )
            elif recorded < confirmed:
                tally.lost += confirmed - recorded
                tally.problems.append(
                    f"{kiosk}: {confirmed} calls for staff confirmed, {recorded} recorded"
                )

    def _check_invariants(self, db: sqlite3.Connection, tally: Tally) -> None:
        problems = tally.problems
        for row in db.execute(
            "SELECT centre, service, day, number, COUNT(*) FROM tickets "
            "GROUP BY centre, service, day, number HAVING COUNT(*) > 1"
        ):
            problems.append(f"ticket number {row[:4]} {row[4]} times")
        for row in db.execute(
            "SELECT centre, day, display_number, COUNT(*) FROM tickets "
            "GROUP BY centre, day, display_number HAVING COUNT(*) > 1"
        ):
            problems.append(f"displayed number {row[:3]} {row[3]} times")
        for table in ("tickets", "ticket_events", "kiosk_events"):
            if table not in self._tables(db) or "event_id" not in self._columns(db, table):
                continue
            for event_id, n in db.execute(
                f"SELECT event_id, COUNT(*) FROM {table} "  # noqa: S608 - our table names
                "GROUP BY event_id HAVING COUNT(*) > 1"
            ):
                problems.append(f"event id {event_id} {n} times in {table}")
        for ticket_id, number, issued in db.execute(
            "SELECT t.id, t.display_number, "
            "(SELECT COUNT(*) FROM ticket_events e WHERE e.ticket_id = t.id AND e.type = 'issued') "
            "FROM tickets t"
        ):
            if issued != 1:
                problems.append(f"ticket {number} (id {ticket_id}) has {issued} 'issued' events")
        self._check_leases(db, tally)
        for centre, service, day, last, top in db.execute(
            "SELECT c.centre, c.service, c.day, c.last_number, "
            "(SELECT MIN(COUNT(*), 1) FROM tickets t WHERE t.centre = c.centre "
            " AND t.service = c.service AND t.day = c.day AND t.number = c.last_number) "
            "FROM day_counters c"
        ):
            if last > 0 and top != 1:
                problems.append(f"{centre}/{service}/{day}: counter at {last}, no such ticket")

    def _check_leases(self, db: sqlite3.Connection, tally: Tally) -> None:
        """A ticket with a leased number lies in a block leased to the kiosk that issued it."""
        if "ticket_leases" not in self._tables(db):
            return
        for number, kiosk, display in db.execute(
            "SELECT t.number, t.kiosk, t.display_number FROM tickets t "
            "WHERE t.number BETWEEN ? AND ? AND NOT EXISTS (SELECT 1 FROM ticket_leases l "
            " WHERE l.centre = t.centre AND l.service = t.service AND l.day = t.day "
            " AND l.kiosk = t.kiosk AND t.number BETWEEN l.first AND l.last)",
            (LEASED_NUMBERS.start, LEASED_NUMBERS.stop - 1),
        ):
            tally.problems.append(f"ticket {display} ({number}) of {kiosk} outside its leases")


def printed_slips(receipts: Path) -> Counter[str]:
    """How many printed receipts carry each line (a ticket number stands on a line of its
    own on its slip); a receipt counts once per distinct line."""
    found: Counter[str] = Counter()
    for txt in receipts.glob("*.txt"):
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
        found.update({line.strip() for line in lines if line.strip()})
    return found
