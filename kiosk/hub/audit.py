"""The audit log: who did what, when and from where. Append-only.

Every staff action in the console, every enrolment and revocation from the command line,
and every remote command is written here in the same transaction as the change itself
where there is one, so an action is never without its entry. Nothing here updates or
deletes a row; the console shows entries and exports them as CSV.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from kiosk.hub.db import Database
from kiosk.hub.models import AuditEntry

MAX_ROWS = 5000  # one page or one export; an auditor narrows by date for more


@dataclass(frozen=True, slots=True)
class AuditRow:
    id: int
    ts: datetime
    actor: str
    action: str
    target: str
    centre: str | None
    remote_addr: str | None
    outcome: str
    detail: dict[str, Any]


def record(
    session: Session,
    now: datetime,
    actor: str,
    action: str,
    target: str = "",
    *,
    centre: str | None = None,
    remote_addr: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry to ``session``'s transaction. Never put a password or a resident's
    personal data in ``detail``."""
    session.add(
        AuditEntry(
            ts=now,
            actor=actor[:80],
            action=action[:64],
            target=target[:128],
            centre=centre,
            remote_addr=(remote_addr or None) and remote_addr[:64],
            outcome=outcome[:16],
            detail=detail or {},
        )
    )


def _query(
    centres: frozenset[str] | None,
    hubwide: bool,
    since: datetime | None,
    until: datetime | None,
    actor: str | None,
    action: str | None,
) -> Select[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.ts.desc(), AuditEntry.id.desc())
    if centres is not None:
        # A user limited to some centres sees their entries, and the hub-wide ones (logins,
        # accounts) only when ``hubwide``.
        in_scope = AuditEntry.centre.in_(sorted(centres))
        query = query.where(or_(in_scope, AuditEntry.centre.is_(None)) if hubwide else in_scope)
    if since is not None:
        query = query.where(AuditEntry.ts >= since)
    if until is not None:
        query = query.where(AuditEntry.ts < until)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    return query.limit(MAX_ROWS)


def entries(
    session: Session,
    *,
    centres: frozenset[str] | None = None,
    hubwide: bool = True,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditRow]:
    """Newest first, at most :data:`MAX_ROWS`; ``centres`` None means every entry."""
    return [
        AuditRow(
            id=e.id,
            ts=e.ts,
            actor=e.actor,
            action=e.action,
            target=e.target,
            centre=e.centre,
            remote_addr=e.remote_addr,
            outcome=e.outcome,
            detail=dict(e.detail),
        )
        for e in session.scalars(_query(centres, hubwide, since, until, actor, action))
    ]


CSV_COLUMNS = ("id", "ts", "actor", "action", "target", "centre", "remote_addr", "outcome")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A spreadsheet runs a cell that starts with = + - @ as a formula ("CSV injection"):
    # an actor or target chosen by an attacker must stay text.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def to_csv(rows: Iterable[AuditRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*CSV_COLUMNS, "detail"])
    for row in rows:
        writer.writerow(
            [
                str(row.id),
                row.ts.isoformat(),
                *(_cell(getattr(row, column)) for column in CSV_COLUMNS[2:]),
                _cell(_detail_text(row.detail)),
            ]
        )
    return out.getvalue()


def _detail_text(detail: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(detail.items()))


def write(
    database: Database,
    now: datetime,
    actor: str,
    action: str,
    target: str = "",
    *,
    centre: str | None = None,
    remote_addr: str | None = None,
    outcome: str = "ok",
    detail: dict[str, Any] | None = None,
) -> None:
    """One entry in a transaction of its own (for acts that change nothing else: logins)."""
    with database.write() as session:
        record(
            session,
            now,
            actor,
            action,
            target,
            centre=centre,
            remote_addr=remote_addr,
            outcome=outcome,
            detail=detail,
        )
