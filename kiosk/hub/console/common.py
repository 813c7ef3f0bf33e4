"""What every console blueprint shares: the hub's parts, the login gate, roles, CSRF.

The gate runs before every request: public pages pass; any other page needs a session
whose user still exists, is enabled, has the same session version (a password change or
a disabled account ends every session at once), and has not been idle or logged in for
too long. The user as the database says now is in ``g.staff``.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub import roles, users
from kiosk.hub.commands import CommandDesk
from kiosk.hub.desk import QueueDesk
from kiosk.hub.metrics import HubMetrics
from kiosk.hub.monitor import FleetMonitor
from kiosk.hub.options import SessionPolicy
from kiosk.hub.ratelimit import LoginLimiter
from kiosk.hub.users import StaffUser
from kiosk.settings import Settings

EXTENSION = "kiosk_hub"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Pages anyone may open: the call display hangs in the waiting room, unattended; /metrics
# checks its own token or address.
PUBLIC_ENDPOINTS = frozenset(
    {"auth.login", "auth.login_submit", "auth.totp_submit", "static", "health", "ops.metrics"}
)
PUBLIC_BLUEPRINTS = frozenset({"display", "cases_board"})  # cases_board: 公示, no personal data

STATUS_LABELS = {
    "waiting": "等候中",
    "called": "已叫号",
    "serving": "办理中",
    "done": "已办结",
    "skipped": "过号",
    "no_show": "未到",
    "transferred": "已转办",
}

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ConsoleContext:
    settings: Settings
    desk: QueueDesk
    mqtt_connected: Callable[[], bool]
    monitor: FleetMonitor
    metrics: HubMetrics
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    metrics_token: str | None = None
    # Who may frame the call display (CSP frame-ancestors); None: anyone.
    display_frame_ancestors: str | None = None
    # Without a publisher (no worker, as in tests of the pages) commands fail at once.
    commands: CommandDesk | None = None


def context() -> ConsoleContext:
    found = current_app.extensions[EXTENSION]
    if not isinstance(found, ConsoleContext):  # pragma: no cover - set by create_app
        raise RuntimeError("the console was not created by kiosk.hub.app.create_app")
    return found


def staff() -> StaffUser | None:
    """The logged-in user, as loaded for this request."""
    user = g.get("staff")
    return user if isinstance(user, StaffUser) else None


def current_user() -> str | None:
    user = staff()
    return user.username if user else None


def actor() -> str:
    user = staff()
    return f"user:{user.username}" if user else "anonymous"


def scope() -> frozenset[str] | None:
    """The centres the user may see; None: all (admin)."""
    user = staff()
    return user.scope if user else frozenset()


def can(permission: roles.Permission) -> bool:
    user = staff()
    return user is not None and roles.allowed(user.role, permission)


def require(permission: roles.Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """A view only for roles with ``permission`` (403 otherwise)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            if not can(permission):
                abort(403, description="您的角色无权进行此操作（not allowed for your role）")
            return view(*args, **kwargs)

        return guarded

    return decorate


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


def start_session(user: StaffUser) -> None:
    """A new session on login: a session id planted before cannot ride on this login."""
    session.clear()
    session.permanent = True
    now = int(time.time())
    session.update(user=user.username, sv=user.session_version, login_at=now, seen_at=now)
    csrf_token()


def _session_user() -> StaffUser | None:
    """The session's user if the session is still good; clears it otherwise."""
    username = session.get("user")
    if not isinstance(username, str):
        return None
    policy = context().sessions
    now = time.time()
    login_at, seen_at = session.get("login_at", 0), session.get("seen_at", 0)
    expired = (
        not isinstance(login_at, int)
        or not isinstance(seen_at, int)
        or now - login_at > policy.lifetime.total_seconds()
        or now - seen_at > policy.idle.total_seconds()
    )
    user = None if expired else users.load_user(context().desk.database, username)
    if user is None or session.get("sv") != user.session_version:
        session.clear()
        if expired and request.endpoint not in PUBLIC_ENDPOINTS:
            flash("登录已过期，请重新登录", "empty")
        return None
    if now - seen_at > 30:  # a fresh cookie at most every half minute
        session["seen_at"] = int(now)
    return user


def _require_login() -> Response | None:
    if request.blueprint in PUBLIC_BLUEPRINTS or request.endpoint == "static":
        return None
    g.staff = _session_user()
    if g.staff is None and request.blueprint in TOKEN_BLUEPRINTS:
        g.staff = _bearer_user()
    if request.endpoint in PUBLIC_ENDPOINTS or g.staff is not None:
        return None
    if wants_json():
        return json_error(401, "login_required", "请先登录（log in first）")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


# Where a staff API token is accepted: the cases JSON API and Open311 only (docs/hub.md).
# Everywhere else needs a console login (with its TOTP), so a leaked token cannot run
# the fleet, the users or the queue.
TOKEN_BLUEPRINTS = frozenset({"cases_api"})


def _bearer_user() -> StaffUser | None:
    """A staff API token (kiosk.hub.cases.tokens); no cookie is involved, so no CSRF."""
    from kiosk.hub.cases.tokens import bearer, user_for_token

    token = bearer(request.headers.get("Authorization"))
    user = user_for_token(context().desk.database, token) if token else None
    g.bearer = user is not None
    return user


def _check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or g.get("bearer"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, description="CSRF token missing or wrong; reload the page and try again")


def local_time(value: datetime | None, fmt: str = "%H:%M:%S") -> str:
    """A UTC time as the centre's wall clock shows it."""
    return "" if value is None else value.astimezone(CENTRE_TIMEZONE).strftime(fmt)


def iso_local_time(text: str | None, fmt: str = "%m-%d %H:%M:%S") -> str:
    """An ISO 8601 text (a device state's ts) as the centre's wall clock shows it."""
    if not text:
        return ""
    try:
        return local_time(datetime.fromisoformat(text), fmt)
    except ValueError:
        return text


def install(app: Flask, ctx: ConsoleContext) -> None:
    """Hook the shared parts into ``app``: order matters, the login gate runs first."""
    app.extensions[EXTENSION] = ctx
    app.before_request(_require_login)
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
    app.jinja_env.globals["can"] = can
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["iso_local_time"] = iso_local_time
    app.jinja_env.filters["status_label"] = lambda status: STATUS_LABELS.get(status, status)


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: a login link must not send the clerk elsewhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
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
