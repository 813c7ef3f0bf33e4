"""诉求 (cases) in the staff console: inbox per unit with SLA clocks, the case page with its
timeline and actions, filing on a resident's behalf (代办), metrics with charts, CSV.

Every action is one event through :class:`~kiosk.hub.cases.store.CaseStore` (audited
there); a refusal from the rules is shown as the domain words it. The public board (公示)
is in :mod:`kiosk.hub.console.cases_board`.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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

from kiosk.domain.cases.metrics import CaseMetrics, Period, case_metrics, metrics_by_unit
from kiosk.domain.cases.model import Actor, Channel, Resident, Submission
from kiosk.domain.cases.public import CHANNEL_LABELS
from kiosk.domain.cases.sla import current_clock, is_overdue
from kiosk.domain.cases.states import (
    STATE_LABELS,
    CaseState,
    Command,
    Merge,
    Submit,
    TransitionRefused,
    open311_status,
)
from kiosk.domain.cases.text import InvalidText
from kiosk.domain.identity import (
    mask_name,
    mask_phone,
    person_key,
    validate_id_number,
    validate_phone,
)
from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub.cases.actions import (
    ACTION_LABELS,
    REPLY_TEMPLATES,
    Access,
    ActionError,
    access_for,
    buttons,
    make_command,
)
from kiosk.hub.cases.store import CaseConflict, CaseNotFound, CaseStore, StoredCase
from kiosk.hub.console.common import context, staff
from kiosk.hub.models import CaseRow
from kiosk.hub.options import read_secret
from kiosk.hub.users import StaffUser

bp = Blueprint("cases", __name__, url_prefix="/cases")

STATE_FILTERS = ("open", "overdue", "limited", "review", "all", *(str(s) for s in CaseState))
OPEN_TYPES = ("pending", "open", "fixed")
KIND_LABELS = {
    "submitted": "提交",
    "accepted": "受理",
    "not_admissible": "不予受理",
    "merged": "合并",
    "absorbed": "并入",
    "dispatched": "派单",
    "claimed": "接单",
    "escalated": "吹哨上报",
    "noted": "内部备注",
    "resolved": "办结",
    "rated": "评价",
    "reworked": "重办",
    "closed": "结案",
    "supported": "附议",
}


def store() -> CaseStore:
    found = current_app.extensions["kiosk_cases"]
    if not isinstance(found, CaseStore):  # pragma: no cover - set by create_app
        raise RuntimeError("no case store")
    return found


def access() -> Access:
    user = staff()
    if user is None:  # pragma: no cover - the login gate ran
        abort(401)
    found = access_for(context().desk.database, store().directory, user)
    if found.visible is not None and not found.visible:
        abort(403, description="您不属于任何处置单位，无权查看诉求（no unit granted）")
    return found


def load_visible(code: str, who: Access) -> StoredCase:
    try:
        stored = store().get(code)
    except CaseNotFound:
        abort(404, description=f"没有这件诉求（no case {code}）")
    if not who.sees(stored.row):
        # Same answer as a missing case: a code outside your units tells you nothing.
        abort(404, description=f"没有这件诉求（no case {code}）")
    return stored


def check_merge_target(command: Command, who: Access) -> None:
    """A merge only into a case the handler may see: CaseNotFound (the same answer as a
    missing case) otherwise, so a merge cannot probe or touch another unit's cases."""
    if not isinstance(command, Merge):
        return
    try:
        target = store().get(command.target)
    except CaseNotFound:
        raise CaseNotFound(f"no case {command.target}") from None
    if not who.sees(target.row):
        raise CaseNotFound(f"no case {command.target}")


# --- inbox ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxRow:
    row: CaseRow
    state_label: str
    category: str
    unit: str
    clock: str  # "acceptance" / "handling" / ""
    due: datetime | None
    remaining_hours: float | None
    overdue: bool


def inbox_rows(who: Access, args: Any, now: datetime) -> list[InboxRow]:
    d = store().directory
    state = args.get("state") or "open"
    if state not in STATE_FILTERS:
        abort(400, description=f"state must be one of {', '.join(STATE_FILTERS)}")
    conditions = _state_conditions(state)
    if args.get("category"):
        conditions.append(CaseRow.category == args["category"])
    if args.get("channel") in ("box", "proposal"):
        conditions.append(CaseRow.channel == args["channel"])
    query = (args.get("q") or "").strip()
    if query:
        like = f"%{query[:60]}%"
        conditions.append(CaseRow.code.ilike(like) | CaseRow.title.ilike(like))
    unit = args.get("unit") or ""
    rows = [r for r in store().rows(*conditions) if who.sees(r)]
    if unit:
        rows = [r for r in rows if unit in r.units]
    out = [_inbox_row(r, now, d.category_names(), d) for r in rows]
    if state == "overdue":
        out = [r for r in out if r.overdue]
    # Most urgent first: least time left (overdue is negative); finished cases last.
    return sorted(out, key=lambda r: (r.remaining_hours is None, r.remaining_hours or 0))


def _state_conditions(state: str) -> list[Any]:
    if state in ("open", "overdue"):
        return [CaseRow.state_type.in_(OPEN_TYPES)]
    if state == "limited":
        return [CaseRow.limited.is_(True)]
    if state == "review":
        # Filed differently from its slip (unknown category/place, code): see row.review.
        return [CaseRow.review.is_not(None)]
    return [] if state == "all" else [CaseRow.state == state]


def _inbox_row(row: CaseRow, now: datetime, names: dict[str, str], d: Any) -> InboxRow:
    clock = ""
    due: datetime | None = None
    if row.state == "submitted":
        clock, due = "acceptance", row.accept_due
    elif row.state in ("accepted", "dispatched", "in_progress"):
        clock, due = "handling", row.handle_due
    remaining = (due - now).total_seconds() / 3600 if due is not None else None
    unit_info = d.units.get(row.unit)
    return InboxRow(
        row=row,
        state_label=STATE_LABELS[CaseState(row.state)],
        category=names.get(row.category, row.category),
        unit=unit_info.unit.name if unit_info else row.unit,
        clock=clock,
        due=due,
        remaining_hours=remaining,
        overdue=remaining is not None and remaining < 0,
    )


@bp.get("")
def inbox() -> str:
    who = access()
    now = store().now()
    rows = inbox_rows(who, request.args, now)
    d = store().directory
    units = [
        info.unit for info in d.units.values() if who.visible is None or info.unit.id in who.visible
    ]
    return render_template(
        "cases/inbox.html",
        rows=rows,
        args=request.args,
        states=STATE_FILTERS,
        state_labels={str(k): v for k, v in STATE_LABELS.items()},
        categories=list(d.categories.values()),
        units=units,
        now=now,
    )


@bp.get("/export.csv")
def export() -> Response:
    who = access()
    now = store().now()
    rows = inbox_rows(who, request.args, now)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "code",
            "channel",
            "state",
            "status",
            "category",
            "unit",
            "community",
            "grid",
            "title",
            "submitted_at",
            "accept_due",
            "handle_due",
            "overdue",
            "supporters",
        ]
    )
    for r in rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r.row.code,
                    r.row.channel,
                    r.row.state,
                    open311_status(CaseState(r.row.state)),
                    r.row.category,
                    r.row.unit,
                    r.row.community,
                    r.row.grid or "",
                    r.row.title,
                    r.row.submitted_at.isoformat(),
                    r.row.accept_due.isoformat(),
                    r.row.handle_due.isoformat() if r.row.handle_due else "",
                    "yes" if r.overdue else "no",
                    r.row.supporters,
                )
            ]
        )
    stamp = now.astimezone(CENTRE_TIMEZONE).strftime("%Y%m%d-%H%M")
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM, so Excel reads the Chinese as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="cases-{stamp}.csv"'},
    )


def _cell(value: object) -> str:
    """No spreadsheet formulas from residents' text (CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# --- one case ------------------------------------------------------------------------


@bp.get("/<code>")
def case_page(code: str) -> str:
    who = access()
    stored = load_visible(code, who)
    case = stored.case
    d = store().directory
    events = store().event_rows(stored.row.id)
    clock = current_clock(case)
    now = store().now()
    return render_template(
        "cases/case.html",
        row=stored.row,
        case=case,
        events=list(zip(events, case.events, strict=True)),
        state_label=STATE_LABELS[case.state],
        channel_label=CHANNEL_LABELS[case.submission.channel],
        category=d.category_names().get(case.submission.category, case.submission.category),
        buttons=buttons(case) if who.acting_units(stored.row) else [],
        action_labels=ACTION_LABELS,
        kind_labels=KIND_LABELS,
        acting_units=[d.unit(u) for u in who.acting_units(stored.row) if u in d.units],
        units=d.handling_units(),
        suggested=d.route(case.submission.category, case.submission.place),
        above=d.above(case.unit.id),
        templates=REPLY_TEMPLATES,
        clock=clock,
        overdue=is_overdue(case, now),
        now=now,
    )


@bp.post("/<code>/<action>")
def act(code: str, action: str) -> Response:
    who = access()
    stored = load_visible(code, who)
    acting = who.acting_units(stored.row)
    unit = request.form.get("as_unit") or (acting[0] if acting else "")
    if unit not in acting:
        abort(403, description="您不能以该单位身份处理此件（not your unit）")
    user = staff()
    assert user is not None  # noqa: S101 - access() checked it
    try:
        command = make_command(
            action,
            _form_fields(),
            Actor("staff", user.username, unit),
            stored.case,
            store().directory,
        )
        check_merge_target(command, who)
        store().act(stored.row.code, command, remote_addr=request.remote_addr)
    except (TransitionRefused, InvalidText, ActionError, CaseNotFound, CaseConflict) as err:
        flash(f"未能{ACTION_LABELS.get(action, action)}：{err}", "empty")
    else:
        flash(f"已{ACTION_LABELS.get(action, action)}", "called")
    return redirect(url_for("cases.case_page", code=stored.row.code))


def _form_fields() -> dict[str, object]:
    fields: dict[str, object] = {key: request.form.get(key, "") for key in request.form}
    fields["co_handlers"] = request.form.getlist("co_handlers")
    return fields


# --- 代办: filing for a resident ------------------------------------------------------


@bp.get("/new")
def new() -> str:
    who = access()
    if who.read_only:
        abort(403, description="只读角色不能登记诉求")
    d = store().directory
    grids = [i for i in d.units.values() if i.unit.level in ("grid", "community")]
    return render_template(
        "cases/new.html",
        categories=list(d.categories.values()),
        grids=grids,
        acting=[d.unit(u) for u in sorted(who.members) if u in d.units] or None,
    )


@bp.post("/new")
def file_new() -> Response:
    who = access()
    user = staff()
    if who.read_only or user is None:
        abort(403, description="只读角色不能登记诉求")
    form = request.form
    d = store().directory
    unit = form.get("as_unit") or (sorted(who.members)[0] if who.members else "")
    if unit not in who.members and not (user.role == "admin" and unit in d.units):
        abort(403, description="请选择您所在的单位（as_unit）")
    try:
        case = store().file(
            "proposal" if form.get("channel") == "proposal" else "box",
            lambda code: _submit_for(code, form, user, unit),
            remote_addr=request.remote_addr,
        )
    except (TransitionRefused, InvalidText, KeyError, ValueError) as err:
        flash(f"未能登记：{err}", "empty")
        return redirect(url_for("cases.new"))
    flash(f"已代为登记 {case.code}", "called")
    return redirect(url_for("cases.case_page", code=case.code))


def _submit_for(code: str, form: Any, user: StaffUser, unit: str) -> Submit:
    d = store().directory
    category = form.get("category", "")
    if category not in d.categories:
        raise ValueError("请选择类别")
    channel: Channel = "proposal" if form.get("channel") == "proposal" else "box"
    submission = Submission(
        channel=channel,
        category=category,
        place=d.place(form.get("grid", ""), form.get("building") or None),
        title=form.get("title", ""),
        description=form.get("description", ""),
        terms=d.terms(category),
        resident=_resident(form, channel),
    )
    return Submit(
        actor=Actor("staff", user.username, unit),
        code=code,
        submission=submission,
        reason=form.get("reason") or None,
    )


def _resident(form: Any, channel: Channel) -> Resident | None:
    """The resident as the kiosk would send them: a person key made here with the
    deployment secret, and masked forms. The raw ID number and phone live only in this
    request's memory: never stored, never logged, never echoed (DESIGN.md §4)."""
    number = (form.get("id_number") or "").strip()
    phone = (form.get("phone") or "").strip()
    if channel == "proposal" and not number:
        raise ValueError("党员提案需要群众的身份证号（a proposal needs the ID number）")
    if not number and not phone:
        return None
    secret = _deployment_secret()
    digits = validate_phone(phone) if phone else None  # InvalidPhone: a ValueError
    if number:
        key = person_key(secret, validate_id_number(number).value)
    else:
        assert digits is not None  # noqa: S101 - one of the two was given
        key = phone_key(secret, digits)
    name = (form.get("name") or "").strip()
    return Resident(
        key,
        masked_name=mask_name(name) or None,
        masked_phone=mask_phone(digits) if digits else None,
        contact_ok=bool(digits and form.get("contact_ok")),
    )


def _deployment_secret() -> bytes:
    secret = read_secret(context().settings.hub.deployment_secret_file)
    if secret is None:
        raise ValueError(
            "中心未配置部署密钥，不能登记身份（hub.deployment_secret_file is not set）"
        )
    return secret


def phone_key(secret: bytes, phone: str) -> str:
    """The kiosk's key for a resident known by a mobile number (the same HMAC as
    ``kiosk.touch.casework.phone_key``, so 代办 and the kiosk give one person one key)."""
    message = b"phone:" + validate_phone(phone).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


# --- metrics -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricsRow:
    unit: str
    name: str
    metrics: CaseMetrics


@bp.get("/metrics")
def metrics() -> str:
    who = access()
    now = store().now()
    local = now.astimezone(CENTRE_TIMEZONE)
    month = request.args.get("month") or f"{local.year:04d}-{local.month:02d}"
    try:
        year, mon = (int(part) for part in month.split("-"))
        period = Period.month(year, mon)
    except ValueError:
        abort(400, description="month must be YYYY-MM")
    logs = store().logs_for_period(period.start, period.end)
    d = store().directory
    by_unit = metrics_by_unit(logs, period, min(now, period.end))
    rows = [
        MetricsRow(unit, d.units[unit].unit.name if unit in d.units else unit, m)
        for unit, m in by_unit.items()
        if who.visible is None or unit in who.visible
    ]
    overall = case_metrics(logs, period, min(now, period.end)) if who.visible is None else None
    return render_template(
        "cases/metrics.html", rows=rows, overall=overall, month=month, chart=_chart(rows)
    )


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    y: int
    width: float
    text: str


def _chart(rows: list[MetricsRow]) -> list[tuple[str, list[Bar]]]:
    """Horizontal bars per rate, drawn as inline SVG by the template (no script)."""
    charts = []
    for attr, title in (
        ("acceptance_on_time", "受理及时率"),
        ("completion", "办结率"),
        ("satisfaction", "满意率"),
        ("overdue", "超期率"),
    ):
        bars = []
        for i, row in enumerate(rows):
            rate = getattr(row.metrics, attr)
            value = rate.value
            bars.append(Bar(row.name, 8 + i * 26, 0 if value is None else value * 300, str(rate)))
        charts.append((title, bars))
    return charts


def hours(delta: timedelta | None) -> str:
    return "–" if delta is None else f"{delta.total_seconds() / 3600:.1f} 小时"


bp.add_app_template_filter(hours, "case_hours")


def remaining(value: float | None) -> str:
    if value is None:
        return ""
    sign = "超期 " if value < 0 else "剩 "
    value = abs(value)
    return sign + (f"{value:.0f} 小时" if value >= 1 else f"{value * 60:.0f} 分钟")


bp.add_app_template_filter(remaining, "case_remaining")
