"""Calling staff: the screen's button and the GPIO help button publish the same event."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from kiosk.protocol import topics
from kiosk.protocol.messages import GpioEvent, decode
from kiosk.touch.helpdesk import HelpDesk, HelpRequested
from kiosk.touch.link import KioskLink
from tests.brokers import RunningBroker
from tests.touch.conftest import WAIT, Listener
from tests.waiting import eventually

HELP_TOPIC = topics.kiosk_event("k1", "help.requested")


@pytest.fixture
def staff(central_broker: RunningBroker) -> Iterator[Listener]:
    """Where a hub would hear it: the central broker, across the edge bridge."""
    listener = Listener(central_broker, "hub", HELP_TOPIC)
    yield listener
    listener.close()


def _events(listener: Listener) -> list[HelpRequested]:
    return [decode(HelpRequested, p) for p in listener.payloads()]


def test_the_screen_button_reaches_the_central_broker(
    client: FlaskClient, link: KioskLink, staff: Listener
) -> None:
    response = client.post("/api/help", json={})
    assert response.status_code == 202
    assert response.get_json() == {"notified": True, "help": 1}
    event = eventually(lambda: _events(staff), "help.requested", WAIT)[0]
    assert (event.kiosk, event.centre, event.source) == ("k1", "demo", "screen")
    assert event.boot_id == link.boot_id and event.seq >= 1


def test_the_plain_form_confirms_on_a_page_of_its_own(client: FlaskClient, staff: Listener) -> None:
    response = client.post("/help", data={"next": "/find"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/help?next=/find"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已通知工作人员，请稍候" in page and 'href="/find"' in page
    eventually(lambda: _events(staff), "help.requested", WAIT)
    refused = client.post("/help", data={}, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403


def test_the_gpio_button_does_the_same(
    client: FlaskClient, edge_broker: RunningBroker, staff: Listener
) -> None:
    bridge = Listener(edge_broker, "bridge", "local/v1/unused")
    try:
        bridge.link.publish(topics.GPIO_EVENT, GpioEvent(event="help_pressed"))
        event = eventually(lambda: _events(staff), "help.requested", WAIT)[0]
        assert event.source == "button"
        bridge.link.publish(topics.GPIO_EVENT, GpioEvent(event="motion"))
        eventually(lambda: client.get("/api/status").get_json()["motion"], "motion", WAIT)
    finally:
        bridge.close()
    assert client.get("/api/status").get_json()["help"] == 1, "the pages show the confirmation"


class _Link:
    kiosk, centre, boot_id = "k1", "demo", "b"

    def __init__(self) -> None:
        self.sent: list[HelpRequested] = []

    def next_event_seq(self) -> int:
        return len(self.sent) + 1

    def queue_event(self, _type: str, message: HelpRequested) -> None:
        self.sent.append(message)


def test_repeated_presses_alert_staff_once_but_are_all_confirmed() -> None:
    link = _Link()
    desk = HelpDesk(link, repeat_after=0.3)  # type: ignore[arg-type]
    assert [desk.request("screen") for _ in range(3)] == [1, 2, 3]
    assert len(link.sent) == 1
    time.sleep(0.35)
    desk.request("button")
    assert [e.seq for e in link.sent] == [1, 2] and link.sent[1].source == "button"
