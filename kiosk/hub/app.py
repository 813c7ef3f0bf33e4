"""The staff console as a Flask app: ``create_app(settings, desk)``.

Views only call the service layer (:class:`~kiosk.hub.desk.QueueDesk`,
:class:`~kiosk.hub.monitor.FleetMonitor`, :mod:`kiosk.hub.users`, :mod:`kiosk.hub.audit`);
the process that serves it (``kiosk.hub.service``) owns the database and the MQTT worker.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path

from flask import Flask, jsonify, render_template
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.commands import CommandDesk
from kiosk.hub.console import (
    accounts,
    alerts,
    api,
    audit,
    auth,
    cases,
    cases_api,
    cases_board,
    counter,
    dashboard,
    display,
    fleet,
    fleet_api,
    ops,
)
from kiosk.hub.console.common import (
    ConsoleContext,
    install,
    json_error,
    wants_json,
)
from kiosk.hub.console.security import ConsoleSessionInterface, install_headers
from kiosk.hub.desk import QueueDesk
from kiosk.hub.monitor import FleetMonitor
from kiosk.hub.options import HubOptions, hub_options
from kiosk.hub.ratelimit import LoginLimiter
from kiosk.protocol.rpc import RpcRefused
from kiosk.settings import Settings

_LOGGER = logging.getLogger(__name__)

CONSOLE_DIR = Path(__file__).resolve().parent / "console"
MIN_SECRET_KEY_BYTES = 16
BLUEPRINTS = (
    auth.bp,
    dashboard.bp,
    counter.bp,
    display.bp,
    api.bp,
    fleet.bp,
    alerts.bp,
    audit.bp,
    fleet_api.bp,
    ops.bp,
    cases.bp,
    cases_board.bp,
    cases_api.bp,
    accounts.bp,
)


def create_app(
    settings: Settings,
    desk: QueueDesk,
    *,
    mqtt_connected: Callable[[], bool] | None = None,
    secret_key: bytes | None = None,
    monitor: FleetMonitor | None = None,
    limiter: LoginLimiter | None = None,
    options: HubOptions | None = None,
    commands: CommandDesk | None = None,
    cases: CaseStore | None = None,
) -> Flask:
    """The console. ``mqtt_connected`` tells /healthz whether the worker reaches the
    broker; ``secret_key`` overrides settings.hub.secret_key_file (tests); ``monitor`` is
    the fleet monitor the worker feeds (one of its own, not started, when left out)."""
    opts = options or hub_options(settings)
    app = Flask(
        __name__,
        template_folder=str(CONSOLE_DIR / "templates"),
        static_folder=str(CONSOLE_DIR / "static"),
    )
    app.config.update(
        SECRET_KEY=secret_key or load_secret_key(settings),
        SESSION_COOKIE_NAME="kiosk_console",
        SESSION_COOKIE_HTTPONLY=True,
        # Strict: no cross-site request carries the session, a second line behind CSRF
        # tokens (the console has no links in from other sites to keep working).
        SESSION_COOKIE_SAMESITE="Strict",
        PERMANENT_SESSION_LIFETIME=opts.session.lifetime,
    )
    app.session_interface = ConsoleSessionInterface(opts.session.cookie_secure)
    if opts.proxy_hops:
        # Behind a TLS-terminating proxy: the client's address and scheme from its headers.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=opts.proxy_hops, x_proto=opts.proxy_hops
        )
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False  # Chinese stays readable in the JSON
    fleet_monitor = monitor or FleetMonitor(desk.database, opts.fleet, clock=desk.now)
    ctx = ConsoleContext(
        settings,
        desk,
        mqtt_connected or (lambda: False),
        fleet_monitor,
        fleet_monitor.metrics,
        limiter or LoginLimiter(),
        opts.session,
        opts.metrics_token,
        opts.display_frame_ancestors,
        commands or CommandDesk(desk.database, clock=desk.now, expiry=opts.command_expiry),
    )
    install(app, ctx)
    # Cases keep their store in an extension: the console's context stays the queue's.
    app.extensions["kiosk_cases"] = cases or build_store(
        settings.hub.cases, desk.database, desk.now
    )
    install_headers(app, opts.display_frame_ancestors)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.add_url_rule("/healthz", "health", _health(mqtt_connected or (lambda: False)))
    app.register_error_handler(RpcRefused, _refused)
    app.register_error_handler(HTTPException, _http_error)
    return app


def load_secret_key(settings: Settings) -> bytes:
    """The session-signing key from settings.hub.secret_key_file, else a random one."""
    path = settings.hub.secret_key_file
    if path is None:
        # Fine for a single run; every restart then logs every clerk out.
        _LOGGER.warning("no hub.secret_key_file: console sessions end when the hub restarts")
        return secrets.token_bytes(32)
    key = path.read_bytes().strip()
    if len(key) < MIN_SECRET_KEY_BYTES:
        raise ValueError(f"{path} holds fewer than {MIN_SECRET_KEY_BYTES} bytes of key")
    return key


def _health(mqtt_connected: Callable[[], bool]) -> Callable[[], Response]:
    def health() -> Response:
        return jsonify(ok=True, mqtt=mqtt_connected())

    return health


def _refused(err: RpcRefused) -> Response | tuple[str, int]:
    # unknown_centre and the like: the thing asked for does not exist here.
    status = 404 if err.code.startswith("unknown_") else 409
    if wants_json():
        return json_error(status, err.code, str(err))
    return render_template("error.html", status=status, message=str(err)), status


def _http_error(err: HTTPException) -> Response | tuple[str, int]:
    status = err.code or 500
    message = err.description or err.name
    if wants_json():
        return json_error(status, err.name.lower().replace(" ", "_"), message)
    return render_template("error.html", status=status, message=message), status
