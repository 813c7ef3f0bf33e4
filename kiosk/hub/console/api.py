"""The console's JSON API for the queue (login required; POST needs the X-CSRF-Token
header). The fleet, alert and audit API is in ``fleet_api``; all of it is described in
docs/hub-openapi.yaml (a test checks it against these routes).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, jsonify, request
from werkzeug.wrappers import Response

from kiosk.hub.console.common import actor, context, jsonable, require, scope
from kiosk.hub.console.counter import check_counter
from kiosk.hub.console.dashboard import chosen_centre, visible_centres
from kiosk.hub.fleet import KioskView

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/centres")
@require("queue.view")
def centres() -> Response:
    return jsonify(
        centres=[
            {
                "code": c.code,
                "name": c.name,
                "services": [
                    {"code": s.code, "name": s.name, "prefix": s.prefix} for s in c.services
                ],
            }
            for c in visible_centres()
        ]
    )


@bp.get("/centres/<centre>/summary")
@require("queue.view")
def summary(centre: str) -> Response:
    desk = context().desk
    where = chosen_centre(centre)
    services = [
        {
            "code": s.code,
            "name": s.name,
            "prefix": s.prefix,
            "issued": s.issued,
            "waiting": s.waiting,
            "called": s.called,
        }
        for s in desk.summary(where.code)
    ]
    return jsonify(centre=where.code, day=desk.today().isoformat(), services=services)


@bp.get("/centres/<centre>/tickets")
@require("queue.view")
def tickets(centre: str) -> Response:
    desk = context().desk
    where = chosen_centre(centre)
    day = _day_arg() or desk.today()
    rows = [
        jsonable(
            {
                "number": t.number,
                "service": t.service,
                "kiosk": t.kiosk,
                "status": t.status,
                "issued_at": t.issued_at,
                "called_at": t.called_at,
                "counter": t.counter,
            }
        )
        for t in desk.tickets(where.code, day)
    ]
    return jsonify(centre=where.code, day=day.isoformat(), tickets=rows)


def _day_arg() -> date | None:
    text = request.args.get("day")
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(400, description=f"day must be YYYY-MM-DD, got {text!r}")


@bp.get("/centres/<centre>/calls")
@require("queue.view")
def calls(centre: str) -> Response:
    where = chosen_centre(centre)
    board = context().desk.board(where.code)
    return jsonify(centre=where.code, calls=[c.model_dump(mode="json") for c in board.calls])


@bp.post("/centres/<centre>/counters/<int:counter>/call-next")
@require("queue.call")
def call_next(centre: str, counter: int) -> Response:
    check_counter(counter)
    where = chosen_centre(centre)
    call = context().desk.call_next(
        where.code, counter, actor=actor(), remote_addr=request.remote_addr
    )
    if call is None:
        return jsonify(call=None, message="暂无等候（nobody is waiting）")
    return jsonify(call=call.model_dump(mode="json"), message=call.text)


@bp.get("/kiosks")
@require("fleet.view")
def kiosks() -> Response:
    found = context().desk.kiosks(request.args.get("centre") or None, scope=scope())
    return jsonify(kiosks=[kiosk_json(k) for k in found])


def kiosk_json(k: KioskView) -> dict[str, object]:
    printer, reader = k.printer, k.reader
    return {
        "id": k.id,
        "centre": k.home,
        "state": k.state,
        "online": k.online,
        "uplink": k.uplink,
        "boot_id": k.boot_id,
        "session": k.session,
        "version": k.version,
        "last_seen": k.last_seen.isoformat(),
        "offline_since": jsonable(k.offline_since),
        "enrolled_at": jsonable(k.enrolled_at),
        "revoked_at": jsonable(k.revoked_at),
        "printer": {
            "health": printer.health,
            "paper": printer.paper,
            "cover_open": printer.cover_open,
            "detail": printer.detail,
        },
        "reader": {"health": reader.health, "detail": reader.detail},
        "problems": sorted(k.problems),
        "devices": jsonable(k.devices),
        "health": k.health,  # the latest KioskHealth report (kiosk/hub/health.py)
        "health_at": jsonable(k.health_at),
    }
