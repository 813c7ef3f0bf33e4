"""Logging in and out of the staff console (session cookie), rate-limited and audited."""

from __future__ import annotations

import logging
import math

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from kiosk.hub import audit
from kiosk.hub.console.common import context, safe_next, staff, start_session
from kiosk.hub.users import authenticate

_LOGGER = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)


@bp.get("/login")
def login() -> str:
    return render_template("login.html", next=request.args.get("next", ""), error=None)


@bp.post("/login")
def login_submit() -> Response | tuple[str, int, dict[str, str]] | tuple[str, int]:
    ctx = context()
    username = request.form.get("username", "").strip()[:64]
    address = request.remote_addr or "unknown"
    wait = ctx.limiter.retry_after(username, address)
    if wait is not None:
        ctx.metrics.logins.inc(outcome="limited")
        audit.write(
            ctx.desk.database,
            ctx.desk.now(),
            f"user:{username}",
            "login",
            outcome="limited",
            remote_addr=address,
        )
        minutes = max(1, math.ceil(wait / 60))
        page = render_template(
            "login.html",
            next=request.form.get("next", ""),
            error=f"登录失败次数过多，请 {minutes} 分钟后再试",
        )
        return page, 429, {"Retry-After": str(math.ceil(wait))}
    user = authenticate(ctx.desk.database, username, request.form.get("password", ""))
    if user is None:
        ctx.limiter.failed(username, address)
        ctx.metrics.logins.inc(outcome="failed")
        _LOGGER.warning("failed console login for %r from %s", username, address)
        audit.write(
            ctx.desk.database,
            ctx.desk.now(),
            f"user:{username}",
            "login",
            outcome="failed",
            remote_addr=address,
        )
        page = render_template(
            "login.html", next=request.form.get("next", ""), error="用户名或密码不正确"
        )
        return page, 401
    ctx.limiter.succeeded(username, address)
    ctx.metrics.logins.inc(outcome="ok")
    audit.write(
        ctx.desk.database, ctx.desk.now(), f"user:{user.username}", "login", remote_addr=address
    )
    start_session(user)
    return redirect(safe_next(request.form.get("next"), url_for("dashboard.index")))


@bp.post("/logout")
def logout() -> Response:
    user = staff()
    if user is not None:
        ctx = context()
        audit.write(
            ctx.desk.database,
            ctx.desk.now(),
            f"user:{user.username}",
            "logout",
            remote_addr=request.remote_addr,
        )
    session.clear()
    return redirect(url_for("auth.login"))
