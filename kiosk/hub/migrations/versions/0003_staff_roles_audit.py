"""Staff roles and centre grants, disabled accounts and session versions; the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2024-06-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

ROLES = "'admin', 'staff', 'case_handler', 'points_officer', 'auditor'"
OLD_ROLES = "'admin', 'staff'"


def upgrade() -> None:
    # ck_users_role: the naming convention prefixes the name once more, as it did in 0001,
    # so these find the constraint 0001 made. SQLite cannot alter a CHECK constraint:
    # batch mode copies the table.
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("ck_users_role", type_="check")
        batch.create_check_constraint("ck_users_role", f"role IN ({ROLES})")
        batch.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default=sa.text("1"))
        )

    op.create_table(
        "user_centres",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("centre", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "centre", name="pk_user_centres"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_centres_user_id_users", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("centre", sa.String(32), nullable=True),
        sa.Column("remote_addr", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_ts", "audit_log", ["ts"])
    op.create_index("ix_audit_log_centre", "audit_log", ["centre"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_centre", table_name="audit_log")
    op.drop_index("ix_audit_log_ts", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("user_centres")
    # Accounts of the new roles cannot survive the old constraint.
    op.execute("DELETE FROM users WHERE role NOT IN ('admin', 'staff')")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
        batch.drop_column("disabled")
        batch.drop_constraint("ck_users_role", type_="check")
        batch.create_check_constraint("ck_users_role", f"role IN ({OLD_ROLES})")
