"""The console's fleet, alert, audit and metrics pages, with roles and centre grants."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.hub.app import create_app
from kiosk.hub.desk import QueueDesk
from kiosk.hub.monitor import FleetMonitor, FleetPolicy
from kiosk.hub.options import HubOptions
from kiosk.hub.ratelimit import LoginLimiter
from kiosk.hub.users import add_user, set_disabled, set_user
from kiosk.protocol.messages import DeviceState
from kiosk.settings import Settings
from tests.hub.conftest import CENTRE, FakeClock, kiosk_state
from tests.hub.console_client import csrf_token, post_login

PASSWORD = "correct horse battery"  # noqa: S105 - test accounts

Login = Callable[[str], FlaskClient]


@pytest.fixture
def monitor(desk: QueueDesk, clock: FakeClock) -> FleetMonitor:
    return FleetMonitor(desk.database, FleetPolicy(), clock=clock)


@pytest.fixture
def limiter(clock: FakeClock) -> LoginLimiter:
    return LoginLimiter(per_account=3, per_address=10, window=60, clock=lambda: 0.0)


@pytest.fixture
def app(settings: Settings, desk: QueueDesk, monitor: FleetMonitor, limiter: LoginLimiter) -> Flask:
    add_user(desk.database, "admin", PASSWORD, role="admin")
    add_user(desk.database, "clerk", PASSWORD, role="staff", centres=[CENTRE])
    add_user(desk.database, "north", PASSWORD, role="staff", centres=["north"])
    add_user(desk.database, "auditor", PASSWORD, role="auditor", centres=[CENTRE])
    add_user(desk.database, "cases", PASSWORD, role="case_handler", centres=[CENTRE])
    for kiosk, centre in (("k1", CENTRE), ("k2", CENTRE), ("k3", "north")):
        desk.kiosk_state(kiosk_state(kiosk, centre=centre, ts=desk.now()))
    desk.device_state(
        DeviceState(kiosk="k2", device="printer", status="online", paper="out", ts=desk.now())
    )
    desk.device_state(
        DeviceState(
            kiosk="k2",
            device="idreader",
            status="offline",
            detail="60 (SAM self-test failed)",
            ts=desk.now(),
        )
    )
    monitor.kiosk_changed("k2")
    monitor.help_requested("k3", "north", "help at north")
    return create_app(
        settings,
        desk,
        mqtt_connected=lambda: True,
        secret_key=b"k" * 32,
        monitor=monitor,
        limiter=limiter,
        options=HubOptions(display_frame_ancestors="'self' https://signage.example"),
    )


@pytest.fixture
def login(app: Flask) -> Login:
    def log_in(username: str) -> FlaskClient:
        client = app.test_client()
        assert post_login(client, username, PASSWORD).status_code == 302
        return client

    return log_in


def test_the_fleet_page_shows_every_kiosk_of_the_users_centres(login: Login) -> None:
    page = login("clerk").get("/fleet").get_data(as_text=True)
    assert 'data-kiosk="k1"' in page and 'data-kiosk="k2"' in page
    assert 'data-kiosk="k3"' not in page, "north is not the clerk's"
    row = re.search(r'data-kiosk="k2".*?</tr>', page, re.S)
    assert row is not None
    assert "缺纸" in row.group(0) and "SAM 故障" in row.group(0) and "在线" in row.group(0)
    admin = login("admin").get("/fleet").get_data(as_text=True)
    assert 'data-kiosk="k3"' in admin


def test_the_fleet_filters_and_the_kiosk_page(login: Login) -> None:
    admin = login("admin")
    paper = admin.get("/fleet?problem=paper").get_data(as_text=True)
    assert 'data-kiosk="k2"' in paper and 'data-kiosk="k1"' not in paper
    north = admin.get("/fleet?centre=north").get_data(as_text=True)
    assert 'data-kiosk="k3"' in north and 'data-kiosk="k1"' not in north
    assert admin.get("/fleet?problem=bogus").status_code == 400
    detail = admin.get("/fleet/k2").get_data(as_text=True)
    assert (
        "打印机缺纸" in detail and "读卡器故障" in detail and "60 (SAM self-test failed)" in detail
    )
    assert admin.get("/fleet/nope").status_code == 404


def test_a_kiosk_of_another_centre_is_not_found(login: Login) -> None:
    clerk = login("clerk")
    assert clerk.get("/fleet/k3").status_code == 404
    assert clerk.get("/fleet?centre=north").status_code == 404
    assert clerk.get("/api/kiosks/k3").status_code == 404
    assert [k["id"] for k in clerk.get("/api/kiosks").get_json()["kiosks"]] == ["k1", "k2"]


def test_alerts_are_acknowledged_and_resolved_with_csrf_and_audited(login: Login) -> None:
    clerk = login("clerk")
    page = clerk.get("/alerts").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'data-alert="(\d+)"', page)]
    assert len(ids) == 2, "k2's two alerts; north's help is not the clerk's"
    first = ids[0]
    assert clerk.post(f"/alerts/{first}/acknowledge").status_code == 400, "no CSRF token"
    token = csrf_token(clerk, "/alerts")
    done = clerk.post(f"/alerts/{first}/acknowledge", data={"csrf_token": token})
    assert done.status_code == 302
    assert clerk.post(f"/alerts/{first}/acknowledge", data={"csrf_token": token}).status_code == 409
    assert clerk.post(f"/alerts/{first}/resolve", data={"csrf_token": token}).status_code == 302
    resolved = clerk.get("/api/alerts?status=resolved").get_json()["alerts"]
    assert [(a["id"], a["resolved_by"]) for a in resolved] == [(first, "user:clerk")]
    north_help = login("admin").get("/api/alerts?centre=north").get_json()["alerts"][0]
    missing = clerk.post(f"/api/alerts/{north_help['id']}/resolve", headers={"X-CSRF-Token": token})
    assert missing.status_code == 404 and missing.get_json()["error"] == "unknown_alert"
    audit_log = login("admin").get("/api/audit?action=alert.resolve").get_json()["entries"]
    assert [(e["actor"], e["target"]) for e in audit_log] == [("user:clerk", f"alert:{first}")]


def test_the_auditor_reads_everything_granted_and_changes_nothing(login: Login) -> None:
    auditor = login("auditor")
    assert auditor.get("/fleet").status_code == 200
    assert auditor.get("/alerts").status_code == 200
    assert auditor.get("/audit").status_code == 200
    token = csrf_token(auditor, "/")
    alert_id = auditor.get("/api/alerts").get_json()["alerts"][0]["id"]
    assert (
        auditor.post(f"/alerts/{alert_id}/resolve", data={"csrf_token": token}).status_code == 403
    )
    call = auditor.post(f"/counter/{CENTRE}/1/call-next", data={"csrf_token": token})
    assert call.status_code == 403
    api = auditor.post(
        f"/api/centres/{CENTRE}/counters/1/call-next", headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 403 and api.get_json()["error"] == "forbidden"


def test_roles_see_only_their_pages(login: Login) -> None:
    cases = login("cases")
    assert cases.get("/").status_code == 200
    for path in (
        "/fleet",
        "/alerts",
        "/audit",
        "/api/kiosks",
        "/audit.csv",
        f"/counter/{CENTRE}/1",
    ):
        expected = 200 if path.startswith("/counter") else 403
        assert cases.get(path).status_code == expected, path
    clerk = login("clerk")
    assert clerk.get("/audit").status_code == 403
    nav = clerk.get("/").get_data(as_text=True)
    assert "终端监控" in nav and "操作日志" not in nav


def test_the_audit_log_exports_as_csv_and_the_export_is_logged(
    login: Login, desk: QueueDesk, clock: FakeClock
) -> None:
    desk.take("k1", "social", "e1")
    clerk = login("clerk")
    token = csrf_token(clerk, "/")
    clerk.post(f"/counter/{CENTRE}/4/call-next", data={"csrf_token": token})
    admin = login("admin")
    response = admin.get("/audit.csv?action=ticket.call_next")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["id", "ts", "actor", "action"]
    assert [(r[2], r[3], r[4], r[5], r[6]) for r in rows[1:]] == [
        ("user:clerk", "ticket.call_next", "ticket:A001", CENTRE, "127.0.0.1")
    ]
    exports = admin.get("/api/audit?action=audit.export").get_json()["entries"]
    assert exports[0]["detail"]["rows"] == 1
    logins = admin.get("/api/audit?action=login").get_json()["entries"]
    assert {e["actor"] for e in logins} == {"user:clerk", "user:admin"}
    assert {e["remote_addr"] for e in logins} == {"10.1.2.3"}


def test_csv_cells_cannot_become_formulas() -> None:
    from datetime import UTC, datetime

    from kiosk.hub.audit import AuditRow, to_csv

    row = AuditRow(
        1,
        datetime(2024, 5, 6, tzinfo=UTC),
        "user:=cmd|calc",
        "login",
        "@SUM(A1)",
        None,
        None,
        "failed",
        {},
    )
    text = to_csv([row])
    assert "'user:=cmd|calc" not in text  # starts with "u": safe as it is
    assert ",'@SUM(A1)," in text


def test_login_is_rate_limited_per_account_and_address(app: Flask, limiter: LoginLimiter) -> None:
    client = app.test_client()
    for _ in range(3):
        assert post_login(client, "clerk", "wrong password").status_code == 401
    limited = post_login(client, "clerk", PASSWORD)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in limited.get_data(as_text=True)
    other = app.test_client()
    assert post_login(other, "admin", PASSWORD).status_code == 302, "another account is not blocked"


def test_a_disabled_account_or_a_new_password_ends_open_sessions(
    login: Login, desk: QueueDesk
) -> None:
    clerk = login("clerk")
    assert clerk.get("/fleet").status_code == 200
    set_disabled(desk.database, "clerk", True, actor="user:admin")
    assert clerk.get("/fleet").status_code == 302
    set_disabled(desk.database, "clerk", False, actor="user:admin")
    clerk = login("clerk")
    set_user(desk.database, "clerk", "a brand new password", role="staff")
    assert clerk.get("/fleet").status_code == 302


def test_sessions_expire_when_idle(app: Flask, login: Login) -> None:
    clerk = login("clerk")
    with clerk.session_transaction() as session:
        session["seen_at"] -= 61 * 60
    response = clerk.get("/fleet")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    clerk = login("clerk")
    with clerk.session_transaction() as session:
        session["login_at"] -= 13 * 3600
    assert clerk.get("/fleet").status_code == 302


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/login")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    secure = app.test_client().get("/login", base_url="https://hub.example")
    assert "Secure" in secure.headers["Set-Cookie"]
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_metrics_in_the_prometheus_text_format(app: Flask, monitor: FleetMonitor) -> None:
    client = app.test_client()
    monitor.metrics.intake.inc(kind="state")
    monitor.metrics.rpc_latency.observe(0.003, method="ticket.take")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    assert 'kiosk_hub_kiosks_online{centre="demo"} 2' in text
    assert 'kiosk_hub_kiosks_online{centre="north"} 1' in text
    assert 'kiosk_hub_alerts_open{kind="help"} 1' in text
    assert 'kiosk_hub_alerts_open{kind="paper_out"} 1' in text
    assert 'kiosk_hub_intake_messages_total{kind="state"} 1' in text
    assert 'kiosk_hub_rpc_duration_seconds_bucket{method="ticket.take",le="0.0025"} 0' in text
    assert 'kiosk_hub_rpc_duration_seconds_bucket{method="ticket.take",le="0.005"} 1' in text
    assert 'kiosk_hub_rpc_duration_seconds_count{method="ticket.take"} 1' in text
    assert "# TYPE kiosk_hub_rejected_messages_total counter" in text
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert remote.status_code == 403


def test_metrics_with_a_token_from_another_host(
    settings: Settings, desk: QueueDesk, monitor: FleetMonitor
) -> None:
    app = create_app(
        settings,
        desk,
        secret_key=b"k" * 32,
        monitor=monitor,
        options=HubOptions(metrics_token="s3cret-token-for-prometheus"),  # noqa: S106
    )
    client = app.test_client()
    remote = {"REMOTE_ADDR": "192.0.2.7"}
    assert client.get("/metrics", environ_base=remote).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert client.get("/metrics", environ_base=remote, headers=wrong).status_code == 401
    right = {"Authorization": "Bearer s3cret-token-for-prometheus"}
    assert client.get("/metrics", environ_base=remote, headers=right).status_code == 200
