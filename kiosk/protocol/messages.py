"""Payload types of every MQTT message, validated on receipt.

Every payload is an :class:`Envelope`: ``v`` (schema version), ``id`` (unique per message),
``ts`` (UTC, ISO 8601). Unknown fields are refused, so a typo never passes silently.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from kiosk.domain.receipt import Block

SCHEMA_VERSION: Literal[1] = 1


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class InvalidPayload(ValueError):
    """A payload that is not valid JSON of the expected type. The message says why."""


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = SCHEMA_VERSION
    id: str = Field(default_factory=new_id, min_length=1, max_length=64)
    ts: AwareDatetime = Field(default_factory=utcnow)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


E = TypeVar("E", bound=Envelope)


def decode(model: type[E], payload: bytes) -> E:
    """Parse and validate ``payload`` as ``model``; :class:`InvalidPayload` says what is wrong."""
    try:
        return model.model_validate_json(payload)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in err.errors()
        )
        raise InvalidPayload(f"invalid {model.__name__}: {problems}") from err


# --- presence -------------------------------------------------------------------------

PresenceState = Literal["online", "offline"]


class KioskState(Envelope):
    """Retained on ``svc/v1/kiosk/{kiosk}/state``; the Will carries ``offline``.

    ``boot_id`` changes at each process start and ``session`` counts connections within
    it, so a receiver orders states by (boot_id, session, ts), never by arrival.
    """

    kiosk: str
    centre: str
    state: PresenceState
    boot_id: str
    session: int = Field(ge=0)
    version: str


class HubState(Envelope):
    """Retained on ``svc/v1/hub/state``; kiosks re-announce when it says ``online``."""

    state: PresenceState
    boot_id: str


DeviceStatus = Literal["online", "offline", "unknown"]
PaperStatus = Literal["ok", "near_end", "out", "unknown"]


class DeviceState(Envelope):
    """Retained on ``svc/v1/kiosk/{kiosk}/device/{name}``. Never holds personal data."""

    kiosk: str
    device: Literal["bridge", "printer", "idreader", "gpio"]
    status: DeviceStatus
    paper: PaperStatus | None = None
    detail: str = Field(default="", max_length=200)
    boot_id: str = ""


# --- request / response ---------------------------------------------------------------


class RpcRequest(Envelope):
    """Kiosk → hub on ``svc/v1/kiosk/{kiosk}/rpc/{method}``.

    ``corr`` is the correlation id; it is also sent as the v5 CorrelationData property,
    but the JSON copy is the one that survives any bridge.
    """

    corr: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


class RpcError(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    message: str


class RpcReply(Envelope):
    """Hub → kiosk on ``svc/v1/kiosk/{kiosk}/reply``, matched by ``corr``."""

    corr: str
    ok: bool
    result: dict[str, Any] | None = None
    error: RpcError | None = None


class Params(BaseModel):
    """Base of every rpc method's params and result."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceInfo(Params):
    code: str
    name: str
    prefix: str


class ServicesListParams(Params):
    pass


class ServicesListResult(Params):
    centre: str
    centre_name: str
    services: list[ServiceInfo]


class TicketTakeParams(Params):
    """``event_id`` makes the request idempotent: a retry gets the same ticket."""

    service: str = Field(min_length=1, max_length=32)
    event_id: str = Field(min_length=1, max_length=64)


class TicketTakeResult(Params):
    number: str
    service: str
    service_name: str
    centre_name: str
    day: str
    waiting_ahead: int = Field(ge=0)
    issued_at: AwareDatetime


class TicketLeaseParams(Params):
    """Ask for a block of numbers of ``service`` for today, to issue while the hub is away."""

    service: str = Field(min_length=1, max_length=32)


class TicketLeaseResult(Params):
    """Numbers ``first``…``last`` of ``service`` on ``day``, for this kiosk alone.

    Leased numbers come from a range online numbering never uses (``LEASED_NUMBERS`` in
    :mod:`kiosk.domain.queue`), so a number issued offline cannot meet one issued online.
    """

    service: str
    prefix: str
    service_name: str
    centre_name: str
    day: str
    first: int = Field(ge=1)
    last: int = Field(ge=1)


# method name → (params type, result type): the rpc surface in one table.
RPC_METHODS: dict[str, tuple[type[Params], type[Params]]] = {
    "services.list": (ServicesListParams, ServicesListResult),
    "ticket.take": (TicketTakeParams, TicketTakeResult),
    "ticket.lease": (TicketLeaseParams, TicketLeaseResult),
}
# The case.* methods are added at the end of this module (kiosk/protocol/cases.py).


# --- call display ---------------------------------------------------------------------


class Call(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str
    service: str
    counter: int = Field(ge=1)
    called_at: AwareDatetime
    text: str


class Board(Envelope):
    """Retained on ``svc/v1/centre/{centre}/board``: the latest calls, newest first."""

    centre: str
    calls: list[Call]


# --- edge-only (local/v1) ---------------------------------------------------------------


class PrintJob(Envelope):
    """Touch app → firmware bridge on ``local/v1/printer/job``. ``id`` is the job id."""

    # The "kind" field picks the block type, so an error names only the block meant.
    receipt: list[Annotated[Block, Field(discriminator="kind")]] = Field(max_length=100)
    label: str = Field(default="", max_length=64)


class PrintResult(Envelope):
    """Firmware bridge → touch app on ``local/v1/printer/result``."""

    job_id: str
    status: Literal["spooled", "printed", "waiting", "failed"]
    detail: str = ""


class IdentityCard(BaseModel):
    """What the ID-card reader read. Raw personal data: edge broker and kiosk memory only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    card_type: Literal["resident", "hmt", "foreign2017", "foreign2023"]
    name: str = Field(max_length=60)
    id_number: str = Field(max_length=18)
    gender: Literal["male", "female", "unknown"] = "unknown"
    birth_date: str = Field(default="", max_length=8)
    valid_to: str = Field(default="", max_length=8)

    def __repr__(self) -> str:  # never let a log line or traceback carry the raw number
        return f"IdentityCard({self.card_type}, ***)"

    __str__ = __repr__


class CardEvent(Envelope):
    """Firmware bridge → touch app on ``local/v1/idreader/card``, once per placement."""

    event: Literal["placed", "removed"]
    card: IdentityCard | None = None


class GpioEvent(Envelope):
    """Firmware bridge → touch app on ``local/v1/gpio/event``: help pressed, motion seen."""

    event: Literal["help_pressed", "motion"]


class EventAck(Envelope):
    """Hub → kiosk on ``svc/v1/kiosk/{kiosk}/ack``, QoS 1: these events are committed.

    Sent after the hub's transaction commits (never on the broker's PUBACK), also for an
    event it had already applied (a redelivery) and for one it refused for good (stored
    with the reason): the kiosk may then forget them. An event the hub cannot read yet
    (an unknown type, a failing handler) is not acked and stays in the kiosk's outbox.
    """

    kiosk: str
    event_ids: list[str] = Field(min_length=1, max_length=500)


class TicketIssued(Envelope):
    """Touch app → hub on ``svc/v1/kiosk/{kiosk}/event/ticket.issued``: a ticket the kiosk
    issued while the hub was unreachable, delivered through its outbox.

    ``number`` is a leased number, or None for a fallback ticket (``display_number`` like
    ``A-k1-003``: the lease ran out), which the hub gives an internal number of its own.
    ``request_id`` is the event id of the ``ticket.take`` that went unanswered: if that
    request did reach the hub, the ticket it made there is held by nobody and is voided.
    """

    kiosk: str
    centre: str
    service: str = Field(min_length=1, max_length=32)
    day: date
    number: int | None = Field(default=None, ge=1)
    display_number: str = Field(min_length=2, max_length=16)
    issued_at: AwareDatetime
    request_id: str | None = Field(default=None, max_length=64)


class HelpRequested(Envelope):
    """Touch app → hub on ``svc/v1/kiosk/{kiosk}/event/help.requested``.

    From the screen's 呼叫工作人员 button or the kiosk's GPIO help button. No personal data:
    staff go to the kiosk and ask.
    """

    kiosk: str
    centre: str
    boot_id: str
    seq: int = Field(ge=1, description="per boot of the touch app, like every kiosk event")
    source: Literal["screen", "button"]


CommandName = Literal["print_test", "reload", "rebirth", "config"]


class KioskCommand(Envelope):
    """Hub → kiosk on ``svc/v1/kiosk/{kiosk}/cmd/{name}``, QoS 1, with the MQTT v5 message
    expiry set to the time left until ``expires_at``.

    ``id`` is the command id its result names. ``expires_at`` repeats the deadline in the
    JSON (it survives any bridge): a kiosk refuses a command past it, answering
    ``expired``. Commands: ``print_test`` (a test slip), ``reload`` (the touch app reloads
    its screens and caches), ``rebirth`` (re-announce state, health and devices),
    ``config`` (``params``: services and texts to use; the kiosk validates them).
    """

    kiosk: str
    name: CommandName
    params: dict[str, Any] = Field(default_factory=dict)
    expires_at: AwareDatetime
    actor: str = Field(max_length=80, description="who asked, for the kiosk's log")


class CommandResult(Envelope):
    """Kiosk → hub on ``svc/v1/kiosk/{kiosk}/event/command.result``, QoS 1."""

    kiosk: str
    command_id: str = Field(min_length=1, max_length=64)
    name: CommandName
    status: Literal["done", "failed", "refused", "expired"]
    detail: str = Field(default="", max_length=200)


class KioskHealth(Envelope):
    """Retained on ``svc/v1/kiosk/{kiosk}/health``, QoS 1: sent by the touch app every
    ``touch.health_interval`` seconds and at every (re)connect and rebirth.

    Figures the hub alerts on (a disk nearly full, a hot Pi, events piling up undelivered);
    ``None`` where the kiosk cannot measure it (no thermal zone, no ``/proc/uptime``).
    """

    kiosk: str
    boot_id: str
    uptime_s: float = Field(ge=0, description="seconds since the touch app started")
    system_uptime_s: float | None = Field(default=None, ge=0, description="seconds since boot")
    outbox_depth: int = Field(default=0, ge=0, description="events not yet acknowledged")
    outbox_oldest_age_s: float | None = Field(
        default=None, ge=0, description="age of the oldest unacknowledged event"
    )
    disk_free_bytes: int | None = Field(default=None, ge=0)
    disk_total_bytes: int | None = Field(default=None, ge=0)
    cpu_temperature_c: float | None = None
    version: str = Field(default="", max_length=64)


MESSAGE_TYPES: tuple[type[Envelope], ...] = (
    KioskState,
    HubState,
    DeviceState,
    KioskHealth,
    RpcRequest,
    RpcReply,
    Board,
    PrintJob,
    PrintResult,
    CardEvent,
    GpioEvent,
    HelpRequested,
    KioskCommand,
    CommandResult,
    EventAck,
    TicketIssued,
)

# Cases (民情意见箱, 党员提案) have their own module; it builds on Envelope and Params above.
from kiosk.protocol.cases import CASE_RPC_METHODS  # noqa: E402
from kiosk.protocol.cases import CaseRated as CaseRated  # noqa: E402
from kiosk.protocol.cases import CaseSubmitted as CaseSubmitted  # noqa: E402

RPC_METHODS.update(CASE_RPC_METHODS)
MESSAGE_TYPES += (CaseSubmitted, CaseRated)
