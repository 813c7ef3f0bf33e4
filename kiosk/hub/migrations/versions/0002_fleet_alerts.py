"""Kiosk enrolment and offline time; alerts.

Revision ID: 0002
Revises: 0001
Create Date: 2024-06-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

# Copied, not imported, from the models (see 0001).
ALERT_KINDS = "'offline', 'paper_out', 'paper_low', 'printer_fault', 'reader_fault', 'help'"
ALERT_STATUSES = "'open', 'acknowledged', 'resolved'"
WEBHOOK_STATUSES = "'none', 'pending', 'sent', 'failed'"
UNRESOLVED = "status != 'resolved'"


def upgrade() -> None:
    with op.batch_alter_table("kiosks") as batch:
        batch.add_column(sa.Column("offline_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("enrolled_centre", sa.String(32), nullable=True))
        batch.add_column(sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=False),
        sa.Column("centre", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(64), nullable=True),
        sa.Column("webhook", sa.String(8), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.CheckConstraint(f"kind IN ({ALERT_KINDS})", name="kind"),
        sa.CheckConstraint(f"status IN ({ALERT_STATUSES})", name="status"),
        sa.CheckConstraint(f"webhook IN ({WEBHOOK_STATUSES})", name="webhook"),
    )
    op.create_index("ix_alerts_kiosk", "alerts", ["kiosk"])
    op.create_index("ix_alerts_centre", "alerts", ["centre"])
    op.create_index("ix_alerts_status_opened_at", "alerts", ["status", "opened_at"])
    op.create_index(
        "uq_alerts_kiosk_kind_unresolved",
        "alerts",
        ["kiosk", "kind"],
        unique=True,
        sqlite_where=sa.text(UNRESOLVED),
        postgresql_where=sa.text(UNRESOLVED),
    )


def downgrade() -> None:
    op.drop_index("uq_alerts_kiosk_kind_unresolved", table_name="alerts")
    op.drop_index("ix_alerts_status_opened_at", table_name="alerts")
    op.drop_index("ix_alerts_centre", table_name="alerts")
    op.drop_index("ix_alerts_kiosk", table_name="alerts")
    op.drop_table("alerts")
    with op.batch_alter_table("kiosks") as batch:
        batch.drop_column("revoked_at")
        batch.drop_column("enrolled_at")
        batch.drop_column("enrolled_centre")
        batch.drop_column("offline_since")
