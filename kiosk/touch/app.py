"""The touch app's Flask application: what Chromium in kiosk mode shows on the Pi's screen."""

from __future__ import annotations

import secrets

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider

from kiosk.settings import Settings
from kiosk.touch import (
    api,
    assets,
    assist,
    cases,
    errors,
    find,
    i18n,
    identify,
    preferences,
    screens,
    tickets,
    welcome,
)
from kiosk.touch.commands import KioskCommands
from kiosk.touch.commands import register as register_commands
from kiosk.touch.context import EXTENSION, TouchContext
from kiosk.touch.csrf import csrf_token
from kiosk.touch.devices import DeviceSignals
from kiosk.touch.health import HealthReporter, Sources
from kiosk.touch.helpdesk import HelpDesk
from kiosk.touch.issuing import TicketDesk
from kiosk.touch.link import KioskLink
from kiosk.touch.resident import ResidentDesk
from kiosk.touch.ui import TouchUi

HEALTH = "kiosk.touch.health"
CONFIG_FILE = "pushed-config.json"  # in settings.state_dir: what `config` commands set
MAX_BODY = 1024  # bytes: a ticket request is a few dozen; nothing bigger is ever needed

# Everything comes from this app: no CDN, no web fonts, no inline script (a kiosk has no
# reason to load anything from anywhere else, and must not be made to).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(settings: Settings, link: KioskLink, ui: TouchUi | None = None) -> Flask:
    """The app for one kiosk; ``link`` is its (started or not) connection to the edge broker.

    ``ui`` sets the screens' timers (idle prompt, forgetting, polling); tests make them short.
    """
    ui = ui or TouchUi.from_settings(settings.touch)
    app = Flask(__name__, static_folder=None)  # assets.py serves /static, versioned and gzipped
    app.config.update(
        # A new key per process start: forms shown before a restart ask to start again.
        SECRET_KEY=secrets.token_bytes(32),
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        SESSION_COOKIE_NAME="kiosk_touch",
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_HTTPONLY=True,
    )
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False  # Chinese stays readable in answers and logs
        app.json.sort_keys = False
    app.extensions[EXTENSION] = _context(settings, link, ui)
    register_commands(app, KioskCommands(link, config_file=settings.state_dir / CONFIG_FILE))
    # Health goes out with every birth from now on; its timer is started by `kiosk touch`.
    app.extensions[HEALTH] = HealthReporter(
        link, Sources(data_dir=settings.state_dir), interval=settings.touch.health_interval
    )
    app.jinja_env.globals["csrf_token"] = csrf_token
    i18n.init(app)
    assets.register(app)
    screens.register(app)
    for blueprint in (tickets.bp, find.bp, identify.bp, welcome.bp, assist.bp, preferences.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(api.bp, url_prefix="/api")
    cases.init(app, settings, link)  # pages under /cases, API under /api/cases and /api/grids
    errors.register(app)
    app.after_request(_security_headers)
    return app


def _context(settings: Settings, link: KioskLink, ui: TouchUi) -> TouchContext:
    residents = ResidentDesk(forget_after=ui.idle_total)
    helpdesk = HelpDesk(link, repeat_after=ui.help_repeat_after)
    devices = DeviceSignals(residents, helpdesk)
    link.on_card(devices.on_card)
    link.on_gpio(devices.on_gpio)
    return TouchContext(settings, link, TicketDesk(link), ui, residents, helpdesk, devices)


def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint != "static":
        # Pages and answers are of the moment (and may show a masked resident); Back must
        # not show an old one, and nothing of it may stay in the browser's cache.
        response.headers["Cache-Control"] = "no-store"
    return response
