"""Kiosk health (disk, temperature, outbox) history and staff TOTP.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

# Copied, not imported, from the models (see 0001).
OLD_KINDS = "'offline', 'paper_out', 'paper_low', 'printer_fault', 'reader_fault', 'help'"
NEW_KINDS = OLD_KINDS + ", 'disk_low', 'overheated', 'outbox_backlog'"
UNRESOLVED = "status != 'resolved'"


def _alert_kinds(kinds: str) -> None:
    # SQLite cannot alter a CHECK: batch mode copies the table. The partial unique index
    # is dropped and made again around it, so its WHERE clause is kept exactly.
    op.drop_index("uq_alerts_kiosk_kind_unresolved", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("kind", type_="check")
        batch.create_check_constraint("kind", f"kind IN ({kinds})")
    op.create_index(
        "uq_alerts_kiosk_kind_unresolved",
        "alerts",
        ["kiosk", "kind"],
        unique=True,
        sqlite_where=sa.text(UNRESOLVED),
        postgresql_where=sa.text(UNRESOLVED),
    )


def upgrade() -> None:
    with op.batch_alter_table("kiosks") as batch:
        batch.add_column(sa.Column("health", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("health_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "kiosk_health",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uptime_s", sa.Float(), nullable=False),
        sa.Column("outbox_depth", sa.Integer(), nullable=False),
        sa.Column("outbox_oldest_age_s", sa.Float(), nullable=True),
        sa.Column("disk_free_bytes", sa.BigInteger(), nullable=True),
        sa.Column("disk_total_bytes", sa.BigInteger(), nullable=True),
        sa.Column("cpu_temperature_c", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_kiosk_health"),
    )
    op.create_index("ix_kiosk_health_kiosk_ts", "kiosk_health", ["kiosk", "ts"])
    op.create_table(
        "kiosk_presence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kiosk_presence"),
    )
    op.create_index("ix_kiosk_presence_kiosk_ts", "kiosk_presence", ["kiosk", "ts"])
    _alert_kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM alerts WHERE kind IN ('disk_low', 'overheated', 'outbox_backlog')")
    _alert_kinds(OLD_KINDS)
    op.drop_index("ix_kiosk_presence_kiosk_ts", table_name="kiosk_presence")
    op.drop_table("kiosk_presence")
    op.drop_index("ix_kiosk_health_kiosk_ts", table_name="kiosk_health")
    op.drop_table("kiosk_health")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_secret")
    with op.batch_alter_table("kiosks") as batch:
        batch.drop_column("health_at")
        batch.drop_column("health")
