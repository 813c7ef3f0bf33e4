"""The resident in the touch app's memory: masked outward, forgotten on time, never printed."""

from __future__ import annotations

import time

import pytest

from kiosk.domain.identity import InvalidIdNumber, InvalidPhone
from kiosk.protocol.messages import IdentityCard
from kiosk.touch.resident import ResidentDesk

ID_NUMBER = "11010519491231002X"
CARD = IdentityCard(card_type="resident", name="张三", id_number=ID_NUMBER)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_card_holder_is_seen_only_masked() -> None:
    desk = ResidentDesk(forget_after=60)
    resident = desk.identify_card(CARD)
    assert resident.public() == {
        "identified": True,
        "method": "card",
        "name": "张*",
        "id_masked": "110***********002X",
        "card_type": "resident",
    }
    for shown in (repr(resident), str(resident), f"{resident}"):
        assert ID_NUMBER not in shown and "张三" not in shown
    assert desk.changes == 1


def test_a_phone_is_seen_only_masked() -> None:
    resident = ResidentDesk(forget_after=60).identify_phone("138 1234 5678")
    assert resident.public() == {
        "identified": True,
        "method": "phone",
        "phone_masked": "138****5678",
    }


def test_a_wrong_number_identifies_nobody() -> None:
    desk = ResidentDesk(forget_after=60)
    with pytest.raises(InvalidIdNumber):
        desk.identify_card(CARD.model_copy(update={"id_number": ID_NUMBER[:-1] + "1"}))
    with pytest.raises(InvalidPhone):
        desk.identify_phone("12345")
    assert desk.current() is None and desk.changes == 0


def test_the_resident_is_forgotten_after_the_idle_time_and_a_touch_postpones_it() -> None:
    clock = Clock()
    desk = ResidentDesk(forget_after=75, clock=clock)
    desk.identify_phone("13812345678")
    clock.now += 70
    desk.touched()
    clock.now += 70
    assert desk.current() is not None, "a touch restarts the idle clock"
    clock.now += 6
    assert desk.current() is None
    assert desk.changes == 2, "forgetting is a change the pages notice"


def test_the_server_forgets_by_itself_with_no_request_at_all() -> None:
    desk = ResidentDesk(forget_after=0.2)
    desk.identify_phone("13812345678")
    time.sleep(0.1)
    desk.touched()
    time.sleep(0.15)
    assert desk._resident is not None, "the touch moved the deadline"
    deadline = time.monotonic() + 2
    while desk._resident is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert desk._resident is None, "the timer forgot the resident without being asked"


def test_forget_is_immediate_and_harmless_twice() -> None:
    desk = ResidentDesk(forget_after=60)
    desk.identify_card(CARD)
    desk.forget()
    desk.forget()
    assert desk.current() is None and desk.changes == 2
