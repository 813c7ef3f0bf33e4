"""Metrics from events, checked against numbers worked out by hand (docs/cases.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from kiosk.domain.cases.codes import make_code
from kiosk.domain.cases.metrics import Period, Rate, case_metrics, metrics_by_unit
from kiosk.domain.cases.model import Rating, RatingLevel, Unit
from kiosk.domain.cases.states import (
    Accept,
    CaseEvent,
    Claim,
    Close,
    Dispatch,
    Merge,
    NotAdmissible,
    Resolve,
    Rework,
    Submit,
)
from kiosk.domain.cases.states import (
    Rate as RateCommand,
)
from kiosk.domain.queue import CENTRE_TIMEZONE
from tests.domain.cases.helpers import (
    ANON,
    GRID,
    GRID2,
    START,
    Story,
    staff,
    submission,
)

H = timedelta(hours=1)
MARCH = Period.month(2026, 3)
APRIL = Period.month(2026, 4)
AS_OF = datetime(2026, 4, 10, tzinfo=CENTRE_TIMEZONE)


def filed(seq: int, at: datetime) -> Story:
    story = Story()
    story.clock.now = at
    story.do(Submit(actor=ANON, code=make_code("box", 2026, seq), submission=submission()))
    return story


def accept(story: Story, hours: float) -> None:
    story.do(Accept(actor=staff()), hours=hours)


def handle(story: Story, lead: Unit = GRID) -> None:
    """Dispatch and claim, one hour each after the previous step."""
    story.do(Dispatch(actor=staff(), lead=lead), hours=1)
    story.do(Claim(actor=staff(story.now.unit)), hours=1)


def resolve(story: Story, hours: float) -> None:
    story.do(Resolve(actor=staff(story.now.unit), reply="已处理完毕"), hours=hours)


def rate(story: Story, level: RatingLevel, solved: bool, hours: float = 1) -> None:
    story.do(RateCommand(actor=ANON, rating=Rating(level, solved)), hours=hours)


def scenario() -> dict[str, list[CaseEvent]]:
    """Nine cases; START is Monday 2 March 2026, 09:00 in Shanghai.

    A: accepted after 2 h; resolved 22 h after acceptance; satisfied, solved; closed.
    B: accepted after 10 h (late); resolved 200 h after acceptance (late); unsatisfied,
       not solved; reworked; resolved 24 h later (in time); basically satisfied, solved.
    C: not admissible after 1 h.    D: merged after 3 h.    E: never looked at.
    G: filed a day later, accepted after 1 h, with grid 2, never resolved.
    H: filed 31 March 20:00, accepted after 1 h; due 7 April, unresolved.
    I: filed two days later, accepted after 1 h, then merged.
    F: filed 5 April, accepted after 1 h.
    """
    a = filed(1, START)
    accept(a, 2)
    handle(a)
    resolve(a, 20)  # 2 + 20 = 22 h after acceptance
    rate(a, "satisfied", True, hours=5)
    a.do(Close(actor=staff(GRID)), hours=1)

    b = filed(2, START)
    accept(b, 10)
    handle(b)
    resolve(b, 198)  # 200 h after acceptance
    rate(b, "unsatisfied", False)
    b.do(Rework(actor=staff(GRID)), hours=1)
    resolve(b, 24)
    rate(b, "basic", True)

    c = filed(3, START)
    c.do(NotAdmissible(actor=staff(), reason="不属于受理范围"), hours=1)
    d = filed(4, START)
    d.do(Merge(actor=staff(), target=make_code("box", 2026, 1), reason="同一问题"), hours=3)
    e = filed(5, START)

    g = filed(7, START + 24 * H)
    accept(g, 1)
    handle(g, lead=GRID2)

    h = filed(8, datetime(2026, 3, 31, 20, tzinfo=CENTRE_TIMEZONE))
    accept(h, 1)

    i = filed(9, START + 48 * H)
    accept(i, 1)
    i.do(Merge(actor=staff(), target=make_code("box", 2026, 1), reason="同一问题"), hours=1)

    f = filed(6, datetime(2026, 4, 5, 10, tzinfo=CENTRE_TIMEZONE))
    accept(f, 1)
    return {
        name: s.events for name, s in zip("ABCDEGHIF", (a, b, c, d, e, g, h, i, f), strict=True)
    }


@pytest.fixture(scope="module")
def logs() -> list[Sequence[CaseEvent]]:
    return list(scenario().values())


def test_rates_keep_their_parts() -> None:
    assert Rate(2, 3).value == pytest.approx(2 / 3) and str(Rate(2, 3)) == "66.7% (2/3)"
    assert Rate(0, 0).value is None and str(Rate(0, 0)) == "– (0/0)"


def test_periods_are_local_and_half_open() -> None:
    assert MARCH.start == datetime(2026, 3, 1, tzinfo=CENTRE_TIMEZONE)
    assert MARCH.end == APRIL.start and Period.month(2026, 12).end.year == 2027
    assert MARCH.start in MARCH and MARCH.end not in MARCH
    assert Period.days(datetime(2026, 3, 2).date(), datetime(2026, 3, 2).date()).end == (
        datetime(2026, 3, 3, tzinfo=CENTRE_TIMEZONE)
    )
    with pytest.raises(ValueError, match="ends after"):
        Period(MARCH.end, MARCH.start)


def test_march_for_everyone(logs: list[Sequence[CaseEvent]]) -> None:
    m = case_metrics(logs, MARCH, AS_OF)
    assert m.submitted == 8  # A B C D E G H I
    # Judged: all 8. In time: A C D G H I. Late: B (10 h), E (never decided, past due).
    assert m.acceptance_on_time == Rate(6, 8)
    # Accepted in March, not merged: A B G H. Completed at AS_OF: A (closed), B (rated).
    assert m.completion == Rate(2, 4)
    # Ratings in March: A satisfied+solved, B unsatisfied+unsolved, B basic+solved.
    assert m.resolution == Rate(2, 3)
    assert m.satisfaction == Rate(2, 3)
    # Rounds due in March: A1 in time, B1 late, B2 in time, G1 unresolved. H1 is due in April;
    # I1 was stopped by the merge.
    assert m.overdue == Rate(2, 4)
    # Rounds resolved in March: A1 22 h, B1 200 h, B2 24 h.
    assert m.average_handling == timedelta(hours=(22 + 200 + 24) / 3)
    assert m.resolved_rounds == 3


def test_april_for_everyone(logs: list[Sequence[CaseEvent]]) -> None:
    m = case_metrics(logs, APRIL, AS_OF)
    assert (m.submitted, m.acceptance_on_time, m.completion) == (1, Rate(1, 1), Rate(0, 1))
    assert m.overdue == Rate(1, 1)  # H, due 7 April, unresolved on the 10th
    assert (m.resolution, m.average_handling) == (Rate(0, 0), None)


def test_march_by_unit(logs: list[Sequence[CaseEvent]]) -> None:
    units = metrics_by_unit(logs, MARCH, AS_OF)
    assert set(units) == {"c1", "g1", "g2"}
    c1, g1, g2 = units["c1"], units["g1"], units["g2"]
    # The community accepts every case; it still holds H (accepted, not dispatched).
    assert (c1.submitted, c1.acceptance_on_time, c1.completion) == (8, Rate(6, 8), Rate(0, 1))
    assert (c1.satisfaction, c1.overdue) == (Rate(0, 0), Rate(0, 0))
    assert (g1.submitted, g1.acceptance_on_time) == (0, Rate(0, 0))
    assert (g1.completion, g1.resolution, g1.satisfaction) == (Rate(2, 2), Rate(2, 3), Rate(2, 3))
    assert g1.overdue == Rate(1, 3)
    assert g1.average_handling == timedelta(hours=82)
    assert (g2.completion, g2.overdue, g2.resolved_rounds) == (Rate(0, 1), Rate(1, 1), 0)
    assert case_metrics(logs, MARCH, AS_OF, unit="g1") == g1


def test_a_report_as_of_a_past_moment_ignores_later_events(logs: list[Sequence[CaseEvent]]) -> None:
    m = case_metrics(logs, MARCH, START + 9 * H)
    # Filed by then: A B C D E. Decided in time: A (2 h), C (1 h), D (3 h).
    # B and E are undecided and past their 8 hours: late.
    assert (m.submitted, m.acceptance_on_time) == (5, Rate(3, 5))
    early = case_metrics(logs, MARCH, START + 7 * H)
    # At 7 h nobody is late yet: B and E are not judged.
    assert early.acceptance_on_time == Rate(3, 3)


def test_rework_keeps_the_unsatisfied_rating_in_the_rates() -> None:
    b = scenario()["B"]
    m = case_metrics([b], MARCH, AS_OF)
    assert (m.satisfaction, m.resolution, m.completion) == (Rate(1, 2), Rate(1, 2), Rate(1, 1))


def test_a_case_back_in_rework_is_not_complete() -> None:
    b = scenario()["B"]
    reworked = [e for e in b if e.seq <= 7]  # up to the rework
    assert reworked[-1].kind.value == "reworked"
    assert case_metrics([reworked], MARCH, AS_OF).completion == Rate(0, 1)


def test_no_cases_no_rates() -> None:
    m = case_metrics([], MARCH, AS_OF)
    assert m.submitted == 0 and m.acceptance_on_time.value is None
    assert metrics_by_unit([], MARCH, AS_OF) == {}
