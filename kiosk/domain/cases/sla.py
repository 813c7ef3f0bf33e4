"""SLA clocks: when a case must be accepted and handled, and whether it is late.

Decisions (docs/cases.md has the reasoning):

- **Calendar hours.** A due time is the start plus so many hours of wall time, nights,
  weekends and holidays included. Residents read "受理时限 8 小时" that way, and it needs
  no working-hours calendar. A working-hours calendar (with 调休) can replace
  :func:`due_after` later without touching the rest.
- **Terms are fixed at submission.** The case carries its :class:`SlaTerms` (tier, accept
  hours, handle hours) from the moment it is filed, because the slip printed the promise.
- **Acceptance clock**: from submission to the first decision (accept, not admissible or
  merge).
- **Handling clock**: from acceptance to resolution. Escalation (吹哨) and re-dispatch keep
  it running: calling in help does not buy time. Each rework after 不满意 starts a new
  round with the tier's full handling time; the late or on-time verdict of earlier rounds
  stays as it was. Merging a case stops its clock; the target's clock carries on.
- No pauses yet (e.g. waiting for the resident): none of the anchors needs one at a kiosk.
- Due exactly at the due time is on time; overdue means strictly later.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from kiosk.domain.cases.model import SlaTerms
from kiosk.domain.cases.states import Case, CaseEvent, EventKind

ClockKind = Literal["acceptance", "handling"]

DEFAULT_ACCEPT_HOURS = 8

# Handling hours per tier, after Beijing's 12345 feedback deadlines (civic.md §6):
# urgent 24 h, general 7 days, complex 15 days.
DEFAULT_TIERS: Mapping[str, int] = {"urgent": 24, "normal": 7 * 24, "complex": 15 * 24}


class UnknownTier(KeyError):
    """A category names a tier the policy does not have."""


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Configured hours: acceptance for all, handling per tier."""

    accept_hours: int = DEFAULT_ACCEPT_HOURS
    tiers: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_TIERS))

    def terms(self, tier: str) -> SlaTerms:
        """The promise a new case of this tier gets (copied into its submission)."""
        if tier not in self.tiers:
            raise UnknownTier(f"no SLA tier {tier!r}; known: {', '.join(sorted(self.tiers))}")
        return SlaTerms(tier=tier, accept_hours=self.accept_hours, handle_hours=self.tiers[tier])


def due_after(start: datetime, hours: int) -> datetime:
    """Calendar hours: ``start`` plus ``hours`` of wall time."""
    return start + timedelta(hours=hours)


@dataclass(frozen=True, slots=True)
class SlaClock:
    """One clock: acceptance (round 0) or a handling round (1, 2 after a rework, …)."""

    kind: ClockKind
    round: int
    started_at: datetime
    due_at: datetime
    stopped_at: datetime | None = None
    stopped_by: EventKind | None = None
    stopped_seq: int | None = None  # the event that stopped it

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def met(self) -> bool | None:
        """Stopped in time (True), late (False), or still running (None)."""
        if self.stopped_at is None:
            return None
        return self.stopped_at <= self.due_at

    def overdue(self, now: datetime) -> bool:
        """Late: stopped after the due time, or still running past it."""
        end = self.stopped_at if self.stopped_at is not None else now
        return end > self.due_at

    def remaining(self, now: datetime) -> timedelta:
        """Time left before the due time; negative once overdue.

        A stopped clock keeps the margin it stopped with.
        """
        end = self.stopped_at if self.stopped_at is not None else now
        return self.due_at - end

    def elapsed(self, now: datetime) -> timedelta:
        end = self.stopped_at if self.stopped_at is not None else now
        return end - self.started_at


_DECISIONS = frozenset({EventKind.ACCEPTED, EventKind.NOT_ADMISSIBLE, EventKind.MERGED})
_HANDLING_STARTS = frozenset({EventKind.ACCEPTED, EventKind.REWORKED})
_HANDLING_STOPS = frozenset({EventKind.RESOLVED, EventKind.MERGED})


def clocks(case: Case) -> list[SlaClock]:
    """Every clock the case has had, in order: acceptance first, then handling rounds."""
    return clocks_of(case.events, case.submission.terms)


def clocks_of(events: tuple[CaseEvent, ...], terms: SlaTerms) -> list[SlaClock]:
    """Like :func:`clocks`, from a case's events and terms."""
    start = events[0].at
    acceptance = SlaClock("acceptance", 0, start, due_after(start, terms.accept_hours))
    result = [acceptance]
    handling: SlaClock | None = None
    for event in events[1:]:
        if event.kind in _DECISIONS and acceptance.running:
            acceptance = _stop(acceptance, event)
            result[0] = acceptance
        if handling is not None and event.kind in _HANDLING_STOPS:
            result[-1] = _stop(handling, event)
            handling = None
        if event.kind in _HANDLING_STARTS:
            due = due_after(event.at, terms.handle_hours)
            handling = SlaClock("handling", len(result), event.at, due)
            result.append(handling)
    return result


def _stop(clock: SlaClock, event: CaseEvent) -> SlaClock:
    return dataclasses.replace(
        clock, stopped_at=event.at, stopped_by=event.kind, stopped_seq=event.seq
    )


def current_clock(case: Case) -> SlaClock | None:
    """The clock running now, if any (none while resolved, rated or final)."""
    running = [clock for clock in clocks(case) if clock.running]
    return running[-1] if running else None


def accept_due(case: Case) -> datetime:
    """When the case must be accepted by (printed on the slip)."""
    return due_after(case.submitted_at, case.submission.terms.accept_hours)


def handle_due(case: Case) -> datetime | None:
    """When the current (or last) handling round is due; None before acceptance."""
    rounds = [clock for clock in clocks(case) if clock.kind == "handling"]
    return rounds[-1].due_at if rounds else None


def is_overdue(case: Case, now: datetime) -> bool:
    """Red in the inbox: the running clock is past its due time."""
    clock = current_clock(case)
    return clock is not None and clock.overdue(now)
