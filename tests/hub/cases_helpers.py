"""Shared helpers of the hub's case tests: a store on the test database, submitted records."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from kiosk.domain.cases.codes import make_code, parse_code
from kiosk.domain.cases.model import Actor, Resident, Submission
from kiosk.domain.cases.records import event_to_record
from kiosk.domain.cases.states import Submit, apply
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.models import CaseCodeLease

STAFF_COMMUNITY = Actor("staff", "clerk", "sq-dongfeng")
STAFF_GRID = Actor("staff", "gridder", "wg-df1")


def submitted_record(
    store: CaseStore,
    seq: int,
    *,
    at: datetime,
    kiosk: str = "k1",
    title: str = "楼道灯坏了",
    description: str = "3号楼二单元楼道灯不亮",
    category: str = "repair",
    grid: str = "wg-df1",
    person_key: str | None = None,
    channel: str = "box",
) -> dict[str, Any]:
    """The record a kiosk would send: apply(None, Submit…) on its own clock."""
    d = store.directory
    resident = (
        Resident(person_key, masked_name="张*", masked_phone="138****0000", contact_ok=True)
        if person_key
        else None
    )
    submission = Submission(
        channel=channel,  # type: ignore[arg-type]
        category=category,
        place=d.place(grid, "3号楼"),
        title=title,
        description=description,
        terms=d.terms(category),
        resident=resident,
        kiosk=kiosk,
    )
    actor = Actor("resident", person_key or "anonymous")
    code = make_code(channel, at.year, seq)  # type: ignore[arg-type]
    event = apply(None, Submit(actor=actor, code=code, submission=submission), lambda: at)
    return event_to_record(event)


def lease(store: CaseStore, kiosk: str, code: str, at: datetime) -> None:
    """The lease row case.code_block would have made for ``code`` (the hub checks it)."""
    parsed = parse_code(code)
    with store.database.write() as session:
        session.add(
            CaseCodeLease(
                kiosk=kiosk,
                channel=parsed.channel,
                year=parsed.year,
                first=parsed.seq,
                last=parsed.seq,
                leased_at=at,
            )
        )


def submit(store: CaseStore, seq: int, *, at: datetime, **kw: Any) -> str:
    record = submitted_record(store, seq, at=at, **kw)
    lease(store, kw.get("kiosk", "k1"), str(record["code"]), at)
    with store.database.write() as session:
        store.submit_event(session, kw.get("kiosk", "k1"), uuid.uuid4().hex, record)
    return str(record["code"])
