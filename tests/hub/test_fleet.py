"""Kiosk presence: states ordered by (boot_id, session, ts), never by arrival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kiosk.hub.desk import QueueDesk
from kiosk.protocol.messages import DeviceState
from tests.hub.conftest import kiosk_state

T0 = datetime(2024, 5, 6, 1, 0, tzinfo=UTC)


def _seconds(n: float) -> datetime:
    return T0 + timedelta(seconds=n)


def _one(desk: QueueDesk) -> tuple[str, bool, int, str]:
    (kiosk,) = desk.kiosks()
    return kiosk.state, kiosk.online, kiosk.session, kiosk.boot_id


def test_the_will_of_a_session_ends_it_although_it_was_written_first(desk: QueueDesk) -> None:
    # The Will is made at connect time, so its ts is older than the birth that follows.
    assert desk.kiosk_state(kiosk_state(state="online", session=1, ts=_seconds(1)))
    assert desk.kiosk_state(kiosk_state(state="offline", session=1, ts=_seconds(0)))
    assert _one(desk) == ("offline", False, 1, "boot-1")


def test_a_late_will_of_an_earlier_session_does_not_hide_the_live_one(desk: QueueDesk) -> None:
    desk.kiosk_state(kiosk_state(state="online", session=2, ts=_seconds(10)))
    assert not desk.kiosk_state(kiosk_state(state="offline", session=1, ts=_seconds(11)))
    assert _one(desk) == ("online", True, 2, "boot-1")


def test_a_late_will_of_a_previous_boot_does_not_hide_the_new_boot(desk: QueueDesk) -> None:
    desk.kiosk_state(kiosk_state(state="online", boot_id="boot-2", session=1, ts=_seconds(60)))
    stale = kiosk_state(state="offline", boot_id="boot-1", session=7, ts=_seconds(5))
    assert not desk.kiosk_state(stale)
    assert _one(desk) == ("online", True, 1, "boot-2")


def test_a_new_boot_replaces_the_old_one_by_time(desk: QueueDesk) -> None:
    desk.kiosk_state(kiosk_state(state="offline", boot_id="boot-1", session=3, ts=_seconds(5)))
    assert desk.kiosk_state(kiosk_state(boot_id="boot-2", session=1, ts=_seconds(30)))
    assert _one(desk) == ("online", True, 1, "boot-2")


def test_device_states_are_kept_per_kiosk_newest_first(desk: QueueDesk) -> None:
    desk.kiosk_state(kiosk_state())
    printer = DeviceState(kiosk="k1", device="printer", status="online", paper="ok", ts=T0)
    assert desk.device_state(printer)
    older = printer.model_copy(update={"paper": "out", "ts": _seconds(-1)})
    assert not desk.device_state(older)
    desk.device_state(DeviceState(kiosk="k1", device="bridge", status="online", ts=T0))
    (kiosk,) = desk.kiosks()
    assert set(kiosk.devices) == {"printer", "bridge"}
    assert kiosk.devices["printer"]["paper"] == "ok"


def test_a_bridge_that_went_down_makes_the_kiosk_offline(desk: QueueDesk) -> None:
    desk.kiosk_state(kiosk_state())
    desk.uplink("k1", up=False)
    assert _one(desk)[:2] == ("online", False)
    desk.uplink("k1", up=True)
    assert _one(desk)[:2] == ("online", True)


def test_kiosks_can_be_listed_per_centre(desk: QueueDesk) -> None:
    desk.kiosk_state(kiosk_state("k1"))
    desk.kiosk_state(kiosk_state("k2", centre="other"))
    assert [k.id for k in desk.kiosks("demo")] == ["k1"]
    assert [k.id for k in desk.kiosks()] == ["k1", "k2"]
