"""docs/touch-openapi.yaml and the Flask routes under /api describe the same API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from kiosk.settings import Settings
from kiosk.touch import create_app, wording
from kiosk.touch.link import KioskLink

SPEC = Path(__file__).resolve().parents[2] / "docs" / "touch-openapi.yaml"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _spec() -> dict[str, Any]:
    loaded = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _routes() -> dict[str, set[str]]:
    settings = Settings()
    app = create_app(settings, KioskLink(settings))  # never started: no broker needed
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
        routes.setdefault(path, set()).update(methods)
    return routes


def test_every_api_route_is_documented_and_every_documented_path_exists() -> None:
    spec = _spec()
    assert str(spec["openapi"]).startswith("3.1")
    documented = {
        path: {m for m in operations if m in HTTP_METHODS}
        for path, operations in spec["paths"].items()
    }
    assert documented == _routes()


def test_every_error_code_the_app_answers_with_is_in_the_schema() -> None:
    codes = set(_spec()["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    problems = {p.code for p in vars(wording).values() if isinstance(p, wording.Problem)}
    # form_expired belongs to the HTML form, never to an API answer
    assert problems - {"form_expired", "unknown_ticket"} <= codes


def test_status_and_session_answers_have_the_documented_fields() -> None:
    settings = Settings()
    app = create_app(settings, KioskLink(settings))
    schemas = _spec()["components"]["schemas"]
    client = app.test_client()
    status = client.get("/api/status").get_json()
    assert set(status) == set(schemas["Status"]["required"])
    session_fields = set(schemas["Session"]["properties"])
    assert set(client.get("/api/session").get_json()) <= session_fields
    context = app.extensions["kiosk.touch"]
    context.residents.identify_phone("13812345678")
    assert set(client.get("/api/session").get_json()) <= session_fields
