"""Logging in and out of the staff console (session cookie)."""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from kiosk.hub.console.common import context, csrf_token, safe_next
from kiosk.hub.users import authenticate

_LOGGER = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)


@bp.get("/login")
def login() -> str:
    return render_template("login.html", next=request.args.get("next", ""), error=None)


@bp.post("/login")
def login_submit() -> Response | tuple[str, int]:
    username = request.form.get("username", "").strip()
    user = authenticate(context().desk.database, username, request.form.get("password", ""))
    if user is None:
        _LOGGER.warning("failed console login for %r from %s", username, request.remote_addr)
        page = render_template(
            "login.html", next=request.form.get("next", ""), error="用户名或密码不正确"
        )
        return page, 401
    # A new session on login: a session id planted before cannot ride on this login.
    session.clear()
    session.permanent = True
    session["user"] = user.username
    session["role"] = user.role
    csrf_token()
    return redirect(safe_next(request.form.get("next"), url_for("dashboard.index")))


@bp.post("/logout")
def logout() -> Response:
    session.clear()
    return redirect(url_for("auth.login"))
