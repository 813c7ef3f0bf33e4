"""The case store through the real database: transitions, refusals, idempotency, merge."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from kiosk.domain.cases.model import Actor, Rating, Submission
from kiosk.domain.cases.states import (
    Accept,
    CaseState,
    Claim,
    Dispatch,
    Escalate,
    Merge,
    NotAdmissible,
    Note,
    Resolve,
    Rework,
    Submit,
    TransitionRefused,
)
from kiosk.domain.cases.text import InvalidText
from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.store import CaseNotFound, CaseStore, RateLimited
from kiosk.hub.db import Database
from kiosk.hub.models import AuditEntry, CaseCodeAlias, CaseEventRow, CaseRow
from kiosk.settings import Settings
from tests.hub.cases_helpers import (
    STAFF_COMMUNITY,
    STAFF_GRID,
    lease,
    submit,
    submitted_record,
)
from tests.hub.conftest import FakeClock


@pytest.fixture
def store(settings: Settings, database: Database, clock: FakeClock) -> CaseStore:
    return build_store(settings.hub.cases, database, clock)


def test_a_case_goes_round_the_loop_and_the_projection_follows(
    store: CaseStore, clock: FakeClock
) -> None:
    code = submit(store, 1, at=clock.now)
    row = store.get(code).row
    assert (row.state, row.state_type, row.unit) == ("submitted", "pending", "sq-dongfeng")
    assert row.accept_due == clock.now.replace() + __import__("datetime").timedelta(hours=8)
    clock.advance(hours=1)
    store.act(code, Accept(actor=STAFF_COMMUNITY, summary="楼道照明维修"))
    grid = store.directory.unit("wg-df1")
    store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=grid))
    store.act(code, Claim(actor=STAFF_GRID))
    clock.advance(hours=5)
    store.act(code, Resolve(actor=STAFF_GRID, reply="已更换灯泡"))
    case = store.rate(code, Rating("unsatisfied", False, "还是不亮"), uuid.uuid4().hex, None)
    assert case.state is CaseState.RATED
    store.act(code, Rework(actor=STAFF_GRID))
    stored = store.get(code)
    assert stored.case.state is CaseState.IN_PROGRESS
    assert stored.row.state == "in_progress" and stored.row.unit == "wg-df1"
    assert "wg-df1" in stored.row.units and stored.row.handle_due is not None
    kinds = [r.kind for r in store.event_rows(stored.row.id)]
    assert kinds == [
        "submitted",
        "accepted",
        "dispatched",
        "claimed",
        "resolved",
        "rated",
        "reworked",
    ]
    with store.database.read() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["case.accept", "case.dispatch", "case.claim", "case.resolve", "case.rework"]


def test_refused_transitions_store_nothing_and_say_why(store: CaseStore, clock: FakeClock) -> None:
    code = submit(store, 1, at=clock.now)
    with pytest.raises(TransitionRefused, match="cannot claim a case that is submitted"):
        store.act(code, Claim(actor=STAFF_GRID))
    with pytest.raises(TransitionRefused, match="needs a reason"):
        store.act(code, NotAdmissible(actor=STAFF_COMMUNITY))
    with pytest.raises(InvalidText):
        store.act(code, Note(actor=STAFF_COMMUNITY, text="x" * 2001))
    with pytest.raises(CaseNotFound):
        store.act("MQ-2024-9999-A", Accept(actor=STAFF_COMMUNITY))
    stored = store.get(code)
    assert len(store.event_rows(stored.row.id)) == 1 and stored.row.state == "submitted"
    store.act(code, NotAdmissible(actor=STAFF_COMMUNITY, reason="不属于社区职责范围"))
    with pytest.raises(TransitionRefused, match="final"):
        store.act(code, Note(actor=STAFF_COMMUNITY, text="再看看"))


def test_the_same_event_id_is_applied_once(store: CaseStore, clock: FakeClock) -> None:
    record = submitted_record(store, 7, at=clock.now)
    for _ in range(3):
        with store.database.write() as session:
            store.submit_event(session, "k1", "evt-7", record)
    code = record["code"]
    store.act(code, Accept(actor=STAFF_COMMUNITY), event_id="act-1")
    store.act(code, Accept(actor=STAFF_COMMUNITY), event_id="act-1")  # a retry: no refusal
    with store.database.read() as session:
        assert session.scalar(select(func.count(CaseRow.id))) == 1
        assert session.scalar(select(func.count(CaseEventRow.id))) == 2


def _case_count(store: CaseStore) -> int:
    with store.database.read() as session:
        return int(session.scalar(select(func.count(CaseRow.id))) or 0)


def test_the_same_slip_under_another_event_id_is_not_filed_twice(
    store: CaseStore, clock: FakeClock
) -> None:
    record = submitted_record(store, 8, at=clock.now)
    lease(store, "k1", record["code"], clock.now)
    for event_id in ("evt-a", "evt-b"):
        with store.database.write() as session:
            store.submit_event(session, "k1", event_id, record)
    assert _case_count(store) == 1
    assert store.get(record["code"]).row.review is None


def test_a_code_collision_is_filed_under_a_new_code_flagged_with_an_alias(
    store: CaseStore, clock: FakeClock
) -> None:
    first = submit(store, 8, at=clock.now)
    other = submitted_record(store, 8, at=clock.now, title="路灯不亮", kiosk="k2")
    lease(store, "k2", other["code"], clock.now)
    with store.database.write() as session:
        case = store.submit_event(session, "k2", "evt-other", other)
    assert case.code != first
    row = store.get(case.code).row
    assert row.review is not None and "code collision" in row.review and first in row.review
    assert store.get(first).row.title == "楼道灯坏了"  # the code stays its first holder's
    with store.database.read() as session:
        alias = session.scalar(select(CaseCodeAlias).where(CaseCodeAlias.case_id == row.id))
    assert alias is not None and alias.code == first


def test_a_code_the_kiosk_never_leased_is_replaced_and_still_found_by_the_slip(
    store: CaseStore, clock: FakeClock
) -> None:
    record = submitted_record(store, 4242, at=clock.now, kiosk="k1")
    lease(store, "k2", record["code"], clock.now)  # leased, but to another kiosk
    with store.database.write() as session:
        case = store.submit_event(session, "k1", "evt-rogue", record)
    assert case.code != record["code"]
    found = store.get(record["code"])  # case.lookup of the slip's code
    assert found.case.code == case.code
    assert found.row.review is not None and "not leased" in found.row.review


def test_an_unknown_category_and_grid_are_kept_flagged_at_the_community(
    store: CaseStore, clock: FakeClock
) -> None:
    """An offline kiosk filed against a tree the admin changed since: nothing is lost."""
    record = submitted_record(store, 9, at=clock.now)
    record["submission"]["category"] = "removed-category"
    record["submission"]["place"]["grid"] = {"id": "wg-gone", "level": "grid", "name": "旧网格"}
    lease(store, "k1", record["code"], clock.now)
    with store.database.write() as session:
        case = store.submit_event(session, "k1", "evt-gone", record)
    row = store.get(record["code"]).row
    assert case.code == record["code"]  # the code was leased: it stays
    assert row.review is not None and "removed-category" in row.review and "wg-gone" in row.review
    assert row.category == "removed-category"
    assert row.grid is None and row.unit == "sq-dongfeng"  # the community's 首接负责
    assert case.submission.place.building == "3号楼"


def test_staff_filing_skips_codes_already_held(store: CaseStore, clock: FakeClock) -> None:
    held = submit(store, 1, at=clock.now)  # leased by hand: the counter does not know it
    case = store.file("box", _on_behalf(store))
    assert case.code != held
    assert case.code.endswith(f"-{clock.now.year}-0002-" + case.code[-1])


def test_codes_carry_the_centre_s_year_at_new_year(store: CaseStore, clock: FakeClock) -> None:
    clock.now = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)  # 01:00 on 1 January in Beijing
    case = store.file("box", _on_behalf(store))
    assert case.code.startswith("MQ-2027-0001-")


def _on_behalf(store: CaseStore) -> Callable[[str], Submit]:
    d = store.directory

    def submit_for(code: str) -> Submit:
        submission = Submission(
            channel="box",
            category="repair",
            place=d.place("wg-df1"),
            title="代办",
            description="电话反映",
            terms=d.terms("repair"),
        )
        return Submit(actor=STAFF_COMMUNITY, code=code, submission=submission, reason="电话来访")

    return submit_for


def test_two_staff_acting_at_once_get_consecutive_seqs(store: CaseStore, clock: FakeClock) -> None:
    code = submit(store, 1, at=clock.now)
    store.act(code, Accept(actor=STAFF_COMMUNITY))
    errors: list[BaseException] = []

    def note(i: int) -> None:
        try:
            store.act(code, Note(actor=STAFF_COMMUNITY, text=f"note {i}"))
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=note, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    rows = store.event_rows(store.get(code).row.id)
    assert [r.seq for r in rows] == list(range(1, 11))


def test_a_seq_taken_meanwhile_is_refused_by_the_database(
    store: CaseStore, clock: FakeClock
) -> None:
    code = submit(store, 1, at=clock.now)
    row = store.get(code).row
    with pytest.raises(Exception, match="UNIQUE"), store.database.write() as session:
        first = session.scalars(select(CaseEventRow).where(CaseEventRow.case_id == row.id)).one()
        session.add(
            CaseEventRow(
                case_id=row.id,
                seq=1,
                kind="noted",
                at=clock.now,
                actor_kind="staff",
                actor_id="x",
                actor_unit=None,
                public=False,
                record=first.record,
                event_id="other",
            )
        )
        session.flush()


def test_merge_closes_the_source_and_records_absorb_on_the_target(
    store: CaseStore, clock: FakeClock
) -> None:
    first = submit(store, 1, at=clock.now)
    second = submit(store, 2, at=clock.now)
    store.act(second, Merge(actor=STAFF_COMMUNITY, target=first, reason="同一盏灯"))
    assert store.get(second).case.state is CaseState.MERGED
    target = store.get(first).case
    assert target.absorbed == (second,)
    third = submit(store, 3, at=clock.now)
    store.act(first, NotAdmissible(actor=STAFF_COMMUNITY, reason="重复"))
    with pytest.raises(TransitionRefused):
        store.act(third, Merge(actor=STAFF_COMMUNITY, target=first, reason="同一盏灯"))
    assert store.get(third).case.state is CaseState.SUBMITTED  # rolled back together


def test_escalation_goes_one_level_up(store: CaseStore, clock: FakeClock) -> None:
    code = submit(store, 1, at=clock.now)
    store.act(code, Accept(actor=STAFF_COMMUNITY))
    store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=store.directory.unit("wg-df1")))
    above = store.directory.above("wg-df1")
    assert above is not None
    store.act(code, Escalate(actor=STAFF_GRID, to=above, reason="需要社区协调物业"))
    row = store.get(code).row
    assert row.unit == "sq-dongfeng" and "wg-df1" in row.units


def test_unrated_cases_close_after_the_window(store: CaseStore, clock: FakeClock) -> None:
    code = submit(store, 1, at=clock.now)
    store.act(code, Accept(actor=STAFF_COMMUNITY))
    store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=store.directory.unit("wg-df1")))
    store.act(code, Claim(actor=STAFF_GRID))
    store.act(code, Resolve(actor=STAFF_GRID, reply="已修好"))
    clock.advance(hours=100)
    assert store.close_unrated() == []
    clock.advance(hours=100)
    assert store.close_unrated() == [code]
    case = store.get(code).case
    assert case.state is CaseState.CLOSED and case.last_event.actor == Actor("system", "hub")


def test_a_flood_from_one_person_is_kept_but_marked_and_refused_up_front(
    store: CaseStore, clock: FakeClock
) -> None:
    limit = store.directory.per_person_per_day
    for seq in range(1, limit + 2):
        submit(store, seq, at=clock.now, person_key="pk-flood", kiosk="k1")
    rows = store.rows(CaseRow.person_key == "pk-flood")
    assert len(rows) == limit + 1  # nothing lost
    assert sum(row.limited for row in rows) == 1
    with pytest.raises(RateLimited, match="您今天已提交 6 件诉求，已达上限"):
        store.check_limit("k2", "pk-flood")
    store.check_limit("k2", "pk-other")


def test_code_blocks_do_not_overlap_and_are_limited(store: CaseStore) -> None:
    a = store.lease_codes("k1", "box", 2024, 20)
    b = store.lease_codes("k2", "box", 2024, 20)
    c = store.lease_codes("k1", "proposal", 2024, 5)
    assert a == (1, 20) and b == (21, 40) and c == (1, 5)
    with pytest.raises(RateLimited, match="已达上限"):
        store.lease_codes("k1", "box", 2024, 10_000)
