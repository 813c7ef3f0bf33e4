"""The hub's database: engines set up for safe concurrent writes, transactions, migrations.

Every write goes through :meth:`Database.write`. On SQLite that transaction starts with
``BEGIN IMMEDIATE``: it takes the single write lock before its first read, so two writers
queue on ``busy_timeout`` instead of one of them failing with "database is locked" when it
upgrades a read lock (which SQLite in WAL mode does without waiting). On PostgreSQL the
row locks of ``UPDATE … RETURNING`` and ``SELECT … FOR UPDATE`` do the same job.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Long enough to ride out a burst of writers (each holds the lock for about a millisecond),
# short enough that a stuck writer shows up as an error instead of a hang.
SQLITE_BUSY_TIMEOUT_MS = 10_000

_WRITE_OPTION = "kiosk_hub_write"


class DatabaseError(RuntimeError):
    """The database cannot be opened or migrated; the message says why."""


def make_engine(database_url: str) -> Engine:
    """An engine for ``database_url``; SQLite gets WAL, durable commits and our own BEGIN."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        # pool_pre_ping: a PostgreSQL restart must not fail the first request after it.
        return create_engine(url, pool_pre_ping=True)
    _check_sqlite_folder(url.database)
    engine = create_engine(url)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _check_sqlite_folder(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).parent
    if not folder.is_dir():
        raise DatabaseError(f"the database folder {folder} does not exist")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # isolation_level None: the sqlite3 module stops issuing its own BEGIN (it skips it
    # before SELECTs), so _sqlite_begin decides how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        # FULL: a ticket number handed out survives a power cut, so it is never issued twice.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class _Turns:
    """Writers of one process take turns in the order they came (a ticket lock).

    SQLite's busy handler polls with growing sleeps, so a thread that writes in a loop
    (the event intake draining a backlog) would take the lock again and again before a
    waiting writer (a ticket taken online, a clerk's call) woke up. A thread that already
    holds a turn does not wait for another: SQLite itself then says what it always said.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._next = 0
        self._serving = 0
        self._abandoned: set[int] = set()  # tickets whose thread stopped waiting
        self._holder: int | None = None

    @contextmanager
    def turn(self) -> Iterator[None]:
        if self._holder == threading.get_ident():
            yield
            return
        with self._changed:
            ticket = self._next
            self._next += 1
            try:
                self._changed.wait_for(lambda: self._serving == ticket)
            except BaseException:  # interrupted while waiting: the queue must go on
                if ticket == self._serving:
                    self._advance()
                else:
                    self._abandoned.add(ticket)
                raise
            self._holder = threading.get_ident()
        try:
            yield
        finally:
            with self._changed:
                self._holder = None
                self._advance()

    def _advance(self) -> None:
        self._serving += 1
        while self._serving in self._abandoned:
            self._abandoned.discard(self._serving)
            self._serving += 1
        self._changed.notify_all()


class Database:
    """An engine and its sessions: ``read()`` for queries, ``write()`` for changes."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        self._turns = _Turns() if self.engine.dialect.name == "sqlite" else None
        # Objects stay readable after commit: services return plain values built from them.
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction that holds the write lock from its start; commits on success."""
        with self._turn(), self._sessions() as session, session.begin():
            session.connection(execution_options={_WRITE_OPTION: True})
            yield session

    def _turn(self) -> AbstractContextManager[None]:
        return self._turns.turn() if self._turns is not None else nullcontext()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(database_url: str) -> Config:
    """Alembic's configuration without an ini file (the migrations ship in the package)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser would read "%" in a password as interpolation.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def migrate(database_url: str) -> None:
    """Bring the schema up to the newest revision; a no-op when it is already there."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            # One write transaction: two processes migrating at once take turns.
            connection.execution_options(**{_WRITE_OPTION: True})
            with connection.begin():
                config = alembic_config(database_url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    finally:
        engine.dispose()
