"""Every MQTT topic of the system is built or parsed here, nowhere else.

``svc/v1/…`` topics may cross the edge-to-central bridge; ``local/v1/…`` topics stay on the
kiosk's own edge broker (they may carry a resident's raw identity, see DESIGN.md §4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SVC = "svc/v1"
LOCAL = "local/v1"

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class TopicError(ValueError):
    """A topic that is not part of the contract."""


def check_id(value: str, what: str = "id") -> str:
    """Kiosk and centre ids become topic levels: keep them to a safe alphabet."""
    if not _ID.match(value):
        raise TopicError(f"{what} {value!r} must be 1-32 of a-z 0-9 _ - (lower case)")
    return value


def kiosk_root(kiosk: str) -> str:
    return f"{SVC}/kiosk/{check_id(kiosk, 'kiosk')}"


def kiosk_state(kiosk: str) -> str:
    return f"{kiosk_root(kiosk)}/state"


def kiosk_health(kiosk: str) -> str:
    return f"{kiosk_root(kiosk)}/health"


def kiosk_device(kiosk: str, device: str) -> str:
    return f"{kiosk_root(kiosk)}/device/{device}"


def kiosk_event(kiosk: str, event_type: str) -> str:
    return f"{kiosk_root(kiosk)}/event/{event_type}"


def kiosk_ack(kiosk: str) -> str:
    return f"{kiosk_root(kiosk)}/ack"


def kiosk_rpc(kiosk: str, method: str) -> str:
    return f"{kiosk_root(kiosk)}/rpc/{method}"


def kiosk_reply(kiosk: str) -> str:
    return f"{kiosk_root(kiosk)}/reply"


def kiosk_cmd(kiosk: str, name: str) -> str:
    return f"{kiosk_root(kiosk)}/cmd/{name}"


def centre_board(centre: str) -> str:
    return f"{SVC}/centre/{check_id(centre, 'centre')}/board"


HUB_STATE = f"{SVC}/hub/state"

# Subscriptions of the hub (wildcards over every kiosk).
ALL_KIOSK_STATES = f"{SVC}/kiosk/+/state"
ALL_KIOSK_DEVICES = f"{SVC}/kiosk/+/device/+"
ALL_KIOSK_RPC = f"{SVC}/kiosk/+/rpc/+"
ALL_KIOSK_EVENTS = f"{SVC}/kiosk/+/event/+"

# Edge-only topics between the touch app and the firmware bridge.
PRINT_JOB = f"{LOCAL}/printer/job"
PRINT_RESULT = f"{LOCAL}/printer/result"


@dataclass(frozen=True, slots=True)
class KioskTopic:
    """A parsed ``svc/v1/kiosk/{kiosk}/{kind}[/{name}]`` topic."""

    kiosk: str
    kind: str
    name: str | None


def parse_kiosk_topic(topic: str) -> KioskTopic:
    """Split a kiosk topic; raises :class:`TopicError` for anything outside the contract."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[:3] != ["svc", "v1", "kiosk"]:
        raise TopicError(f"not a kiosk topic: {topic!r}")
    kiosk, kind, rest = parts[3], parts[4], parts[5:]
    check_id(kiosk, "kiosk")
    if kind in ("state", "health", "ack", "reply") and not rest:
        return KioskTopic(kiosk, kind, None)
    if kind in ("device", "event", "rpc", "cmd") and len(rest) == 1 and rest[0]:
        return KioskTopic(kiosk, kind, rest[0])
    raise TopicError(f"not a kiosk topic: {topic!r}")
