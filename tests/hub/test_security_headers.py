"""Every console page carries the security headers; no page needs inline script or style."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from kiosk.domain.cases.codes import make_code
from kiosk.hub.app import CONSOLE_DIR, create_app
from kiosk.hub.desk import QueueDesk
from kiosk.hub.options import HubOptions
from kiosk.hub.users import add_user
from kiosk.settings import Settings
from tests.hub.conftest import CENTRE, kiosk_state

PASSWORD = "correct horse battery"  # noqa: S105 - a test account
VALUES = {
    "centre": CENTRE,
    "counter": "1",
    "kiosk": "k1",
    "alert_id": "1",
    "filename": "console.css",
    "number": "1",
    "code": make_code("box", 2024, 1),  # a case (none exists: its 404 page is checked)
    "community": "sq-dongfeng",
}
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<[^>]+\sstyle\s*=|<style[\s>]", re.I)


def _app(settings: Settings, desk: QueueDesk, frame_ancestors: str | None) -> Flask:
    add_user(desk.database, "admin", PASSWORD, role="admin")
    desk.kiosk_state(kiosk_state("k1"))
    desk.take("k1", "social", "e1")
    return create_app(
        settings,
        desk,
        secret_key=b"k" * 32,
        options=HubOptions(display_frame_ancestors=frame_ancestors),
    )


def _admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    data = {"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 302
    return client


def _get_paths(app: Flask) -> list[tuple[str, str]]:
    """Every GET route with its parameters filled in, and its blueprint."""
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: VALUES[m.group(1)], rule.rule)
        paths.append((path, rule.endpoint))
    return sorted(paths)


@pytest.mark.parametrize("frame_ancestors", [None, "'self' https://signage.example"])
def test_every_page_has_the_security_headers(
    settings: Settings, desk: QueueDesk, frame_ancestors: str | None
) -> None:
    app = _app(settings, desk, frame_ancestors)
    admin = _admin(app)
    checked = 0
    for path, endpoint in _get_paths(app):
        for client in (admin, app.test_client()):  # logged in, and not (redirects too)
            response = client.get(path)
            headers = response.headers
            csp = headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
            assert "default-src 'none'" in csp and "object-src 'none'" in csp, path
            assert headers["Referrer-Policy"] == "no-referrer", path
            assert headers["X-Content-Type-Options"] == "nosniff", path
            if endpoint.startswith("display."):
                assert "X-Frame-Options" not in headers, path
                if frame_ancestors is None:
                    assert "frame-ancestors" not in csp, "the display may be framed"
                else:
                    assert f"frame-ancestors {frame_ancestors}" in csp
            else:
                assert "frame-ancestors 'none'" in csp, path
                assert headers["X-Frame-Options"] == "DENY", path
            if endpoint != "static" and response.status_code == 200:
                assert headers["Cache-Control"] == "no-store" or path.startswith("/display/")
            checked += 1
    assert checked > 30


def test_pages_have_no_inline_script_or_style(settings: Settings, desk: QueueDesk) -> None:
    app = _app(settings, desk, None)
    admin = _admin(app)
    for path, _endpoint in _get_paths(app):
        response = admin.get(path)
        if response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        assert not INLINE_SCRIPT.search(html), path
        assert not INLINE_HANDLER.search(html), path
        assert not INLINE_STYLE.search(html), path


def test_the_templates_themselves_have_none(tmp_path: Path) -> None:
    for template in (CONSOLE_DIR / "templates").glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not INLINE_SCRIPT.search(text), template.name
        assert not INLINE_HANDLER.search(text), template.name
        assert not INLINE_STYLE.search(text), template.name
