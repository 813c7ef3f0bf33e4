"""docs/hub-openapi.yaml and the hub's JSON routes describe the same API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from flask import Flask

from kiosk.hub.app import create_app
from kiosk.hub.desk import QueueDesk
from kiosk.hub.monitor import FleetMonitor
from kiosk.hub.users import add_user
from kiosk.settings import Settings
from tests.hub.conftest import CENTRE, kiosk_state

SPEC = Path(__file__).resolve().parents[2] / "docs" / "hub-openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PASSWORD = "correct horse battery"  # noqa: S105 - a test account


def _spec() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _json_route(rule: str) -> bool:
    return rule.startswith("/api/") or rule.endswith(".json") or rule in ("/healthz", "/metrics")


def _routes(app: Flask) -> dict[str, set[str]]:
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not _json_route(rule.rule):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
        routes.setdefault(path, set()).update(methods)
    return routes


def test_every_json_route_is_documented_and_every_documented_path_exists(
    settings: Settings, desk: QueueDesk
) -> None:
    spec = _spec()
    assert str(spec["openapi"]).startswith("3.1")
    documented = {
        path: {m for m in operations if m in HTTP_METHODS}
        for path, operations in spec["paths"].items()
    }
    assert documented == _routes(create_app(settings, desk, secret_key=b"k" * 32))


def test_every_reference_resolves() -> None:
    spec = _spec()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                target: Any = spec
                for part in ref.removeprefix("#/").split("/"):
                    assert part in target, ref
                    target = target[part]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)


def test_answers_have_the_documented_fields(
    settings: Settings, desk: QueueDesk, clock: object
) -> None:
    add_user(desk.database, "admin", PASSWORD, role="admin")
    desk.kiosk_state(kiosk_state("k1", ts=desk.now()))
    monitor = FleetMonitor(desk.database, clock=desk.now)
    monitor.help_requested("k1", CENTRE, "help")
    app = create_app(settings, desk, secret_key=b"k" * 32, monitor=monitor)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post(
        "/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    schemas = _spec()["components"]["schemas"]

    def fields(name: str) -> set[str]:
        return set(schemas[name]["required"])

    (kiosk,) = client.get("/api/kiosks").get_json()["kiosks"]
    assert set(kiosk) == fields("Kiosk")
    assert set(kiosk["problems"]) <= set(
        schemas["Kiosk"]["properties"]["problems"]["items"]["enum"]
    )
    (alert,) = client.get("/api/alerts").get_json()["alerts"]
    assert set(alert) == fields("Alert")
    (row,) = client.get("/api/fleet").get_json()["kiosks"]
    assert set(row) == fields("Kiosk") | {"alerts"}
    detail = client.get("/api/kiosks/k1").get_json()
    assert set(detail) == {"kiosk", "alerts"}
    entries = client.get("/api/audit").get_json()["entries"]
    assert entries and all(set(e) == fields("AuditEntry") for e in entries)
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").get_data(True))
    assert token
    sent = client.post(
        "/api/kiosks/k1/commands", json={"name": "reload"}, headers={"X-CSRF-Token": token.group(1)}
    )
    assert sent.status_code == 202 and set(sent.get_json()["command"]) == fields("Command")
    codes = set(schemas["Error"]["properties"]["error"]["enum"])
    assert client.get("/api/fleet?problem=x").get_json()["error"] in codes
    assert client.get("/api/kiosks/none").get_json()["error"] in codes
    anonymous = app.test_client().get("/api/alerts").get_json()["error"]
    assert anonymous in codes
