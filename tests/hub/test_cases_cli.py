"""``kiosk token create|revoke|grant-unit`` on a real database file."""

from __future__ import annotations

import pytest

from kiosk.cli import main
from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.tokens import user_for_token
from kiosk.hub.db import Database
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
