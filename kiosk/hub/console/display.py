"""The public call display of a centre: the latest call, big, and the ones before it."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from werkzeug.wrappers import Response

from kiosk.hub.console.common import context
from kiosk.hub.console.dashboard import chosen_centre

bp = Blueprint("display", __name__, url_prefix="/display")

POLL_MS = 1000  # how often the page asks for calls.json


@bp.get("/<centre>")
def page(centre: str) -> str:
    where = chosen_centre(centre, public=True)
    return render_template(
        "display.html",
        centre=where,
        calls=context().desk.latest_calls(where.code),
        poll_ms=POLL_MS,
    )


@bp.get("/<centre>/calls.json")
def calls(centre: str) -> Response:
    where = chosen_centre(centre, public=True)
    board = context().desk.board(where.code)
    response = jsonify(
        centre=where.code,
        centre_name=where.name,
        calls=[call.model_dump(mode="json") for call in board.calls],
    )
    response.headers["Cache-Control"] = "no-store"
    return response
