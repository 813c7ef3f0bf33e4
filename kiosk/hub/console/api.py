"""The console's JSON API (login required; POST needs the X-CSRF-Token header).

Routes are listed in docs/hub.md.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, jsonify, request
from werkzeug.wrappers import Response

from kiosk.hub.console.common import context, current_user, jsonable
from kiosk.hub.console.counter import check_counter
from kiosk.hub.console.dashboard import chosen_centre

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.get("/centres")
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
            for c in context().desk.catalogue.centres
        ]
    )


@bp.get("/centres/<centre>/summary")
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
def calls(centre: str) -> Response:
    where = chosen_centre(centre)
    board = context().desk.board(where.code)
    return jsonify(centre=where.code, calls=[c.model_dump(mode="json") for c in board.calls])


@bp.post("/centres/<centre>/counters/<int:counter>/call-next")
def call_next(centre: str, counter: int) -> Response:
    check_counter(counter)
    where = chosen_centre(centre)
    call = context().desk.call_next(where.code, counter, actor=f"user:{current_user()}")
    if call is None:
        return jsonify(call=None, message="暂无等候（nobody is waiting）")
    return jsonify(call=call.model_dump(mode="json"), message=call.text)


@bp.get("/kiosks")
def kiosks() -> Response:
    rows = [
        jsonable(
            {
                "id": k.id,
                "centre": k.centre,
                "state": k.state,
                "online": k.online,
                "uplink": k.uplink,
                "boot_id": k.boot_id,
                "session": k.session,
                "version": k.version,
                "last_seen": k.last_seen,
                "devices": k.devices,
            }
        )
        for k in context().desk.kiosks(request.args.get("centre") or None)
    ]
    return jsonify(kiosks=rows)
