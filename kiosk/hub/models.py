"""The hub's tables as typed SQLAlchemy 2 models.

The schema itself is made only by the Alembic migrations in ``migrations/``; a test checks
that these models and the migrations agree. Everything here is portable SQL, so the same
models run on SQLite (one centre) and PostgreSQL (a county's hub).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal, get_args

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so PostgreSQL and SQLite get the same names and migrations can
# refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TicketStatus = Literal["waiting", "called", "serving", "done", "skipped", "no_show", "transferred"]
TICKET_STATUSES: tuple[str, ...] = get_args(TicketStatus)
TicketEventType = Literal[
    "issued", "called", "recalled", "serving", "done", "skipped", "no_show", "transferred"
]
TICKET_EVENT_TYPES: tuple[str, ...] = get_args(TicketEventType)
# staff: centre staff at the counters. auditor: reads everything granted, changes nothing.
Role = Literal["admin", "staff", "case_handler", "points_officer", "auditor"]
ROLES: tuple[str, ...] = get_args(Role)
AlertKind = Literal[
    "offline",
    "paper_out",
    "paper_low",
    "printer_fault",
    "reader_fault",
    "help",
    "disk_low",
    "overheated",
    "outbox_backlog",
]
ALERT_KINDS: tuple[str, ...] = get_args(AlertKind)
AlertStatus = Literal["open", "acknowledged", "resolved"]
ALERT_STATUSES: tuple[str, ...] = get_args(AlertStatus)
CommandName = Literal["print_test", "reload", "rebirth", "config"]
COMMAND_NAMES: tuple[str, ...] = get_args(CommandName)
CommandStatus = Literal["sent", "done", "failed", "refused", "expired"]
COMMAND_STATUSES: tuple[str, ...] = get_args(CommandStatus)
WebhookStatus = Literal["none", "pending", "sent", "failed"]
WEBHOOK_STATUSES: tuple[str, ...] = get_args(WebhookStatus)

ID_LENGTH = 32  # kiosk, centre and service ids (topics.check_id allows 32)
EVENT_ID_LENGTH = 64  # messages.Envelope.id and TicketTakeParams.event_id allow 64


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database.

    SQLite has no time zones: values are stored as naive UTC there and come back aware,
    so code never compares naive with aware times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the hub stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class Ticket(Base):
    """One queue ticket. (centre, service, day, number) is unique: the database itself
    refuses a duplicate number, whatever the code above it does."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("centre", "service", "day", "number"),
        CheckConstraint(_one_of("status", TICKET_STATUSES), name="status"),
        CheckConstraint("number >= 1", name="number_positive"),
        Index(None, "centre", "day", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    centre: Mapped[str] = mapped_column(String(ID_LENGTH))
    service: Mapped[str] = mapped_column(String(ID_LENGTH))
    day: Mapped[date] = mapped_column(Date)
    number: Mapped[int] = mapped_column(Integer)
    display_number: Mapped[str] = mapped_column(String(48))
    kiosk: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    issued_at: Mapped[datetime]
    called_at: Mapped[datetime | None]
    counter: Mapped[int | None] = mapped_column(Integer)
    # The kiosk's idempotency key: a retried request finds its ticket instead of a new one.
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), unique=True)
    # Offline tickets only: the unanswered ticket.take they stand for (see tickets.py).
    request_id: Mapped[str | None] = mapped_column(String(EVENT_ID_LENGTH), unique=True)


class DayCounter(Base):
    """The last number handed out per centre, service and day.

    Allocation increments this row inside the ticket's own transaction, so two kiosks
    pressing at once serialise on one row instead of racing on ``max(number) + 1``.
    """

    __tablename__ = "day_counters"

    centre: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    service: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer)
    # Leased blocks come from their own range (kiosk.domain.queue.LEASED_NUMBERS), and so
    # do the internal numbers of fallback tickets: neither ever meets an online number.
    last_leased: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_fallback: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class TicketEvent(Base):
    """Append-only history of a ticket; wait and service times are measured from it."""

    __tablename__ = "ticket_events"
    __table_args__ = (CheckConstraint(_one_of("type", TICKET_EVENT_TYPES), name="type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    ts: Mapped[datetime]
    counter: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), unique=True)


class TicketLease(Base):
    """A block of numbers a kiosk may issue while the hub is unreachable."""

    __tablename__ = "ticket_leases"
    __table_args__ = (
        UniqueConstraint("centre", "service", "day", "first"),
        CheckConstraint('"last" >= "first"', name="range"),
        Index(None, "kiosk", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    centre: Mapped[str] = mapped_column(String(ID_LENGTH))
    service: Mapped[str] = mapped_column(String(ID_LENGTH))
    day: Mapped[date] = mapped_column(Date)
    kiosk: Mapped[str] = mapped_column(String(ID_LENGTH))
    first: Mapped[int] = mapped_column(Integer)
    last: Mapped[int] = mapped_column(Integer)
    granted_at: Mapped[datetime]


KioskEventStatus = Literal["applied", "refused"]
KIOSK_EVENT_STATUSES: tuple[str, ...] = get_args(KioskEventStatus)


class KioskEventRecord(Base):
    """Every kiosk event id the hub has taken, in the transaction of its effect: a
    redelivered event finds its row and is acked without being applied again. A refused
    event keeps its payload and the reason, so nothing a kiosk sent is lost."""

    __tablename__ = "kiosk_events"
    __table_args__ = (
        CheckConstraint(_one_of("status", KIOSK_EVENT_STATUSES), name="status"),
        Index(None, "kiosk", "received_at"),
    )

    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(ID_LENGTH))
    type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[str | None] = mapped_column(Text)


class Kiosk(Base):
    """What the hub knows of a kiosk, from its retained state and device messages."""

    __tablename__ = "kiosks"
    __table_args__ = (CheckConstraint(_one_of("state", ("online", "offline")), name="state"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    # None until the kiosk's own state arrives (a device message can come first).
    centre: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    state: Mapped[str] = mapped_column(String(16))
    boot_id: Mapped[str] = mapped_column(String(64), default="")
    session: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[str] = mapped_column(String(64), default="")
    # The ts of the state message accepted last: states are ordered by it, not by arrival.
    state_ts: Mapped[datetime | None]
    # The edge broker's bridge to the central broker: "up", "down" or None (not seen).
    uplink: Mapped[str | None] = mapped_column(String(8))
    last_seen: Mapped[datetime]
    devices: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Since when the kiosk is not online (its state or its bridge); None while online.
    offline_since: Mapped[datetime | None]
    # Set by `kiosk enroll`: the centre its credentials were made for. A state message that
    # claims another centre is refused, so a kiosk cannot take tickets elsewhere.
    enrolled_centre: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    enrolled_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # The latest health report (protocol.messages.KioskHealth as JSON) and when it came.
    health: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    health_at: Mapped[datetime | None]


class KioskHealthSample(Base):
    """A kiosk's health reports over time (kept ``hub.health_keep_days``), for its page."""

    __tablename__ = "kiosk_health"
    __table_args__ = (Index(None, "kiosk", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(ID_LENGTH))
    ts: Mapped[datetime]
    uptime_s: Mapped[float] = mapped_column(Float)
    outbox_depth: Mapped[int] = mapped_column(Integer)
    outbox_oldest_age_s: Mapped[float | None] = mapped_column(Float)
    disk_free_bytes: Mapped[int | None] = mapped_column(BigInteger)
    disk_total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    cpu_temperature_c: Mapped[float | None] = mapped_column(Float)


class KioskPresence(Base):
    """Every time a kiosk came online or went away (as the hub saw it): the history its
    page draws the online time per day from. Kept ``hub.health_keep_days``."""

    __tablename__ = "kiosk_presence"
    __table_args__ = (Index(None, "kiosk", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(ID_LENGTH))
    ts: Mapped[datetime]
    online: Mapped[bool] = mapped_column(Boolean)


class User(Base):
    """A staff console account. Only a salted hash of the password is kept (argon2id;
    older werkzeug hashes are still checked and replaced at the next login)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Bumped when the password changes or the account is disabled: console sessions signed
    # before that carry the old number and end at their next request.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # Optional second factor (RFC 6238, base32). The last time step used, so one code
    # cannot log in twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class UserCentre(Base):
    """A centre a (non-admin) user may see and act on."""

    __tablename__ = "user_centres"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    centre: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)


class Alert(Base):
    """Something staff must look at: a kiosk offline, a printer out of paper, a resident who
    pressed the help button. At most one unresolved alert per kiosk and kind; a repeat of
    the cause bumps ``count``. Resolved alerts stay as history."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ALERT_KINDS), name="kind"),
        CheckConstraint(_one_of("status", ALERT_STATUSES), name="status"),
        CheckConstraint(_one_of("webhook", WEBHOOK_STATUSES), name="webhook"),
        Index(None, "status", "opened_at"),
        # The database refuses a second unresolved alert for one kiosk and kind, even from
        # two hub workers at once.
        Index(
            "uq_alerts_kiosk_kind_unresolved",
            "kiosk",
            "kind",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    centre: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(200), default="")
    opened_at: Mapped[datetime]
    # The last time the cause was seen again (a second help press, paper still out).
    updated_at: Mapped[datetime]
    count: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    webhook: Mapped[str] = mapped_column(String(8), default="none")


class AuditEntry(Base):
    """Append-only: who did what, when and from where. Nothing in the code updates or
    deletes a row (the console shows and exports them only)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime]
    # "user:clerk1", "cli:root", "hub" (automatic changes).
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    centre: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class KioskCommand(Base):
    """A remote command sent to a kiosk, with its deadline and, once back, its result."""

    __tablename__ = "kiosk_commands"
    __table_args__ = (
        CheckConstraint(_one_of("name", COMMAND_NAMES), name="name"),
        CheckConstraint(_one_of("status", COMMAND_STATUSES), name="status"),
        Index(None, "kiosk", "created_at"),
        Index(None, "status", "expires_at"),
    )

    # The envelope id of the command message; the kiosk's result names it.
    id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), primary_key=True)
    kiosk: Mapped[str] = mapped_column(String(ID_LENGTH))
    centre: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(200), default="")
    finished_at: Mapped[datetime | None]


# --- cases (docs/cases.md) -------------------------------------------------------------

CaseUnitLevel = Literal["grid", "community", "street", "department"]
CASE_UNIT_LEVELS: tuple[str, ...] = get_args(CaseUnitLevel)
CASE_CHANNELS: tuple[str, ...] = ("box", "proposal")
CASE_STATE_TYPES: tuple[str, ...] = ("pending", "open", "fixed", "closed")
UNIT_ID_LENGTH = 64  # kiosk.domain.cases.model.check_ident allows 64


class CaseUnit(Base):
    """A grid, community, street or department; the grid tree through ``parent``.
    Seeded from settings.hub.cases at start. Buildings are labels of a grid."""

    __tablename__ = "case_units"
    __table_args__ = (CheckConstraint(_one_of("level", CASE_UNIT_LEVELS), name="level"),)

    id: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(60))
    parent: Mapped[str | None] = mapped_column(ForeignKey("case_units.id"))
    centre: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    buildings: Mapped[list[str]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CaseUnitMember(Base):
    """A staff member of a unit: they see and act on that unit's cases (a grant)."""

    __tablename__ = "case_unit_members"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    unit: Mapped[str] = mapped_column(ForeignKey("case_units.id"), primary_key=True)


class CaseCategory(Base):
    __tablename__ = "case_categories"

    id: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    icon: Mapped[str] = mapped_column(String(32))
    tier: Mapped[str] = mapped_column(String(32))
    # Who leads a case of this category when no route matches (else the community).
    default_unit: Mapped[str | None] = mapped_column(String(UNIT_ID_LENGTH))
    board: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CaseRoute(Base):
    """Category × grid → the unit that should lead it (a suggestion for dispatch)."""

    __tablename__ = "case_routes"

    category: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH), primary_key=True)
    grid: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH), primary_key=True)
    unit: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH))


class CaseCodeCounter(Base):
    """The last tracking-code sequence number handed out per channel and year."""

    __tablename__ = "case_code_counters"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)


class CaseCodeLease(Base):
    """Sequence numbers first…last given to a kiosk for offline slips (None: the hub)."""

    __tablename__ = "case_code_leases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    first: Mapped[int] = mapped_column(Integer)
    last: Mapped[int] = mapped_column(Integer)
    leased_at: Mapped[datetime]


class CaseRow(Base):
    """A projection of a case's events for the inbox, the board and Open311; rebuilt from
    ``case_events`` whenever one is appended, never edited on its own."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_one_of("channel", CASE_CHANNELS), name="channel"),
        CheckConstraint(_one_of("state_type", CASE_STATE_TYPES), name="state_type"),
        Index(None, "community", "state_type"),
        Index(None, "grid", "category"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    state_type: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH))  # who holds it
    # Every unit that sees it: street, community, grid, lead, co-handlers.
    units: Mapped[list[str]] = mapped_column(JSON, default=list)
    street: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH))
    community: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH))
    grid: Mapped[str | None] = mapped_column(String(UNIT_ID_LENGTH))
    category: Mapped[str] = mapped_column(String(UNIT_ID_LENGTH))
    title: Mapped[str] = mapped_column(String(200))
    kiosk: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    person_key: Mapped[str | None] = mapped_column(String(64), index=True)
    support_token: Mapped[str] = mapped_column(String(32), unique=True)
    supporters: Mapped[int] = mapped_column(Integer, default=0)
    # Filed beyond the per-person limit while the kiosk was offline: kept, marked.
    limited: Mapped[bool] = mapped_column(Boolean, default=False)
    # Needs review: why the hub filed it differently from the slip (unknown category or
    # unit, a code not leased to the kiosk or used by another case). Staff only.
    review: Mapped[str | None] = mapped_column(String(400))
    submitted_at: Mapped[datetime] = mapped_column(index=True)
    accept_due: Mapped[datetime]
    handle_due: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class CaseCodeAlias(Base):
    """A slip's printed code the hub filed under another code (collision or a code the
    kiosk never leased): ``case.lookup`` of the slip's code still finds the case."""

    __tablename__ = "case_code_aliases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kiosk: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime]


class CaseEventRow(Base):
    """Append-only: one event of a case. UNIQUE(case, seq): two staff acting at once
    cannot both append event n; UNIQUE(event_id): a kiosk's retry is applied once."""

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        CheckConstraint("seq >= 1", name="seq_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_unit: Mapped[str | None] = mapped_column(String(UNIT_ID_LENGTH))
    public: Mapped[bool] = mapped_column(Boolean)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), unique=True)


class CaseSupportRow(Base):
    """我也遇到了, one row per support event (for rate limits and the per-person index)."""

    __tablename__ = "case_supports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    person_key: Mapped[str | None] = mapped_column(String(64))
    kiosk: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    at: Mapped[datetime]
    event_id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), unique=True)


class ApiToken(Base):
    """A staff member's API token: only its SHA-256 is kept (the token is 256 random
    bits, so a fast hash is enough); shown once by ``kiosk token create``."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # 90 days by default (kiosk token create --days N)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Made with --allow-admin: the only way a token may serve an admin or a TOTP user
    # (checked again at each use: a user made admin or given TOTP later loses the token).
    allow_admin: Mapped[bool] = mapped_column(Boolean, default=False)
