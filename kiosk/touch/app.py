"""The touch app's Flask application: what Chromium in kiosk mode shows on the Pi's screen."""

from __future__ import annotations

import secrets

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider

from kiosk.settings import Settings
from kiosk.touch import api, errors, tickets
from kiosk.touch.context import EXTENSION, TouchContext
from kiosk.touch.csrf import csrf_token
from kiosk.touch.issuing import TicketDesk
from kiosk.touch.link import KioskLink

MAX_BODY = 1024  # bytes: a ticket request is a few dozen; nothing bigger is ever needed

# Everything comes from this app: no CDN, no web fonts, no inline script (a kiosk has no
# reason to load anything from anywhere else, and must not be made to).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(settings: Settings, link: KioskLink) -> Flask:
    """The app for one kiosk; ``link`` is its (started or not) connection to the edge broker."""
    app = Flask(__name__)
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
    app.extensions[EXTENSION] = TouchContext(settings, link, TicketDesk(link))
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(tickets.bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    errors.register(app)
    app.after_request(_security_headers)
    return app


def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    if request.endpoint != "static":
        # Ticket pages and answers are of the moment; Back must not show an old one.
        response.headers["Cache-Control"] = "no-store"
    return response
