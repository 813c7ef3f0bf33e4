"""The state machine: every row of the table allowed, everything else refused, and the rules."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta

import pytest

from kiosk.domain.cases.codes import make_code
from kiosk.domain.cases.model import ANONYMOUS, Actor, ActorKind, CaseValueError, Rating, Resident
from kiosk.domain.cases.states import (
    ACTION_OF,
    EVENT_OF,
    FINAL_STATES,
    OPEN_STATES,
    TRANSITIONS,
    Absorb,
    Action,
    CasePolicy,
    CaseState,
    Claim,
    Close,
    CorruptLog,
    Dispatch,
    Escalate,
    EventKind,
    Merge,
    Note,
    Rate,
    Rework,
    Submit,
    Support,
    Transition,
    TransitionRefused,
    allowed_actions,
    apply,
    evolve,
    open311_status,
    replay,
    transition_for,
)
from kiosk.domain.cases.text import InvalidText
from tests.domain.cases.helpers import (
    ANON,
    CODE,
    COMMUNITY,
    DEPARTMENT,
    GRID,
    GRID2,
    OTHER_CODE,
    RESIDENT_KEY,
    STREET,
    SUPPORTER_KEY,
    SYSTEM,
    FakeClock,
    Story,
    command_for,
    reach,
    staff,
    submission,
)

ALLOWED = {(row.action, row.source) for row in TRANSITIONS}
REFUSED = [
    (action, state)
    for action, state in itertools.product(Action, [None, *CaseState])
    if (action, state) not in ALLOWED
]


def _id(value: object) -> str:
    return str(value) if value is not None else "new"


# ------------------------------------------------------------------------ the table


def test_the_table_has_one_row_per_action_and_state() -> None:
    assert len(ALLOWED) == len(TRANSITIONS)
    assert set(EVENT_OF) == set(Action) and set(ACTION_OF) == set(EventKind)


def test_open311_has_two_statuses() -> None:
    closed = {state for state in CaseState if open311_status(state) == "closed"}
    assert closed == FINAL_STATES


def test_final_states_allow_nothing_and_every_open_state_allows_a_note() -> None:
    for state in FINAL_STATES:
        assert allowed_actions(state) == []
    for state in OPEN_STATES:
        assert Action.NOTE in allowed_actions(state)


def _row_id(row: Transition) -> str:
    return f"{row.action}-from-{_id(row.source)}"


def _story(state: CaseState | None) -> Story:
    return Story() if state is None else reach(state)


@pytest.mark.parametrize("transition", TRANSITIONS, ids=_row_id)
def test_every_allowed_transition(transition: Transition) -> None:
    story = _story(transition.source)
    # Days later: the rating window of a resolved case is over by then.
    event = story.do(command_for(transition.action, story.case), days=8)
    assert event.kind is EVENT_OF[transition.action]
    assert story.now.state is transition.result()
    assert replay(story.events) == story.now


@pytest.mark.parametrize(("action", "state"), REFUSED, ids=lambda v: _id(v))
def test_every_refused_transition(action: Action, state: CaseState | None) -> None:
    story = _story(state)
    command = command_for(action, story.case)
    with pytest.raises(TransitionRefused) as refused:
        apply(story.case, command, story.clock)
    message = str(refused.value)
    assert str(action) in message
    if state is not None:
        assert str(state) in message
    assert refused.value.action is action and refused.value.state is state


ACTORS: dict[ActorKind, Actor] = {"resident": ANON, "staff": staff(), "system": SYSTEM}


@pytest.mark.parametrize("transition", TRANSITIONS, ids=_row_id)
def test_every_actor_not_in_the_row_is_refused(transition: Transition) -> None:
    for kind, actor in ACTORS.items():
        if kind in transition.actors:
            continue
        story = _story(transition.source)
        command = dataclasses.replace(command_for(transition.action, story.case), actor=actor)
        with pytest.raises(TransitionRefused, match=f"a {kind} cannot {transition.action}"):
            apply(story.case, command, story.clock)


@pytest.mark.parametrize(
    "transition", [row for row in TRANSITIONS if row.reason == "required"], ids=_row_id
)
def test_required_reasons(transition: Transition) -> None:
    assert transition.source is not None
    story = reach(transition.source)
    command = command_for(transition.action, story.now)
    for blank in (None, "", "  \n "):
        with pytest.raises(TransitionRefused, match="needs a reason"):
            apply(story.now, dataclasses.replace(command, reason=blank), story.clock)


def test_transition_for_names_what_is_allowed() -> None:
    with pytest.raises(
        TransitionRefused, match=r"cannot claim a case that is accepted \(claim needs: dispatched\)"
    ):
        transition_for(Action.CLAIM, CaseState.ACCEPTED)
    with pytest.raises(TransitionRefused, match="the case is closed, which is final"):
        transition_for(Action.NOTE, CaseState.CLOSED)
    with pytest.raises(TransitionRefused, match="there is no such case yet"):
        transition_for(Action.ACCEPT, None)
    with pytest.raises(TransitionRefused, match=r"the case exists \(accepted\)"):
        transition_for(Action.SUBMIT, CaseState.ACCEPTED)


# -------------------------------------------------------------------------- submit


def test_submission_is_cleaned_and_dated() -> None:
    story = Story()
    sub = submission(title="  路灯\n不亮\x00 ", description="<script>alert(1)</script> 🙂")
    event = story.do(Submit(actor=ANON, code="mq 2026 0042 q", submission=sub))
    assert event.code == CODE and event.seq == 1 and event.at == story.clock.now
    assert event.submission is not None
    assert event.submission.title == "路灯 不亮"
    assert event.submission.description == "<script>alert(1)</script> 🙂"
    assert story.now.state is CaseState.SUBMITTED and story.now.unit == COMMUNITY


def test_staff_files_on_behalf_only_with_a_reason() -> None:
    command = Submit(actor=staff(), code=CODE, submission=submission())
    with pytest.raises(TransitionRefused, match="needs a reason"):
        apply(None, command, FakeClock())
    event = apply(
        None, dataclasses.replace(command, reason="老人不会用触屏，窗口代办"), FakeClock()
    )
    assert event.on_behalf and event.reason == "老人不会用触屏，窗口代办"
    assert not apply(None, command_for(Action.SUBMIT, None), FakeClock()).on_behalf


def test_a_resident_files_as_themselves() -> None:
    resident = Resident(RESIDENT_KEY, "张*", "138****5678", contact_ok=True)
    mine = Submit(
        actor=Actor("resident", RESIDENT_KEY), code=CODE, submission=submission(resident=resident)
    )
    assert apply(None, mine, FakeClock()).actor.identified
    for actor, sub in [
        (ANON, submission(resident=resident)),
        (Actor("resident", SUPPORTER_KEY), submission(resident=resident)),
        (Actor("resident", RESIDENT_KEY), submission()),
    ]:
        with pytest.raises(TransitionRefused, match="files as themselves"):
            apply(None, Submit(actor=actor, code=CODE, submission=sub), FakeClock())


def test_the_code_must_parse_and_match_the_channel() -> None:
    with pytest.raises(TransitionRefused, match="check letter"):
        apply(None, Submit(actor=ANON, code="MQ-2026-0042-K", submission=submission()), FakeClock())
    proposal = submission(channel="proposal", resident=Resident(RESIDENT_KEY))
    with pytest.raises(TransitionRefused, match="not a proposal code"):
        apply(
            None,
            Submit(actor=Actor("resident", RESIDENT_KEY), code=CODE, submission=proposal),
            FakeClock(),
        )
    event = apply(
        None,
        Submit(
            actor=Actor("resident", RESIDENT_KEY),
            code=make_code("proposal", 2026, 1),
            submission=proposal,
        ),
        FakeClock(),
    )
    assert event.code.startswith("TA-")


def test_a_proposal_needs_an_identified_member() -> None:
    with pytest.raises(CaseValueError, match="identified"):
        submission(channel="proposal")


def test_bad_text_is_refused_with_its_field() -> None:
    with pytest.raises(InvalidText) as bad:
        apply(
            None, Submit(actor=ANON, code=CODE, submission=submission(title="长" * 61)), FakeClock()
        )
    assert (bad.value.field, bad.value.problem) == ("title", "too_long")


# ---------------------------------------------------------------------- the rules


def test_dispatch_names_a_lead_and_distinct_co_handlers() -> None:
    story = reach(CaseState.ACCEPTED)
    for co in [(GRID,), (DEPARTMENT, DEPARTMENT)]:
        with pytest.raises(TransitionRefused, match="distinct"):
            apply(story.now, Dispatch(actor=staff(), lead=GRID, co_handlers=co), story.clock)
    story.do(Dispatch(actor=staff(), lead=GRID, co_handlers=(DEPARTMENT,)))
    assert (story.now.unit, story.now.co_handlers) == (GRID, (DEPARTMENT,))
    with pytest.raises(TransitionRefused, match="already dispatched to g1"):
        apply(
            story.now,
            Dispatch(actor=staff(), lead=GRID, co_handlers=(DEPARTMENT,), reason="再派"),
            story.clock,
        )
    story.do(Dispatch(actor=staff(), lead=GRID2, reason="派错网格"))
    assert (story.now.unit, story.now.co_handlers) == (GRID2, ())


def test_only_the_lead_or_a_co_handler_claims() -> None:
    story = reach(CaseState.ACCEPTED)
    story.do(Dispatch(actor=staff(), lead=GRID, co_handlers=(DEPARTMENT,)))
    with pytest.raises(TransitionRefused, match="cannot claim for unit g2"):
        apply(story.now, Claim(actor=staff(GRID2)), story.clock)
    story.do(Claim(actor=staff(DEPARTMENT, "water-li")))
    assert story.now.state is CaseState.IN_PROGRESS and story.now.handler == "water-li"


def test_escalation_climbs_one_level_and_keeps_the_old_lead() -> None:
    story = reach(CaseState.IN_PROGRESS)  # with g1, co-handled by the water department
    assert story.now.unit == GRID
    with pytest.raises(TransitionRefused, match="from grid to community, not to a street"):
        apply(story.now, Escalate(actor=staff(GRID), to=STREET, reason="很急"), story.clock)
    story.do(Escalate(actor=staff(GRID), to=COMMUNITY, reason="需要社区协调"))
    case = story.now
    assert (case.state, case.unit, case.handler) == (CaseState.DISPATCHED, COMMUNITY, None)
    assert case.co_handlers == (GRID, DEPARTMENT) and case.escalation_count == 1
    story.do(Escalate(actor=staff(), to=STREET, reason="需要街道协调"))
    assert story.now.unit == STREET and story.now.co_handlers == (COMMUNITY, GRID, DEPARTMENT)
    with pytest.raises(TransitionRefused, match="cannot escalate from a street"):
        apply(story.now, Escalate(actor=staff(STREET), to=STREET, reason="再上"), story.clock)


def test_a_department_does_not_escalate() -> None:
    story = reach(CaseState.ACCEPTED)
    story.do(Dispatch(actor=staff(), lead=DEPARTMENT))
    with pytest.raises(TransitionRefused, match="from a department: there is no level above"):
        apply(story.now, Escalate(actor=staff(DEPARTMENT), to=STREET, reason="x" * 3), story.clock)


def test_escalating_an_accepted_case_calls_in_the_street() -> None:
    story = reach(CaseState.ACCEPTED)
    story.do(Escalate(actor=staff(), to=STREET, reason="涉及多个社区"))
    assert (story.now.state, story.now.unit, story.now.co_handlers) == (
        CaseState.DISPATCHED,
        STREET,
        (COMMUNITY,),
    )


def test_merge_links_both_ways_and_never_to_itself() -> None:
    story = reach(CaseState.SUBMITTED)
    for wrong in (CODE, "MQ-2026-0042-A", "nonsense"):
        with pytest.raises(TransitionRefused, match="merge"):
            apply(story.now, Merge(actor=staff(), target=wrong, reason="重复"), story.clock)
    story.do(Merge(actor=staff(), target=OTHER_CODE.lower(), reason="重复"))
    assert story.now.merged_into == OTHER_CODE and story.now.closed_at == story.clock.now
    target = reach(CaseState.IN_PROGRESS)  # the same code stands in for the target here
    target.do(Absorb(actor=staff(GRID), source=OTHER_CODE))
    assert target.now.absorbed == (OTHER_CODE,) and target.now.state is CaseState.IN_PROGRESS
    with pytest.raises(TransitionRefused, match="already merged here"):
        apply(target.now, Absorb(actor=staff(GRID), source=OTHER_CODE), target.clock)


def test_only_an_unsatisfied_rating_goes_back_for_rework_with_the_same_handler() -> None:
    story = reach(CaseState.RESOLVED)
    handler = story.now.handler
    story.do(Rate(actor=ANON, rating=Rating("basic", solved=True)))
    with pytest.raises(TransitionRefused, match="only a case rated unsatisfied"):
        apply(story.now, Rework(actor=staff(GRID)), story.clock)
    unhappy = reach(CaseState.RATED)
    unhappy.do(Rework(actor=staff(GRID)))
    case = unhappy.now
    assert (case.state, case.unit, case.handler, case.rework_count) == (
        CaseState.IN_PROGRESS,
        GRID,
        handler,
        1,
    )


def test_rework_stops_at_the_limit() -> None:
    story = reach(CaseState.RATED)
    policy = CasePolicy(max_reworks=1)
    story.do(Rework(actor=staff(GRID)))
    story.do(command_for(Action.RESOLVE, story.now))
    story.do(Rate(actor=ANON, rating=Rating("unsatisfied", solved=False, comment="还是不亮")))
    with pytest.raises(TransitionRefused, match="reworked 1 times already"):
        apply(story.now, Rework(actor=staff(GRID)), story.clock, policy)
    assert apply(story.now, Rework(actor=staff(GRID)), story.clock).kind is EventKind.REWORKED


def test_closing_after_an_unsatisfied_rating_needs_a_reason() -> None:
    story = reach(CaseState.RATED)
    with pytest.raises(TransitionRefused, match="close from rated needs a reason"):
        apply(story.now, Close(actor=staff(GRID)), story.clock)
    happy = reach(CaseState.RESOLVED)
    happy.do(Rate(actor=ANON, rating=Rating("satisfied", solved=True)))
    happy.do(Close(actor=SYSTEM))
    assert happy.now.state is CaseState.CLOSED


def test_an_unrated_case_closes_only_after_the_rating_window() -> None:
    story = reach(CaseState.RESOLVED)
    resolved_at = story.now.resolved_at
    assert resolved_at is not None
    story.clock.now = resolved_at + timedelta(hours=7 * 24) - timedelta(seconds=1)
    with pytest.raises(TransitionRefused, match="before the resident could rate it"):
        apply(story.now, Close(actor=SYSTEM), story.clock)
    story.clock.now = resolved_at + timedelta(hours=7 * 24)
    story.do(Close(actor=SYSTEM))
    assert story.now.state is CaseState.CLOSED
    short = reach(CaseState.RESOLVED)
    short.clock.advance(hours=1)
    assert apply(short.now, Close(actor=SYSTEM), short.clock, CasePolicy(rating_window_hours=1))


def test_ratings_come_from_the_submitter_or_staff_on_their_behalf() -> None:
    story = Story()
    resident = Resident(RESIDENT_KEY)
    story.do(
        Submit(
            actor=Actor("resident", RESIDENT_KEY),
            code=CODE,
            submission=submission(resident=resident),
        )
    )
    for action in ("accept", "dispatch", "claim", "resolve"):
        story.do(command_for(Action(action), story.now))
    rating = Rating("satisfied", solved=True, comment="  谢谢 👍  ")
    with pytest.raises(TransitionRefused, match="only the resident who filed"):
        apply(story.now, Rate(actor=Actor("resident", SUPPORTER_KEY), rating=rating), story.clock)
    with pytest.raises(TransitionRefused, match="needs a reason"):
        apply(story.now, Rate(actor=staff(GRID), rating=rating), story.clock)
    event = apply(story.now, Rate(actor=staff(GRID), rating=rating, reason="电话回访"), story.clock)
    assert event.on_behalf and event.rating == Rating("satisfied", True, "谢谢 👍")
    with pytest.raises(TransitionRefused, match="rating PIN"):
        apply(story.now, Rate(actor=ANON, rating=rating), story.clock)
    # Whoever holds the slip's PIN (the caller checked it) may rate, identified or not.
    for rater in (ANON, Actor("resident", SUPPORTER_KEY)):
        vouched = Rate(actor=rater, rating=rating, pin_verified=True)
        assert apply(story.now, vouched, story.clock).rating is not None
    own = Rate(actor=Actor("resident", RESIDENT_KEY), rating=rating)
    assert apply(story.now, own, story.clock).rating is not None


def test_support_counts_once_per_identified_resident() -> None:
    story = Story()
    resident = Resident(RESIDENT_KEY)
    story.do(
        Submit(
            actor=Actor("resident", RESIDENT_KEY),
            code=CODE,
            submission=submission(resident=resident),
        )
    )
    with pytest.raises(TransitionRefused, match="submitter cannot support"):
        apply(story.now, Support(actor=Actor("resident", RESIDENT_KEY)), story.clock)
    story.do(Support(actor=Actor("resident", SUPPORTER_KEY)))
    with pytest.raises(TransitionRefused, match="support this case already"):
        apply(story.now, Support(actor=Actor("resident", SUPPORTER_KEY)), story.clock)
    story.do(Support(actor=ANON))
    story.do(Support(actor=ANON))
    assert story.now.support_count == 3 and story.now.supporters == {SUPPORTER_KEY}
    assert story.now.state is CaseState.SUBMITTED


@pytest.mark.parametrize("state", sorted(OPEN_STATES), ids=str)
def test_notes_never_change_the_state(state: CaseState) -> None:
    story = reach(state)
    before = story.now
    event = story.do(Note(actor=staff(before.unit), text="已电话联系物业"))
    assert story.now.state is state and not event.public
    assert dataclasses.replace(story.now, events=before.events) == before
    with pytest.raises(InvalidText, match="note is empty"):
        apply(story.now, Note(actor=staff(before.unit), text=" \n"), story.clock)


# ----------------------------------------------------------------------- the clock


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        apply(None, command_for(Action.SUBMIT, None), lambda: datetime(2026, 1, 1))


def test_time_never_runs_backwards_in_a_log() -> None:
    story = reach(CaseState.SUBMITTED)
    story.clock.advance(hours=-5)
    event = story.do(command_for(Action.ACCEPT, story.now))
    assert event.at == story.events[0].at


# ---------------------------------------------------------------------- the fold


def test_replay_refuses_a_corrupt_log() -> None:
    events = reach(CaseState.IN_PROGRESS).events
    with pytest.raises(CorruptLog, match="at least its submitted event"):
        replay([])
    with pytest.raises(CorruptLog, match="cannot follow state None"):
        replay(events[1:])
    with pytest.raises(CorruptLog, match="does not follow"):
        replay([events[0], events[2]])
    with pytest.raises(CorruptLog, match="does not follow"):
        replay([events[0], dataclasses.replace(events[1], code=OTHER_CODE)])
    with pytest.raises(CorruptLog, match="cannot follow state submitted"):
        replay([events[0], dataclasses.replace(events[1], kind=EventKind.CLAIMED)])
    with pytest.raises(CorruptLog, match="names no lead"):
        replay([*events[:2], dataclasses.replace(events[2], lead=None)])
    assert evolve(None, events[0]).code == CODE


def test_anonymous_is_not_identified() -> None:
    assert not Actor("resident", ANONYMOUS).identified
    assert Actor("resident", RESIDENT_KEY).identified and not staff().identified
