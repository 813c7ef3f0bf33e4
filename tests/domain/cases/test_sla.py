"""SLA clocks with an injected clock: acceptance, handling rounds, escalation, rework."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kiosk.domain.cases.model import Rating, SlaTerms
from kiosk.domain.cases.sla import (
    DEFAULT_TIERS,
    SlaPolicy,
    UnknownTier,
    accept_due,
    clocks,
    current_clock,
    handle_due,
    is_overdue,
)
from kiosk.domain.cases.states import Action, CaseState, EventKind, Merge, Rate, Rework, Submit
from tests.domain.cases.helpers import (
    ANON,
    CODE,
    COMMUNITY,
    GRID,
    OTHER_CODE,
    START,
    Story,
    command_for,
    staff,
    submission,
)

H = timedelta(hours=1)


def filed() -> Story:
    story = Story()
    story.do(command_for(Action.SUBMIT, None))
    return story


def test_policy_terms_come_from_the_tier() -> None:
    policy = SlaPolicy()
    assert policy.terms("urgent") == SlaTerms("urgent", 8, 24)
    assert policy.terms("complex").handle_hours == 360 == DEFAULT_TIERS["complex"]
    assert SlaPolicy(accept_hours=2, tiers={"gas": 2}).terms("gas") == SlaTerms("gas", 2, 2)
    with pytest.raises(UnknownTier, match="no SLA tier 'bogus'"):
        policy.terms("bogus")


def test_acceptance_due_is_eight_calendar_hours_after_submission() -> None:
    story = filed()
    assert accept_due(story.now) == START + 8 * H
    # Calendar hours: filed at 17:00 on a Friday, due at 01:00 on Saturday.
    friday = Story()
    friday.clock.now = START + timedelta(days=4, hours=8)  # Fri 17:00 in Shanghai
    friday.do(command_for(Action.SUBMIT, None))
    assert accept_due(friday.now) == friday.clock.now + 8 * H
    assert handle_due(story.now) is None


def test_accepted_on_time_at_exactly_the_due_time() -> None:
    story = filed()
    clock = current_clock(story.now)
    assert clock is not None and clock.kind == "acceptance"
    assert clock.remaining(START + 3 * H) == 5 * H
    story.do(command_for(Action.ACCEPT, story.now), hours=8)
    acceptance = clocks(story.now)[0]
    assert (acceptance.met, acceptance.stopped_by) == (True, EventKind.ACCEPTED)
    assert not acceptance.overdue(START + 100 * H)  # stopped in time stays in time
    assert acceptance.remaining(START + 100 * H) == timedelta(0)


def test_accepted_late() -> None:
    story = filed()
    assert not is_overdue(story.now, START + 8 * H)
    assert is_overdue(story.now, START + 8 * H + timedelta(seconds=1))
    assert current_clock(story.now).remaining(START + 9 * H) == -H  # type: ignore[union-attr]
    story.do(command_for(Action.ACCEPT, story.now), hours=9)
    acceptance = clocks(story.now)[0]
    assert acceptance.met is False and acceptance.overdue(START + 9 * H)
    assert acceptance.elapsed(START + 50 * H) == 9 * H


@pytest.mark.parametrize("decision", [Action.NOT_ADMISSIBLE, Action.MERGE])
def test_any_decision_stops_the_acceptance_clock(decision: Action) -> None:
    story = filed()
    story.do(command_for(decision, story.now), hours=2)
    assert clocks(story.now)[0].met is True
    assert current_clock(story.now) is None and not is_overdue(story.now, START + 999 * H)


def test_handling_runs_from_acceptance_to_resolution() -> None:
    story = filed()
    story.do(command_for(Action.ACCEPT, story.now), hours=1)
    handling = current_clock(story.now)
    assert handling is not None and handling.kind == "handling" and handling.round == 1
    assert handle_due(story.now) == START + H + 168 * H
    story.do(command_for(Action.DISPATCH, story.now), hours=1)
    story.do(command_for(Action.CLAIM, story.now), hours=1)
    assert is_overdue(story.now, START + 170 * H)
    story.do(command_for(Action.RESOLVE, story.now), hours=100)
    last = clocks(story.now)[-1]
    assert (last.met, last.stopped_by, last.elapsed(START)) == (True, EventKind.RESOLVED, 102 * H)
    assert current_clock(story.now) is None


def test_escalation_and_redispatch_keep_the_handling_clock() -> None:
    story = filed()
    story.do(command_for(Action.ACCEPT, story.now), hours=1)
    due = handle_due(story.now)
    story.do(command_for(Action.DISPATCH, story.now), hours=10)
    story.do(command_for(Action.ESCALATE, story.now), hours=10)
    assert story.now.unit == COMMUNITY and story.now.state is CaseState.DISPATCHED
    story.do(command_for(Action.DISPATCH, story.now), hours=10)
    assert handle_due(story.now) == due
    assert [c.kind for c in clocks(story.now)] == ["acceptance", "handling"]


def test_rework_starts_a_new_round_and_keeps_the_old_verdict() -> None:
    story = filed()
    for action in (Action.ACCEPT, Action.DISPATCH, Action.CLAIM):
        story.do(command_for(action, story.now), hours=1)
    story.do(command_for(Action.RESOLVE, story.now), hours=200)  # late: due after 168 h
    story.do(Rate(actor=ANON, rating=Rating("unsatisfied", solved=False)), hours=5)
    assert current_clock(story.now) is None  # waiting for staff to decide: no clock
    story.do(Rework(actor=staff(GRID)), hours=1)
    first, second = clocks(story.now)[1:]
    assert first.met is False and second.running and second.round == 2
    assert second.started_at == story.clock.now and second.due_at == story.clock.now + 168 * H
    assert handle_due(story.now) == second.due_at
    story.do(command_for(Action.RESOLVE, story.now), hours=24)
    assert clocks(story.now)[2].met is True and clocks(story.now)[1].met is False


def test_merging_an_accepted_case_stops_its_handling_clock() -> None:
    story = filed()
    story.do(command_for(Action.ACCEPT, story.now), hours=1)
    story.do(Merge(actor=staff(), target=OTHER_CODE, reason="同一问题"), hours=1)
    handling = clocks(story.now)[1]
    assert handling.stopped_by is EventKind.MERGED and current_clock(story.now) is None


def test_terms_are_the_ones_filed_with_the_case() -> None:
    story = Story()
    urgent = SlaPolicy(accept_hours=2).terms("urgent")
    story.do(Submit(actor=ANON, code=CODE, submission=submission(terms=urgent)))
    story.do(command_for(Action.ACCEPT, story.now), hours=1)
    assert accept_due(story.now) == START + 2 * H
    assert handle_due(story.now) == START + H + 24 * H
