"""The schema comes from the Alembic migrations, and the models agree with them."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql

from kiosk.hub import tickets
from kiosk.hub.db import DatabaseError, alembic_config, make_engine, migrate
from kiosk.hub.models import Base

TABLES = {
    "tickets",
    "day_counters",
    "ticket_events",
    "kiosks",
    "users",
    "user_centres",
    "alerts",
    "audit_log",
    "kiosk_commands",
    # 0006: cases
    "case_units",
    "case_unit_members",
    "case_categories",
    "case_routes",
    "case_code_counters",
    "case_code_leases",
    "cases",
    "case_events",
    "case_code_aliases",
    "case_supports",
    "api_tokens",
    "kiosk_events",
    "ticket_leases",
    # 0007: fleet health
    "kiosk_health",
    "kiosk_presence",
}


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite3'}"


def test_upgrade_on_an_empty_file_creates_the_tables(tmp_path: Path) -> None:
    migrate(_url(tmp_path))
    migrate(_url(tmp_path))  # again: nothing to do
    engine = make_engine(_url(tmp_path))
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            assert set(inspector.get_table_names()) == TABLES | {"alembic_version"}
            uniques = {
                tuple(u["column_names"]) for u in inspector.get_unique_constraints("tickets")
            }
            assert ("centre", "service", "day", "number") in uniques
            assert ("event_id",) in uniques
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,  # FULL
        "foreign_keys": 1,
        "busy_timeout": 10_000,
    }


def test_the_models_match_the_migrations(tmp_path: Path) -> None:
    migrate(_url(tmp_path))
    engine = make_engine(_url(tmp_path))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_removes_everything(tmp_path: Path) -> None:
    migrate(_url(tmp_path))
    command.downgrade(alembic_config(_url(tmp_path)), "base")
    engine = make_engine(_url(tmp_path))
    try:
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()


def test_the_migrations_render_for_postgresql(tmp_path: Path) -> None:
    # Offline mode needs no server or driver: it proves the DDL has no SQLite-only parts.
    config = alembic_config("postgresql://hub@localhost/hub")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE tickets" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql
    assert "CONSTRAINT uq_tickets_centre_service_day_number UNIQUE" in sql


def test_the_numbering_statements_lock_rows_on_postgresql() -> None:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    bump = str(tickets._BUMP.compile(dialect=dialect))
    assert bump.startswith("UPDATE day_counters SET last_number=")
    assert "RETURNING day_counters.last_number" in bump
    pick = str(tickets._next_waiting("demo", date(2024, 5, 6)).compile(dialect=dialect))
    assert pick.endswith("FOR UPDATE SKIP LOCKED")


def test_a_missing_database_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="does not exist"):
        migrate(f"sqlite:///{tmp_path / 'nowhere' / 'hub.sqlite3'}")
