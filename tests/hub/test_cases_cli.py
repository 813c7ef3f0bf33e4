"""``kiosk token create|revoke|grant-unit`` on a real database file."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kiosk.cli import main
from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.tokens import create_token, user_for_token
from kiosk.hub.db import Database
from kiosk.hub.models import User
from kiosk.hub.totp import enable
from kiosk.hub.users import add_user
from kiosk.settings import Settings
from tests.hub.conftest import FakeClock


def test_token_create_prints_a_token_once_that_then_works(
    settings: Settings,
    database: Database,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_store(settings.hub.cases, database, clock)  # seeds the units
    add_user(database, "clerk", "correct horse battery", role="case_handler")
    monkeypatch.setenv("KIOSK__HUB__DATABASE_URL", settings.hub.database_url)
    assert main(["token", "create", "--user", "clerk", "--label", "12345"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("kst_") and len(token) > 40
    user = user_for_token(database, token)
    assert user is not None and user.username == "clerk"
    assert main(["token", "create", "--user", "nobody"]) == 1
    assert "no user 'nobody'" in capsys.readouterr().err
    assert main(["token", "grant-unit", "--user", "clerk", "--unit", "sq-dongfeng"]) == 0
    assert main(["token", "grant-unit", "--user", "clerk", "--unit", "nowhere"]) == 1
    add_user(database, "boss", "correct horse battery", role="admin")
    assert main(["token", "create", "--user", "boss"]) == 1
    assert "--allow-admin" in capsys.readouterr().err
    assert main(["token", "create", "--user", "boss", "--allow-admin", "--days", "7"]) == 0
    assert user_for_token(database, capsys.readouterr().out.strip()) is not None
    assert main(["token", "revoke", "--user", "clerk"]) == 0
    assert user_for_token(database, token) is None


def test_a_token_stops_working_when_its_user_becomes_an_admin_or_takes_totp(
    settings: Settings, database: Database, clock: FakeClock
) -> None:
    """The rule of ``token create`` (no token skips a second factor unless --allow-admin)
    holds at every use, not only when the token was made."""
    build_store(settings.hub.cases, database, clock)
    add_user(database, "clerk", "correct horse battery", role="case_handler")
    plain = create_token(database, "clerk", actor="t")
    assert user_for_token(database, plain) is not None
    _set(database, "clerk", role="admin")  # promoted later
    assert user_for_token(database, plain) is None
    allowed = create_token(database, "clerk", actor="t", allow_admin=True)
    assert user_for_token(database, allowed) is not None
    enable(database, "clerk", actor="t")  # an admin with TOTP: --allow-admin still holds
    assert user_for_token(database, allowed) is not None
    _set(database, "clerk", role="case_handler")  # back, but now with a second factor
    assert user_for_token(database, plain) is None
    assert user_for_token(database, allowed) is not None


def _set(database: Database, username: str, *, role: str) -> None:
    with database.write() as session:
        session.scalars(select(User).where(User.username == username)).one().role = role
