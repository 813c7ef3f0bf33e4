"""The cases part of the MQTT contract at the hub: the ``case.*`` rpc methods and the
``case.submitted`` applier (kiosk/protocol/cases.py, docs/cases.md "MQTT").

Every answer is built from the resident-facing projections of ``kiosk.domain.cases.public``,
so no internal note, staff name or identity can reach a kiosk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session

from kiosk.domain.cases.codes import pin_matches
from kiosk.domain.cases.model import ANONYMOUS, Actor, Rating
from kiosk.domain.cases.public import board_entry, resident_view
from kiosk.domain.cases.states import (
    OPEN_STATES,
    STATE_LABELS,
    Case,
    CaseState,
    CorruptLog,
    Rate,
    TransitionRefused,
)
from kiosk.domain.cases.text import InvalidText
from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub.cases.store import (
    CaseConflict,
    CaseNotFound,
    CaseStore,
    RateLimited,
    normal_code,
)
from kiosk.hub.intake import EventRefused
from kiosk.hub.models import CaseRow
from kiosk.hub.ratelimit import LoginLimiter
from kiosk.protocol import cases as p
from kiosk.protocol.messages import Params
from kiosk.protocol.rpc import MethodHandler, RpcRefused
from kiosk.protocol.topics import CASE_RATED, CASE_SUBMITTED

_LOGGER = logging.getLogger(__name__)

P = TypeVar("P", bound=Params)
MAX_SIMILAR = 20
# Cases a resident can still support (the domain's support rows).
_STILL_WORKED_ON = OPEN_STATES - {CaseState.RESOLVED, CaseState.RATED}
# Wrong rating PINs: per case and kiosk, and per kiosk, in this window (then refused).
PIN_FAILURES_PER_CASE = 5
PIN_FAILURES_PER_KIOSK = 10
PIN_WINDOW = 10 * 60.0  # seconds


class EventRegistry(Protocol):
    """What the hub's event intake offers (kiosk.hub.intake.EventIntake.register)."""

    def register(self, event_type: str, model: Any, apply: Any) -> None: ...

    def register_idempotent(self, event_type: str, model: Any, effect: Any) -> None: ...


class RpcRegistry(Protocol):
    def register(self, method: str, handler: MethodHandler) -> None: ...


class CaseRpc:
    """The handlers; ``centre_of(kiosk)`` gives a kiosk's centre code (RpcRefused if none).

    ``secret`` is the deployment secret (settings.hub.deployment_secret_file): without it
    no rating PIN can be checked, so only identified residents rate their own cases.
    """

    def __init__(
        self,
        store: CaseStore,
        centre_of: Callable[[str], str],
        *,
        secret: bytes | None = None,
        pin_limiter: LoginLimiter | None = None,
    ) -> None:
        self.store = store
        self.directory = store.directory
        self._centre_of = centre_of
        self._secret = secret
        self.pin_limiter = pin_limiter or LoginLimiter(
            per_account=PIN_FAILURES_PER_CASE,
            per_address=PIN_FAILURES_PER_KIOSK,
            window=PIN_WINDOW,
        )

    def install(
        self,
        rpc: RpcRegistry,
        intake: EventRegistry,
        wrap: Callable[[str, MethodHandler], MethodHandler] = lambda _name, h: h,
    ) -> None:
        handlers: dict[str, Callable[[str, Any], Params]] = {
            "case.categories": self.categories,
            "case.grids": self.grids,
            "case.similar": self.similar,
            "case.support": self.support,
            "case.lookup": self.lookup,
            "case.rate": self.rate,
            "case.code_block": self.code_block,
        }
        for method, handler in handlers.items():
            rpc.register(method, wrap(method, _refusals(handler)))
        intake.register(CASE_SUBMITTED, p.CaseSubmitted, self.apply_submitted)
        intake.register_idempotent(CASE_RATED, p.CaseRated, self.apply_rated)

    # --- methods ---------------------------------------------------------------------

    def categories(self, _kiosk: str, _params: p.CaseCategoriesParams) -> p.CaseCategoriesResult:
        sla = self.directory.sla
        return p.CaseCategoriesResult(
            categories=[
                p.CaseCategory(
                    id=c.id,
                    name=c.name,
                    icon=c.icon,
                    tier=c.tier,
                    accept_hours=sla.accept_hours,
                    handle_hours=sla.tiers[c.tier],
                )
                for c in self.directory.categories.values()
            ]
        )

    def grids(self, kiosk: str, _params: p.CaseGridsParams) -> p.CaseGridsResult:
        d = self.directory
        community = d.community_of_centre(self._centre_of(kiosk))
        if community is None:
            raise RpcRefused(
                "unknown_community", "本服务中心尚未配置所属社区（no community for this centre）"
            )
        street = d.units[community].parent or ""
        return p.CaseGridsResult(streets=[self._street(street)], community=community)

    def _street(self, street: str) -> p.StreetNode:
        d = self.directory
        communities = []
        for cid in d.children.get(street, []):
            grids = [
                p.GridNode(id=g, name=d.units[g].unit.name, buildings=list(d.units[g].buildings))
                for g in d.children.get(cid, [])
                if d.units[g].unit.level == "grid"
            ]
            communities.append(p.CommunityNode(id=cid, name=d.units[cid].unit.name, grids=grids))
        return p.StreetNode(id=street, name=d.units[street].unit.name, communities=communities)

    def similar(self, _kiosk: str, params: p.CaseSimilarParams) -> p.CaseSimilarResult:
        rows = self.store.rows(
            CaseRow.grid == params.grid,
            CaseRow.category == params.category,
            CaseRow.state.in_([str(s) for s in _STILL_WORKED_ON]),
            CaseRow.limited.is_(False),
            limit=MAX_SIMILAR,
        )
        tokens = {row.code: row.support_token for row in rows}
        names = self.directory.category_names()
        cases = self.store.cases(CaseRow.code.in_(list(tokens)))
        out = []
        for case in sorted(cases, key=lambda c: c.submitted_at, reverse=True):
            entry = board_entry(case, names)
            category = names.get(case.submission.category, case.submission.category)
            out.append(
                p.SimilarCase(
                    support_token=tokens[case.code],
                    category=category,
                    summary=entry.summary if entry else category,
                    status=STATE_LABELS[case.state],
                    submitted_on=case.submitted_at.astimezone(CENTRE_TIMEZONE).date().isoformat(),
                    supporters=case.support_count,
                )
            )
        return p.CaseSimilarResult(cases=out)

    def support(self, kiosk: str, params: p.CaseSupportParams) -> p.CaseSupportResult:
        case = self.store.support(params.support_token, params.event_id, params.person_key, kiosk)
        return p.CaseSupportResult(supporters=case.support_count)

    def lookup(self, _kiosk: str, params: p.CaseLookupParams) -> p.CaseLookupResult:
        stored = self.store.get(params.code)
        case = stored.case
        target = None
        if case.merged_into is not None:
            try:
                target = self.store.get(case.merged_into).case
            except CaseNotFound:
                target = None
        view = resident_view(case, target, self.directory.category_names())
        return p.CaseLookupResult.of(view, str(case.state), can_rate=view.can_rate)

    def rate(self, kiosk: str, params: p.CaseRateParams) -> p.CaseRateResult:
        """Who may rate (docs/cases.md "Who may rate"): the slip's PIN holder, or the
        identified submitter by ID card. Wrong PINs are counted per kiosk and case."""
        return self._rate(kiosk, params, lockout=True)

    def _rate(self, kiosk: str, params: p.CaseRateParams, *, lockout: bool) -> p.CaseRateResult:
        typed = normal_code(params.code)  # the slip's code: its PIN is the printed one
        stored = self.store.get(typed)
        case = stored.case
        if lockout:
            self._check_lockout(kiosk, typed)
        pin_ok = self._pin_ok(kiosk, typed, stored.row.id, case, params, count=lockout)
        actor = Actor("resident", params.person_key or ANONYMOUS)
        command = Rate(
            actor=actor,
            rating=Rating(params.rating, params.solved, params.comment),
            pin_verified=pin_ok,
        )
        rated = self.store.act(case.code, command, event_id=params.event_id, audited=False)
        return p.CaseRateResult(
            code=rated.code, state=str(rated.state), status=STATE_LABELS[rated.state]
        )

    def _check_lockout(self, kiosk: str, code: str) -> None:
        wait = self.pin_limiter.retry_after(code, kiosk)
        if wait is not None:
            raise RpcRefused(
                "rate_limited",
                f"本终端评价码输错次数过多，请 {int(wait // 60) + 1} 分钟后再试"
                "（too many wrong rating PINs from this kiosk）",
            )

    def apply_rated(self, kiosk: str, event: p.CaseRated) -> None:
        """A rating queued at a kiosk while the hub was away: the same checks as
        ``case.rate``; the store applies its event id once (a redelivery is a no-op).

        No wrong-PIN lockout here: the kiosk checked the PIN (and limited guesses) when
        the resident typed it, and an event answers nothing to guess from, so a right PIN
        queued behind someone's wrong ones is not lost. Whatever cannot be stored is
        refused for good (kept in the ledger and acked), never left for the kiosk to
        resend forever; the store keeps nothing of it (one transaction)."""
        if event.kiosk != kiosk or event.rate.event_id != event.id:
            raise EventRefused(f"a rating of kiosk {event.kiosk!r} or of another event id")
        try:
            _refusals(lambda k, params: self._rate(k, params, lockout=False))(kiosk, event.rate)
        except RpcRefused as err:
            raise EventRefused(f"{err.code}: {err}") from err
        except (CaseConflict, CorruptLog, KeyError, ValueError) as err:
            raise EventRefused(f"{type(err).__name__}: {err}") from err

    def _pin_ok(
        self,
        kiosk: str,
        typed: str,
        case_id: int,
        case: Case,
        params: p.CaseRateParams,
        *,
        count: bool = True,
    ) -> bool:
        """True when a right PIN came; False for the submitter's own card; else refused.

        The PIN is the one printed with ``typed`` (the code on the slip): the case's own
        code or an alias of it. A code two slips share (a collision) rates by PIN nobody:
        its PIN is the same on both slips."""
        if params.pin is not None:
            if self._secret is None:
                _LOGGER.warning("a rating PIN for %s, but the hub has no deployment secret", typed)
                raise RpcRefused(
                    "refused", "本中心无法核对评价码，请到服务台评价（the hub cannot check PINs）"
                )
            if self.store.slip_holders(typed) != {case_id}:
                _LOGGER.warning("a rating PIN for %s, a code two slips share", typed)
                raise RpcRefused(
                    "pin_required",
                    "此编号有两张小票，评价码不能用于评价：请凭身份证评价，或等工作人员电话回访"
                    "（this code is on two slips: its PIN cannot rate）",
                )
            if not pin_matches(self._secret, typed, params.pin):
                if count:
                    self.pin_limiter.failed(typed, kiosk)
                _LOGGER.info("wrong rating PIN for %s from kiosk %s", typed, kiosk)
                raise RpcRefused("bad_pin", "评价码不对，请核对凭条上的6位数字（wrong rating PIN）")
            if count:
                self.pin_limiter.succeeded(typed, kiosk)
            return True
        submitter = case.submitter
        if submitter.identified and params.person_key == submitter.id:
            return False  # the submitter, by ID card: the domain lets them rate
        raise RpcRefused(
            "pin_required", "请输入凭条上的6位评价码（the slip's rating PIN is needed）"
        )

    def code_block(self, kiosk: str, params: p.CaseCodeBlockParams) -> p.CaseCodeBlockResult:
        first, last = self.store.lease_codes(kiosk, params.channel, params.year, params.size)
        return p.CaseCodeBlockResult(
            channel=params.channel, year=params.year, first=first, last=last
        )

    # --- the event -------------------------------------------------------------------

    def apply_submitted(self, session: Session, kiosk: str, message: p.CaseSubmitted) -> None:
        """Runs in the intake ledger's transaction; refusals become EventRefused."""
        if message.kiosk != kiosk:
            raise EventRefused(f"case of kiosk {message.kiosk!r} sent by {kiosk!r}")
        try:
            case = self.store.submit_event(session, kiosk, message.id, message.record)
        except (CaseConflict, CorruptLog, KeyError, ValueError) as err:
            # One transaction: a refused event leaves nothing half stored.
            raise EventRefused(f"{type(err).__name__}: {err}") from err
        _LOGGER.info("case %s filed at kiosk %s", case.code, kiosk)


def _refusals(handler: Callable[[str, Any], Params]) -> MethodHandler:
    """The store's and the domain's refusals as rpc errors the kiosk can show."""

    def answer(kiosk: str, params: Params) -> Params:
        try:
            return handler(kiosk, params)
        except CaseNotFound as err:
            raise RpcRefused("unknown_case", f"查无此件，请核对编号（{err}）") from err
        except RateLimited as err:
            raise RpcRefused("rate_limited", str(err)) from err
        except InvalidText as err:
            raise RpcRefused("invalid_text", str(err)) from err
        except TransitionRefused as err:
            raise RpcRefused("refused", str(err)) from err

    return answer
