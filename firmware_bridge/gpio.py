"""The kiosk's GPIO with gpiozero: help button, status LED, motion sensor.

- Help button (呼叫工作人员): one :class:`GpioEvent` ``help_pressed`` per press burst. Contact
  bounce is filtered by gpiozero's ``bounce_time`` on real pins; a resident pressing again
  and again because nobody came yet is one call, not ten (``help_burst``).
- Status LED: :class:`~firmware_bridge.health.Health`'s mode: steady, slow blink (hub
  unreachable), fast blink (a device at fault).
- Motion sensor: ``motion`` events that wake the touch app, at most one per
  ``motion_interval``.

gpiozero runs callbacks on its own threads on a Pi (synchronously inside ``drive_low()``
with the mock pins of tests), so they only publish, which paho queues.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero import LED, Button, MotionSensor
from gpiozero.pins.mock import MockFactory

from firmware_bridge.health import Health, LedMode
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import DeviceState, DeviceStatus, Envelope, GpioEvent
from kiosk.settings import GpioSettings, Pin

_LOGGER = logging.getLogger(__name__)

Clock = Callable[[], float]
BLINKS: dict[LedMode, tuple[float, float] | None] = {
    "steady": None,
    "slow": (1.0, 1.0),  # seconds on, off
    "fast": (0.15, 0.15),
}
REFRESH = 1.0  # seconds between LED re-evaluations (a lost edge connection has no event)


class HelpButton:
    """A push button; ``on_call`` once per burst of presses closer than ``burst`` seconds."""

    def __init__(
        self,
        pin: Pin,
        on_call: Callable[[], None],
        *,
        burst: float,
        bounce_time: float | None = None,
        pull_up: bool = True,
        pin_factory: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.presses = 0
        self.calls = 0
        self._on_call = on_call
        self._burst = burst
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()
        self.device = Button(
            pin, pull_up=pull_up, bounce_time=bounce_time or None, pin_factory=pin_factory
        )
        self.device.when_pressed = self._pressed

    def _pressed(self) -> None:
        now = self._clock()
        with self._lock:
            self.presses += 1
            # The burst lasts as long as presses keep coming: measured from the latest one.
            new_call = self._last is None or now - self._last >= self._burst
            self._last = now
            if new_call:
                self.calls += 1
        if new_call:
            self._on_call()

    def close(self) -> None:
        self.device.close()


class MotionWatch:
    """A PIR sensor; ``on_motion`` at most once per ``interval`` seconds."""

    def __init__(
        self,
        pin: Pin,
        on_motion: Callable[[], None],
        *,
        interval: float,
        pin_factory: Any = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.detections = 0
        self.reported = 0
        self._on_motion = on_motion
        self._interval = interval
        self._clock = clock
        self._last: float | None = None
        self._lock = threading.Lock()
        self.device = MotionSensor(pin, pin_factory=pin_factory)
        self.device.when_motion = self._moved

    def _moved(self) -> None:
        now = self._clock()
        with self._lock:
            self.detections += 1
            report = self._last is None or now - self._last >= self._interval
            if report:
                self._last = now
                self.reported += 1
        if report:
            self._on_motion()

    def close(self) -> None:
        self.device.close()


class StatusLed:
    """An LED that shows a :data:`LedMode`."""

    def __init__(self, pin: Pin, *, pin_factory: Any = None) -> None:
        self.mode: LedMode | None = None
        self._lock = threading.Lock()
        self.device = LED(pin, pin_factory=pin_factory)

    def show(self, mode: LedMode) -> None:
        with self._lock:
            if mode == self.mode:
                return  # restarting a blink would make it stutter
            self.mode = mode
            blink = BLINKS[mode]
            if blink is None:
                self.device.on()
            else:
                self.device.blink(on_time=blink[0], off_time=blink[1], background=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing while a blink thread runs
            self.device.off()
        self.device.close()


class GpioPanel:
    """The three devices of :class:`GpioSettings` on MQTT (``gpio`` device state retained).

    If the pins cannot be set up (no GPIO on this machine, a pin in use) the panel reports
    ``gpio`` offline and the rest of the bridge carries on without it.
    """

    def __init__(
        self,
        kiosk: str,
        link: MqttLink,
        settings: GpioSettings,
        health: Health,
        *,
        boot_id: str,
        pin_factory: Any = None,
        clock: Clock = time.monotonic,
        refresh: Callable[[], object] | None = None,
    ) -> None:
        self.kiosk = kiosk
        self.button: HelpButton | None = None
        self.led: StatusLed | None = None
        self.motion: MotionWatch | None = None
        self._link = link
        self._settings = settings
        self._health = health
        self._boot_id = boot_id
        self._refresh = refresh  # re-evaluates hub reachability (HubWatch.refresh)
        self._topic = topics.kiosk_device(kiosk, "gpio")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        if pin_factory is None and settings.pin_factory == "mock":
            pin_factory = MockFactory()
        self.state = self._setup(pin_factory, clock)
        health.on_change(self._show)

    def _setup(self, pin_factory: Any, clock: Clock) -> DeviceState:
        settings = self._settings
        fitted: list[str] = []
        try:
            if settings.help_button is not None:
                self.button = HelpButton(
                    settings.help_button,
                    self._help,
                    burst=settings.help_burst,
                    bounce_time=settings.bounce_time,
                    pull_up=settings.help_pull_up,
                    pin_factory=pin_factory,
                    clock=clock,
                )
                fitted.append(f"help button {settings.help_button}")
            if settings.status_led is not None:
                self.led = StatusLed(settings.status_led, pin_factory=pin_factory)
                fitted.append(f"status LED {settings.status_led}")
            if settings.motion_sensor is not None:
                self.motion = MotionWatch(
                    settings.motion_sensor,
                    self._motion,
                    interval=settings.motion_interval,
                    pin_factory=pin_factory,
                    clock=clock,
                )
                fitted.append(f"motion sensor {settings.motion_sensor}")
        except Exception as err:  # gpiozero raises many kinds: no factory, pin in use, …
            self._close_devices()
            _LOGGER.error("GPIO unavailable: %s", err)
            return self._message("offline", f"GPIO unavailable: {type(err).__name__}: {err}")
        _LOGGER.info("GPIO: %s", ", ".join(fitted) or "nothing fitted")
        return self._message("online", ", ".join(fitted) or "nothing fitted")

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._show(self._health.mode())
        if self.led is not None:
            self._thread = threading.Thread(target=self._watch, name="bridge-led", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_devices()

    def announce(self) -> None:
        self._link.publish(self._topic, self.state, retain=True)

    def farewell(self) -> list[tuple[str, Envelope]]:
        return [(self._topic, self._message("offline", "firmware bridge stopped"))]

    # --- events -------------------------------------------------------------------------

    def _help(self) -> None:
        _LOGGER.info("help button pressed")
        self._link.publish(topics.GPIO_EVENT, GpioEvent(event="help_pressed"), qos=1)

    def _motion(self) -> None:
        self._link.publish(topics.GPIO_EVENT, GpioEvent(event="motion"), qos=1)

    def _show(self, mode: LedMode) -> None:
        led = self.led
        if led is None:
            return
        try:
            led.show(mode)
        except Exception as err:  # closed under us at stop: nothing left to show
            _LOGGER.debug("status LED: %s", err)

    def _watch(self) -> None:
        while not self._stopping.wait(REFRESH):
            try:
                if self._refresh is not None:
                    self._refresh()  # tells health, which calls _show on a change
                self._show(self._health.mode())
            except Exception:  # the LED must keep working whatever a refresh did
                _LOGGER.exception("status LED refresh failed")

    def _close_devices(self) -> None:
        for device in (self.button, self.led, self.motion):
            if device is not None:
                with contextlib.suppress(Exception):
                    device.close()
        self.button = self.led = self.motion = None

    def _message(self, status: DeviceStatus, detail: str) -> DeviceState:
        return DeviceState(
            kiosk=self.kiosk,
            device="gpio",
            status=status,
            detail=detail[:200],
            boot_id=self._boot_id,
        )
