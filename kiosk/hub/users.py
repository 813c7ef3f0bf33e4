"""Staff console accounts: salted password hashes (werkzeug), a role each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from kiosk.hub.db import Database, migrate
from kiosk.hub.models import ROLES, User

MIN_PASSWORD_LENGTH = 8

# Checked when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


class UserError(ValueError):
    """The account cannot be created as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class StaffUser:
    username: str
    role: str


def _check(username: str, password: str, role: str) -> None:
    if not username or len(username) > 64 or not username.isprintable():
        raise UserError("a username is 1-64 printable characters")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")


def add_user(database: Database, username: str, password: str, role: str = "admin") -> StaffUser:
    """Create an account; :class:`UserError` if the name is taken or the input is bad."""
    _check(username, password, role)
    with database.write() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise UserError(f"user {username!r} already exists")
        session.add(
            User(
                username=username,
                password_hash=generate_password_hash(password),
                role=role,
                created_at=datetime.now(UTC),
            )
        )
    return StaffUser(username, role)


def set_user(database: Database, username: str, password: str, role: str = "admin") -> StaffUser:
    """Create the account or reset its password and role (the demo's admin on each run)."""
    _check(username, password, role)
    with database.write() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            user = User(username=username, created_at=datetime.now(UTC))
            session.add(user)
        user.password_hash = generate_password_hash(password)
        user.role = role
    return StaffUser(username, role)


def authenticate(database: Database, username: str, password: str) -> StaffUser | None:
    """The user if the password matches, else None (same work either way)."""
    with database.read() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    return StaffUser(user.username, user.role)


def create_user(database_url: str, username: str, password: str, role: str = "admin") -> None:
    """``kiosk user-add``: migrate the database if needed, then add the account."""
    _with_database(database_url, lambda db: add_user(db, username, password, role))


def ensure_user(database_url: str, username: str, password: str, role: str = "admin") -> None:
    """``kiosk demo``: migrate if needed, then create or reset the account."""
    _with_database(database_url, lambda db: set_user(db, username, password, role))


def _with_database(database_url: str, action: Callable[[Database], object]) -> None:
    # Called before the hub ever ran (the demo creates its admin first): migrate first.
    migrate(database_url)
    database = Database(database_url)
    try:
        action(database)
    finally:
        database.dispose()
