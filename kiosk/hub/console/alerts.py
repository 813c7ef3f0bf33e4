"""告警: unresolved alerts first, the history below; acknowledge and resolve."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kiosk.hub.alerts import KIND_LABELS, STATUS_LABELS, AlertConflict, AlertNotFound
from kiosk.hub.console.common import actor, context, require, safe_next, scope
from kiosk.hub.console.dashboard import visible_centres
from kiosk.hub.console.fleet import centre_arg

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

STATUS_FILTERS = ("unresolved", "open", "acknowledged", "resolved", "all")


def status_arg(default: str = "unresolved") -> str | None:
    status = request.args.get("status") or default
    if status not in STATUS_FILTERS:
        abort(400, description=f"status must be one of {', '.join(STATUS_FILTERS)}")
    return None if status == "all" else status


@bp.get("")
@require("fleet.view")
def index() -> str:
    status = status_arg()
    centre = centre_arg()
    found = context().monitor.alerts(scope=scope(), status=status, centre=centre)
    return render_template(
        "alerts.html",
        alerts=found,
        status=status or "all",
        statuses=STATUS_FILTERS,
        centre=centre,
        centres=visible_centres(),
        kind_labels=KIND_LABELS,
        status_labels=STATUS_LABELS,
    )


def change(alert_id: int, action: str) -> None:
    """Acknowledge or resolve for a view; NotFound (404) or Conflict (409) otherwise."""
    try:
        context().monitor.change_alert(
            alert_id,
            "acknowledge" if action == "acknowledge" else "resolve",
            actor=actor(),
            scope=scope(),
            remote_addr=request.remote_addr,
        )
    except AlertNotFound:
        abort(404, description="没有这条告警（no such alert）")
    except AlertConflict as err:
        abort(409, description=str(err))


@bp.post("/<int:alert_id>/acknowledge", defaults={"action": "acknowledge"})
@bp.post("/<int:alert_id>/resolve", defaults={"action": "resolve"})
@require("alerts.manage")
def act(alert_id: int, action: str) -> Response:
    change(alert_id, action)
    flash("已确认告警" if action == "acknowledge" else "已解决告警", "called")
    # Post/redirect/get, back to the page the button was on.
    return redirect(safe_next(request.form.get("next"), url_for("alerts.index")))
