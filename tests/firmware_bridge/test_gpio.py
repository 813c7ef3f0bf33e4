"""Help button, status LED and motion sensor on gpiozero's mock pins; health and hub watch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPin

from firmware_bridge.gpio import GpioPanel
from firmware_bridge.health import Health, HubWatch, uplink_topic
from kiosk.protocol import topics
from kiosk.protocol.client import Handler, MqttLink
from kiosk.protocol.messages import (
    DeviceState,
    Envelope,
    GpioEvent,
    HubState,
    InvalidPayload,
    decode,
)
from kiosk.settings import GpioSettings
from tests.firmware_bridge.helpers import eventually

KIOSK = "k1"
SETTINGS = GpioSettings(help_button=5, status_led=6, motion_sensor=13, motion_interval=5.0)


class FakeLink:
    """What the panel and the hub watch use of an MqttLink, in memory."""

    def __init__(self) -> None:
        self.is_connected = True
        self.published: list[tuple[str, bytes, bool]] = []
        self.handlers: dict[str, Handler] = {}

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        self.handlers[topic_filter] = handler

    def publish(
        self, topic: str, message: Envelope | bytes, *, retain: bool = False, **_: Any
    ) -> None:
        payload = message if isinstance(message, bytes) else message.to_bytes()
        self.published.append((topic, payload, retain))

    def deliver(self, topic: str, payload: bytes) -> None:
        self.handlers[topic](topic, payload, None)

    def gpio_events(self) -> list[str]:
        return [
            decode(GpioEvent, payload).event
            for topic, payload, _ in self.published
            if topic == topics.GPIO_EVENT
        ]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    saved = Device.pin_factory
    Device.pin_factory = MockFactory()
    yield cast(MockFactory, Device.pin_factory)
    Device.pin_factory.reset()
    Device.pin_factory = saved


def _pin(factory: MockFactory, number: int) -> MockPin:
    return cast(MockPin, factory.pin(number))


def _panel(link: FakeLink, health: Health, clock: Clock, settings: GpioSettings) -> GpioPanel:
    return GpioPanel(KIOSK, cast(MqttLink, link), settings, health, boot_id="b1", clock=clock)


def test_one_help_event_per_burst_of_presses(factory: MockFactory) -> None:
    link, clock = FakeLink(), Clock()
    panel = _panel(link, Health(), clock, SETTINGS)
    button = _pin(factory, 5)
    for _ in range(4):  # a resident pressing again and again because nobody came yet
        button.drive_low()
        button.drive_high()
        clock.now += 1.0
    assert link.gpio_events() == ["help_pressed"]
    clock.now += SETTINGS.help_burst  # quiet for a whole burst gap: a new call
    button.drive_low()
    button.drive_high()
    assert link.gpio_events() == ["help_pressed", "help_pressed"]
    assert panel.button is not None and panel.button.presses == 5
    panel.stop()


def test_motion_is_reported_at_most_once_per_interval(factory: MockFactory) -> None:
    link, clock = FakeLink(), Clock()
    panel = _panel(link, Health(), clock, SETTINGS)
    assert panel.motion is not None
    sensor, pin = panel.motion.device, _pin(factory, 13)
    # Its first sample only sets the state (no edge, no event): let it be taken first.
    assert sensor.wait_for_no_motion(2)

    def wave(active: bool) -> None:
        pin.drive_high() if active else pin.drive_low()
        eventually(lambda: sensor.motion_detected == active, f"motion {active}", timeout=2)

    wave(True)
    eventually(lambda: link.gpio_events() == ["motion"], "a motion event", timeout=2)
    wave(False)
    clock.now += 1.0
    wave(True)  # a second detection within the interval: counted, not sent
    eventually(lambda: panel.motion is not None and panel.motion.detections == 2, "detection")
    wave(False)
    clock.now += SETTINGS.motion_interval
    wave(True)
    eventually(lambda: link.gpio_events() == ["motion", "motion"], "a second event", timeout=2)
    panel.stop()


def _state(device: Any, status: Any) -> DeviceState:
    return DeviceState(kiosk=KIOSK, device=device, status=status)


def test_the_led_is_steady_slow_or_fast(factory: MockFactory) -> None:
    health = Health()
    panel = _panel(FakeLink(), health, Clock(), SETTINGS)
    panel.start()
    led = panel.led
    assert led is not None

    def mode() -> str | None:
        return led.mode

    assert mode() == "slow"  # the hub is not known to be reachable
    health.hub(True)
    assert mode() == "steady" and _pin(factory, 6).state
    health.device(_state("printer", "offline"))
    assert mode() == "fast"
    pin = _pin(factory, 6)
    pin.clear_states()
    time.sleep(0.5)
    assert len(pin.states) >= 3  # it blinks: 0.15 s on, 0.15 s off
    health.device(_state("gpio", "offline"))  # the LED cannot blink about itself
    health.device(_state("printer", "online"))
    assert mode() == "steady"
    health.device(_state("idreader", "offline"))
    health.hub(False)
    assert mode() == "fast" and health.faults == {"idreader": ""}
    health.device(_state("idreader", "unknown"))
    assert mode() == "slow"
    panel.stop()


def test_pins_come_from_settings_and_a_busy_pin_is_an_offline_gpio(factory: MockFactory) -> None:
    link = FakeLink()
    only_button = GpioSettings(help_button=5, status_led=None, motion_sensor=None)
    first = _panel(link, Health(), Clock(), only_button)
    assert first.state.status == "online" and first.state.detail == "help button 5"
    assert first.led is None and first.motion is None
    second = _panel(link, Health(), Clock(), GpioSettings(help_button=5))
    assert second.state.status == "offline" and "GPIOPinInUse" in second.state.detail
    assert second.button is None
    second.announce()
    topic, payload, retained = link.published[-1]
    assert topic == topics.kiosk_device(KIOSK, "gpio") and retained
    assert decode(DeviceState, payload).status == "offline"
    assert [t for t, _ in first.farewell()] == [topic]
    first.stop()


def test_mock_pins_from_settings_need_no_hardware() -> None:
    panel = GpioPanel(
        KIOSK,
        cast(MqttLink, FakeLink()),
        GpioSettings(pin_factory="mock"),
        Health(),
        boot_id="b1",
    )
    assert panel.state.status == "online"
    assert panel.state.detail == "help button 17, status LED 27, motion sensor 22"
    panel.stop()


def test_the_hub_watch_follows_the_hub_and_the_uplink() -> None:
    link, health = FakeLink(), Health()
    births: list[None] = []
    watch = HubWatch(KIOSK, cast(MqttLink, link), health, on_hub_online=lambda: births.append(None))
    assert not watch.refresh()
    link.deliver(topics.HUB_STATE, HubState(state="online", boot_id="h").to_bytes())
    assert health.hub_reachable and health.mode() == "steady" and len(births) == 1
    link.deliver(uplink_topic(KIOSK), b"0")  # the edge broker lost the central one
    assert not health.hub_reachable
    link.deliver(uplink_topic(KIOSK), b"1")
    assert health.hub_reachable
    link.is_connected = False  # our own connection to the edge broker dropped
    assert not watch.refresh()
    link.is_connected = True
    link.deliver(topics.HUB_STATE, HubState(state="offline", boot_id="h").to_bytes())
    assert not health.hub_reachable and len(births) == 1
    with pytest.raises(InvalidPayload):
        link.deliver(topics.HUB_STATE, b"online")
