"""The case.* rpc methods and the case.submitted event through a real Mosquitto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from paho.mqtt.properties import Properties

from kiosk.domain.cases.codes import rating_pin
from kiosk.domain.cases.states import Accept, Claim, Dispatch, Note, Resolve
from kiosk.hub.cases.rpc import PIN_FAILURES_PER_CASE, PIN_FAILURES_PER_KIOSK, CaseRpc
from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import KioskEventRecord
from kiosk.hub.worker import HubWorker
from kiosk.protocol import cases as p
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import EventAck, decode
from kiosk.protocol.rpc import RpcClient, RpcFailed, RpcRefused
from kiosk.settings import Settings
from tests.brokers import RunningBroker
from tests.hub.cases_helpers import STAFF_COMMUNITY, STAFF_GRID, submit, submitted_record
from tests.hub.conftest import WAIT, kiosk_state, wait_hub_online
from tests.waiting import eventually

SECRET = b"hub-test-deployment-secret-0123"


@pytest.fixture
def store(settings: Settings, live_desk: QueueDesk) -> CaseStore:
    return build_store(settings.hub.cases, live_desk.database, live_desk.now)


@pytest.fixture
def hub(
    central_broker: RunningBroker, live_desk: QueueDesk, store: CaseStore
) -> Iterator[HubWorker]:
    worker = HubWorker(central_broker.mqtt_settings("hub"), live_desk, client_id="hub-test")
    rpc = CaseRpc(store, lambda kiosk: live_desk.centre_of(kiosk).code, secret=SECRET)
    rpc.install(worker.rpc, worker.intake)
    worker.start()
    wait_hub_online(central_broker, worker)
    yield worker
    worker.stop()


@pytest.fixture
def rpc(hub: HubWorker, kiosk_link: MqttLink, live_desk: QueueDesk) -> RpcClient:
    kiosk_link.publish(topics.kiosk_state("k1"), kiosk_state("k1"), retain=True)
    eventually(lambda: [k for k in live_desk.kiosks() if k.state == "online"], "k1's state")
    return RpcClient(kiosk_link, "k1")


def test_categories_and_the_grid_tree_of_the_kiosks_centre(rpc: RpcClient) -> None:
    cats = rpc.call("case.categories", p.CaseCategoriesParams(), p.CaseCategoriesResult, WAIT)
    water = next(c for c in cats.categories if c.id == "water")
    assert (water.name, water.icon, water.accept_hours, water.handle_hours) == (
        "供水供暖",
        "drop",
        8,
        24,
    )
    tree = rpc.call("case.grids", p.CaseGridsParams(), p.CaseGridsResult, WAIT)
    assert tree.community == "sq-dongfeng"
    (street,) = tree.streets
    community = next(c for c in street.communities if c.id == "sq-dongfeng")
    assert [g.id for g in community.grids] == ["wg-df1", "wg-df2"]
    assert community.grids[0].buildings == ["1号楼", "2号楼", "3号楼"]


def test_a_submitted_event_is_applied_once_and_acked(
    rpc: RpcClient, hub: HubWorker, kiosk_link: MqttLink, store: CaseStore
) -> None:
    acks: list[EventAck] = []
    got = threading.Event()

    def on_ack(_t: str, payload: bytes, _p: Properties | None) -> None:
        acks.append(decode(EventAck, payload))
        got.set()

    kiosk_link.subscribe(topics.kiosk_ack("k1"), on_ack)
    block = rpc.call(
        "case.code_block",
        p.CaseCodeBlockParams(channel="box", year=2026),
        p.CaseCodeBlockResult,
        WAIT,
    )
    record = submitted_record(store, block.first, at=datetime.now(UTC))
    event = p.CaseSubmitted(kiosk="k1", code=record["code"], record=record)
    for _ in range(2):  # a redelivery from the outbox
        kiosk_link.publish(topics.kiosk_event("k1", topics.CASE_SUBMITTED), event, qos=1)
    # One ack each, or one for both when they arrive in one batch.
    eventually(lambda: hub.metrics.duplicates.value(type=topics.CASE_SUBMITTED), "the redelivery")
    eventually(lambda: acks, "the ack")
    assert all(a.event_ids == [event.id] for a in acks)
    assert len(store.rows()) == 1
    view = rpc.call("case.lookup", p.CaseLookupParams(code=event.code), p.CaseLookupResult, WAIT)
    assert view.state == "submitted" and view.steps[0].title == "已提交"


def test_an_event_for_another_kiosk_is_refused_but_acked(
    rpc: RpcClient, hub: HubWorker, kiosk_link: MqttLink, store: CaseStore
) -> None:
    acks: list[EventAck] = []
    kiosk_link.subscribe(
        topics.kiosk_ack("k1"), lambda _t, payload, _p: acks.append(decode(EventAck, payload))
    )
    record = submitted_record(store, 3, at=datetime.now(UTC), kiosk="k9")
    # CaseSubmitted itself refuses a record naming another kiosk, so build the bytes by hand.
    raw = {"v": 1, "id": "evt-forged", "ts": datetime.now(UTC).isoformat(), "kiosk": "k1"}
    raw |= {"code": record["code"], "record": record}
    kiosk_link.publish(topics.kiosk_event("k1", topics.CASE_SUBMITTED), _json(raw))
    eventually(lambda: acks, "the ack of a refused event")
    assert store.rows() == []


def _json(data: object) -> bytes:
    import json

    return json.dumps(data).encode()


def test_lookup_shows_no_notes_no_staff_names_no_identity(rpc: RpcClient, store: CaseStore) -> None:
    now = datetime.now(UTC)
    code = submit(store, 11, at=now, person_key="pk-secret-resident")
    store.act(code, Accept(actor=STAFF_COMMUNITY))
    store.act(code, Note(actor=STAFF_COMMUNITY, text="INTERNAL-NOTE-MARKER 住户脾气大"))
    store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=store.directory.unit("wg-df1")))
    store.act(code, Claim(actor=STAFF_GRID))
    store.act(code, Resolve(actor=STAFF_GRID, reply="已更换灯泡"))
    view = rpc.call("case.lookup", p.CaseLookupParams(code=code.lower()), p.CaseLookupResult, WAIT)
    text = view.model_dump_json()
    for secret in ("INTERNAL-NOTE-MARKER", "clerk", "gridder", "pk-secret-resident", "张*"):
        assert secret not in text
    assert view.can_rate and "东风第一网格" in text
    with pytest.raises(RpcFailed) as refused:
        rpc.call(
            "case.rate",
            p.CaseRateParams(
                code=code, rating="satisfied", solved=True, event_id="r1", person_key="pk-other"
            ),
            p.CaseRateResult,
            WAIT,
        )
    assert refused.value.code == "pin_required" and "评价码" in str(refused.value)
    rated = rpc.call(
        "case.rate",
        p.CaseRateParams(
            code=code,
            rating="unsatisfied",
            solved=False,
            comment="还是不亮😡",
            event_id="r2",
            person_key="pk-secret-resident",
        ),
        p.CaseRateResult,
        WAIT,
    )
    assert (rated.state, rated.status) == ("rated", "已评价")


def test_similar_cases_come_with_tokens_not_codes_and_take_support(
    rpc: RpcClient, store: CaseStore
) -> None:
    now = datetime.now(UTC)
    code = submit(store, 21, at=now, person_key="pk-a")
    store.act(code, Accept(actor=STAFF_COMMUNITY, summary="东风一网格路灯维修"))
    submit(store, 22, at=now, grid="wg-df2")  # another grid: not similar
    found = rpc.call(
        "case.similar",
        p.CaseSimilarParams(category="repair", grid="wg-df1"),
        p.CaseSimilarResult,
        WAIT,
    )
    (similar,) = found.cases
    assert similar.summary == "东风一网格路灯维修" and code not in found.model_dump_json()
    params = p.CaseSupportParams(
        support_token=similar.support_token, event_id="s1", person_key="pk-b"
    )
    assert rpc.call("case.support", params, p.CaseSupportResult, WAIT).supporters == 1
    assert rpc.call("case.support", params, p.CaseSupportResult, WAIT).supporters == 1  # retry
    again = p.CaseSupportParams(
        support_token=similar.support_token, event_id="s2", person_key="pk-b"
    )
    with pytest.raises(RpcFailed, match="you support this case already"):
        rpc.call("case.support", again, p.CaseSupportResult, WAIT)
    with pytest.raises(RpcFailed) as unknown:
        rpc.call(
            "case.support",
            p.CaseSupportParams(support_token="nope", event_id="s3"),  # noqa: S106
            p.CaseSupportResult,
            WAIT,
        )
    assert unknown.value.code == "unknown_case"


def test_an_unknown_code_and_a_flood_of_code_leases_get_clear_messages(
    rpc: RpcClient, store: CaseStore
) -> None:
    with pytest.raises(RpcFailed) as unknown:
        rpc.call("case.lookup", p.CaseLookupParams(code="MQ-2026-9999-A"), p.CaseLookupResult, WAIT)
    assert unknown.value.code == "unknown_case" and "查无此件" in str(unknown.value)
    big = p.CaseCodeBlockParams(channel="box", year=2026, size=200)
    with pytest.raises(RpcFailed) as limited:
        for _ in range(10):
            rpc.call("case.code_block", big, p.CaseCodeBlockResult, WAIT)
    assert limited.value.code == "rate_limited" and "已达上限" in str(limited.value)


def test_long_and_emoji_comments(rpc: RpcClient, store: CaseStore) -> None:
    code = submit(store, 31, at=datetime.now(UTC), title="🚰 水管漏水 𠀀 " + "长" * 40)
    view = rpc.call("case.lookup", p.CaseLookupParams(code=code), p.CaseLookupResult, WAIT)
    assert view.title.startswith("🚰 水管漏水 𠀀")


# --- who may rate: the slip's PIN, or the submitter's own ID card --------------------------


def _resolved(store: CaseStore, seq: int, person_key: str | None = None) -> str:
    code = submit(store, seq, at=datetime.now(UTC), person_key=person_key)
    store.act(code, Accept(actor=STAFF_COMMUNITY))
    store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=store.directory.unit("wg-df1")))
    store.act(code, Claim(actor=STAFF_GRID))
    store.act(code, Resolve(actor=STAFF_GRID, reply="已修好"))
    return code


def _rate(rpc: RpcClient, code: str, event_id: str, **who: str | None) -> p.CaseRateResult:
    params = p.CaseRateParams(
        code=code, rating="unsatisfied", solved=False, event_id=event_id, **who
    )
    return rpc.call("case.rate", params, p.CaseRateResult, WAIT)


def _refusal(rpc: RpcClient, code: str, event_id: str, **who: str | None) -> RpcFailed:
    with pytest.raises(RpcFailed) as refused:
        _rate(rpc, code, event_id, **who)
    return refused.value


def _wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 1_000_000:06d}"


def test_an_anonymous_case_is_rated_with_its_pin_only(rpc: RpcClient, store: CaseStore) -> None:
    code = _resolved(store, 41)
    pin = rating_pin(SECRET, code)
    assert _refusal(rpc, code, "a1").code == "pin_required"
    assert _refusal(rpc, code, "a2", person_key="pk-someone").code == "pin_required"
    wrong = _refusal(rpc, code, "a3", pin=_wrong(pin))
    assert wrong.code == "bad_pin" and "评价码不对" in str(wrong)
    other = _resolved(store, 42)
    assert _refusal(rpc, code, "a4", pin=rating_pin(SECRET, other)).code == "bad_pin"
    assert store.get(code).case.state == "resolved"  # nothing was applied
    assert _rate(rpc, code, "a5", pin=pin).state == "rated"


def test_an_identified_residents_case_takes_their_card_or_the_pin(
    rpc: RpcClient, store: CaseStore
) -> None:
    own = _resolved(store, 51, person_key="pk-resident")
    assert _rate(rpc, own, "b1", person_key="pk-resident").state == "rated"  # card, no PIN
    other = _resolved(store, 52, person_key="pk-resident")
    assert _refusal(rpc, other, "b2", person_key="pk-neighbour").code == "pin_required"
    assert _refusal(rpc, other, "b3").code == "pin_required"
    assert _refusal(rpc, other, "b4", pin=_wrong(rating_pin(SECRET, other))).code == "bad_pin"
    # The slip's holder (a relative, the resident without the card) rates with the PIN.
    assert _rate(rpc, other, "b5", pin=rating_pin(SECRET, other)).state == "rated"


def test_repeated_wrong_pins_lock_the_kiosk_out_for_a_while(
    rpc: RpcClient, store: CaseStore
) -> None:
    code = _resolved(store, 61)
    pin = rating_pin(SECRET, code)
    for n in range(PIN_FAILURES_PER_CASE):
        assert _refusal(rpc, code, f"c{n}", pin=_wrong(pin)).code == "bad_pin"
    locked = _refusal(rpc, code, "c-right", pin=pin)  # even the right PIN, for now
    assert locked.code == "rate_limited" and "分钟后再试" in str(locked)
    # Walking other codes from the same kiosk: locked out after the kiosk's limit too.
    codes = [_resolved(store, 70 + n) for n in range(3)]
    left = PIN_FAILURES_PER_KIOSK - PIN_FAILURES_PER_CASE
    for n in range(left):
        target = codes[n % len(codes)]
        assert _refusal(rpc, target, f"d{n}", pin=_wrong(rating_pin(SECRET, target))).code == (
            "bad_pin"
        )
    fresh = _resolved(store, 80)
    assert _refusal(rpc, fresh, "d-right", pin=rating_pin(SECRET, fresh)).code == "rate_limited"
    assert store.get(fresh).case.state == "resolved"


def test_a_hub_without_the_deployment_secret_cannot_check_pins(store: CaseStore) -> None:
    code = _resolved(store, 91)
    blind = CaseRpc(store, lambda _kiosk: "demo")  # no secret
    params = p.CaseRateParams(
        code=code, rating="basic", solved=True, event_id="e91", pin=rating_pin(SECRET, code)
    )
    with pytest.raises(RpcRefused) as refused:
        blind.rate("k1", params)
    assert refused.value.code == "refused" and "服务台" in str(refused.value)
    assert store.get(code).case.state == "resolved"


def test_a_rating_queued_offline_is_applied_once_and_a_wrong_one_kept_refused(
    rpc: RpcClient, hub: HubWorker, kiosk_link: MqttLink, store: CaseStore, live_desk: QueueDesk
) -> None:
    acks: list[str] = []
    kiosk_link.subscribe(
        topics.kiosk_ack("k1"), lambda _t, data, _p: acks.extend(decode(EventAck, data).event_ids)
    )
    code = _resolved(store, 61)
    right = p.CaseRated(
        kiosk="k1",
        id="rated-1",
        rate=p.CaseRateParams(
            code=code,
            rating="satisfied",
            solved=True,
            event_id="rated-1",
            pin=rating_pin(SECRET, code),
        ),
    )
    wrong_code = _resolved(store, 62)
    wrong = p.CaseRated(
        kiosk="k1",
        id="rated-2",
        rate=p.CaseRateParams(
            code=wrong_code,
            rating="unsatisfied",
            solved=False,
            event_id="rated-2",
            pin="000000" if rating_pin(SECRET, wrong_code) != "000000" else "000001",
        ),
    )
    for event in (right, right, wrong):  # the first one redelivered by the outbox
        kiosk_link.publish(topics.kiosk_event("k1", topics.CASE_RATED), event, qos=1)
    eventually(lambda: "rated-1" in acks and "rated-2" in acks, "every ack")
    eventually(lambda: hub.metrics.duplicates.value(type=topics.CASE_RATED), "the redelivery")
    assert store.get(code).case.state == "rated"
    assert store.get(wrong_code).case.state == "resolved"
    with live_desk.database.read() as session:
        refused = session.get(KioskEventRecord, "rated-2")
        assert (
            refused is not None
            and refused.status == "refused"
            and "bad_pin" in (refused.detail or "")
        )
