"""A counter clerk's page: pick the counter, press 叫号 to call the next ticket."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kiosk.hub.console.common import actor, context, require
from kiosk.hub.console.dashboard import chosen_centre, visible_centres

bp = Blueprint("counter", __name__, url_prefix="/counter")

MAX_COUNTER = 99


def check_counter(counter: int) -> None:
    if not 1 <= counter <= MAX_COUNTER:
        abort(404, description=f"窗口号为 1-{MAX_COUNTER}（counter must be 1-{MAX_COUNTER}）")


@bp.get("")
@require("queue.view")
def choose() -> Response | str:
    """The form, or on its submission the chosen counter's page."""
    centre_code = request.args.get("centre")
    counter = request.args.get("counter", type=int)
    if centre_code and counter:
        return redirect(url_for("counter.page", centre=centre_code, counter=counter))
    return render_template("counter_choose.html", centres=visible_centres())


@bp.get("/<centre>/<int:counter>")
@require("queue.view")
def page(centre: str, counter: int) -> str:
    check_counter(counter)
    desk = context().desk
    where = chosen_centre(centre)
    mine = desk.latest_calls(where.code, counter=counter)
    return render_template(
        "counter.html",
        centre=where,
        counter=counter,
        current=mine[0] if mine else None,
        waiting=sum(s.waiting for s in desk.summary(where.code)),
    )


@bp.post("/<centre>/<int:counter>/call-next")
@require("queue.call")
def call_next(centre: str, counter: int) -> Response:
    check_counter(counter)
    where = chosen_centre(centre)
    call = context().desk.call_next(
        where.code, counter, actor=actor(), remote_addr=request.remote_addr
    )
    flash(f"已叫 {call.number} 号" if call else "暂无等候", "called" if call else "empty")
    # Post/redirect/get: reloading the page must not call another ticket.
    return redirect(url_for("counter.page", centre=where.code, counter=counter))
