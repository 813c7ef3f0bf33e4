"""Staff accounts: created by the CLI and the demo, checked at login."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kiosk.hub.db import Database
from kiosk.hub.models import User
from kiosk.hub.users import UserError, authenticate, create_user, ensure_user


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite3'}"


def _check(url: str, username: str, password: str) -> str | None:
    database = Database(url)
    try:
        user = authenticate(database, username, password)
        return None if user is None else user.role
    finally:
        database.dispose()


def test_create_user_migrates_an_empty_database_and_hashes_the_password(
    tmp_path: Path,
) -> None:
    create_user(_url(tmp_path), "admin", "s3cret-pass")
    assert _check(_url(tmp_path), "admin", "s3cret-pass") == "admin"
    assert _check(_url(tmp_path), "admin", "wrong-pass") is None
    assert _check(_url(tmp_path), "nobody", "s3cret-pass") is None
    database = Database(_url(tmp_path))
    try:
        with database.read() as session:
            stored = session.scalars(select(User.password_hash)).one()
    finally:
        database.dispose()
    assert "s3cret-pass" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_a_taken_name_a_short_password_or_a_bad_role_is_refused(tmp_path: Path) -> None:
    create_user(_url(tmp_path), "clerk1", "long enough", role="staff")
    with pytest.raises(UserError, match="already exists"):
        create_user(_url(tmp_path), "clerk1", "long enough")
    with pytest.raises(UserError, match="at least 8"):
        create_user(_url(tmp_path), "clerk2", "short")
    with pytest.raises(UserError, match="role"):
        create_user(_url(tmp_path), "clerk3", "long enough", role="root")


def test_ensure_user_creates_or_resets_the_account(tmp_path: Path) -> None:
    ensure_user(_url(tmp_path), "admin", "first password")
    ensure_user(_url(tmp_path), "admin", "second password", role="staff")
    assert _check(_url(tmp_path), "admin", "first password") is None
    assert _check(_url(tmp_path), "admin", "second password") == "staff"
