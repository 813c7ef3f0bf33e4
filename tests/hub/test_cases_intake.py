"""case.submitted through the hub's event ledger (real SQLite, no broker): a printed slip is
acked and stored, never refused, even against a category or grid the admin removed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from kiosk.hub.cases.rpc import CaseRpc
from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.db import Database
from kiosk.hub.intake import EventIntake
from kiosk.hub.metrics import Counter
from kiosk.hub.models import KioskEventRecord
from kiosk.protocol import cases as p
from kiosk.protocol.topics import CASE_SUBMITTED
from kiosk.settings import Settings
from tests.hub.cases_helpers import submitted_record
from tests.hub.conftest import FakeClock


@pytest.fixture
def store(settings: Settings, database: Database, clock: FakeClock) -> CaseStore:
    return build_store(settings.hub.cases, database, clock)


def test_a_slip_against_a_removed_category_is_acked_and_stored_for_review(
    store: CaseStore, database: Database
) -> None:
    acked: list[str] = []
    intake = EventIntake(
        database,
        lambda _kiosk, ids: acked.extend(ids),
        clock=lambda: datetime.now(UTC),
        duplicates=Counter("dups", "duplicates", ("type",)),
    )
    intake.register(
        CASE_SUBMITTED, p.CaseSubmitted, CaseRpc(store, lambda _k: "demo").apply_submitted
    )
    record = submitted_record(store, 5, at=store.now())  # never leased either
    record["submission"]["category"] = "renamed-away"
    message = p.CaseSubmitted(kiosk="k1", code=record["code"], record=record)
    intake.handle("k1", CASE_SUBMITTED, message.id, message.to_bytes())
    assert acked == [message.id]
    found = store.get(record["code"])  # the slip's code still finds it
    assert found.row.review and "renamed-away" in found.row.review
    with database.read() as session:
        status = session.scalar(
            select(KioskEventRecord.status).where(KioskEventRecord.event_id == message.id)
        )
    assert status == "applied"
