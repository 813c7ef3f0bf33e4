"""Staff accounts: created by the CLI and the demo, checked at login (argon2id), with roles
and centre grants."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update
from werkzeug.security import generate_password_hash

from kiosk.hub import users
from kiosk.hub.db import Database
from kiosk.hub.models import AuditEntry, User
from kiosk.hub.users import (
    UserError,
    add_user,
    authenticate,
    create_user,
    ensure_user,
    load_user,
    set_disabled,
)


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hub.sqlite3'}"


def _check(url: str, username: str, password: str) -> str | None:
    database = Database(url)
    try:
        user = authenticate(database, username, password)
        return None if user is None else user.role
    finally:
        database.dispose()


def _stored_hash(database: Database, username: str) -> str:
    with database.read() as session:
        return session.scalars(select(User.password_hash).where(User.username == username)).one()


def test_create_user_migrates_an_empty_database_and_hashes_with_argon2id(
    tmp_path: Path,
) -> None:
    create_user(_url(tmp_path), "admin", "s3cret-pass")
    assert _check(_url(tmp_path), "admin", "s3cret-pass") == "admin"
    assert _check(_url(tmp_path), "admin", "wrong-pass") is None
    assert _check(_url(tmp_path), "nobody", "s3cret-pass") is None
    database = Database(_url(tmp_path))
    try:
        stored = _stored_hash(database, "admin")
        with database.read() as session:
            actions = list(session.scalars(select(AuditEntry.action)))
    finally:
        database.dispose()
    assert "s3cret-pass" not in stored and stored.startswith("$argon2id$")
    assert actions == ["user.add"], "creating an account is audited"


def test_production_parameters_are_argon2s_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the autouse fixture's cheap hasher: back to the module's own
    assert (users.HASHER.time_cost, users.HASHER.memory_cost) == (3, 65536)
    assert users.hash_password("x" * 12).startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_a_werkzeug_hash_still_logs_in_and_is_replaced_by_argon2(database: Database) -> None:
    add_user(database, "old", "an old password", role="staff")
    with database.write() as session:
        session.execute(
            update(User)
            .where(User.username == "old")
            .values(password_hash=generate_password_hash("an old password"))
        )
    assert _stored_hash(database, "old").startswith(("scrypt:", "pbkdf2:"))
    assert authenticate(database, "old", "wrong password") is None
    assert _stored_hash(database, "old").startswith(("scrypt:", "pbkdf2:")), "not on failure"
    user = authenticate(database, "old", "an old password")
    assert user is not None and user.role == "staff"
    assert _stored_hash(database, "old").startswith("$argon2id$")
    assert authenticate(database, "old", "an old password") is not None


def test_weaker_argon2_parameters_are_raised_at_login(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(database, "clerk", "long enough", role="staff")
    weak = _stored_hash(database, "clerk")
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    assert authenticate(database, "clerk", "long enough") is not None
    assert _stored_hash(database, "clerk") != weak
    assert "m=16,t=2" in _stored_hash(database, "clerk")


def test_a_taken_name_a_short_password_or_a_bad_role_is_refused(tmp_path: Path) -> None:
    create_user(_url(tmp_path), "clerk1", "long enough", role="staff")
    with pytest.raises(UserError, match="already exists"):
        create_user(_url(tmp_path), "clerk1", "long enough")
    with pytest.raises(UserError, match="at least 8"):
        create_user(_url(tmp_path), "clerk2", "short")
    with pytest.raises(UserError, match="role"):
        create_user(_url(tmp_path), "clerk3", "long enough", role="root")
    with pytest.raises(UserError, match="centre"):
        create_user(_url(tmp_path), "clerk4", "long enough", role="staff", centres=["Bad/One"])


def test_every_role_can_be_created(database: Database) -> None:
    for role in ("admin", "staff", "case_handler", "points_officer", "auditor"):
        assert add_user(database, f"u-{role}", "long enough", role=role).role == role


def test_ensure_user_creates_or_resets_the_account(tmp_path: Path) -> None:
    ensure_user(_url(tmp_path), "admin", "first password")
    ensure_user(_url(tmp_path), "admin", "second password", role="staff")
    assert _check(_url(tmp_path), "admin", "first password") is None
    assert _check(_url(tmp_path), "admin", "second password") == "staff"


def test_grants_scope_a_user_and_an_admin_sees_everything(database: Database) -> None:
    add_user(database, "clerk", "long enough", role="staff", centres=["north", "south"])
    add_user(database, "boss", "long enough", role="admin", centres=["north"])
    clerk, boss = load_user(database, "clerk"), load_user(database, "boss")
    assert clerk is not None and clerk.scope == frozenset({"north", "south"})
    assert clerk.may_see("north") and not clerk.may_see("east") and not clerk.may_see(None)
    assert boss is not None and boss.scope is None and boss.may_see("east")


def test_a_disabled_account_cannot_log_in_and_its_session_version_moves(
    database: Database,
) -> None:
    add_user(database, "clerk", "long enough", role="staff")
    before = load_user(database, "clerk")
    set_disabled(database, "clerk", True, actor="user:boss")
    assert authenticate(database, "clerk", "long enough") is None
    assert load_user(database, "clerk") is None
    set_disabled(database, "clerk", False, actor="user:boss")
    after = load_user(database, "clerk")
    assert before is not None and after is not None
    assert after.session_version > before.session_version
