"""The staff console through Flask's test client, on a real database."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.hub.app import create_app, load_secret_key
from kiosk.hub.desk import QueueDesk
from kiosk.hub.users import add_user
from kiosk.protocol.messages import Board
from kiosk.settings import Settings
from tests.hub.conftest import CENTRE, FakeClock, kiosk_state
from tests.hub.console_client import csrf_token

PASSWORD = "correct horse battery"  # noqa: S105 - a test account


@pytest.fixture
def boards(desk: QueueDesk) -> list[Board]:
    published: list[Board] = []
    desk.on_board(published.append)  # stands in for the MQTT worker
    return published


@pytest.fixture
def app(settings: Settings, desk: QueueDesk, boards: list[Board]) -> Flask:
    add_user(desk.database, "clerk", PASSWORD, role="staff", centres=[CENTRE])
    desk.kiosk_state(kiosk_state("k1"))
    return create_app(settings, desk, mqtt_connected=lambda: True, secret_key=b"k" * 32)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _login(client: FlaskClient, password: str = PASSWORD, next_url: str = "") -> int:
    response = client.post(
        "/login",
        data={
            "username": "clerk",
            "password": password,
            "next": next_url,
            "csrf_token": csrf_token(client),
        },
    )
    return response.status_code


@pytest.fixture
def staff(client: FlaskClient) -> FlaskClient:
    assert _login(client) == 302
    return client


def _take(desk: QueueDesk, service: str = "social") -> str:
    return desk.take("k1", service, uuid.uuid4().hex).number


def test_every_page_but_login_and_display_needs_a_login(client: FlaskClient) -> None:
    for path in ("/", "/counter", f"/counter/{CENTRE}/1"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=")
    api = client.get("/api/kiosks")
    assert api.status_code == 401 and api.get_json()["error"] == "login_required"
    assert client.get("/login").status_code == 200
    assert client.get(f"/display/{CENTRE}").status_code == 200
    assert client.get(f"/display/{CENTRE}/calls.json").status_code == 200
    assert client.get("/healthz").get_json() == {"ok": True, "mqtt": True}


def test_a_wrong_password_is_refused(client: FlaskClient) -> None:
    assert _login(client, password="wrong password") == 401  # noqa: S106
    assert client.get("/").status_code == 302, "still logged out"
    page = client.post(
        "/login",
        data={"username": "nobody", "password": "x" * 10, "csrf_token": csrf_token(client)},
    )
    assert page.status_code == 401
    assert "用户名或密码不正确" in page.get_data(as_text=True)


def test_login_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"username": "clerk", "password": PASSWORD})
    assert response.status_code == 400


def test_login_returns_to_the_page_asked_for_but_never_off_site(client: FlaskClient) -> None:
    response = client.post(
        "/login",
        data={
            "username": "clerk",
            "password": PASSWORD,
            "next": f"/counter/{CENTRE}/2",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.headers["Location"] == f"/counter/{CENTRE}/2"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    response = client.post(
        "/login",
        data={
            "username": "clerk",
            "password": PASSWORD,
            "next": "//evil.example/",
            "csrf_token": csrf_token(client),
        },
    )
    assert response.headers["Location"] == "/"


def test_logout_ends_the_session(staff: FlaskClient) -> None:
    assert staff.get("/").status_code == 200
    assert staff.post("/logout", data={"csrf_token": csrf_token(staff, "/")}).status_code == 302
    assert staff.get("/").status_code == 302


def test_the_dashboard_shows_todays_tickets_and_kiosks(staff: FlaskClient, desk: QueueDesk) -> None:
    desk.kiosk_state(kiosk_state("k2", version="<b>1.0</b>"))
    desk.kiosk_state(kiosk_state("k2", "offline", version="<b>1.0</b>"))
    number = _take(desk, "civil")
    page = staff.get("/").get_data(as_text=True)
    assert "今日取号" in page and '<meta http-equiv="refresh"' in page
    assert number in page and "民政救助" in page and "等候中" in page
    assert re.search(r'data-kiosk="k1">.*?在线', page, re.S)
    assert re.search(r'data-kiosk="k2">.*?离线', page, re.S)
    assert "&lt;b&gt;1.0&lt;/b&gt;" in page, "what kiosks send is escaped"


def test_calling_the_next_ticket_from_a_counter(
    staff: FlaskClient, desk: QueueDesk, clock: FakeClock, boards: list[Board]
) -> None:
    _take(desk)
    clock.advance(seconds=1)
    _take(desk)
    page_url = f"/counter/{CENTRE}/3"
    token = csrf_token(staff, page_url)
    called = staff.post(f"{page_url}/call-next", data={"csrf_token": token})
    assert called.status_code == 302 and called.headers["Location"] == page_url
    page = staff.get(page_url).get_data(as_text=True)
    assert "已叫 A001 号" in page and 'id="current">A001<' in page
    assert [b.calls[0].text for b in boards] == ["请 A001 号到 3 号窗口"]
    staff.post(f"{page_url}/call-next", data={"csrf_token": token})
    staff.post(f"{page_url}/call-next", data={"csrf_token": token})
    page = staff.get(page_url).get_data(as_text=True)
    assert "暂无等候" in page and 'id="current">A002<' in page
    assert len(boards) == 2


def test_calling_without_the_csrf_token_is_refused(staff: FlaskClient, desk: QueueDesk) -> None:
    _take(desk)
    assert staff.post(f"/counter/{CENTRE}/1/call-next").status_code == 400
    assert desk.latest_calls(CENTRE) == []


def test_the_counter_chooser_and_bad_counters(staff: FlaskClient) -> None:
    assert "选择窗口" in staff.get("/counter").get_data(as_text=True)
    chosen = staff.get(f"/counter?centre={CENTRE}&counter=4")
    assert chosen.headers["Location"] == f"/counter/{CENTRE}/4"
    assert staff.get(f"/counter/{CENTRE}/0").status_code == 404
    assert staff.get("/counter/nowhere/1").status_code == 404


def test_the_call_display_and_its_json(
    client: FlaskClient, desk: QueueDesk, clock: FakeClock
) -> None:
    assert "请稍候" in client.get(f"/display/{CENTRE}").get_data(as_text=True)
    for _ in range(3):
        _take(desk)
        clock.advance(seconds=1)
        desk.call_next(CENTRE, 2, actor="user:clerk")
    page = client.get(f"/display/{CENTRE}").get_data(as_text=True)
    assert "请 A003 号到 2 号窗口" in page and "display.js" in page
    assert "http://" not in page and "https://" not in page, "nothing from outside"
    response = client.get(f"/display/{CENTRE}/calls.json")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["centre"] == CENTRE
    assert [c["number"] for c in body["calls"]] == ["A003", "A002", "A001"]
    assert body["calls"][0]["text"] == "请 A003 号到 2 号窗口"
    missing = client.get("/display/nowhere/calls.json")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"


def test_the_display_script_is_served_and_uses_no_html_injection(client: FlaskClient) -> None:
    script = client.get("/static/display.js").get_data(as_text=True)
    assert "textContent" in script and "innerHTML" not in script


def test_the_json_api(staff: FlaskClient, desk: QueueDesk, clock: FakeClock) -> None:
    _take(desk)
    clock.advance(seconds=1)
    _take(desk, "civil")
    centres = staff.get("/api/centres").get_json()["centres"]
    assert centres[0]["code"] == CENTRE and centres[0]["services"][0]["prefix"] == "A"
    summary = staff.get(f"/api/centres/{CENTRE}/summary").get_json()
    assert summary["day"] == "2024-05-06"
    assert [(s["code"], s["issued"], s["waiting"]) for s in summary["services"]] == [
        ("social", 1, 1),
        ("civil", 1, 1),
    ]
    token = csrf_token(staff, "/")
    url = f"/api/centres/{CENTRE}/counters/5/call-next"
    assert staff.post(url).status_code == 400, "no X-CSRF-Token"
    call = staff.post(url, headers={"X-CSRF-Token": token}).get_json()
    assert call["call"]["number"] == "A001" and call["message"] == "请 A001 号到 5 号窗口"
    tickets = staff.get(f"/api/centres/{CENTRE}/tickets?day=2024-05-06").get_json()
    assert [(t["number"], t["status"], t["counter"]) for t in tickets["tickets"]] == [
        ("A001", "called", 5),
        ("B001", "waiting", None),
    ]
    assert tickets["tickets"][0]["issued_at"] == "2024-05-06T02:00:00+00:00"
    assert staff.get(f"/api/centres/{CENTRE}/tickets?day=2024-05-05").get_json()["tickets"] == []
    assert staff.get(f"/api/centres/{CENTRE}/tickets?day=May").status_code == 400
    calls = staff.get(f"/api/centres/{CENTRE}/calls").get_json()["calls"]
    assert [c["number"] for c in calls] == ["A001"]
    staff.post(url, headers={"X-CSRF-Token": token})
    empty = staff.post(url, headers={"X-CSRF-Token": token}).get_json()
    assert empty["call"] is None and "暂无等候" in empty["message"]
    kiosks = staff.get("/api/kiosks").get_json()["kiosks"]
    assert [(k["id"], k["online"], k["centre"]) for k in kiosks] == [("k1", True, CENTRE)]
    missing = staff.get("/api/centres/nowhere/summary")
    assert missing.status_code == 404


def test_the_secret_key_comes_from_its_file(settings: Settings, tmp_path: Path) -> None:
    key_file = tmp_path / "console.key"
    key_file.write_text("a-long-enough-secret-key\n")
    with_file = settings.model_copy(
        update={"hub": settings.hub.model_copy(update={"secret_key_file": key_file})}
    )
    assert load_secret_key(with_file) == b"a-long-enough-secret-key"
    key_file.write_text("short")
    with pytest.raises(ValueError, match="fewer than"):
        load_secret_key(with_file)
    assert len(load_secret_key(settings)) == 32, "random per process without a file"
