"""MQTT clients the bridge tests watch it with: the touch app's side and a hub-side observer."""

from __future__ import annotations

import threading
from typing import Any

from paho.mqtt.properties import Properties

from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import (
    CardEvent,
    DeviceState,
    GpioEvent,
    PrintJob,
    PrintResult,
    decode,
)
from tests.brokers import KIOSK, RunningBroker
from tests.firmware_bridge.helpers import WAIT, eventually


class Touch:
    """The touch app's side of the edge broker (user ``touch``): sends print jobs, watches
    results, device states, card and GPIO events."""

    def __init__(self, broker: RunningBroker) -> None:
        self._lock = threading.Lock()
        self._results: list[PrintResult] = []
        self._devices: dict[str, DeviceState] = {}
        self.cards: list[CardEvent] = []
        self.gpio: list[GpioEvent] = []
        self.link = MqttLink(f"{KIOSK}-touch", broker.mqtt_settings("touch"))
        self.link.subscribe(topics.PRINT_RESULT, self._on_result)
        self.link.subscribe(f"{topics.SVC}/kiosk/{KIOSK}/device/+", self._on_device)
        self.link.subscribe(topics.CARD_EVENT, self._on_card)
        self.link.subscribe(topics.GPIO_EVENT, self._on_gpio)
        self.link.start()
        assert self.link.wait_connected(WAIT)

    def _on_result(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        with self._lock:
            self._results.append(decode(PrintResult, payload))

    def _on_device(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        with self._lock:
            self._devices[topic] = decode(DeviceState, payload)

    def _on_card(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        with self._lock:
            self.cards.append(decode(CardEvent, payload))

    def _on_gpio(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        with self._lock:
            self.gpio.append(decode(GpioEvent, payload))

    def send(self, job: PrintJob | bytes) -> None:
        self.link.publish(topics.PRINT_JOB, job).wait_for_publish(WAIT)

    def statuses(self, job_id: str) -> list[str]:
        with self._lock:
            return [r.status for r in self._results if r.job_id == job_id]

    def results(self, job_id: str) -> list[PrintResult]:
        with self._lock:
            return [r for r in self._results if r.job_id == job_id]

    def device(self, topic: str) -> DeviceState | None:
        with self._lock:
            return self._devices.get(topic)

    def card_events(self) -> list[str]:
        with self._lock:
            return [event.event for event in self.cards]

    def wait_statuses(self, job_id: str, expected: list[str]) -> None:
        eventually(lambda: self.statuses(job_id) == expected, f"{expected} for {job_id}")

    def wait_device(self, topic: str, **fields: Any) -> DeviceState:
        return wait_state(self.device, topic, fields)

    def wait_cards(self, *expected: str) -> list[CardEvent]:
        eventually(lambda: self.card_events() == list(expected), f"card events {expected}")
        with self._lock:
            return list(self.cards)


class Observer:
    """Watches ``#`` on the central broker as the read-only ``observer`` user: what the hub
    and anyone with the hub's view could ever see of a kiosk."""

    def __init__(self, broker: RunningBroker, client_id: str = "test-observer") -> None:
        self._lock = threading.Lock()
        self.messages: list[tuple[str, bytes, bool]] = []
        self._devices: dict[str, DeviceState] = {}
        self.link = MqttLink(client_id, broker.mqtt_settings("observer"))
        self.link.subscribe("#", self._on_message)
        self.link.start()
        assert self.link.wait_connected(WAIT)

    def _on_message(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        with self._lock:
            self.messages.append((topic, payload, False))
            if "/device/" in topic:
                self._devices[topic] = decode(DeviceState, payload)

    def device(self, topic: str) -> DeviceState | None:
        with self._lock:
            return self._devices.get(topic)

    def wait_device(self, topic: str, **fields: Any) -> DeviceState:
        return wait_state(self.device, topic, fields)

    def payloads(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return [(topic, payload) for topic, payload, _ in self.messages]

    def stop(self) -> None:
        self.link.stop()


def wait_state(get: Any, topic: str, fields: dict[str, Any]) -> DeviceState:
    """The state on ``topic`` once it has ``fields`` (``detail_has``: part of the detail)."""

    def has(state: DeviceState, key: str, value: Any) -> bool:
        if key == "detail_has":
            return str(value) in state.detail
        return bool(getattr(state, key) == value)

    def matches() -> DeviceState | None:
        state: DeviceState | None = get(topic)
        ok = state is not None and all(has(state, k, v) for k, v in fields.items())
        return state if ok else None

    return eventually(matches, f"{topic} with {fields} (last: {get(topic)})")
