"""case.submitted through the hub's event ledger (real SQLite, no broker): a printed slip is
acked and stored, never refused, even against a category or grid the admin removed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from kiosk.domain.cases.codes import rating_pin
from kiosk.domain.cases.states import Accept, Claim, Dispatch, Resolve
from kiosk.hub.cases.rpc import PIN_FAILURES_PER_CASE, CaseRpc
from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.db import Database
from kiosk.hub.intake import EventIntake
from kiosk.hub.metrics import Counter
from kiosk.hub.models import KioskEventRecord
from kiosk.protocol import cases as p
from kiosk.protocol.messages import InvalidPayload
from kiosk.protocol.rpc import RpcRefused
from kiosk.protocol.topics import CASE_RATED, CASE_SUBMITTED
from kiosk.settings import Settings
from tests.hub.cases_helpers import STAFF_COMMUNITY, STAFF_GRID, lease, submit, submitted_record
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


# --- ratings and slips the hub filed under another code (docs/cases.md "Who may rate") ---

SECRET = b"hub-test-deployment-secret-0123"


def _resolve(store: CaseStore, code: str) -> None:
    store.act(code, Accept(actor=STAFF_COMMUNITY))
    store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=store.directory.unit("wg-df1")))
    store.act(code, Claim(actor=STAFF_GRID))
    store.act(code, Resolve(actor=STAFF_GRID, reply="已修好"))


def _file(store: CaseStore, kiosk: str, record: dict[str, Any], event_id: str) -> str:
    with store.database.write() as session:
        return store.submit_event(session, kiosk, event_id, record).code


def _params(code: str, event_id: str, **who: str | None) -> p.CaseRateParams:
    return p.CaseRateParams(code=code, rating="unsatisfied", solved=False, event_id=event_id, **who)


def _refused(rpc: CaseRpc, params: p.CaseRateParams) -> str:
    with pytest.raises(RpcRefused) as refused:
        rpc.rate("k1", params)
    return refused.value.code


def _intake(database: Database, rpc: CaseRpc, acked: list[str]) -> EventIntake:
    intake = EventIntake(
        database,
        lambda _kiosk, ids: acked.extend(ids),
        clock=lambda: datetime.now(UTC),
        duplicates=Counter("dups", "duplicates", ("type",)),
    )
    rpc.install(_NoRpc(), intake)
    return intake


class _NoRpc:
    def register(self, method: str, handler: Any) -> None:
        pass


def _status(database: Database, event_id: str) -> tuple[str | None, str | None]:
    with database.read() as session:
        row = session.get(KioskEventRecord, event_id)
        return (row.status, row.detail) if row else (None, None)


def test_a_collided_code_rates_nobody_by_pin_and_both_cases_say_so(
    store: CaseStore, clock: FakeClock
) -> None:
    """Two slips print MQ-…-0008: the second slip's PIN is the first case's PIN too, so
    a PIN for that code rates neither case (ID card or a staff phone call instead)."""
    rpc = CaseRpc(store, lambda _k: "demo", secret=SECRET)
    first = submit(store, 8, at=clock.now)
    other = submitted_record(store, 8, at=clock.now, title="路灯不亮", kiosk="k2")
    lease(store, "k2", other["code"], clock.now)
    recoded = _file(store, "k2", other, "evt-other")
    for code in (first, recoded):
        _resolve(store, code)
    slip_pin = rating_pin(SECRET, first)  # printed on both slips
    assert _refused(rpc, _params(first, "r1", pin=slip_pin)) == "pin_required"
    assert _refused(rpc, _params(first.lower(), "r2", pin=slip_pin)) == "pin_required"
    assert store.get(first).case.state == "resolved"
    assert store.get(recoded).case.state == "resolved"
    for code in (first, recoded):
        review = store.get(code).row.review
        assert review is not None and "评价码不能用于评价" in review and first in review


def test_a_recoded_case_is_rated_with_its_slips_pin(store: CaseStore, clock: FakeClock) -> None:
    rpc = CaseRpc(store, lambda _k: "demo", secret=SECRET)
    record = submitted_record(store, 4242, at=clock.now)  # never leased: re-coded
    slip = str(record["code"])
    recoded = _file(store, "k1", record, "evt-rogue")
    assert recoded != slip
    _resolve(store, recoded)
    # The PIN of the code the hub chose is not on the slip; the slip's own PIN rates.
    assert _refused(rpc, _params(slip, "r1", pin=rating_pin(SECRET, recoded))) == "bad_pin"
    assert rpc.rate("k1", _params(slip, "r2", pin=rating_pin(SECRET, slip))).state == "rated"
    assert store.get(recoded).case.state == "rated"


def test_a_queued_right_pin_is_applied_though_the_kiosk_is_locked_out(
    store: CaseStore, database: Database, clock: FakeClock
) -> None:
    rpc = CaseRpc(store, lambda _k: "demo", secret=SECRET)
    acked: list[str] = []
    intake = _intake(database, rpc, acked)
    code = submit(store, 61, at=clock.now)
    _resolve(store, code)
    pin = rating_pin(SECRET, code)
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    for n in range(PIN_FAILURES_PER_CASE):
        assert _refused(rpc, _params(code, f"w{n}", pin=wrong)) == "bad_pin"
    assert _refused(rpc, _params(code, "live", pin=pin)) == "rate_limited"  # live: locked
    event = p.CaseRated(kiosk="k1", id="queued-1", rate=_params(code, "queued-1", pin=pin))
    intake.handle("k1", CASE_RATED, event.id, event.to_bytes())
    assert acked == ["queued-1"] and _status(database, "queued-1")[0] == "applied"
    assert store.get(code).case.state == "rated"


def test_a_rating_whose_event_id_another_case_holds_is_refused_and_acked(
    store: CaseStore, database: Database, clock: FakeClock
) -> None:
    rpc = CaseRpc(store, lambda _k: "demo", secret=SECRET)
    acked: list[str] = []
    intake = _intake(database, rpc, acked)
    holder = submitted_record(store, 70, at=clock.now)
    lease(store, "k1", holder["code"], clock.now)
    _file(store, "k1", holder, "taken-id")  # its submitted event has this id
    code = submit(store, 71, at=clock.now)
    _resolve(store, code)
    event = p.CaseRated(
        kiosk="k1", id="taken-id", rate=_params(code, "taken-id", pin=rating_pin(SECRET, code))
    )
    with pytest.raises(InvalidPayload):
        intake.handle("k1", CASE_RATED, event.id, event.to_bytes())
    assert acked == ["taken-id"]
    status, detail = _status(database, "taken-id")
    assert status == "refused" and detail is not None and "EventIdTaken" in detail
    assert store.get(code).case.state == "resolved"


def test_a_department_sent_as_the_grid_is_filed_for_review_not_lost(
    store: CaseStore, database: Database, clock: FakeClock
) -> None:
    rpc = CaseRpc(store, lambda _k: "demo", secret=SECRET)
    acked: list[str] = []
    intake = _intake(database, rpc, acked)
    record = submitted_record(store, 12, at=clock.now)
    record["submission"]["place"]["grid"] = {"id": "bm-water", "level": "grid", "name": "供水所"}
    lease(store, "k1", record["code"], clock.now)
    message = p.CaseSubmitted(kiosk="k1", code=record["code"], record=record)
    intake.handle("k1", CASE_SUBMITTED, message.id, message.to_bytes())
    assert acked == [message.id] and _status(database, message.id)[0] == "applied"
    row = store.get(record["code"]).row
    assert row.review is not None and "bm-water" in row.review
    assert row.grid is None and row.unit == "sq-dongfeng"
