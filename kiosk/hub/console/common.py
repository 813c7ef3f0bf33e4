"""What every console blueprint shares: the hub's parts, the login gate, CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, abort, current_app, jsonify, redirect, request, session, url_for
from werkzeug.wrappers import Response

from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub.desk import QueueDesk
from kiosk.settings import Settings

EXTENSION = "kiosk_hub"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Pages anyone may open: the call display hangs in the waiting room, unattended.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.login_submit", "static", "health"})
PUBLIC_BLUEPRINTS = frozenset({"display"})

STATUS_LABELS = {
    "waiting": "等候中",
    "called": "已叫号",
    "serving": "办理中",
    "done": "已办结",
    "skipped": "过号",
    "no_show": "未到",
    "transferred": "已转办",
}


@dataclass(frozen=True)
class ConsoleContext:
    settings: Settings
    desk: QueueDesk
    mqtt_connected: Callable[[], bool]


def context() -> ConsoleContext:
    found = current_app.extensions[EXTENSION]
    if not isinstance(found, ConsoleContext):  # pragma: no cover - set by create_app
        raise RuntimeError("the console was not created by kiosk.hub.app.create_app")
    return found


def current_user() -> str | None:
    user = session.get("user")
    return user if isinstance(user, str) else None


def csrf_token() -> str:
    """This session's CSRF token, made on first use; forms and scripts send it back."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.endswith(".json")


def json_error(status: int, code: str, message: str) -> Response:
    response = jsonify(error=code, message=message)
    response.status_code = status
    return response


def _require_login() -> Response | None:
    if request.endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS:
        return None
    if current_user() is not None:
        return None
    if wants_json():
        return json_error(401, "login_required", "请先登录（log in first）")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, description="CSRF token missing or wrong; reload the page and try again")


def local_time(value: datetime | None, fmt: str = "%H:%M:%S") -> str:
    """A UTC time as the centre's wall clock shows it."""
    return "" if value is None else value.astimezone(CENTRE_TIMEZONE).strftime(fmt)


def install(app: Flask, ctx: ConsoleContext) -> None:
    """Hook the shared parts into ``app``: order matters, the login gate runs first."""
    app.extensions[EXTENSION] = ctx
    app.before_request(_require_login)
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["status_label"] = lambda status: STATUS_LABELS.get(status, status)


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: a login link must not send the clerk elsewhere."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return default


def jsonable(value: Any) -> Any:
    """Datetimes as ISO 8601 with their offset (Flask's default drops it)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value
