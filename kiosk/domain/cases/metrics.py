"""Case metrics, computed from the events alone (formulas: docs/cases.md, "Metrics").

Each log is replayed as it stood at ``as_of`` (later events are ignored), so a report for
a past moment can be reproduced. Every rate keeps its numerator and denominator; a rate
over nothing is None, not 0 % or 100 %.

Which unit a number belongs to:

- acceptance: the community of the case's place (it accepts the case);
- completion: the unit holding the case at ``as_of``;
- ratings: the unit holding the case when it was rated;
- handling rounds: the unit holding the case when the round ended (or at ``as_of``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from kiosk.domain.cases.model import Rating
from kiosk.domain.cases.sla import SlaClock, clocks
from kiosk.domain.cases.states import Case, CaseEvent, CaseState, EventKind, replay
from kiosk.domain.queue import CENTRE_TIMEZONE

_COMPLETED = frozenset({CaseState.RESOLVED, CaseState.RATED, CaseState.CLOSED})


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval ``[start, end)`` of aware datetimes."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a period needs timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError("a period ends after it starts")

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @classmethod
    def days(cls, first: date, last: date, tz: ZoneInfo = CENTRE_TIMEZONE) -> Period:
        """Local days ``first`` to ``last``, both included."""
        start = datetime.combine(first, time(), tz)
        return cls(start, datetime.combine(last + timedelta(days=1), time(), tz))

    @classmethod
    def month(cls, year: int, month: int, tz: ZoneInfo = CENTRE_TIMEZONE) -> Period:
        start = datetime(year, month, 1, tzinfo=tz)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
        return cls(start, end)


@dataclass(frozen=True, slots=True)
class Rate:
    """numerator / denominator, kept apart so charts can say "14 of 15"."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def __str__(self) -> str:
        value = self.value
        shown = "–" if value is None else f"{value:.1%}"
        return f"{shown} ({self.numerator}/{self.denominator})"


@dataclass(frozen=True, slots=True)
class CaseMetrics:
    """The rates for one unit (or all) and one period."""

    submitted: int
    acceptance_on_time: Rate  # 受理及时率
    completion: Rate  # 办结率
    resolution: Rate  # 解决率
    satisfaction: Rate  # 满意率
    overdue: Rate  # 超期率 (handling rounds)
    average_handling: timedelta | None  # over rounds resolved in the period
    resolved_rounds: int


@dataclass(frozen=True, slots=True)
class _Acceptance:
    unit: str
    submitted_at: datetime
    clock: SlaClock


@dataclass(frozen=True, slots=True)
class _Completion:
    unit: str
    accepted_at: datetime
    completed: bool


@dataclass(frozen=True, slots=True)
class _Rated:
    unit: str
    at: datetime
    rating: Rating


@dataclass(frozen=True, slots=True)
class _Round:
    unit: str
    clock: SlaClock


@dataclass(slots=True)
class _Facts:
    acceptances: list[_Acceptance] = field(default_factory=list)
    completions: list[_Completion] = field(default_factory=list)
    ratings: list[_Rated] = field(default_factory=list)
    rounds: list[_Round] = field(default_factory=list)

    def units(self) -> set[str]:
        groups: list[Iterable[_Acceptance | _Completion | _Rated | _Round]] = [
            self.acceptances,
            self.completions,
            self.ratings,
            self.rounds,
        ]
        return {fact.unit for group in groups for fact in group}


def _holders(case: Case) -> list[str]:
    """The unit holding the case after each of its events."""
    holder = case.submission.place.community.id
    result = []
    for event in case.events:
        if event.lead is not None:  # dispatched or escalated
            holder = event.lead.id
        result.append(holder)
    return result


def _facts_of(case: Case, facts: _Facts) -> None:
    holders = _holders(case)
    all_clocks = clocks(case)
    facts.acceptances.append(
        _Acceptance(case.submission.place.community.id, case.submitted_at, all_clocks[0])
    )
    if case.accepted_at is not None and case.state is not CaseState.MERGED:
        facts.completions.append(
            _Completion(case.unit.id, case.accepted_at, case.state in _COMPLETED)
        )
    for index, event in enumerate(case.events):
        if event.kind is EventKind.RATED and event.rating is not None:
            facts.ratings.append(_Rated(holders[index], event.at, event.rating))
    for clock in all_clocks[1:]:
        if clock.stopped_by is EventKind.MERGED:
            continue  # handled in the case it was merged into
        unit = case.unit.id if clock.stopped_seq is None else holders[clock.stopped_seq - 1]
        facts.rounds.append(_Round(unit, clock))


def _collect(logs: Iterable[Sequence[CaseEvent]], as_of: datetime) -> _Facts:
    facts = _Facts()
    for log in logs:
        seen = [event for event in log if event.at <= as_of]
        if seen:
            _facts_of(replay(seen), facts)
    return facts


def _compute(facts: _Facts, period: Period, as_of: datetime, unit: str | None) -> CaseMetrics:
    def mine(fact_unit: str) -> bool:
        return unit is None or fact_unit == unit

    acceptances = [a for a in facts.acceptances if mine(a.unit) and a.submitted_at in period]
    # Judged: decided, or still undecided after the due time (already late).
    judged = [a.clock for a in acceptances if not a.clock.running or a.clock.overdue(as_of)]
    completions = [c for c in facts.completions if mine(c.unit) and c.accepted_at in period]
    ratings = [r.rating for r in facts.ratings if mine(r.unit) and r.at in period]
    rounds = [r.clock for r in facts.rounds if mine(r.unit)]
    fell_due = [c for c in rounds if c.due_at in period and c.due_at <= as_of]
    resolved = [c for c in rounds if c.stopped_at is not None and c.stopped_at in period]
    spent = [c.elapsed(as_of) for c in resolved]
    return CaseMetrics(
        submitted=len(acceptances),
        acceptance_on_time=Rate(sum(1 for c in judged if c.met), len(judged)),
        completion=Rate(sum(1 for c in completions if c.completed), len(completions)),
        resolution=Rate(sum(1 for r in ratings if r.solved), len(ratings)),
        satisfaction=Rate(sum(1 for r in ratings if r.satisfied), len(ratings)),
        overdue=Rate(sum(1 for c in fell_due if c.overdue(as_of)), len(fell_due)),
        average_handling=sum(spent, timedelta()) / len(spent) if spent else None,
        resolved_rounds=len(resolved),
    )


def case_metrics(
    logs: Iterable[Sequence[CaseEvent]],
    period: Period,
    as_of: datetime,
    unit: str | None = None,
) -> CaseMetrics:
    """The metrics of one unit (or of all cases, ``unit=None``) for ``period``."""
    return _compute(_collect(logs, as_of), period, as_of, unit)


def metrics_by_unit(
    logs: Iterable[Sequence[CaseEvent]], period: Period, as_of: datetime
) -> dict[str, CaseMetrics]:
    """The metrics of every unit that appears in the logs, by unit id."""
    facts = _collect(logs, as_of)
    return {unit: _compute(facts, period, as_of, unit) for unit in sorted(facts.units())}
