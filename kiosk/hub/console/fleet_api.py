"""The JSON API for the fleet, alerts and the audit log (docs/hub-openapi.yaml)."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from werkzeug.wrappers import Response

from kiosk.hub.alerts import AlertConflict, AlertNotFound
from kiosk.hub.console.alerts import status_arg
from kiosk.hub.console.api import kiosk_json
from kiosk.hub.console.audit import query_entries
from kiosk.hub.console.common import actor, context, json_error, require, scope
from kiosk.hub.console.fleet import centre_arg, commands, problem_arg, send_command
from kiosk.hub.monitor import FleetRow

bp = Blueprint("fleet_api", __name__, url_prefix="/api")


@bp.get("/fleet")
@require("fleet.view")
def fleet() -> Response:
    rows = context().monitor.fleet(scope=scope(), centre=centre_arg(), problem=problem_arg())
    return jsonify(kiosks=[{**fleet_kiosk_json(row), "alerts": alerts_json(row)} for row in rows])


def fleet_kiosk_json(row: FleetRow) -> dict[str, object]:
    """The kiosk with the problems its latest health report adds (disk, heat, backlog)."""
    return {**kiosk_json(row.kiosk), "problems": sorted(row.kiosk_problems)}


def alerts_json(row: FleetRow) -> list[dict[str, object]]:
    return [a.as_json() for a in row.alerts]


@bp.get("/kiosks/<kiosk>")
@require("fleet.view")
def kiosk(kiosk: str) -> Response:
    row = context().monitor.kiosk(kiosk, scope=scope())
    if row is None:
        abort(404, description="没有这个终端（no such kiosk）")
    return jsonify(kiosk=fleet_kiosk_json(row), alerts=alerts_json(row))


@bp.get("/kiosks/<kiosk>/commands")
@require("kiosk.command")
def kiosk_commands(kiosk: str) -> Response:
    if context().monitor.kiosk(kiosk, scope=scope()) is None:
        abort(404, description="没有这个终端（no such kiosk）")
    return jsonify(commands=[c.as_json() for c in commands().of_kiosk(kiosk)])


@bp.post("/kiosks/<kiosk>/commands")
@require("kiosk.command")
def send(kiosk: str) -> tuple[Response, int]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        abort(400, description='a JSON body {"name": …, "params": {…}} is required')
    params = body.get("params") or {}
    if not isinstance(params, dict):
        abort(400, description="params must be an object")
    sent = send_command(kiosk, body["name"], params)
    return jsonify(command=sent.as_json()), 202


@bp.get("/alerts")
@require("fleet.view")
def alerts() -> Response:
    found = context().monitor.alerts(
        scope=scope(),
        status=status_arg(),
        centre=centre_arg(),
        kiosk=request.args.get("kiosk") or None,
    )
    return jsonify(alerts=[a.as_json() for a in found])


@bp.post("/alerts/<int:alert_id>/acknowledge", defaults={"action": "acknowledge"})
@bp.post("/alerts/<int:alert_id>/resolve", defaults={"action": "resolve"})
@require("alerts.manage")
def act(alert_id: int, action: str) -> Response:
    try:
        alert = context().monitor.change_alert(
            alert_id,
            "acknowledge" if action == "acknowledge" else "resolve",
            actor=actor(),
            scope=scope(),
            remote_addr=request.remote_addr,
        )
    except AlertNotFound:
        return json_error(404, "unknown_alert", "没有这条告警（no such alert）")
    except AlertConflict as err:
        return json_error(409, "alert_state", str(err))
    return jsonify(alert=alert.as_json())


@bp.get("/audit")
@require("audit.view")
def audit_log() -> Response:
    return jsonify(
        entries=[
            {
                "id": e.id,
                "ts": e.ts.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "centre": e.centre,
                "remote_addr": e.remote_addr,
                "outcome": e.outcome,
                "detail": e.detail,
            }
            for e in query_entries()
        ]
    )
