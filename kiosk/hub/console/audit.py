"""操作日志: the audit log, read-only, filterable, exportable as CSV."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, Response, abort, render_template, request

from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub import audit
from kiosk.hub.audit import AuditRow
from kiosk.hub.console.common import actor, context, require, scope

bp = Blueprint("audit", __name__)


def _day(name: str) -> datetime | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"{name} must be YYYY-MM-DD, got {text!r}")
    return datetime(day.year, day.month, day.day, tzinfo=CENTRE_TIMEZONE)


def query_entries() -> list[AuditRow]:
    since, until = _day("from"), _day("to")
    with context().desk.database.read() as session:
        return audit.entries(
            session,
            centres=scope(),
            since=since,
            until=until + timedelta(days=1) if until else None,
            actor=request.args.get("actor") or None,
            action=request.args.get("action") or None,
        )


@bp.get("/audit")
@require("audit.view")
def index() -> str:
    return render_template("audit.html", entries=query_entries(), args=request.args)


@bp.get("/audit.csv")
@require("audit.view")
def export() -> Response:
    rows = query_entries()
    ctx = context()
    # Exporting the log is itself an act worth logging.
    audit.write(
        ctx.desk.database,
        ctx.desk.now(),
        actor(),
        "audit.export",
        remote_addr=request.remote_addr,
        detail={"rows": len(rows), **{k: v for k, v in request.args.items() if v}},
    )
    stamp = ctx.desk.now().astimezone(CENTRE_TIMEZONE).strftime("%Y%m%d-%H%M%S")
    return Response(
        # A byte-order mark: spreadsheet programs then read the Chinese as UTF-8.
        "\ufeff" + audit.to_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )
