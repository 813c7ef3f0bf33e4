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


# Every channel of the contract as an address template; docs/asyncapi.yaml is made from these.
KIOSK_STATE = f"{SVC}/kiosk/{{kiosk}}/state"
KIOSK_HEALTH = f"{SVC}/kiosk/{{kiosk}}/health"
KIOSK_DEVICE = f"{SVC}/kiosk/{{kiosk}}/device/{{device}}"
KIOSK_EVENT = f"{SVC}/kiosk/{{kiosk}}/event/{{type}}"
HELP_REQUESTED = "help.requested"  # the event type of a call for staff
COMMAND_RESULT = "command.result"  # the event type of a remote command's outcome
TICKET_ISSUED = "ticket.issued"  # the event type of a ticket issued offline
CASE_SUBMITTED = "case.submitted"  # the event type of a case filed at a kiosk
CASE_RATED = "case.rated"  # the event type of a rating given while the hub was away
KIOSK_ACK = f"{SVC}/kiosk/{{kiosk}}/ack"
KIOSK_RPC = f"{SVC}/kiosk/{{kiosk}}/rpc/{{method}}"
KIOSK_REPLY = f"{SVC}/kiosk/{{kiosk}}/reply"
KIOSK_CMD = f"{SVC}/kiosk/{{kiosk}}/cmd/{{name}}"
CENTRE_BOARD = f"{SVC}/centre/{{centre}}/board"
HUB_STATE = f"{SVC}/hub/state"
PRINT_JOB = f"{LOCAL}/printer/job"
PRINT_RESULT = f"{LOCAL}/printer/result"
CARD_EVENT = f"{LOCAL}/idreader/card"
GPIO_EVENT = f"{LOCAL}/gpio/event"


def kiosk_state(kiosk: str) -> str:
    return KIOSK_STATE.format(kiosk=check_id(kiosk, "kiosk"))


def kiosk_health(kiosk: str) -> str:
    return KIOSK_HEALTH.format(kiosk=check_id(kiosk, "kiosk"))


def kiosk_device(kiosk: str, device: str) -> str:
    return KIOSK_DEVICE.format(kiosk=check_id(kiosk, "kiosk"), device=check_id(device, "device"))


def kiosk_event(kiosk: str, event_type: str) -> str:
    return KIOSK_EVENT.format(kiosk=check_id(kiosk, "kiosk"), type=_name(event_type))


def kiosk_ack(kiosk: str) -> str:
    return KIOSK_ACK.format(kiosk=check_id(kiosk, "kiosk"))


def kiosk_rpc(kiosk: str, method: str) -> str:
    return KIOSK_RPC.format(kiosk=check_id(kiosk, "kiosk"), method=_name(method))


def kiosk_reply(kiosk: str) -> str:
    return KIOSK_REPLY.format(kiosk=check_id(kiosk, "kiosk"))


def kiosk_cmd(kiosk: str, name: str) -> str:
    return KIOSK_CMD.format(kiosk=check_id(kiosk, "kiosk"), name=_name(name))


def centre_board(centre: str) -> str:
    return CENTRE_BOARD.format(centre=check_id(centre, "centre"))


_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")


def _name(value: str) -> str:
    """Event types, rpc methods and command names: ``ticket.issued``, ``print_test``."""
    if not _NAME.match(value):
        raise TopicError(f"name {value!r} must be 1-64 of a-z 0-9 . _ - starting with a letter")
    return value


# Subscriptions of the hub (wildcards over every kiosk).
ALL_KIOSK_STATES = f"{SVC}/kiosk/+/state"
ALL_KIOSK_DEVICES = f"{SVC}/kiosk/+/device/+"
ALL_KIOSK_HEALTH = f"{SVC}/kiosk/+/health"
ALL_KIOSK_RPC = f"{SVC}/kiosk/+/rpc/+"
ALL_KIOSK_EVENTS = f"{SVC}/kiosk/+/event/+"


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
