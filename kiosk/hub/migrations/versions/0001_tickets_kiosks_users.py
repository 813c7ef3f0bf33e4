"""Tickets with day counters and events, kiosks, staff users.

Revision ID: 0001
Revises:
Create Date: 2024-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Copied, not imported, from the models: a migration must keep meaning what it meant
# when it was written, whatever the models say later.
TICKET_STATUSES = "'waiting', 'called', 'serving', 'done', 'skipped', 'no_show', 'transferred'"
EVENT_TYPES = (
    "'issued', 'called', 'recalled', 'serving', 'done', 'skipped', 'no_show', 'transferred'"
)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre", sa.String(32), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("display_number", sa.String(16), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
        sa.UniqueConstraint(
            "centre", "service", "day", "number", name="uq_tickets_centre_service_day_number"
        ),
        sa.UniqueConstraint("event_id", name="uq_tickets_event_id"),
        sa.CheckConstraint(f"status IN ({TICKET_STATUSES})", name="ck_tickets_status"),
        sa.CheckConstraint("number >= 1", name="ck_tickets_number_positive"),
    )
    op.create_index("ix_tickets_centre_day_status", "tickets", ["centre", "day", "status"])

    op.create_table(
        "day_counters",
        sa.Column("centre", sa.String(32), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("centre", "service", "day", name="pk_day_counters"),
    )

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("counter", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_events"),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_ticket_events_ticket_id_tickets"
        ),
        sa.UniqueConstraint("event_id", name="uq_ticket_events_event_id"),
        sa.CheckConstraint(f"type IN ({EVENT_TYPES})", name="ck_ticket_events_type"),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])

    op.create_table(
        "kiosks",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("centre", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("session", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("state_ts", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uplink", sa.String(8), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kiosks"),
        sa.CheckConstraint("state IN ('online', 'offline')", name="ck_kiosks_state"),
    )
    op.create_index("ix_kiosks_centre", "kiosks", ["centre"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.CheckConstraint("role IN ('admin', 'staff')", name="ck_users_role"),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_index("ix_kiosks_centre", table_name="kiosks")
    op.drop_table("kiosks")
    op.drop_index("ix_ticket_events_ticket_id", table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_table("day_counters")
    op.drop_index("ix_tickets_centre_day_status", table_name="tickets")
    op.drop_table("tickets")
