"""Builders shared by the case tests: units, a fake clock, and a case driven to any state."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kiosk.domain.cases.codes import make_code
from kiosk.domain.cases.model import (
    ANONYMOUS,
    Actor,
    Place,
    Rating,
    RatingLevel,
    Resident,
    SlaTerms,
    Submission,
    Unit,
)
from kiosk.domain.cases.states import (
    Absorb,
    Accept,
    Action,
    AnyCommand,
    Case,
    CaseEvent,
    CaseState,
    Claim,
    Close,
    Dispatch,
    Escalate,
    Merge,
    NotAdmissible,
    Note,
    Rate,
    Resolve,
    Rework,
    Submit,
    Support,
    apply,
    evolve,
)

STREET = Unit("s1", "street", "和平街道")
COMMUNITY = Unit("c1", "community", "和平里社区")
GRID = Unit("g1", "grid", "第一网格")
GRID2 = Unit("g2", "grid", "第二网格")
DEPARTMENT = Unit("d-water", "department", "区水务局")
PLACE = Place(STREET, COMMUNITY, GRID, "3号楼")
TERMS = SlaTerms("normal", 8, 7 * 24)

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Monday
CODE = make_code("box", 2026, 42)
OTHER_CODE = make_code("box", 2026, 999)
RESIDENT_KEY = "a" * 64
SUPPORTER_KEY = "b" * 64

ANON = Actor("resident", ANONYMOUS)
SYSTEM = Actor("system", "hub")


def staff(unit: Unit | str = COMMUNITY, name: str = "clerk-wang") -> Actor:
    return Actor("staff", name, unit if isinstance(unit, str) else unit.id)


@dataclass
class FakeClock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def submission(
    *,
    channel: str = "box",
    resident: Resident | None = None,
    title: str = "路灯不亮",
    description: str = "3号楼门口的路灯坏了一周",
    terms: SlaTerms = TERMS,
) -> Submission:
    return Submission(
        channel=channel,  # type: ignore[arg-type]
        category="streetlight",
        place=PLACE,
        title=title,
        description=description,
        terms=terms,
        resident=resident,
        kiosk="k1",
    )


def above(unit: Unit) -> Unit:
    return {"grid": COMMUNITY, "community": STREET}.get(unit.level, STREET)


def command_for(
    action: Action, case: Case | None, rating: RatingLevel = "unsatisfied"
) -> AnyCommand:
    """A command for ``action`` that passes every rule when the table allows it."""
    unit = case.unit if case is not None else COMMUNITY
    clerk = staff(unit)
    commands: dict[Action, AnyCommand] = {
        Action.SUBMIT: Submit(actor=ANON, code=CODE, submission=submission()),
        Action.ACCEPT: Accept(actor=clerk, summary="和平里路灯维修"),
        Action.NOT_ADMISSIBLE: NotAdmissible(actor=clerk, reason="不属于社区职责范围"),
        Action.MERGE: Merge(actor=clerk, target=OTHER_CODE, reason="同一盏路灯"),
        Action.ABSORB: Absorb(actor=clerk, source=make_code("box", 2026, 7)),
        Action.DISPATCH: Dispatch(
            actor=clerk,
            lead=GRID2 if unit == GRID else GRID,
            co_handlers=(DEPARTMENT,),
            reason="派错网格",
        ),
        Action.CLAIM: Claim(actor=clerk),
        Action.ESCALATE: Escalate(actor=clerk, to=above(unit), reason="需要协调供电公司"),
        Action.RESOLVE: Resolve(actor=clerk, reply="已更换灯泡，路灯恢复照明。"),
        Action.RATE: Rate(actor=ANON, rating=Rating(rating, solved=rating != "unsatisfied")),
        Action.REWORK: Rework(actor=clerk, reason="居民反映仍不亮"),
        Action.CLOSE: Close(actor=clerk, reason="已多次上门，居民诉求超出范围"),
        Action.NOTE: Note(actor=clerk, text="张三家门口，电工李四负责"),
        Action.SUPPORT: Support(actor=Actor("resident", SUPPORTER_KEY)),
    }
    return commands[action]


# How to reach each state from nothing, one action at a time.
PATHS: dict[CaseState, tuple[Action, ...]] = {
    CaseState.SUBMITTED: (Action.SUBMIT,),
    CaseState.ACCEPTED: (Action.SUBMIT, Action.ACCEPT),
    CaseState.NOT_ADMISSIBLE: (Action.SUBMIT, Action.NOT_ADMISSIBLE),
    CaseState.MERGED: (Action.SUBMIT, Action.MERGE),
    CaseState.DISPATCHED: (Action.SUBMIT, Action.ACCEPT, Action.DISPATCH),
    CaseState.IN_PROGRESS: (Action.SUBMIT, Action.ACCEPT, Action.DISPATCH, Action.CLAIM),
    CaseState.RESOLVED: (
        Action.SUBMIT,
        Action.ACCEPT,
        Action.DISPATCH,
        Action.CLAIM,
        Action.RESOLVE,
    ),
    CaseState.RATED: (
        Action.SUBMIT,
        Action.ACCEPT,
        Action.DISPATCH,
        Action.CLAIM,
        Action.RESOLVE,
        Action.RATE,
    ),
    CaseState.CLOSED: (
        Action.SUBMIT,
        Action.ACCEPT,
        Action.DISPATCH,
        Action.CLAIM,
        Action.RESOLVE,
        Action.RATE,
        Action.CLOSE,
    ),
}


@dataclass
class Story:
    """A case told step by step: ``story.do(command)`` applies, stores and folds."""

    clock: FakeClock = field(default_factory=FakeClock)
    case: Case | None = None
    events: list[CaseEvent] = field(default_factory=list)

    def do(self, command: AnyCommand, **advance: float) -> CaseEvent:
        if advance:
            self.clock.advance(**advance)
        event = apply(self.case, command, self.clock)
        self.case = evolve(self.case, event)
        self.events.append(event)
        return event

    @property
    def now(self) -> Case:
        if self.case is None:
            raise AssertionError("nothing submitted yet")
        return self.case


def reach(state: CaseState, clock: FakeClock | None = None) -> Story:
    """A story whose case is in ``state``, one hour between steps."""
    story = Story(clock or FakeClock())
    for action in PATHS[state]:
        story.do(command_for(action, story.case), hours=1)
    return story


FORWARD = frozenset(
    {Action.ACCEPT, Action.DISPATCH, Action.CLAIM, Action.RESOLVE, Action.RATE, Action.REWORK}
)
