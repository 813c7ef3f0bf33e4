"""Finding a service by typing: pinyin with candidate characters, English letters or digits.

Type on the on-screen keyboard, then tap a match to take its ticket (the same form as the
start screen's buttons). A search, not a form to fill: no step counter.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from kiosk.protocol.messages import ServiceInfo, new_id
from kiosk.protocol.rpc import RpcFailed, RpcTimeout
from kiosk.touch.context import touch_context
from kiosk.touch.errors import hub_problem, problem_page

bp = Blueprint("find", __name__)

MAX_QUERY = 20  # characters; a service name is a few words


def matching(services: list[ServiceInfo], query: str) -> list[ServiceInfo]:
    """Services whose name or code contains ``query``, or whose ticket letter it is."""
    wanted = query.strip().casefold()
    if not wanted:
        return []
    return [
        service
        for service in services
        if wanted in service.name.casefold()
        or wanted in service.code.casefold()
        or wanted == service.prefix.casefold()
    ]


@bp.get("/find")
def search() -> str:
    query = request.args.get("q", "")[:MAX_QUERY]
    return render_template("find/search.html", query=query)


@bp.get("/find/results")
def results() -> Response | str | tuple[str, int]:
    query = request.args.get("q", "").strip()[:MAX_QUERY]
    if not query:
        return redirect(url_for("find.search"), code=303)
    try:
        listing = touch_context().link.services()
    except (RpcTimeout, RpcFailed) as err:
        return problem_page(hub_problem(err))
    # One event id per button and page view, as on the start screen.
    choices = [(service, new_id()) for service in matching(listing.services, query)]
    others = [] if choices else [(service, new_id()) for service in listing.services]
    return render_template(
        "find/results.html",
        query=query,
        choices=choices,
        others=others,
        centre_name=listing.centre_name,
    )
