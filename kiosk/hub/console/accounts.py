"""账号管理: staff accounts for admins (``users.manage``), so nobody needs ``kiosk user-add``
or ``kiosk totp disable`` for them.

Every change goes through :mod:`kiosk.hub.users` or :mod:`kiosk.hub.totp`, which write the
audit entry in the same transaction, with the acting admin as actor. Accounts are named in
a form field or the query string, never in the path: a username may hold any printable
character, ``/`` included.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from kiosk.hub import totp
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.console.common import actor, context, require, staff, start_session
from kiosk.hub.db import Database
from kiosk.hub.models import ROLES
from kiosk.hub.totp import TotpError
from kiosk.hub.users import (
    ROLE_LABELS,
    Account,
    UserError,
    add_user,
    find_account,
    list_accounts,
    set_disabled,
    set_grants,
    set_password,
    set_units,
)

bp = Blueprint("accounts", __name__, url_prefix="/accounts")

UNIT_LEVELS = {"street": "街道", "community": "社区", "grid": "网格", "department": "部门"}

Page = tuple[str, int]


class Refused(ValueError):
    """The change is not made; the message (Chinese, English in brackets) says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class NewAccount:
    """What the create form holds (never the password: a refused form comes back without)."""

    username: str = ""
    role: str = "staff"
    centres: list[str] = field(default_factory=list)


def database() -> Database:
    return context().desk.database


def centre_choices(granted: Iterable[str] = ()) -> list[tuple[str, str]]:
    """The configured centres, and any centre already granted that is not configured (so
    saving the form does not drop it unasked)."""
    configured = [(c.code, c.name) for c in context().desk.catalogue.centres]
    known = {code for code, _ in configured}
    unknown = sorted(set(granted) - known)
    return configured + [(code, f"{code}（未配置 not configured）") for code in unknown]


@bp.app_template_filter("role_label")
def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


@bp.get("")
@require("users.manage")
def index() -> str:
    return render_template(
        "accounts.html", accounts=list_accounts(database()), centres=dict(centre_choices())
    )


@bp.get("/new")
@require("users.manage")
def new() -> str:
    return new_page(NewAccount())


@bp.post("/new")
@require("users.manage")
def create() -> Response | Page:
    form = NewAccount(
        request.form.get("username", "").strip(),
        request.form.get("role", ""),
        request.form.getlist("centres"),
    )
    try:
        password = typed_password()
        checked_grants(form.role, form.centres, centre_choices())
        add_user(
            database(),
            form.username,
            password,
            form.role,
            form.centres,
            actor=actor(),
            remote_addr=request.remote_addr,
        )
    except (Refused, UserError) as err:
        # Everything typed comes back but the passwords.
        return new_page(form, message(err)), status(err)
    flash(f"已创建账号 {form.username}", "called")
    return redirect(url_for("accounts.account", user=form.username))


@bp.get("/edit")
@require("users.manage")
def account() -> str:
    return account_page(chosen_account(request.args.get("user")))


@bp.post("/password")
@require("users.manage")
def password() -> Response | Page:
    target = chosen_account(request.form.get("username"))
    try:
        changed = set_password(
            database(),
            target.username,
            typed_password(),
            actor=actor(),
            remote_addr=request.remote_addr,
        )
    except (Refused, UserError) as err:
        return account_page(target, error=message(err), form="password"), status(err)
    if is_me(target):
        # A new password ends every session signed before, this one too: keep the admin
        # who typed it logged in, on a fresh session.
        start_session(changed)
    flash(f"已重置 {target.username} 的密码，其已登录的会话已结束", "called")
    return redirect(url_for("accounts.account", user=target.username))


@bp.post("/grants")
@require("users.manage")
def grants() -> Response | Page:
    target = chosen_account(request.form.get("username"))
    role, centres = request.form.get("role", ""), request.form.getlist("centres")
    try:
        if is_me(target) and role != "admin":
            raise Refused("不能取消自己的管理员角色（you cannot demote yourself）", 409)
        checked_grants(role, centres, centre_choices(target.centres))
        set_grants(
            database(),
            target.username,
            role,
            centres,
            actor=actor(),
            remote_addr=request.remote_addr,
        )
    except (Refused, UserError) as err:
        page = account_page(target, error=message(err), form="grants", role=role, centres=centres)
        return page, status(err)
    flash(f"已修改 {target.username} 的角色和服务中心", "called")
    return redirect(url_for("accounts.account", user=target.username))


@bp.post("/units")
@require("users.manage")
def units() -> Response | Page:
    target = chosen_account(request.form.get("username"))
    chosen = request.form.getlist("units")
    try:
        set_units(
            database(), target.username, chosen, actor=actor(), remote_addr=request.remote_addr
        )
    except UserError as err:
        return account_page(target, error=message(err), form="units", units=chosen), status(err)
    flash(f"已修改 {target.username} 的处置单位", "called")
    return redirect(url_for("accounts.account", user=target.username))


def unit_choices() -> list[tuple[str, str]]:
    """The case units (the grid tree and departments) as (id, label), in settings order."""
    found = current_app.extensions.get("kiosk_cases")
    if not isinstance(found, CaseStore):
        return []
    return [
        (unit_id, f"{info.unit.name}（{UNIT_LEVELS.get(info.unit.level, info.unit.level)}）")
        for unit_id, info in found.directory.units.items()
    ]


@bp.post("/disable", defaults={"disabled": True})
@bp.post("/enable", defaults={"disabled": False})
@require("users.manage")
def disable(disabled: bool) -> Response | Page:
    target = chosen_account(request.form.get("username"))
    try:
        if disabled and is_me(target):
            raise Refused("不能停用自己的账号（you cannot disable your own account）", 409)
        set_disabled(
            database(), target.username, disabled, actor=actor(), remote_addr=request.remote_addr
        )
    except (Refused, UserError) as err:
        return account_page(target, error=message(err), form="disable"), status(err)
    done = "已停用账号 {}，其已登录的会话已结束" if disabled else "已启用账号 {}"
    flash(done.format(target.username), "called")
    return redirect(url_for("accounts.account", user=target.username))


@bp.post("/totp/remove")
@require("users.manage")
def remove_totp() -> Response | Page:
    target = chosen_account(request.form.get("username"))
    try:
        if not target.totp:
            raise Refused("该账号没有开启动态验证码（no second factor to remove）", 409)
        totp.disable(database(), target.username, actor=actor(), remote_addr=request.remote_addr)
    except (Refused, TotpError) as err:
        return account_page(target, error=message(err), form="totp"), status(err)
    flash(f"已移除 {target.username} 的动态验证码，下次登录只需密码", "called")
    return redirect(url_for("accounts.account", user=target.username))


def chosen_account(username: str | None) -> Account:
    found = find_account(database(), username) if username else None
    if found is None:
        abort(404, description="没有这个账号（no such account）")
    return found


def is_me(account: Account) -> bool:
    user = staff()
    return user is not None and user.username == account.username


def typed_password() -> str:
    """The new password, typed twice alike; the length rule is :mod:`kiosk.hub.users`'."""
    typed = request.form.get("password", "")
    if typed != request.form.get("password_again", ""):
        raise Refused("两次输入的密码不一致（the passwords do not match）")
    return typed


def checked_grants(role: str, centres: list[str], choices: list[tuple[str, str]]) -> None:
    if role not in ROLES:
        raise Refused(f"没有这个角色（unknown role {role!r}）")
    offered = {code for code, _ in choices}
    for centre in centres:
        if centre not in offered:
            raise Refused(f"没有这个服务中心（unknown centre {centre!r}）")


def message(err: Exception) -> str:
    if isinstance(err, Refused):
        return str(err)
    return f"未能保存：{err}"


def status(err: Exception) -> int:
    return err.status if isinstance(err, Refused) else 400


def new_page(form: NewAccount, error: str | None = None) -> str:
    return render_template(
        "account_new.html", form=form, error=error, roles=ROLES, centres=centre_choices()
    )


def account_page(
    target: Account,
    *,
    error: str | None = None,
    form: str | None = None,
    role: str | None = None,
    centres: list[str] | None = None,
    units: list[str] | None = None,
) -> str:
    """One account with its forms; after a refused change, the error by its form and the
    role and centres as they were sent."""
    return render_template(
        "account.html",
        account=target,
        error=error,
        error_form=form,
        role=target.role if role is None else role,
        chosen=list(target.centres) if centres is None else centres,
        centres=centre_choices(target.centres),
        roles=ROLES,
        units=unit_choices(),
        chosen_units=list(target.units) if units is None else units,
        me=is_me(target),
        # Quoted for a shell: a username may hold spaces or "$(…)".
        totp_command=f"kiosk totp enable --user {shlex.quote(target.username)}",
    )
