"""Logging in and out of the staff console (session cookie), rate-limited and audited.

An admin with a second factor (``kiosk totp enable``) gives the 6-digit code after the
password, within ``TOTP_PENDING`` seconds; wrong codes count against the same rate limit
as wrong passwords, and each is audited.
"""

from __future__ import annotations

import logging
import math

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from kiosk.hub import audit, totp
from kiosk.hub.console.common import context, safe_next, staff, start_session
from kiosk.hub.users import StaffUser, authenticate, load_user

_LOGGER = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

TOTP_PENDING = 300  # seconds from a right password to its code
PENDING_KEYS = ("totp_user", "totp_since", "totp_next")


@bp.get("/login")
def login() -> str:
    return render_template("login.html", next=request.args.get("next", ""), error=None)


@bp.post("/login")
def login_submit() -> Response | str | tuple[str, int, dict[str, str]] | tuple[str, int]:
    ctx = context()
    username = request.form.get("username", "").strip()[:64]
    address = request.remote_addr or "unknown"
    limited = _limited(username, address, "login.html")
    if limited is not None:
        return limited
    user = authenticate(ctx.desk.database, username, request.form.get("password", ""))
    if user is None:
        ctx.limiter.failed(username, address)
        ctx.metrics.logins.inc(outcome="failed")
        _LOGGER.warning("failed console login for %r from %s", username, address)
        _audit_login(username, address, "failed")
        page = render_template(
            "login.html", next=request.form.get("next", ""), error="用户名或密码不正确"
        )
        return page, 401
    if totp.required(ctx.desk.database, user.username):
        # The password was right; the session holds only who is halfway in, and since when.
        session.clear()
        session.update(
            totp_user=user.username,
            totp_since=ctx.desk.now().timestamp(),
            totp_next=request.form.get("next", ""),
        )
        return render_template("login_totp.html", error=None)
    return _logged_in(user, address, request.form.get("next"))


@bp.post("/login/totp")
def totp_submit() -> Response | tuple[str, int, dict[str, str]] | tuple[str, int]:
    ctx = context()
    username, since = session.get("totp_user"), session.get("totp_since")
    now = ctx.desk.now().timestamp()
    if not isinstance(username, str) or not isinstance(since, float) or now - since > TOTP_PENDING:
        session.clear()
        page = render_template("login.html", next="", error="验证码已超时，请重新输入密码登录")
        return page, 401
    address = request.remote_addr or "unknown"
    limited = _limited(username, address, "login_totp.html")
    if limited is not None:
        return limited
    code = request.form.get("code", "")[:16]
    user = load_user(ctx.desk.database, username)
    if user is None or not totp.check(ctx.desk.database, username, code, now):
        ctx.limiter.failed(username, address)
        ctx.metrics.logins.inc(outcome="failed")
        _LOGGER.warning("wrong second-factor code for %r from %s", username, address)
        _audit_login(username, address, "failed", factor="totp")
        return render_template("login_totp.html", error="验证码不正确或已用过"), 401
    next_url = session.get("totp_next")
    return _logged_in(user, address, next_url if isinstance(next_url, str) else None, "totp")


def _limited(username: str, address: str, template: str) -> tuple[str, int, dict[str, str]] | None:
    """The 429 page when this account or address failed too often lately, else None."""
    ctx = context()
    wait = ctx.limiter.retry_after(username, address)
    if wait is None:
        return None
    ctx.metrics.logins.inc(outcome="limited")
    _audit_login(username, address, "limited")
    minutes = max(1, math.ceil(wait / 60))
    page = render_template(
        template,
        next=request.form.get("next", ""),
        error=f"登录失败次数过多，请 {minutes} 分钟后再试",
    )
    return page, 429, {"Retry-After": str(math.ceil(wait))}


def _logged_in(
    user: StaffUser, address: str, next_url: str | None, factor: str | None = None
) -> Response:
    ctx = context()
    ctx.limiter.succeeded(user.username, address)
    ctx.metrics.logins.inc(outcome="ok")
    _audit_login(user.username, address, "ok", factor=factor)
    start_session(user)
    return redirect(safe_next(next_url, url_for("dashboard.index")))


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


def _audit_login(
    username: str, address: str | None, outcome: str, factor: str | None = None
) -> None:
    ctx = context()
    detail = {"factor": factor} if factor else None
    audit.write(
        ctx.desk.database,
        ctx.desk.now(),
        f"user:{username}",
        "login",
        outcome=outcome,
        remote_addr=address,
        detail=detail,
    )
