"""The case state machine, one for both channels (DESIGN.md §5, civic.md §8.1).

A case is an append-only list of :class:`CaseEvent`. :func:`apply` checks a command
against the case as it stands and returns the one event that records it (or raises
:class:`TransitionRefused`); the caller stores the event; :func:`replay` folds the stored
events back into a :class:`Case`. The rules live once, as data, in :data:`TRANSITIONS`:
``apply``, ``replay``, the docs and the tests all read that table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Literal

from kiosk.domain.cases.codes import InvalidTrackingCode, parse_code
from kiosk.domain.cases.model import (
    ANONYMOUS,
    Actor,
    ActorKind,
    Rating,
    Submission,
    Unit,
    level_above,
)
from kiosk.domain.cases.text import clean, validate, validate_optional

Clock = Callable[[], datetime]
"""Gives the current time, timezone-aware. Tests pass a fake one."""


class CaseState(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    NOT_ADMISSIBLE = "not_admissible"
    MERGED = "merged"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    RATED = "rated"
    CLOSED = "closed"


class Action(StrEnum):
    """What someone asks to do to a case; each becomes one event of the same-named kind."""

    SUBMIT = "submit"
    ACCEPT = "accept"
    NOT_ADMISSIBLE = "not_admissible"
    MERGE = "merge"
    ABSORB = "absorb"
    DISPATCH = "dispatch"
    CLAIM = "claim"
    ESCALATE = "escalate"
    RESOLVE = "resolve"
    RATE = "rate"
    REWORK = "rework"
    CLOSE = "close"
    NOTE = "note"
    SUPPORT = "support"


class EventKind(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    NOT_ADMISSIBLE = "not_admissible"
    MERGED = "merged"
    ABSORBED = "absorbed"
    DISPATCHED = "dispatched"
    CLAIMED = "claimed"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    RATED = "rated"
    REWORKED = "reworked"
    CLOSED = "closed"
    NOTED = "noted"
    SUPPORTED = "supported"


EVENT_OF: dict[Action, EventKind] = dict(zip(Action, EventKind, strict=True))
ACTION_OF: dict[EventKind, Action] = {kind: action for action, kind in EVENT_OF.items()}

FINAL_STATES = frozenset({CaseState.NOT_ADMISSIBLE, CaseState.MERGED, CaseState.CLOSED})
OPEN_STATES = frozenset(CaseState) - FINAL_STATES

StateType = Literal["pending", "open", "fixed", "closed"]

# Labels may be reworded per deployment; metrics and exports use the fixed type
# (the FixMyStreet lesson, civic.md §3).
STATE_TYPES: dict[CaseState, StateType] = {
    CaseState.SUBMITTED: "pending",
    CaseState.ACCEPTED: "open",
    CaseState.DISPATCHED: "open",
    CaseState.IN_PROGRESS: "open",
    CaseState.RESOLVED: "fixed",
    CaseState.RATED: "fixed",
    CaseState.NOT_ADMISSIBLE: "closed",
    CaseState.MERGED: "closed",
    CaseState.CLOSED: "closed",
}

STATE_LABELS: dict[CaseState, str] = {
    CaseState.SUBMITTED: "待受理",
    CaseState.ACCEPTED: "已受理",
    CaseState.NOT_ADMISSIBLE: "不予受理",
    CaseState.MERGED: "已合并",
    CaseState.DISPATCHED: "已派单",
    CaseState.IN_PROGRESS: "处置中",
    CaseState.RESOLVED: "已办结",
    CaseState.RATED: "已评价",
    CaseState.CLOSED: "已结案",
}


def open311_status(state: CaseState) -> Literal["open", "closed"]:
    """GeoReport v2's two-valued status; the detailed state goes in an extension field."""
    return "closed" if STATE_TYPES[state] == "closed" else "open"


INTERNAL_KINDS = frozenset({EventKind.NOTED})
"""Events residents never see, not even that they happened."""

ReasonRule = Literal["optional", "required", "on_behalf", "if_unsatisfied"]


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the table: ``action`` from ``source`` leads to ``target``.

    ``source`` None means "no case yet" (only submit); ``target`` None means the state
    does not change (notes, support, absorbing a merged case). ``rule`` says in words
    what else :func:`apply` checks.
    """

    action: Action
    source: CaseState | None
    target: CaseState | None
    actors: frozenset[ActorKind]
    reason: ReasonRule = "optional"
    rule: str = ""

    def result(self) -> CaseState:
        if self.target is not None:
            return self.target
        if self.source is None:
            raise ValueError("a row from no case must name its target")
        return self.source


_STAFF: frozenset[ActorKind] = frozenset({"staff"})
_RESIDENT: frozenset[ActorKind] = frozenset({"resident"})
_RESIDENT_OR_STAFF: frozenset[ActorKind] = frozenset({"resident", "staff"})
_STAFF_OR_SYSTEM: frozenset[ActorKind] = frozenset({"staff", "system"})

_S = CaseState
_ACTIVE = (_S.SUBMITTED, _S.ACCEPTED, _S.DISPATCHED, _S.IN_PROGRESS)


def _rows(
    action: Action,
    sources: Iterable[CaseState | None],
    target: CaseState | None,
    actors: frozenset[ActorKind],
    reason: ReasonRule = "optional",
    rule: str = "",
) -> list[Transition]:
    return [Transition(action, source, target, actors, reason, rule) for source in sources]


TRANSITIONS: tuple[Transition, ...] = tuple(
    _rows(
        Action.SUBMIT,
        [None],
        _S.SUBMITTED,
        _RESIDENT_OR_STAFF,
        "on_behalf",
        "code valid for the channel; a resident files as themselves or anonymously",
    )
    + _rows(Action.ACCEPT, [_S.SUBMITTED], _S.ACCEPTED, _STAFF, rule="optional board summary")
    + _rows(
        Action.NOT_ADMISSIBLE,
        [_S.SUBMITTED],
        _S.NOT_ADMISSIBLE,
        _STAFF,
        "required",
        "the resident sees the reason",
    )
    + _rows(
        Action.MERGE,
        [_S.SUBMITTED, _S.ACCEPTED],
        _S.MERGED,
        _STAFF,
        "required",
        "into another open case, which records absorb",
    )
    + _rows(Action.ABSORB, _ACTIVE, None, _STAFF, rule="another case merged into this one")
    + _rows(Action.DISPATCH, [_S.ACCEPTED], _S.DISPATCHED, _STAFF, rule="lead unit + co-handlers")
    + _rows(
        Action.DISPATCH,
        [_S.DISPATCHED],
        _S.DISPATCHED,
        _STAFF,
        "required",
        "re-dispatch to a different lead or co-handlers",
    )
    + _rows(
        Action.CLAIM,
        [_S.DISPATCHED],
        _S.IN_PROGRESS,
        _STAFF,
        rule="by staff of the lead or a co-handling unit",
    )
    + _rows(
        Action.ESCALATE,
        [_S.ACCEPTED, _S.DISPATCHED, _S.IN_PROGRESS],
        _S.DISPATCHED,
        _STAFF,
        "required",
        "to the unit one level up (grid → community → street); the old lead co-handles",
    )
    + _rows(Action.RESOLVE, [_S.IN_PROGRESS], _S.RESOLVED, _STAFF, rule="reply required")
    + _rows(
        Action.RATE,
        [_S.RESOLVED],
        _S.RATED,
        _RESIDENT_OR_STAFF,
        "on_behalf",
        "an identified resident's case: only they or the slip's PIN holder rate it",
    )
    + _rows(
        Action.REWORK,
        [_S.RATED],
        _S.IN_PROGRESS,
        _STAFF,
        rule="last rating unsatisfied; fewer than max_reworks so far; same unit and handler",
    )
    + _rows(
        Action.CLOSE,
        [_S.RATED],
        _S.CLOSED,
        _STAFF_OR_SYSTEM,
        "if_unsatisfied",
        "after 不满意 only with a reason (closed unsatisfied, instead of a rework)",
    )
    + _rows(
        Action.CLOSE,
        [_S.RESOLVED],
        _S.CLOSED,
        _STAFF_OR_SYSTEM,
        rule="unrated: only once the rating window is over",
    )
    + _rows(
        Action.NOTE,
        [state for state in CaseState if state in OPEN_STATES],
        None,
        _STAFF,
        rule="text required; never shown to residents",
    )
    + _rows(
        Action.SUPPORT,
        _ACTIVE,
        None,
        _RESIDENT,
        rule="我也遇到了: once per identified resident, not the submitter",
    )
)

_TABLE: dict[tuple[Action, CaseState | None], Transition] = {
    (row.action, row.source): row for row in TRANSITIONS
}


@dataclass(frozen=True, slots=True)
class CasePolicy:
    """Deployment choices the state machine needs (SLA hours live in the case itself)."""

    rating_window_hours: int = 7 * 24
    max_reworks: int = 2


DEFAULT_POLICY = CasePolicy()


class TransitionRefused(Exception):
    """The action is not allowed now; the message names the action and the state."""

    def __init__(self, action: Action, state: CaseState | None, message: str) -> None:
        super().__init__(message)
        self.action = action
        self.state = state


class CorruptLog(ValueError):
    """Stored events that the rules could never have produced (wrong order, gap, kind)."""


def transition_for(action: Action, state: CaseState | None) -> Transition:
    """The table row for ``action`` in ``state``, or :class:`TransitionRefused` saying why."""
    row = _TABLE.get((action, state))
    if row is not None:
        return row
    if state is None:
        raise TransitionRefused(action, state, f"cannot {action}: there is no such case yet")
    if action is Action.SUBMIT:
        raise TransitionRefused(action, state, f"cannot submit: the case exists ({state})")
    if state in FINAL_STATES:
        raise TransitionRefused(
            action, state, f"cannot {action}: the case is {state}, which is final"
        )
    allowed = ", ".join(str(r.source) for r in TRANSITIONS if r.action is action)
    raise TransitionRefused(
        action, state, f"cannot {action} a case that is {state} ({action} needs: {allowed})"
    )


def allowed_actions(state: CaseState) -> list[Action]:
    """What the table allows in ``state`` (the console's buttons, before rule checks)."""
    return [row.action for row in TRANSITIONS if row.source is state]


# ---------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One immutable line of a case's history.

    ``seq`` numbers the case's events from 1 and is their order; ``at`` is UTC. The
    payload fields a kind uses: ``submission`` (submitted), ``text`` (accepted: the
    public board summary; resolved: the reply; noted: the note), ``lead`` and
    ``co_handlers`` (dispatched, escalated), ``other`` (merged: the target's code;
    absorbed: the merged case's code), ``rating`` (rated).
    """

    code: str
    seq: int
    kind: EventKind
    at: datetime
    actor: Actor
    reason: str | None = None
    text: str | None = None
    lead: Unit | None = None
    co_handlers: tuple[Unit, ...] = ()
    other: str | None = None
    rating: Rating | None = None
    submission: Submission | None = None

    @property
    def unit(self) -> str | None:
        """The unit the actor acted for."""
        return self.actor.unit

    @property
    def public(self) -> bool:
        """May the resident's timeline mention this event at all (see ``public.py``)?"""
        return self.kind not in INTERNAL_KINDS

    @property
    def on_behalf(self) -> bool:
        """Staff filed or rated for a resident (代办); ``reason`` says why."""
        return self.actor.kind == "staff" and self.kind in (EventKind.SUBMITTED, EventKind.RATED)


@dataclass(frozen=True, slots=True)
class Case:
    """A case as its events leave it. Build it with :func:`replay`, never by hand.

    ``unit`` is who holds it: the place's community until dispatched, then the lead.
    """

    code: str
    submission: Submission
    submitted_at: datetime
    state: CaseState
    unit: Unit
    events: tuple[CaseEvent, ...]
    co_handlers: tuple[Unit, ...] = ()
    handler: str | None = None
    accepted_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    summary: str | None = None
    reply: str | None = None
    rating: Rating | None = None
    rework_count: int = 0
    escalation_count: int = 0
    merged_into: str | None = None
    absorbed: tuple[str, ...] = ()
    support_count: int = 0
    supporters: frozenset[str] = frozenset()

    @property
    def submitter(self) -> Actor:
        return self.events[0].actor

    @property
    def last_event(self) -> CaseEvent:
        return self.events[-1]

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


# -------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Something staff, a resident or the system asks for; ``reason`` is logged with it."""

    action: ClassVar[Action]
    actor: Actor
    reason: str | None = None

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        """Check the action's own rules and add its payload to ``event``."""
        return event


@dataclass(frozen=True, slots=True, kw_only=True)
class Submit:
    """File a new case. Not a :class:`Command`: there is no case yet."""

    action: ClassVar[Action] = Action.SUBMIT
    actor: Actor
    code: str
    submission: Submission
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept(Command):
    action: ClassVar[Action] = Action.ACCEPT
    summary: str | None = None  # one plain line for the public board, written by staff

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        return dataclasses.replace(event, text=validate_optional("summary", self.summary))


@dataclass(frozen=True, slots=True, kw_only=True)
class NotAdmissible(Command):
    action: ClassVar[Action] = Action.NOT_ADMISSIBLE


@dataclass(frozen=True, slots=True, kw_only=True)
class Merge(Command):
    """Merge this case into ``target``; the hub also applies :class:`Absorb` to the target."""

    action: ClassVar[Action] = Action.MERGE
    target: str

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        return dataclasses.replace(event, other=_other_code(case, self.target, self.action))


@dataclass(frozen=True, slots=True, kw_only=True)
class Absorb(Command):
    """Record on the target that ``source`` was merged into it (links both ways)."""

    action: ClassVar[Action] = Action.ABSORB
    source: str

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        code = _other_code(case, self.source, self.action)
        if code in case.absorbed:
            raise TransitionRefused(self.action, case.state, f"{code} was already merged here")
        return dataclasses.replace(event, other=code)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dispatch(Command):
    action: ClassVar[Action] = Action.DISPATCH
    lead: Unit
    co_handlers: tuple[Unit, ...] = ()

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        co = _distinct_co_handlers(self.lead, self.co_handlers, self.action, case.state)
        if case.state is CaseState.DISPATCHED and (self.lead, co) == (case.unit, case.co_handlers):
            raise TransitionRefused(
                self.action, case.state, f"the case is already dispatched to {self.lead.id}"
            )
        return dataclasses.replace(event, lead=self.lead, co_handlers=co)


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim(Command):
    action: ClassVar[Action] = Action.CLAIM

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        units = {case.unit.id, *(unit.id for unit in case.co_handlers)}
        if self.actor.unit not in units:
            raise TransitionRefused(
                self.action,
                case.state,
                f"cannot claim for unit {self.actor.unit}: the case is with {case.unit.id}",
            )
        return event


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalate(Command):
    """吹哨: call in the unit one level up, which becomes the lead."""

    action: ClassVar[Action] = Action.ESCALATE
    to: Unit

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        above = level_above(case.unit.level)
        if above is None:
            raise TransitionRefused(
                self.action,
                case.state,
                f"cannot escalate from a {case.unit.level}: there is no level above; "
                "dispatch again instead",
            )
        if self.to.level != above:
            raise TransitionRefused(
                self.action,
                case.state,
                f"escalation goes one level up, from {case.unit.level} to {above}, "
                f"not to a {self.to.level}",
            )
        # The unit that blew the whistle stays on the case: 吹哨 calls help in.
        co = tuple(u for u in (case.unit, *case.co_handlers) if u.id != self.to.id)
        return dataclasses.replace(event, lead=self.to, co_handlers=co)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolve(Command):
    action: ClassVar[Action] = Action.RESOLVE
    reply: str  # what the resident reads: what was done

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        return dataclasses.replace(event, text=validate("reply", self.reply))


@dataclass(frozen=True, slots=True, kw_only=True)
class Rate(Command):
    """The resident's verdict (or staff's on their behalf, with a reason).

    ``pin_verified`` is the caller vouching that the rater showed the slip's rating PIN
    (``codes.rating_pin``; the hub checks it). Without it a resident may rate an identified
    resident's case only as that resident (same person key). Whether a case filed
    anonymously needs the PIN is the caller's rule (the hub asks for it); the domain
    cannot tell one anonymous rater from another.
    """

    action: ClassVar[Action] = Action.RATE
    rating: Rating
    pin_verified: bool = False

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        submitter = case.submitter
        if (
            self.actor.kind == "resident"
            and submitter.identified
            and self.actor.id != submitter.id
            and not self.pin_verified
        ):
            raise TransitionRefused(
                self.action,
                case.state,
                "only the resident who filed the case, or whoever holds its slip's rating PIN, "
                "can rate it",
            )
        comment = validate_optional("comment", self.rating.comment) or ""
        return dataclasses.replace(event, rating=dataclasses.replace(self.rating, comment=comment))


@dataclass(frozen=True, slots=True, kw_only=True)
class Rework(Command):
    """重办 after 不满意: back to the same unit and handler."""

    action: ClassVar[Action] = Action.REWORK

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        if case.rating is None or case.rating.satisfied:
            raise TransitionRefused(
                self.action, case.state, "only a case rated unsatisfied goes back for rework"
            )
        if case.rework_count >= policy.max_reworks:
            raise TransitionRefused(
                self.action,
                case.state,
                f"the case was reworked {case.rework_count} times already (the limit); "
                "close it with a reason or file a new case",
            )
        return event


@dataclass(frozen=True, slots=True, kw_only=True)
class Close(Command):
    action: ClassVar[Action] = Action.CLOSE

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        if case.state is CaseState.RESOLVED and case.resolved_at is not None:
            opens = case.resolved_at + timedelta(hours=policy.rating_window_hours)
            if event.at < opens:
                raise TransitionRefused(
                    self.action,
                    case.state,
                    "cannot close a resolved case before the resident could rate it "
                    f"(rating window open until {opens.isoformat()})",
                )
        return event


@dataclass(frozen=True, slots=True, kw_only=True)
class Note(Command):
    """An internal note: never changes the state, never shown to residents."""

    action: ClassVar[Action] = Action.NOTE
    text: str

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        return dataclasses.replace(event, text=validate("note", self.text))


@dataclass(frozen=True, slots=True, kw_only=True)
class Support(Command):
    """我也遇到了 / me too: support instead of a duplicate case."""

    action: ClassVar[Action] = Action.SUPPORT

    def fill(self, case: Case, event: CaseEvent, policy: CasePolicy) -> CaseEvent:
        if self.actor.identified and self.actor.id == case.submitter.id:
            raise TransitionRefused(self.action, case.state, "the submitter cannot support it")
        if self.actor.identified and self.actor.id in case.supporters:
            raise TransitionRefused(self.action, case.state, "you support this case already")
        return event


AnyCommand = Submit | Command


def _other_code(case: Case, text: str, action: Action) -> str:
    try:
        code = str(parse_code(text))
    except InvalidTrackingCode as err:
        raise TransitionRefused(action, case.state, f"{action}: {err}") from err
    if code == case.code:
        raise TransitionRefused(action, case.state, f"cannot {action} a case with itself")
    return code


def _distinct_co_handlers(
    lead: Unit, co: tuple[Unit, ...], action: Action, state: CaseState
) -> tuple[Unit, ...]:
    ids = [unit.id for unit in co]
    if lead.id in ids or len(set(ids)) != len(ids):
        raise TransitionRefused(
            action, state, "co-handlers must be distinct units other than the lead"
        )
    return co


# ----------------------------------------------------------------------------- apply


def apply(
    case: Case | None, command: AnyCommand, clock: Clock, policy: CasePolicy = DEFAULT_POLICY
) -> CaseEvent:
    """The event that records ``command`` on ``case`` (None: not filed yet).

    Raises :class:`TransitionRefused` when the table or a rule forbids it, and
    :class:`~kiosk.domain.cases.text.InvalidText` when typed text breaks the input rules.
    Nothing is stored: the caller appends the event and folds it with :func:`evolve`.
    """
    row = transition_for(command.action, None if case is None else case.state)
    _check_actor(row, command.actor, case)
    reason = _reason(row, case, command)
    at = _now(clock, case)
    if isinstance(command, Submit):
        return _submitted(command, at, reason)
    if case is None:  # pragma: no cover - the table has no other row without a case
        raise TransitionRefused(command.action, None, f"cannot {command.action}: no case")
    event = CaseEvent(
        code=case.code,
        seq=len(case.events) + 1,
        kind=EVENT_OF[command.action],
        at=at,
        actor=command.actor,
        reason=reason,
    )
    return command.fill(case, event, policy)


def _check_actor(row: Transition, actor: Actor, case: Case | None) -> None:
    if actor.kind not in row.actors:
        who = " or ".join(sorted(row.actors))
        state = "new" if case is None else case.state
        raise TransitionRefused(
            row.action,
            row.source,
            f"a {actor.kind} cannot {row.action} a {state} case (only {who})",
        )


def _reason(row: Transition, case: Case | None, command: AnyCommand) -> str | None:
    needed = (
        row.reason == "required"
        or (row.reason == "on_behalf" and command.actor.kind == "staff")
        or (
            row.reason == "if_unsatisfied"
            and case is not None
            and case.rating is not None
            and not case.rating.satisfied
        )
    )
    if needed and not clean(command.reason or "", multiline=True):
        raise TransitionRefused(
            row.action, row.source, f"{row.action} from {row.source or 'new'} needs a reason"
        )
    return validate_optional("reason", command.reason)


def _now(clock: Clock, case: Case | None) -> datetime:
    now = clock()
    if now.tzinfo is None:
        raise ValueError("the clock must give timezone-aware datetimes")
    now = now.astimezone(UTC)
    # Never before the previous event, so no duration computed from the log is negative.
    if case is not None and now < case.last_event.at:
        return case.last_event.at
    return now


def _submitted(command: Submit, at: datetime, reason: str | None) -> CaseEvent:
    submission = command.submission
    try:
        code = parse_code(command.code)
    except InvalidTrackingCode as err:
        raise TransitionRefused(Action.SUBMIT, None, f"submit: {err}") from err
    if code.channel != submission.channel:
        raise TransitionRefused(
            Action.SUBMIT, None, f"code {code} is not a {submission.channel} code"
        )
    actor = command.actor
    if actor.kind == "resident":
        expected = submission.resident.person_key if submission.resident else ANONYMOUS
        if actor.id != expected:
            raise TransitionRefused(
                Action.SUBMIT, None, "a resident files as themselves (or anonymously)"
            )
    cleaned = dataclasses.replace(
        submission,
        title=validate("title", submission.title),
        description=validate_optional("description", submission.description) or "",
    )
    return CaseEvent(
        code=str(code),
        seq=1,
        kind=EventKind.SUBMITTED,
        at=at,
        actor=actor,
        reason=reason,
        submission=cleaned,
    )


# ------------------------------------------------------------------------------- fold


def replay(events: Iterable[CaseEvent]) -> Case:
    """Fold a case's stored events, oldest first, into the case they describe."""
    case: Case | None = None
    for event in events:
        case = evolve(case, event)
    if case is None:
        raise CorruptLog("a case has at least its submitted event")
    return case


def evolve(case: Case | None, event: CaseEvent) -> Case:
    """The case after ``event``. Checks the event against the table, not the clock."""
    if case is not None and (event.code != case.code or event.seq != len(case.events) + 1):
        raise CorruptLog(
            f"event {event.code}#{event.seq} does not follow {case.code}#{len(case.events)}"
        )
    state = None if case is None else case.state
    row = _TABLE.get((ACTION_OF[event.kind], state))
    if row is None:
        raise CorruptLog(f"event {event.seq} ({event.kind}) cannot follow state {state}")
    if case is None:
        return _fold_submitted(event)
    after = dataclasses.replace(case, state=row.result(), events=(*case.events, event))
    return _FOLDS[event.kind](after, event)


def _fold_submitted(event: CaseEvent) -> Case:
    if event.submission is None or event.seq != 1:
        raise CorruptLog("the first event is the submission, number 1")
    return Case(
        code=event.code,
        submission=event.submission,
        submitted_at=event.at,
        state=CaseState.SUBMITTED,
        unit=event.submission.place.community,
        events=(event,),
    )


def _need_lead(event: CaseEvent) -> Unit:
    if event.lead is None:
        raise CorruptLog(f"event {event.seq} ({event.kind}) names no lead unit")
    return event.lead


def _need_rating(event: CaseEvent) -> Rating:
    if event.rating is None:
        raise CorruptLog(f"event {event.seq} (rated) holds no rating")
    return event.rating


def _same(case: Case, event: CaseEvent) -> Case:
    return case


def _supported(case: Case, event: CaseEvent) -> Case:
    keys = case.supporters | {event.actor.id} if event.actor.identified else case.supporters
    return dataclasses.replace(case, support_count=case.support_count + 1, supporters=keys)


_r = dataclasses.replace
_FOLDS: dict[EventKind, Callable[[Case, CaseEvent], Case]] = {
    EventKind.SUBMITTED: _same,  # handled by _fold_submitted; the table forbids it later
    EventKind.ACCEPTED: lambda c, e: _r(c, accepted_at=e.at, summary=e.text),
    EventKind.NOT_ADMISSIBLE: lambda c, e: _r(c, closed_at=e.at),
    EventKind.MERGED: lambda c, e: _r(c, merged_into=e.other, closed_at=e.at),
    EventKind.ABSORBED: lambda c, e: _r(c, absorbed=(*c.absorbed, e.other or "")),
    EventKind.DISPATCHED: lambda c, e: _r(
        c, unit=_need_lead(e), co_handlers=e.co_handlers, handler=None
    ),
    EventKind.CLAIMED: lambda c, e: _r(c, handler=e.actor.id),
    EventKind.ESCALATED: lambda c, e: _r(
        c,
        unit=_need_lead(e),
        co_handlers=e.co_handlers,
        handler=None,
        escalation_count=c.escalation_count + 1,
    ),
    EventKind.RESOLVED: lambda c, e: _r(c, resolved_at=e.at, reply=e.text),
    EventKind.RATED: lambda c, e: _r(c, rating=_need_rating(e)),
    EventKind.REWORKED: lambda c, e: _r(c, rework_count=c.rework_count + 1),
    EventKind.CLOSED: lambda c, e: _r(c, closed_at=e.at),
    EventKind.NOTED: _same,
    EventKind.SUPPORTED: _supported,
}


# ------------------------------------------------------------------------------ docs


def transition_table_markdown() -> str:
    """The table as Markdown, for docs/cases.md (a test keeps the two equal)."""
    lines = [
        "| action | from | to | who | reason | rule |",
        "|---|---|---|---|---|---|",
    ]
    for row in TRANSITIONS:
        source = row.source or "(new)"
        target = row.target or "(unchanged)"
        who = ", ".join(sorted(row.actors))
        lines.append(f"| {row.action} | {source} | {target} | {who} | {row.reason} | {row.rule} |")
    return "\n".join(lines) + "\n"
