"""今日取号: today's tickets per service, the list of tickets, and each kiosk's presence."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from kiosk.hub.catalogue import Centre
from kiosk.hub.console.common import context

bp = Blueprint("dashboard", __name__)

# The page reloads itself: a kiosk that stops shows offline within this many seconds
# after the hub hears of it.
REFRESH_SECONDS = 5


def chosen_centre(code: str | None) -> Centre:
    """The centre asked for, else the first configured one; 404 if there is none."""
    catalogue = context().desk.catalogue
    centre = catalogue.find(code) if code else next(iter(catalogue.centres), None)
    if centre is None:
        abort(404, description="没有这个服务中心（no such centre）")
    return centre


@bp.get("/")
def index() -> str:
    desk = context().desk
    centre = chosen_centre(request.args.get("centre"))
    return render_template(
        "dashboard.html",
        centre=centre,
        centres=desk.catalogue.centres,
        day=desk.today(),
        summary=desk.summary(centre.code),
        tickets=desk.tickets(centre.code),
        kiosks=desk.kiosks(centre.code),
        service_names={s.code: s.name for s in centre.services},
        refresh=REFRESH_SECONDS,
    )
