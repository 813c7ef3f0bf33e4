"""Kiosk events applied once (the outbox's end-to-end acks) and ticket number leases.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

# Copied, not imported, from the models (see 0001).
EVENT_STATUSES = "'applied', 'refused'"


def upgrade() -> None:
    op.create_table(
        "kiosk_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_kiosk_events"),
        sa.CheckConstraint(f"status IN ({EVENT_STATUSES})", name="status"),
    )
    op.create_index("ix_kiosk_events_kiosk_received_at", "kiosk_events", ["kiosk", "received_at"])
    op.create_table(
        "ticket_leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("centre", sa.String(32), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=False),
        sa.Column("first", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_leases"),
        sa.UniqueConstraint(
            "centre", "service", "day", "first", name="uq_ticket_leases_centre_service_day_first"
        ),
        sa.CheckConstraint('"last" >= "first"', name="range"),
    )
    op.create_index("ix_ticket_leases_kiosk_day", "ticket_leases", ["kiosk", "day"])
    with op.batch_alter_table("day_counters") as batch:
        batch.add_column(sa.Column("last_leased", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("last_fallback", sa.Integer(), nullable=False, server_default="0")
        )
    # A fallback number (A-k1-003) is longer than A001: prefix, kiosk id (32), count.
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column(
            "display_number", existing_type=sa.String(16), type_=sa.String(48), nullable=False
        )
        # An offline ticket names the ticket.take that went unanswered: a late copy of that
        # request finds the offline ticket instead of making one nobody holds.
        batch.add_column(sa.Column("request_id", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_tickets_request_id", ["request_id"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("uq_tickets_request_id", type_="unique")
        batch.drop_column("request_id")
        batch.alter_column(
            "display_number", existing_type=sa.String(48), type_=sa.String(16), nullable=False
        )
    with op.batch_alter_table("day_counters") as batch:
        batch.drop_column("last_fallback")
        batch.drop_column("last_leased")
    op.drop_index("ix_ticket_leases_kiosk_day", table_name="ticket_leases")
    op.drop_table("ticket_leases")
    op.drop_index("ix_kiosk_events_kiosk_received_at", table_name="kiosk_events")
    op.drop_table("kiosk_events")
