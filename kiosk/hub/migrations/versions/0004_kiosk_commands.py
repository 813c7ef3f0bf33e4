"""Remote commands to kiosks, with expiry and result.

Revision ID: 0004
Revises: 0003
Create Date: 2024-06-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

NAMES = "'print_test', 'reload', 'rebirth', 'config'"
STATUSES = "'sent', 'done', 'failed', 'refused', 'expired'"


def upgrade() -> None:
    op.create_table(
        "kiosk_commands",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=False),
        sa.Column("centre", sa.String(32), nullable=True),
        sa.Column("name", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_kiosk_commands"),
        sa.CheckConstraint(f"name IN ({NAMES})", name="name"),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="status"),
    )
    op.create_index("ix_kiosk_commands_kiosk_created_at", "kiosk_commands", ["kiosk", "created_at"])
    op.create_index(
        "ix_kiosk_commands_status_expires_at", "kiosk_commands", ["status", "expires_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_kiosk_commands_status_expires_at", table_name="kiosk_commands")
    op.drop_index("ix_kiosk_commands_kiosk_created_at", table_name="kiosk_commands")
    op.drop_table("kiosk_commands")
