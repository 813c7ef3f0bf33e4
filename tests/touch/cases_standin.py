"""A stand-in hub for the cases screens: the ``case.*`` rpc methods on the real central broker.

It keeps cases as event logs and answers with the domain's own rules (``apply``,
``resident_view``), so what the kiosk shows is what the real hub would let a code holder
see. It receives ``case.submitted`` through the edge bridge and acks it end to end (or not,
when a test wants the event to stay in the kiosk's outbox). Staff steps (accept, dispatch,
an internal note, resolve) are applied by tests with :meth:`CaseHub.staff`. Rating follows
the real hub's rule (kiosk/hub/cases/rpc.py, docs/cases.md "Who may rate"): the slip's PIN
under ``SECRET`` (the kiosk's deployment secret in these tests), or the submitter's own
card; the real hub's lockout after repeated wrong PINs is tested in tests/hub.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from paho.mqtt.properties import Properties

from kiosk.domain.cases.codes import pin_matches
from kiosk.domain.cases.model import Actor, Rating, Unit
from kiosk.domain.cases.public import resident_view
from kiosk.domain.cases.records import event_from_record
from kiosk.domain.cases.states import (
    Accept,
    Case,
    Claim,
    Command,
    Dispatch,
    Note,
    Rate,
    Resolve,
    Support,
    TransitionRefused,
    apply,
    evolve,
)
from kiosk.protocol import topics
from kiosk.protocol.cases import (
    CaseCategoriesResult,
    CaseCategory,
    CaseCodeBlockParams,
    CaseCodeBlockResult,
    CaseGridsResult,
    CaseLookupParams,
    CaseLookupResult,
    CaseRateParams,
    CaseRateResult,
    CaseSimilarParams,
    CaseSimilarResult,
    CaseSubmitted,
    CaseSupportParams,
    CaseSupportResult,
    CommunityNode,
    GridNode,
    SimilarCase,
    StreetNode,
    TimelineEntry,
)
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import EventAck, Params, decode
from kiosk.protocol.rpc import RpcRefused, RpcServer

SECRET = b"test-deployment-secret-0123456789"  # the kiosk's and this hub's copy

CATEGORIES = [
    CaseCategory(
        id="road", name="道路设施", icon="road", tier="normal", accept_hours=8, handle_hours=168
    ),
    CaseCategory(
        id="noise", name="噪音扰民", icon="noise", tier="urgent", accept_hours=8, handle_hours=24
    ),
    CaseCategory(
        id="misc",
        name="其他问题",
        icon="no-such-icon",
        tier="normal",
        accept_hours=8,
        handle_hours=168,
    ),
]
TREE = CaseGridsResult(
    community="c-heping",
    streets=[
        StreetNode(
            id="s-chengguan",
            name="城关街道",
            communities=[
                CommunityNode(
                    id="c-heping",
                    name="和平社区",
                    grids=[
                        GridNode(id="g-1", name="第一网格", buildings=["1号楼", "2号楼"]),
                        GridNode(id="g-2", name="第二网格", buildings=[]),
                    ],
                ),
                CommunityNode(
                    id="c-xingfu",
                    name="幸福社区",
                    grids=[GridNode(id="g-9", name="第九网格", buildings=[])],
                ),
            ],
        )
    ],
)
GRID_UNIT = Unit("g-1", "grid", "第一网格")
CLERK = Actor("staff", "wang.clerk", "c-heping")
HANDLER = Actor("staff", "li.handler", "g-1")
NAMES = {category.id: category.name for category in CATEGORIES}


def lookup_result(case: Case) -> CaseLookupResult:
    view = resident_view(case, category_names=NAMES)
    return CaseLookupResult(
        code=view.code,
        channel=view.channel,
        category=view.category,
        state=str(case.state),
        status=view.status,
        title=view.title,
        description=view.description,
        accept_due=view.accept_due,
        handle_due=view.handle_due,
        supporters=view.supporters,
        can_rate=view.can_rate,
        steps=[TimelineEntry(at=s.at, title=s.title, detail=s.detail) for s in view.steps],
    )


@dataclass
class CaseHub:
    """The case part of a hub, in memory."""

    link: MqttLink
    cases: dict[str, Case] = field(default_factory=dict)
    received: list[CaseSubmitted] = field(default_factory=list)
    similar_cases: list[SimilarCase] = field(default_factory=list)
    supports: dict[str, int] = field(default_factory=dict)
    seen_events: set[str] = field(default_factory=set)
    next_seq: dict[tuple[str, int], int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    acking: bool = True
    refuse: dict[str, tuple[str, str]] = field(default_factory=dict)  # method -> (code, message)
    secret: bytes = SECRET
    rate_calls: list[CaseRateParams] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def register(self, server: RpcServer) -> None:
        for method, handler in {
            "case.categories": self.categories,
            "case.grids": self.grids,
            "case.similar": self.similar,
            "case.support": self.support,
            "case.lookup": self.lookup,
            "case.rate": self.rate,
            "case.code_block": self.code_block,
        }.items():
            server.register(method, self._guarded(method, handler))
        self.link.subscribe(topics.ALL_KIOSK_EVENTS, self._on_event)

    def _guarded(self, method: str, handler: object) -> object:
        def answer(kiosk: str, params: Params) -> Params:
            self.calls.append(method)
            if method in self.refuse:
                raise RpcRefused(*self.refuse[method])
            return handler(kiosk, params)  # type: ignore[operator, no-any-return]

        return answer

    # --- rpc ------------------------------------------------------------------------

    def categories(self, _kiosk: str, _params: Params) -> Params:
        return CaseCategoriesResult(categories=CATEGORIES)

    def grids(self, _kiosk: str, _params: Params) -> Params:
        return TREE

    def similar(self, _kiosk: str, params: Params) -> Params:
        assert isinstance(params, CaseSimilarParams)
        return CaseSimilarResult(cases=list(self.similar_cases))

    def support(self, _kiosk: str, params: Params) -> Params:
        assert isinstance(params, CaseSupportParams)
        with self.lock:
            if params.event_id not in self.seen_events:
                self.seen_events.add(params.event_id)
                self.supports[params.support_token] = self.supports.get(params.support_token, 0) + 1
            return CaseSupportResult(supporters=self.supports[params.support_token])

    def lookup(self, _kiosk: str, params: Params) -> Params:
        assert isinstance(params, CaseLookupParams)
        with self.lock:
            case = self.cases.get(params.code)
        if case is None:
            raise RpcRefused("not_found", f"no case {params.code}")
        return lookup_result(case)

    def rate(self, _kiosk: str, params: Params) -> Params:
        assert isinstance(params, CaseRateParams)
        self.rate_calls.append(params)
        with self.lock:
            known = self.cases.get(params.code)
        if known is None:
            raise RpcRefused("not_found", f"no case {params.code}")
        pin_ok = params.pin is not None and pin_matches(self.secret, params.code, params.pin)
        if params.pin is not None and not pin_ok:
            raise RpcRefused("bad_pin", "评价码不对（wrong rating PIN）")
        own = known.submitter.identified and params.person_key == known.submitter.id
        if not pin_ok and not own:
            raise RpcRefused("pin_required", "请输入评价码（the slip's rating PIN is needed）")
        actor = Actor("resident", params.person_key or "anonymous")
        rating = Rating(params.rating, params.solved, params.comment)
        try:
            case = self.act(params.code, Rate(actor=actor, rating=rating, pin_verified=pin_ok))
        except TransitionRefused as err:
            raise RpcRefused("cannot_rate", str(err)) from err
        return CaseRateResult(code=case.code, state=str(case.state), status="已评价")

    def code_block(self, _kiosk: str, params: Params) -> Params:
        assert isinstance(params, CaseCodeBlockParams)
        with self.lock:
            key = (params.channel, params.year)
            first = self.next_seq.get(key, 1)
            self.next_seq[key] = first + params.size
        return CaseCodeBlockResult(
            channel=params.channel, year=params.year, first=first, last=first + params.size - 1
        )

    # --- events ---------------------------------------------------------------------

    def _on_event(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        if not topic.endswith("/event/case.submitted"):
            return
        message = decode(CaseSubmitted, payload)
        with self.lock:
            if not self.acking:
                return
            if message.code not in self.cases:
                self.cases[message.code] = evolve(None, event_from_record(message.record))
                self.received.append(message)
        ack = EventAck(kiosk=message.kiosk, event_ids=[message.id])
        self.link.publish(topics.kiosk_ack(message.kiosk), ack, qos=1)

    # --- staff, for tests -----------------------------------------------------------

    def act(self, code: str, command: Command | Support) -> Case:
        with self.lock:
            case = self.cases[code]
            event = apply(case, command, lambda: datetime.now(UTC))
            self.cases[code] = evolve(case, event)
            return self.cases[code]

    def staff(self, code: str, note: str = "内部备注：王某某家属脾气不好") -> Case:
        """Accept, dispatch, note internally, claim and resolve: ready to be rated."""
        self.act(code, Accept(actor=CLERK))
        self.act(code, Dispatch(actor=CLERK, lead=GRID_UNIT))
        self.act(code, Note(actor=CLERK, text=note))
        self.act(code, Claim(actor=HANDLER))
        return self.act(code, Resolve(actor=HANDLER, reply="路灯已修好。"))


@contextmanager
def case_hub_on(link: MqttLink, server: RpcServer) -> Iterator[CaseHub]:
    hub = CaseHub(link)
    hub.register(server)
    yield hub
