"""Cases: units, categories, routes, code counters, cases and their events; unit grants, API tokens.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

LEVELS = "'grid', 'community', 'street', 'department'"
CHANNELS = "'box', 'proposal'"
STATE_TYPES = "'pending', 'open', 'fixed', 'closed'"


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "case_units",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("parent", sa.String(64), nullable=True),
        sa.Column("centre", sa.String(32), nullable=True),
        sa.Column("buildings", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_units"),
        sa.ForeignKeyConstraint(
            ["parent"], ["case_units.id"], name="fk_case_units_parent_case_units"
        ),
        sa.CheckConstraint(f"level IN ({LEVELS})", name="level"),
    )
    op.create_table(
        "case_unit_members",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "unit", name="pk_case_unit_members"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_case_unit_members_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["unit"], ["case_units.id"], name="fk_case_unit_members_unit_case_units"
        ),
    )
    op.create_table(
        "case_categories",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(30), nullable=False),
        sa.Column("icon", sa.String(32), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        sa.Column("default_unit", sa.String(64), nullable=True),
        sa.Column("board", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_categories"),
    )
    op.create_table(
        "case_routes",
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("grid", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("category", "grid", name="pk_case_routes"),
    )
    op.create_table(
        "case_code_counters",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "year", name="pk_case_code_counters"),
    )
    op.create_table(
        "case_code_leases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("first", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        _ts("leased_at"),
        sa.PrimaryKeyConstraint("id", name="pk_case_code_leases"),
    )
    op.create_index("ix_case_code_leases_kiosk", "case_code_leases", ["kiosk"])
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_type", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("units", sa.JSON(), nullable=False),
        sa.Column("street", sa.String(64), nullable=False),
        sa.Column("community", sa.String(64), nullable=False),
        sa.Column("grid", sa.String(64), nullable=True),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=True),
        sa.Column("person_key", sa.String(64), nullable=True),
        sa.Column("support_token", sa.String(32), nullable=False),
        sa.Column("supporters", sa.Integer(), nullable=False),
        sa.Column("limited", sa.Boolean(), nullable=False),
        sa.Column("review", sa.String(400), nullable=True),
        _ts("submitted_at"),
        _ts("accept_due"),
        _ts("handle_due", nullable=True),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("code", name="uq_cases_code"),
        sa.UniqueConstraint("support_token", name="uq_cases_support_token"),
        sa.CheckConstraint(f"channel IN ({CHANNELS})", name="channel"),
        sa.CheckConstraint(f"state_type IN ({STATE_TYPES})", name="state_type"),
    )
    op.create_index("ix_cases_community_state_type", "cases", ["community", "state_type"])
    op.create_index("ix_cases_grid_category", "cases", ["grid", "category"])
    op.create_index("ix_cases_person_key", "cases", ["person_key"])
    op.create_index("ix_cases_submitted_at", "cases", ["submitted_at"])
    op.create_table(
        "case_code_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kiosk", sa.String(32), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_case_code_aliases"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_case_code_aliases_case_id_cases"
        ),
    )
    op.create_index("ix_case_code_aliases_code", "case_code_aliases", ["code"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("at"),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("actor_unit", sa.String(64), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_events"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_events_case_id_cases"),
        sa.UniqueConstraint("event_id", name="uq_case_events_event_id"),
        sa.UniqueConstraint("case_id", "seq", name="uq_case_events_case_id_seq"),
        sa.CheckConstraint("seq >= 1", name="seq_positive"),
    )
    op.create_table(
        "case_supports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("person_key", sa.String(64), nullable=True),
        sa.Column("kiosk", sa.String(32), nullable=True),
        _ts("at"),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_supports"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_supports_case_id_cases"),
        sa.UniqueConstraint("event_id", name="uq_case_supports_event_id"),
    )
    op.create_index("ix_case_supports_case_id", "case_supports", ["case_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("last_used_at", nullable=True),
        _ts("revoked_at", nullable=True),
        sa.Column("allow_admin", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_index("ix_case_supports_case_id", table_name="case_supports")
    op.drop_table("case_supports")
    op.drop_table("case_events")
    op.drop_index("ix_case_code_aliases_code", table_name="case_code_aliases")
    op.drop_table("case_code_aliases")
    for index in ("submitted_at", "person_key", "grid_category", "community_state_type"):
        op.drop_index(f"ix_cases_{index}", table_name="cases")
    op.drop_table("cases")
    op.drop_index("ix_case_code_leases_kiosk", table_name="case_code_leases")
    op.drop_table("case_code_leases")
    op.drop_table("case_code_counters")
    op.drop_table("case_routes")
    op.drop_table("case_categories")
    op.drop_table("case_unit_members")
    op.drop_table("case_units")
