"""The console's accounts page (账号管理): admins create accounts, reset passwords, change
roles and centres, disable and enable, remove second factors; all audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub import totp
from kiosk.hub.app import create_app
from kiosk.hub.db import Database
from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import AuditEntry, User
from kiosk.hub.users import UserError, add_user, find_account, set_disabled, set_grants
from kiosk.settings import Settings
from tests.hub.conftest import CENTRE, CENTRE_NAME
from tests.hub.console_client import csrf_token, post_login

PASSWORD = "correct horse battery"  # noqa: S105 - test accounts
NEW_PASSWORD = "a brand new secret"  # noqa: S105

Login = Callable[..., FlaskClient]


@pytest.fixture
def app(settings: Settings, desk: QueueDesk) -> Flask:
    add_user(desk.database, "admin", PASSWORD, role="admin")
    add_user(desk.database, "boss", PASSWORD, role="admin")
    add_user(desk.database, "clerk", PASSWORD, role="staff", centres=[CENTRE])
    add_user(desk.database, "north", PASSWORD, role="staff", centres=["north"])
    add_user(desk.database, "auditor", PASSWORD, role="auditor", centres=[CENTRE])
    return create_app(settings, desk, secret_key=b"k" * 32)


@pytest.fixture
def login(app: Flask) -> Login:
    def log_in(username: str, password: str = PASSWORD) -> FlaskClient:
        client = app.test_client()
        assert post_login(client, username, password).status_code == 302
        return client

    return log_in


def _post(client: FlaskClient, path: str, **form: str | list[str]) -> Any:
    data: dict[str, Any] = {"csrf_token": csrf_token(client, "/accounts"), **form}
    return client.post(path, data=data, environ_base={"REMOTE_ADDR": "10.9.8.7"})


def _audit(database: Database, action: str) -> list[AuditEntry]:
    with database.read() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(session.scalars(query))


def _new_account(**form: str | list[str]) -> dict[str, str | list[str]]:
    typed: dict[str, str | list[str]] = {
        "username": "clerk2",
        "role": "staff",
        "centres": [CENTRE],
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    }
    return {**typed, **form}


def test_the_list_shows_every_account_but_no_hash_or_secret(login: Login, desk: QueueDesk) -> None:
    secret = totp.enable(desk.database, "boss", actor="cli:root")
    set_disabled(desk.database, "north", True, actor="cli:root")
    page = login("admin").get("/accounts").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-account="([^"]+)">(.*?)</tr>', page, re.S))
    assert sorted(rows) == ["admin", "auditor", "boss", "clerk", "north"]
    assert "窗口工作人员" in rows["clerk"] and CENTRE_NAME in rows["clerk"]
    assert "管理员" in rows["admin"] and "全部" in rows["admin"]
    assert "审计员" in rows["auditor"]
    assert "已停用" in rows["north"] and "已停用" not in rows["clerk"]
    assert "north" in rows["north"], "a grant of an unconfigured centre shows its code"
    assert "已开启" in rows["boss"] and "未开启" in rows["admin"]
    today = datetime.now(UTC).astimezone(CENTRE_TIMEZONE).strftime("%Y-%m-%d")
    assert today in rows["clerk"]
    assert "$argon2" not in page and secret not in page


def test_only_admins_see_and_use_the_accounts_pages(login: Login, desk: QueueDesk) -> None:
    admin_page = login("admin").get("/").get_data(as_text=True)
    assert 'href="/accounts"' in admin_page
    for username in ("clerk", "auditor"):
        client = login(username)
        assert 'href="/accounts"' not in client.get("/").get_data(as_text=True)
        for path in ("/accounts", "/accounts/new", "/accounts/edit?user=clerk"):
            assert client.get(path).status_code == 403, (username, path)
        assert _post(client, "/accounts/new", **_new_account()).status_code == 403
        assert _post(client, "/accounts/disable", username="clerk").status_code == 403
        assert _post(client, "/accounts/grants", username=username, role="admin").status_code == 403
        assert (
            _post(client, "/accounts/units", username=username, units="wg-df1").status_code == 403
        )
    assert find_account(desk.database, "clerk2") is None
    assert find_account(desk.database, "clerk").disabled is False  # type: ignore[union-attr]
    assert _audit(desk.database, "user.grants") == [] == _audit(desk.database, "cases.units")


def test_an_admin_creates_an_account_that_can_log_in(login: Login, desk: QueueDesk) -> None:
    admin = login("admin")
    assert "新建账号" in admin.get("/accounts/new").get_data(as_text=True)
    response = _post(admin, "/accounts/new", **_new_account(username="  clerk2 "))
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/edit?user=clerk2"
    assert "已创建账号 clerk2" in admin.get(response.headers["Location"]).get_data(as_text=True)
    created = find_account(desk.database, "clerk2")
    assert created is not None
    assert (created.role, created.centres, created.disabled) == ("staff", (CENTRE,), False)
    [entry] = _audit(desk.database, "user.add")[-1:]
    assert (entry.actor, entry.target, entry.remote_addr) == (
        "user:admin",
        "user:clerk2",
        "10.9.8.7",
    )
    assert entry.detail == {"role": "staff", "centres": [CENTRE]}
    assert NEW_PASSWORD not in str(entry.detail)
    assert login("clerk2", NEW_PASSWORD).get("/fleet").status_code == 200


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"username": "clerk"}, "already exists"),
        ({"username": ""}, "1-64 printable characters"),
        ({"password": "short", "password_again": "short"}, "at least 8 characters"),
        ({"password_again": "something else"}, "两次输入的密码不一致"),
        ({"role": "overlord"}, "没有这个角色"),
        ({"centres": [CENTRE, "north"]}, "没有这个服务中心"),
    ],
)
def test_a_refused_account_keeps_what_was_typed_but_the_passwords(
    login: Login, desk: QueueDesk, form: dict[str, str | list[str]], error: str
) -> None:
    typed = _new_account(**{"username": "newcomer", "role": "auditor", **form})
    response = _post(login("admin"), "/accounts/new", **typed)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'class="error" role="alert">[^<]*' + error, page), page
    assert f'name="username" value="{typed["username"]}"' in page
    assert re.search(r'value="auditor"\s+selected', page) or typed["role"] == "overlord"
    assert re.search(rf'value="{CENTRE}"\s+selected', page)
    assert str(typed["password"]) not in page and str(typed["password_again"]) not in page
    assert find_account(desk.database, "newcomer") is None
    assert len(_audit(desk.database, "user.add")) == 5, "only the fixture's accounts"
    assert find_account(desk.database, "clerk").role == "staff"  # type: ignore[union-attr]


def test_forms_without_the_csrf_token_are_refused(login: Login, desk: QueueDesk) -> None:
    admin = login("admin")
    response = admin.post("/accounts/new", data=_new_account())
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert admin.post("/accounts/disable", data={"username": "clerk"}).status_code == 400
    assert find_account(desk.database, "clerk2") is None
    assert find_account(desk.database, "clerk").disabled is False  # type: ignore[union-attr]
    assert _audit(desk.database, "user.disable") == []


def test_resetting_a_password_ends_the_accounts_sessions(login: Login, desk: QueueDesk) -> None:
    admin, clerk = login("admin"), login("clerk")
    mismatch = _post(
        admin,
        "/accounts/password",
        username="clerk",
        password=NEW_PASSWORD,
        password_again="typo",  # noqa: S106 - a mistyped test password
    )
    assert mismatch.status_code == 400 and "两次输入的密码不一致" in mismatch.get_data(as_text=True)
    assert clerk.get("/fleet").status_code == 200, "nothing changed yet"
    done = _post(
        admin,
        "/accounts/password",
        username="clerk",
        password=NEW_PASSWORD,
        password_again=NEW_PASSWORD,
    )
    assert done.status_code == 302
    assert clerk.get("/fleet").status_code == 302, "the clerk's session ended"
    assert post_login(admin.application.test_client(), "clerk", PASSWORD).status_code == 401
    assert login("clerk", NEW_PASSWORD).get("/fleet").status_code == 200
    [entry] = _audit(desk.database, "user.password")
    assert (entry.actor, entry.target, entry.detail) == ("user:admin", "user:clerk", {})


def test_an_admin_resetting_their_own_password_stays_logged_in(login: Login) -> None:
    admin = login("admin")
    done = _post(
        admin,
        "/accounts/password",
        username="admin",
        password=NEW_PASSWORD,
        password_again=NEW_PASSWORD,
    )
    assert done.status_code == 302
    assert "已重置 admin 的密码" in admin.get("/accounts/edit?user=admin").get_data(as_text=True)
    assert login("admin", NEW_PASSWORD).get("/accounts").status_code == 200


def test_a_disabled_account_cannot_log_in_until_enabled(login: Login, desk: QueueDesk) -> None:
    admin, clerk = login("admin"), login("clerk")
    assert _post(admin, "/accounts/disable", username="clerk").status_code == 302
    assert find_account(desk.database, "clerk").disabled is True  # type: ignore[union-attr]
    assert clerk.get("/fleet").status_code == 302, "the clerk's session ended"
    assert post_login(admin.application.test_client(), "clerk", PASSWORD).status_code == 401
    page = admin.get("/accounts/edit?user=clerk").get_data(as_text=True)
    assert "已停用账号 clerk" in page and 'action="/accounts/enable"' in page
    assert _post(admin, "/accounts/enable", username="clerk").status_code == 302
    assert login("clerk").get("/fleet").status_code == 200
    [disabled] = _audit(desk.database, "user.disable")
    [enabled] = _audit(desk.database, "user.enable")
    for entry in (disabled, enabled):
        assert (entry.actor, entry.target, entry.remote_addr) == (
            "user:admin",
            "user:clerk",
            "10.9.8.7",
        )


def test_changing_role_and_centres_holds_at_once(login: Login, desk: QueueDesk) -> None:
    admin, clerk = login("admin"), login("clerk")
    assert clerk.get("/fleet").status_code == 200
    done = _post(admin, "/accounts/grants", username="clerk", role="case_handler", centres=[])
    assert done.status_code == 302
    changed = find_account(desk.database, "clerk")
    assert changed is not None and (changed.role, changed.centres) == ("case_handler", ())
    assert clerk.get("/fleet").status_code == 403, "the clerk's next request has the new role"
    [entry] = _audit(desk.database, "user.grants")
    assert (entry.actor, entry.target) == ("user:admin", "user:clerk")
    assert entry.detail == {"role": "case_handler", "centres": [], "previous_role": "staff"}


def test_a_grant_of_an_unconfigured_centre_may_be_kept_not_added(
    login: Login, desk: QueueDesk
) -> None:
    admin = login("admin")
    kept = _post(admin, "/accounts/grants", username="north", role="auditor", centres=["north"])
    assert kept.status_code == 302
    assert find_account(desk.database, "north").centres == ("north",)  # type: ignore[union-attr]
    added = _post(admin, "/accounts/grants", username="clerk", role="auditor", centres=["north"])
    page = added.get_data(as_text=True)
    assert added.status_code == 400 and "没有这个服务中心" in page
    assert re.search(r'value="auditor"\s+selected', page), "the role sent comes back"
    assert 'value="north"' not in page, "a centre not configured is not offered"
    assert find_account(desk.database, "clerk").centres == (CENTRE,)  # type: ignore[union-attr]
    bad_role = _post(admin, "/accounts/grants", username="clerk", role="root", centres=[CENTRE])
    assert bad_role.status_code == 400 and "没有这个角色" in bad_role.get_data(as_text=True)
    assert [e.target for e in _audit(desk.database, "user.grants")] == ["user:north"]


def test_an_admin_sets_the_case_units_an_account_handles(login: Login, desk: QueueDesk) -> None:
    admin = login("admin")
    page = admin.get("/accounts/edit?user=clerk").get_data(as_text=True)
    assert 'value="wg-df1"' in page and "东风第一网格（网格）" in page
    done = _post(admin, "/accounts/units", username="clerk", units=["wg-df1", "sq-dongfeng"])
    assert done.status_code == 302
    assert find_account(desk.database, "clerk").units == ("sq-dongfeng", "wg-df1")  # type: ignore[union-attr]
    [entry] = _audit(desk.database, "cases.units")
    assert (entry.actor, entry.target, entry.remote_addr) == (
        "user:admin",
        "user:clerk",
        "10.9.8.7",
    )
    refused = _post(admin, "/accounts/units", username="clerk", units=["wg-df1", "nowhere"])
    assert refused.status_code == 400
    assert "没有这个处置单位（no case unit &#39;nowhere&#39;）" in refused.get_data(as_text=True)
    assert find_account(desk.database, "clerk").units == ("sq-dongfeng", "wg-df1")  # type: ignore[union-attr]
    assert _post(admin, "/accounts/units", username="clerk").status_code == 302, "none chosen"
    assert find_account(desk.database, "clerk").units == ()  # type: ignore[union-attr]


def test_an_admin_cannot_disable_or_demote_themself(login: Login, desk: QueueDesk) -> None:
    admin = login("admin")
    disabled = _post(admin, "/accounts/disable", username="admin")
    assert disabled.status_code == 409
    assert "不能停用自己的账号" in disabled.get_data(as_text=True)
    demoted = _post(admin, "/accounts/grants", username="admin", role="staff", centres=[CENTRE])
    assert demoted.status_code == 409
    assert "不能取消自己的管理员角色" in demoted.get_data(as_text=True)
    me = find_account(desk.database, "admin")
    assert me is not None and (me.role, me.disabled) == ("admin", False)
    assert admin.get("/accounts").status_code == 200
    assert (
        _audit(desk.database, "user.disable") == [] and _audit(desk.database, "user.grants") == []
    )
    # Another admin may be demoted: this one is still there.
    assert _post(admin, "/accounts/grants", username="boss", role="auditor").status_code == 302


def test_refusals_are_in_chinese_with_the_english_after(login: Login, desk: QueueDesk) -> None:
    response = _post(login("admin"), "/accounts/new", **_new_account(username="clerk"))
    page = response.get_data(as_text=True)
    assert "未能保存：账号 clerk 已存在（user &#39;clerk&#39; already exists）" in page


def test_the_last_enabled_admin_is_kept_outside_the_console_too(database: Database) -> None:
    add_user(database, "only", PASSWORD, role="admin")
    with pytest.raises(UserError, match="last enabled admin"):
        set_disabled(database, "only", True, actor="cli:root")
    with pytest.raises(UserError, match="last enabled admin"):
        set_grants(database, "only", "staff", [CENTRE], actor="cli:root")
    add_user(database, "second", PASSWORD, role="admin")
    set_disabled(database, "only", True, actor="cli:root")
    with database.read() as session:
        assert session.scalar(select(User.disabled).where(User.username == "only")) is True


def test_an_admin_removes_a_second_factor(login: Login, desk: QueueDesk) -> None:
    secret = totp.enable(desk.database, "boss", actor="cli:root")
    admin = login("admin")
    page = admin.get("/accounts/edit?user=boss").get_data(as_text=True)
    assert 'action="/accounts/totp/remove"' in page and secret not in page
    assert _post(admin, "/accounts/totp/remove", username="boss").status_code == 302
    assert not totp.required(desk.database, "boss")
    assert login("boss").get("/accounts").status_code == 200, "the password alone logs in"
    [entry] = _audit(desk.database, "user.totp_disable")
    assert (entry.actor, entry.target, entry.remote_addr) == (
        "user:admin",
        "user:boss",
        "10.9.8.7",
    )
    again = _post(admin, "/accounts/totp/remove", username="boss")
    assert again.status_code == 409 and "没有开启动态验证码" in again.get_data(as_text=True)
    assert len(_audit(desk.database, "user.totp_disable")) == 1


def test_an_unknown_account_is_a_404(login: Login) -> None:
    admin = login("admin")
    assert admin.get("/accounts/edit?user=nobody").status_code == 404
    assert admin.get("/accounts/edit").status_code == 404
    for path in ("/accounts/password", "/accounts/grants", "/accounts/disable"):
        assert _post(admin, path, username="nobody").status_code == 404, path


def test_any_printable_username_is_escaped_and_managed(login: Login, desk: QueueDesk) -> None:
    admin = login("admin")
    odd = "a/b <i>x</i>&"
    created = _post(admin, "/accounts/new", **_new_account(username=odd))
    assert created.status_code == 302
    page = admin.get(created.headers["Location"]).get_data(as_text=True)
    assert "<i>x</i>" not in page and "a/b &lt;i&gt;x&lt;/i&gt;&amp;" in page
    # The hint to turn the second factor on is a command a shell reads as one name.
    assert "kiosk totp enable --user &#39;a/b &lt;i&gt;x&lt;/i&gt;&amp;&#39;" in page
    assert _post(admin, "/accounts/disable", username=odd).status_code == 302
    assert find_account(desk.database, odd).disabled is True  # type: ignore[union-attr]
