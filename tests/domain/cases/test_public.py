"""What residents and the public board see: plain words, and nothing that must stay inside."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.domain.cases.codes import make_code
from kiosk.domain.cases.model import Actor, Rating, Resident
from kiosk.domain.cases.public import board, board_entry, resident_view, timeline
from kiosk.domain.cases.states import (
    Absorb,
    Accept,
    Action,
    AnyCommand,
    Case,
    CaseState,
    Escalate,
    Merge,
    NotAdmissible,
    Note,
    Rate,
    Submit,
    TransitionRefused,
    allowed_actions,
    apply,
    evolve,
)
from tests.domain.cases.helpers import (
    ANON,
    CODE,
    COMMUNITY,
    FORWARD,
    OTHER_CODE,
    RESIDENT_KEY,
    STREET,
    Story,
    command_for,
    reach,
    staff,
    submission,
)

RESIDENT = Resident(RESIDENT_KEY, masked_name="欧**", masked_phone="139****0001", contact_ok=True)
SUPPORTER = "c" * 64
STAFF_NAME = "secret-clerk-zhao"
SECRETS = [
    RESIDENT_KEY,
    SUPPORTER,
    "欧**",
    "139****0001",
    STAFF_NAME,
    "NOTE-SECRET",
    "REASON-SECRET",
    "COMMENT-SECRET",
    "TITLE-SECRET",  # resident text: in their own view, never on the board
]
OWN_TEXT = "TITLE-SECRET"


def identified_story() -> Story:
    story = Story()
    story.do(
        Submit(
            actor=Actor("resident", RESIDENT_KEY),
            code=CODE,
            submission=submission(resident=RESIDENT, title="TITLE-SECRET 路灯坏了"),
        )
    )
    return story


def secretive(action: Action, case: Case) -> AnyCommand:
    """A command full of things residents must not see."""
    command = command_for(action, case)
    actor = command.actor
    if actor.kind == "staff":
        command = dataclasses.replace(command, actor=Actor("staff", STAFF_NAME, actor.unit))
    if action is Action.RATE:
        rating = Rating("unsatisfied", solved=False, comment="COMMENT-SECRET")
        return Rate(actor=Actor("resident", RESIDENT_KEY), rating=rating)
    if action is Action.SUPPORT:
        return dataclasses.replace(command, actor=Actor("resident", SUPPORTER))
    if action is Action.NOTE:
        return Note(actor=command.actor, text="NOTE-SECRET 张三 13800001111")
    if command.reason and action is not Action.NOT_ADMISSIBLE:
        command = dataclasses.replace(command, reason="REASON-SECRET 内部原因")
    return command


def _text(value: object) -> str:
    return repr(value)


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_no_projection_ever_leaks(data: st.DataObject) -> None:
    story = identified_story()
    actions = []
    for _ in range(data.draw(st.integers(0, 25))):
        choices = allowed_actions(story.now.state)
        if not choices:
            break
        # Weight the steps that move a case along, so most runs get to ratings and rework.
        action = data.draw(st.sampled_from(choices + [a for a in choices if a in FORWARD] * 4))
        actions.append(action)
        try:
            story.do(secretive(action, story.now), hours=30)
        except TransitionRefused:
            continue  # a rule said no (e.g. rework after a satisfied rating)
    view = _text(resident_view(story.now))
    for secret in SECRETS:
        if secret != OWN_TEXT:
            assert secret not in view, (secret, actions)
    entry = _text(board_entry(story.now))
    for secret in SECRETS:
        assert secret not in entry, (secret, actions)
    assert CODE not in entry


def test_the_timeline_in_plain_words() -> None:
    story = identified_story()
    story.do(Accept(actor=staff(), summary="路灯维修"), hours=1)
    story.do(Note(actor=staff(), text="NOTE-SECRET"), hours=1)
    for action in (Action.DISPATCH, Action.CLAIM, Action.RESOLVE):
        story.do(command_for(action, story.now), hours=1)
    story.do(Rate(actor=staff("g1"), rating=Rating("basic", True), reason="电话回访"), hours=1)
    steps = timeline(story.now)
    assert [s.title for s in steps] == ["已提交", "已受理", "已派单", "处置中", "已办结", "已评价"]
    assert steps[0].detail == "您的诉求已登记，将于 2026年03月02日 17:00 前受理。"
    assert steps[2].detail == "由第一网格牵头办理，区水务局协办。"
    assert steps[4].detail == "办理结果：已更换灯泡，路灯恢复照明。"
    assert steps[5].detail == "回访评价：基本满意，问题已解决。"
    view = resident_view(story.now, category_names={"streetlight": "路灯照明"})
    assert (view.status, view.category, view.channel) == ("已评价", "路灯照明", "民情意见箱")
    assert not view.can_rate and view.title.startswith("TITLE-SECRET")


def test_residents_see_why_a_case_is_not_admissible_but_no_other_reason() -> None:
    story = identified_story()
    story.do(NotAdmissible(actor=staff(), reason="属于法院诉讼事项，请通过诉讼途径解决"), hours=1)
    assert timeline(story.now)[-1].detail == "原因：属于法院诉讼事项，请通过诉讼途径解决"
    escalated = reach(CaseState.ACCEPTED)
    escalated.do(Escalate(actor=staff(), to=STREET, reason="REASON-SECRET"), hours=1)
    step = timeline(escalated.now)[-1]
    assert step.detail == "已提请和平街道协调办理（吹哨报到）。"


def test_staff_filing_on_behalf_says_so_without_a_name() -> None:
    story = Story()
    story.do(Submit(actor=staff(), code=CODE, submission=submission(), reason="代办"))
    assert timeline(story.now)[0].detail.startswith("工作人员已代您登记")
    assert "clerk" not in repr(resident_view(story.now))


def test_a_merged_case_follows_its_target_without_its_code() -> None:
    target = Story()
    target.do(Submit(actor=ANON, code=OTHER_CODE, submission=submission(title="TITLE-SECRET")))
    target.do(command_for(Action.ACCEPT, target.now), hours=1)
    merged = identified_story()
    merged.do(Merge(actor=staff(), target=OTHER_CODE, reason="REASON-SECRET"), hours=1)
    target.do(Absorb(actor=staff(), source=CODE), hours=1)
    for action in (Action.DISPATCH, Action.CLAIM, Action.RESOLVE):
        target.do(command_for(action, target.now), hours=1)
    view = resident_view(merged.now, merged_into=target.now)
    assert [s.title for s in view.steps] == ["已提交", "已合并", "已派单", "处置中", "已办结"]
    assert OTHER_CODE not in repr(view) and "REASON-SECRET" not in repr(view)
    # The target's own resident learns only that another case joined.
    assert timeline(target.now)[2].detail == "另有反映同一问题的诉求并入本件，一起办理。"
    assert CODE not in repr(resident_view(target.now))


def test_closing_unrated_says_the_window_is_over() -> None:
    story = reach(CaseState.RESOLVED)
    story.do(command_for(Action.CLOSE, story.now), days=8)
    assert timeline(story.now)[-1].detail == "评价期已过，本件已结案。"
    assert resident_view(reach(CaseState.RESOLVED).now).can_rate


@pytest.mark.parametrize("state", [CaseState.SUBMITTED, CaseState.NOT_ADMISSIBLE, CaseState.MERGED])
def test_the_board_lists_only_accepted_cases(state: CaseState) -> None:
    assert board_entry(reach(state).now) is None


def test_a_board_row_has_no_personal_data() -> None:
    story = identified_story()
    story.do(Accept(actor=staff()), hours=1)
    entry = board_entry(story.now, {"streetlight": "路灯照明"})
    assert entry is not None
    assert (entry.summary, entry.category, entry.community, entry.grid) == (
        "路灯照明",
        "路灯照明",
        "和平里社区",
        "第一网格",
    )
    assert "3号楼" not in repr(entry) and "TITLE-SECRET" not in repr(entry)
    assert str(entry.submitted_on) == "2026-03-02" and entry.resolved_on is None
    rated = reach(CaseState.CLOSED)
    closed = board_entry(rated.now)
    assert closed is not None and (closed.status, closed.rating, closed.summary) == (
        "已结案",
        "不满意",
        "和平里路灯维修",
    )


def test_the_board_of_a_community_newest_first() -> None:
    older = reach(CaseState.ACCEPTED)
    newer = Story()
    newer.clock.now = older.clock.now
    code = make_code("box", 2026, 43)
    newer.do(Submit(actor=ANON, code=code, submission=submission()), hours=1)
    newer.do(Accept(actor=staff(), summary="新的一件"), hours=1)
    pending = reach(CaseState.SUBMITTED)
    rows = board([older.now, pending.now, newer.now], COMMUNITY.id)
    assert [r.summary for r in rows] == ["新的一件", "和平里路灯维修"]
    assert board([older.now], "elsewhere") == []


def test_apply_and_evolve_are_all_the_projections_need() -> None:
    event = apply(None, command_for(Action.SUBMIT, None), Story().clock)
    assert resident_view(evolve(None, event)).steps[0].title == "已提交"
