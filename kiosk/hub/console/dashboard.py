"""今日取号: today's tickets per service, the list of tickets, and each kiosk's presence."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from kiosk.hub.catalogue import Centre
from kiosk.hub.console.common import context, require, scope, staff

bp = Blueprint("dashboard", __name__)

# The page reloads itself: a kiosk that stops shows offline within this many seconds
# after the hub hears of it.
REFRESH_SECONDS = 5


def visible_centres() -> list[Centre]:
    """The configured centres the user may see (all of them on public pages)."""
    centres = context().desk.catalogue.centres
    allowed = scope() if staff() is not None else None
    return [c for c in centres if allowed is None or c.code in allowed]


def chosen_centre(code: str | None, *, public: bool = False) -> Centre:
    """The centre asked for, else the first one the user may see; 404 if there is none.

    A centre outside the user's grants is a 404 too: its existence is not confirmed.
    ``public``: the call display, where any configured centre may be shown.
    """
    catalogue = context().desk.catalogue
    if public:
        centre = catalogue.find(code) if code else next(iter(catalogue.centres), None)
    else:
        mine = visible_centres()
        centre = next((c for c in mine if c.code == code), None) if code else next(iter(mine), None)
    if centre is None:
        abort(404, description="没有这个服务中心（no such centre）")
    return centre


@bp.get("/")
@require("queue.view")
def index() -> str:
    desk = context().desk
    centre = chosen_centre(request.args.get("centre"))
    return render_template(
        "dashboard.html",
        centre=centre,
        centres=visible_centres(),
        day=desk.today(),
        summary=desk.summary(centre.code),
        tickets=desk.tickets(centre.code),
        kiosks=desk.kiosks(centre.code),
        service_names={s.code: s.name for s in centre.services},
        refresh=REFRESH_SECONDS,
    )
