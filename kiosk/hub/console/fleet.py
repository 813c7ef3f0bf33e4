"""终端监控: every kiosk of the user's centres, filterable by centre and problem, and one
kiosk's detail with its alert history."""

from __future__ import annotations

from collections.abc import Mapping

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import select
from werkzeug.wrappers import Response

from kiosk.domain.queue import Service
from kiosk.hub import health, receipts
from kiosk.hub.alerts import KIND_LABELS, STATUS_LABELS
from kiosk.hub.commands import (
    FORM_COMMANDS,
    LABELS,
    CommandDesk,
    CommandError,
    CommandView,
    InvalidParams,
)
from kiosk.hub.console.common import actor, can, context, require, scope
from kiosk.hub.console.dashboard import visible_centres
from kiosk.hub.models import Kiosk, KioskEventRecord
from kiosk.hub.monitor import PROBLEM_LABELS
from kiosk.protocol.pushed_config import MAX_NAME, MAX_TEXT, TEXT_KEYS, config_problem

bp = Blueprint("fleet", __name__, url_prefix="/fleet")

REFRESH_SECONDS = 15
REFUSED_SHOWN = 500
SERVICE_FIELD = "service."  # the config form's name fields: service.<code>


@bp.app_template_filter("duration")
def duration(seconds: float | None) -> str:
    """``3 天 4 小时``, ``12 分钟``: uptimes and ages as staff read them; — when unknown."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {mins} 分钟"
    return f"{mins} 分钟" if mins else f"{int(seconds)} 秒"


def problem_arg() -> str | None:
    problem = request.args.get("problem") or None
    if problem is not None and problem not in PROBLEM_LABELS:
        abort(400, description=f"problem must be one of {', '.join(PROBLEM_LABELS)}")
    return problem


def centre_arg() -> str | None:
    centre = request.args.get("centre") or None
    allowed = scope()
    if centre is not None and allowed is not None and centre not in allowed:
        abort(404, description="没有这个服务中心（no such centre）")
    return centre


@bp.get("")
@require("fleet.view")
def index() -> str:
    centre, problem = centre_arg(), problem_arg()
    rows = context().monitor.fleet(scope=scope(), centre=centre, problem=problem)
    return render_template(
        "fleet.html",
        rows=rows,
        centres=visible_centres(),
        centre=centre,
        problem=problem,
        problems=PROBLEM_LABELS,
        kind_labels=KIND_LABELS,
        online=sum(1 for r in rows if r.kiosk.online),
        refresh=REFRESH_SECONDS,
    )


@bp.get("/refused-events")
@require("audit.view")
def refused_events() -> str:
    """Kiosk events the intake ledger refused for good (kept with their reason): nothing a
    kiosk sent may vanish unseen. The payload stays in the database, not on the page."""
    allowed = scope()
    query = (
        select(KioskEventRecord, Kiosk.centre)
        .outerjoin(Kiosk, Kiosk.id == KioskEventRecord.kiosk)
        .where(KioskEventRecord.status == "refused")
        .order_by(KioskEventRecord.received_at.desc())
        .limit(REFUSED_SHOWN)
    )
    if allowed is not None:
        query = query.where(Kiosk.centre.in_(sorted(allowed)))
    with context().desk.database.read() as session:
        events = [(record, centre) for record, centre in session.execute(query)]
    return render_template("refused_events.html", events=events, shown=REFUSED_SHOWN)


@bp.get("/<kiosk>")
@require("fleet.view")
def kiosk(kiosk: str) -> str:
    return kiosk_page(kiosk)


def kiosk_page(
    kiosk: str, *, config_error: str | None = None, typed: Mapping[str, str] | None = None
) -> str:
    """The kiosk's page; ``config_error`` and ``typed`` when the config form comes back."""
    row = context().monitor.kiosk(kiosk, scope=scope())
    week = context().monitor.week(kiosk, scope=scope())
    if row is None or week is None:
        abort(404, description="没有这个终端（no such kiosk）")
    return render_template(
        "kiosk.html",
        row=row,
        charts=health.charts(week),
        k=row.kiosk,
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
        commands=commands().of_kiosk(kiosk) if can("kiosk.command") else [],
        command_names={name: LABELS[name] for name in FORM_COMMANDS},
        command_labels=LABELS,
        config_services=centre_services(row.kiosk.home),
        config_error=config_error,
        typed=typed or {},
        service_field=SERVICE_FIELD,
        max_name=MAX_NAME,
        max_text=MAX_TEXT,
        receipts=receipts.latest(context().settings.hub.receipts_dir, kiosk),
    )


@bp.get("/<kiosk>/receipts/<int:number>.png")
@require("fleet.view")
def receipt(kiosk: str, number: int) -> Response:
    """A receipt as the printer simulator rendered it (demo sites only)."""
    if context().monitor.kiosk(kiosk, scope=scope()) is None:
        abort(404, description="没有这个终端（no such kiosk）")
    path = receipts.picture(context().settings.hub.receipts_dir, kiosk, number)
    if path is None:
        abort(404, description="没有这张小票（no such receipt）")
    return send_file(path, mimetype="image/png")


def commands() -> CommandDesk:
    desk = context().commands
    if desk is None:  # pragma: no cover - create_app always makes one
        abort(503, description="remote commands are not available")
    return desk


def send_command(kiosk: str, name: str, params: dict[str, object] | None) -> CommandView:
    """Send for a view; 404 for an unknown kiosk or command, 409 for a revoked kiosk, 400
    for a configuration the kiosk would refuse or naming services its centre has not."""
    if name == "config" and (problem := unknown_services(kiosk, params or {})) is not None:
        abort(400, description=problem)
    try:
        return commands().send(
            kiosk,
            name,
            dict(params or {}),
            actor=actor(),
            scope=scope(),
            remote_addr=request.remote_addr,
        )
    except InvalidParams as err:
        abort(400, description=str(err))
    except CommandError as err:
        abort(409 if "revoked" in str(err) else 404, description=str(err))


@bp.post("/<kiosk>/commands")
@require("kiosk.command")
def command(kiosk: str) -> Response:
    name = request.form.get("name", "")
    if name not in FORM_COMMANDS:
        abort(400, description=f"command must be one of {', '.join(FORM_COMMANDS)}")
    sent = send_command(kiosk, name, None)
    if sent.status == "failed":
        flash(f"{LABELS[name]}：未能发出（{sent.detail}）", "empty")
    else:
        flash(f"已发出：{LABELS[name]}", "called")
    return redirect(url_for("fleet.kiosk", kiosk=kiosk))


# --- 推送配置: the config command from a form ------------------------------------------


def centre_services(centre: str | None) -> tuple[Service, ...]:
    """The services of the kiosk's centre in the hub's catalogue: the names it may push."""
    found = context().desk.catalogue.find(centre)
    return () if found is None else found.services


def unknown_services(kiosk: str, params: Mapping[str, object]) -> str | None:
    """Why ``params`` names a service the kiosk's centre does not offer; None if it does not.
    The kiosk would take any well-formed code, but a name for a button it never shows is
    a typing mistake the sender should hear about."""
    services = params.get("services")
    row = context().monitor.kiosk(kiosk, scope=scope())
    if not isinstance(services, dict) or row is None:
        return None  # the shape is the shared model's to judge, an unknown kiosk a 404
    offered = {s.code for s in centre_services(row.kiosk.home)}
    unknown = sorted(str(code) for code in services if code not in offered)
    if not unknown:
        return None
    return (
        f"本中心没有这些业务：{', '.join(unknown)}"
        f"（unknown service code at centre {row.kiosk.home or '—'!s}）"
    )


def config_from_form(form: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The ``config`` params of the form: only the fields filled in (empty = unchanged)."""
    services = {
        field.removeprefix(SERVICE_FIELD): value.strip()
        for field, value in form.items()
        if field.startswith(SERVICE_FIELD) and value.strip()
    }
    texts: dict[str, str] = {
        key: form[key].strip() for key in TEXT_KEYS if form.get(key, "").strip()
    }
    params: dict[str, dict[str, str]] = {}
    if services:
        params["services"] = services
    if texts:
        params["texts"] = texts
    return params


def config_refusal(kiosk: str, params: dict[str, dict[str, str]]) -> str | None:
    """Why the form's configuration cannot go, for the page; None if it can."""
    if not params:
        return "没有填写任何内容，未发出（nothing filled in: nothing to push）"
    problem = unknown_services(kiosk, params) or config_problem(dict(params))
    return None if problem is None else f"配置有误，未发出（{problem}）"


@bp.post("/<kiosk>/config")
@require("kiosk.command")
def push_config(kiosk: str) -> Response | tuple[str, int]:
    params = config_from_form(request.form)
    problem = config_refusal(kiosk, params)
    if problem is not None:
        # Back to the page with the message and everything as it was typed.
        return kiosk_page(kiosk, config_error=problem, typed=request.form), 400
    sent = send_command(kiosk, "config", dict(params))
    settings = sum(len(part) for part in params.values())
    if sent.status == "failed":
        flash(f"{LABELS['config']}：未能发出（{sent.detail}）", "empty")
    else:
        flash(f"已发出：{LABELS['config']}（{settings} 项）", "called")
    return redirect(url_for("fleet.kiosk", kiosk=kiosk))
