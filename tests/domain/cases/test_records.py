"""Events survive the trip to JSON and back; bad records are refused with a reason."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.domain.cases.model import Actor, Resident
from kiosk.domain.cases.records import event_from_record, event_to_record
from kiosk.domain.cases.states import (
    CaseState,
    CorruptLog,
    Submit,
    TransitionRefused,
    allowed_actions,
    replay,
)
from tests.domain.cases.helpers import (
    CODE,
    FORWARD,
    RESIDENT_KEY,
    Story,
    command_for,
    reach,
    submission,
)


def _roundtrip(story: Story) -> None:
    records = [json.loads(json.dumps(event_to_record(e), ensure_ascii=False)) for e in story.events]
    events = [event_from_record(r) for r in records]
    assert events == story.events
    assert replay(events) == story.now


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_every_event_roundtrips(data: st.DataObject) -> None:
    story = Story()
    resident = Resident(RESIDENT_KEY, "张*", "138****5678", contact_ok=True)
    story.do(
        Submit(
            actor=Actor("resident", RESIDENT_KEY),
            code=CODE,
            submission=submission(resident=resident, title="<b>灯</b> 😀 𠀀"),
        )
    )
    for _ in range(data.draw(st.integers(0, 20))):
        choices = allowed_actions(story.now.state)
        if not choices:
            break
        action = data.draw(st.sampled_from(choices + [a for a in choices if a in FORWARD] * 4))
        try:
            story.do(command_for(action, story.now), hours=5)
        except TransitionRefused:
            continue
    _roundtrip(story)


def test_a_record_is_compact() -> None:
    record = event_to_record(reach(CaseState.ACCEPTED).events[1])
    assert set(record) == {"code", "seq", "kind", "at", "actor", "text"}
    assert record["actor"] == {"kind": "staff", "id": "clerk-wang", "unit": "c1"}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"seq": "2"}, "'seq' must be a int"),
        ({"seq": True}, "'seq' must be a int"),
        ({"kind": "exploded"}, "event kind must be one of"),
        ({"at": "yesterday"}, "not an ISO 8601 time"),
        ({"at": "2026-03-02T01:00:00"}, "UTC offset"),
        ({"actor": {"kind": "robot", "id": "x"}}, "actor kind"),
        ({"actor": {"kind": "staff", "id": "x"}}, "must act for a unit"),
        ({"lead": {"id": "g1", "level": "planet", "name": "x"}}, "unit level"),
        ({"co_handlers": "g1"}, "'co_handlers' must be a list"),
    ],
)
def test_bad_records_are_refused(change: dict[str, object], says: str) -> None:
    record = event_to_record(reach(CaseState.DISPATCHED).events[2])
    with pytest.raises(CorruptLog, match=says):
        event_from_record({**record, **change})


def test_not_an_object() -> None:
    with pytest.raises(CorruptLog, match="expected an object"):
        event_from_record(["submitted"])
