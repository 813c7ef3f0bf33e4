"""The AsyncAPI 3.0 document of the MQTT contract, made from the code itself.

``docs/asyncapi.yaml`` is this document written out (``kiosk asyncapi``); a test fails when
the two differ, so the published contract cannot drift from what the code sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kiosk.protocol import messages as m
from kiosk.protocol import topics as t


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    address: str
    message: type[m.Envelope]
    action: str  # "send" for the application that publishes, seen from the kiosk side
    retained: bool
    description: str


CHANNELS: tuple[Channel, ...] = (
    Channel(
        "kioskState",
        t.KIOSK_STATE,
        m.KioskState,
        "send",
        True,
        "Birth and Will of the kiosk's touch app (QoS 1). Order by boot_id, session, ts.",
    ),
    Channel(
        "kioskDevice",
        t.KIOSK_DEVICE,
        m.DeviceState,
        "send",
        True,
        "Device state (bridge, printer, idreader, gpio). Never personal data.",
    ),
    Channel(
        "kioskHealth",
        t.KIOSK_HEALTH,
        m.KioskHealth,
        "send",
        True,
        "Kiosk health (QoS 1, every touch.health_interval s and at every (re)connect): "
        "uptime, outbox backlog, disk, CPU temperature. The hub alerts on it.",
    ),
    Channel(
        "kioskRpc",
        t.KIOSK_RPC,
        m.RpcRequest,
        "send",
        False,
        "Kiosk → hub request; params by method (x-rpc-methods). v5 ResponseTopic and "
        "CorrelationData are set too.",
    ),
    Channel(
        "helpRequested",
        t.KIOSK_EVENT.replace("{type}", t.HELP_REQUESTED),
        m.HelpRequested,
        "send",
        False,
        "A resident asked for staff (screen button or GPIO help button). The hub alerts staff.",
    ),
    Channel(
        "caseSubmitted",
        t.KIOSK_EVENT.replace("{type}", t.CASE_SUBMITTED),
        m.CaseSubmitted,
        "send",
        False,
        "A case (民情意见箱 or 党员提案) filed at the kiosk, QoS 1 through the kiosk's outbox; "
        "the envelope id is the event id, applied once by the hub.",
    ),
    Channel(
        "ticketIssued",
        t.KIOSK_EVENT.replace("{type}", t.TICKET_ISSUED),
        m.TicketIssued,
        "send",
        False,
        "A ticket issued while the hub was unreachable (a leased or fallback number), QoS 1 "
        "through the kiosk's outbox; the hub files it once and acks it.",
    ),
    Channel(
        "eventAck",
        t.KIOSK_ACK,
        m.EventAck,
        "receive",
        False,
        "Hub → kiosk, QoS 1: event ids committed (or refused for good). Only this removes an "
        "event from the kiosk's outbox; every outbox event is redelivered until it comes.",
    ),
    Channel(
        "caseRated",
        t.KIOSK_EVENT.replace("{type}", t.CASE_RATED),
        m.CaseRated,
        "send",
        False,
        "A resident's rating given while the hub was unreachable, QoS 1 through the outbox; "
        "checked like case.rate (PIN or the submitter's card), applied once, acked.",
    ),
    Channel(
        "kioskCommand",
        t.KIOSK_CMD,
        m.KioskCommand,
        "receive",
        False,
        "Hub → kiosk remote command (print_test, reload, rebirth, config), QoS 1 with a v5 "
        "message expiry; expires_at repeats it in the JSON.",
    ),
    Channel(
        "commandResult",
        t.KIOSK_EVENT.replace("{type}", t.COMMAND_RESULT),
        m.CommandResult,
        "send",
        False,
        "Kiosk → hub: what became of a remote command.",
    ),
    Channel(
        "kioskReply",
        t.KIOSK_REPLY,
        m.RpcReply,
        "receive",
        False,
        "Hub → kiosk answer, matched by corr.",
    ),
    Channel(
        "centreBoard",
        t.CENTRE_BOARD,
        m.Board,
        "receive",
        True,
        "What the centre's call displays show: the latest calls, newest first.",
    ),
    Channel(
        "hubState",
        t.HUB_STATE,
        m.HubState,
        "receive",
        True,
        "Hub birth and Will; kiosks re-announce when it says online.",
    ),
    Channel(
        "printJob",
        t.PRINT_JOB,
        m.PrintJob,
        "send",
        False,
        "Edge broker only: touch app → firmware bridge. Never bridged.",
    ),
    Channel(
        "printResult",
        t.PRINT_RESULT,
        m.PrintResult,
        "receive",
        False,
        "Edge broker only: firmware bridge → touch app.",
    ),
    Channel(
        "cardEvent",
        t.CARD_EVENT,
        m.CardEvent,
        "receive",
        False,
        "Edge broker only: a card placed on or removed from the ID-card reader. Raw "
        "identity: never bridged, never logged, kept in the touch app's memory only.",
    ),
    Channel(
        "gpioEvent",
        t.GPIO_EVENT,
        m.GpioEvent,
        "receive",
        False,
        "Edge broker only: help button pressed, motion seen.",
    ),
)

_PARAM = re.compile(r"{(\w+)}")


def _schema(model: type[Any]) -> dict[str, Any]:
    return dict(model.model_json_schema(ref_template="#/components/schemas/{model}"))


def _hoist(schemas: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Move nested ``$defs`` into components.schemas, where the refs point."""
    schemas.update(schema.pop("$defs", {}))
    return schema


def asyncapi_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in CHANNELS:
        message_name = channel.message.__name__
        schemas[message_name] = _hoist(schemas, _schema(channel.message))
        channels[channel.name] = {
            "address": channel.address,
            "description": channel.description,
            "parameters": {p: {} for p in _PARAM.findall(channel.address)},
            "messages": {message_name: {"$ref": f"#/components/messages/{message_name}"}},
            "bindings": {"mqtt": {"qos": 1, "retain": channel.retained}},
        }
        operations[f"{channel.action}{channel.name[0].upper()}{channel.name[1:]}"] = {
            "action": channel.action,
            "channel": {"$ref": f"#/channels/{channel.name}"},
        }
    rpc_methods = {}
    for method, (params, result) in sorted(m.RPC_METHODS.items()):
        rpc_methods[method] = {
            "params": _hoist(schemas, _schema(params)),
            "result": _hoist(schemas, _schema(result)),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Community service-centre kiosks: MQTT contract",
            "version": str(m.SCHEMA_VERSION),
            "description": "JSON, UTF-8, MQTT v5. Every payload carries v, id and ts.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                name: {"name": name, "payload": {"$ref": f"#/components/schemas/{name}"}}
                for name in sorted({c.message.__name__ for c in CHANNELS})
            },
            "schemas": dict(sorted(schemas.items())),
        },
        "x-rpc-methods": rpc_methods,
    }


def asyncapi_yaml() -> str:
    import yaml

    return str(yaml.safe_dump(asyncapi_document(), allow_unicode=True, sort_keys=False))
