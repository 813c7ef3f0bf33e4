"""The resident's choices for this visit: language and elder mode (长辈模式).

Plain forms on every screen, kept in the session, back to the same screen. No CSRF token:
the choice is harmless, and a stale page (the app restarted) must not answer "expired" to
someone who only wanted larger type.
"""

from __future__ import annotations

from flask import Blueprint, redirect, request, session
from werkzeug.wrappers.response import Response

from kiosk.touch import i18n
from kiosk.touch.screens import ELDER_KEY, safe_next

bp = Blueprint("preferences", __name__)


@bp.post("/language")
def language() -> Response:
    i18n.choose(request.form.get("lang", ""))
    return redirect(safe_next(request.form.get("next")), code=303)


@bp.post("/elder-mode")
def elder_mode() -> Response:
    session[ELDER_KEY] = request.form.get("elder") != "off"
    return redirect(safe_next(request.form.get("next")), code=303)
