"""How the kiosk is, in the one word its status LED shows: steady, slow or fast.

- fast blink: a device a resident needs is at fault (printer offline or out of paper,
  ID-card reader unplugged or its SAM faulty): someone must come and look;
- slow blink: the hub cannot be reached (the kiosk still works, from its caches);
- steady: all well.

:class:`HubWatch` learns whether the hub is reachable from the edge broker: the hub's
retained birth/Will on ``svc/v1/hub/state``, and the edge broker's own bridge
notification ``$SYS/broker/connection/{kiosk}-edge/state`` (``1``/``0``), without which a
dead uplink would leave the last "online" standing. The edge ACL must let the bridge user
read that ``$SYS`` topic; where it does not, only the hub's state counts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Literal

from paho.mqtt.properties import Properties

from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import DeviceState, HubState, decode

_LOGGER = logging.getLogger(__name__)

LedMode = Literal["steady", "slow", "fast"]
# Devices whose fault a resident notices; the GPIO itself cannot blink about its own fault.
RESIDENT_DEVICES = frozenset({"printer", "idreader"})


def uplink_topic(kiosk: str) -> str:
    """Where the edge broker says whether its bridge to the central broker is up."""
    return f"$SYS/broker/connection/{topics.check_id(kiosk, 'kiosk')}-edge/state"


class Health:
    """Device states and hub reachability in, the LED mode out. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, str] = {}  # device → why it is at fault
        self._hub_reachable = False
        self._listeners: list[Callable[[LedMode], None]] = []

    def on_change(self, listener: Callable[[LedMode], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def device(self, state: DeviceState) -> None:
        """A device's new state (printer, idreader; others are ignored)."""
        if state.device not in RESIDENT_DEVICES:
            return
        with self._lock:
            if state.status == "offline":
                self._faults[state.device] = state.detail
            else:
                self._faults.pop(state.device, None)
        self._notify()

    def hub(self, reachable: bool) -> None:
        with self._lock:
            self._hub_reachable = reachable
        self._notify()

    @property
    def hub_reachable(self) -> bool:
        with self._lock:
            return self._hub_reachable

    @property
    def faults(self) -> dict[str, str]:
        with self._lock:
            return dict(self._faults)

    def mode(self) -> LedMode:
        with self._lock:
            if self._faults:
                return "fast"
            return "steady" if self._hub_reachable else "slow"

    def _notify(self) -> None:
        mode = self.mode()
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(mode)


class HubWatch:
    """Follows the hub's state and the uplink on ``link``; tells ``health`` and calls
    ``on_hub_online`` each time the hub says it is online (to re-announce device states)."""

    def __init__(
        self,
        kiosk: str,
        link: MqttLink,
        health: Health,
        on_hub_online: Callable[[], None] | None = None,
    ) -> None:
        self._link = link
        self._health = health
        self._on_hub_online = on_hub_online
        self._lock = threading.Lock()
        self._hub_online: bool | None = None  # None until the hub's state is known
        self._uplink: bool | None = None  # None while the ACL hides it or it is unknown
        link.subscribe(topics.HUB_STATE, self._on_hub_state)
        link.subscribe(uplink_topic(kiosk), self._on_uplink)

    def reachable(self) -> bool:
        with self._lock:
            return (
                self._link.is_connected and self._hub_online is True and self._uplink is not False
            )

    def refresh(self) -> bool:
        """Re-evaluate (e.g. after the edge connection dropped) and tell ``health``."""
        reachable = self.reachable()
        if reachable != self._health.hub_reachable:
            _LOGGER.info("hub %s", "reachable" if reachable else "unreachable")
        self._health.hub(reachable)
        return reachable

    def _on_hub_state(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        state = decode(HubState, payload)  # InvalidPayload: MqttLink counts and drops it
        with self._lock:
            self._hub_online = state.state == "online"
        self.refresh()
        if state.state == "online" and self._on_hub_online is not None:
            self._on_hub_online()

    def _on_uplink(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        value = payload.strip()
        with self._lock:
            self._uplink = {b"1": True, b"0": False}.get(value)
        self.refresh()
