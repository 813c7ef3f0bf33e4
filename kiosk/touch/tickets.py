"""Taking a queue ticket at the touch screen: choose a service, see the number, take the slip.

Plain HTML forms (they work without JavaScript), Post/Redirect/Get so that reloading the
ticket page can never take a second number.
"""

from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response

from kiosk.protocol.messages import new_id
from kiosk.protocol.rpc import RpcFailed, RpcTimeout
from kiosk.touch import wording
from kiosk.touch.commands import kiosk_commands
from kiosk.touch.context import touch_context
from kiosk.touch.csrf import csrf_ok
from kiosk.touch.errors import hub_problem, problem_page
from kiosk.touch.issuing import service_code_problem
from kiosk.touch.link import UnknownPrintJob

bp = Blueprint("tickets", __name__)

RETURN_HOME_AFTER = 30  # seconds the ticket page stays; the number is on the slip anyway

_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")


@bp.get("/")
def home() -> str | tuple[str, int]:
    ctx = touch_context()
    try:
        listing = kiosk_commands().services(ctx.link.services())
    except (RpcTimeout, RpcFailed) as err:
        return problem_page(hub_problem(err))
    # With the hub away the buttons still work: tickets come from this kiosk's lease.
    ctx.desk.top_up_all([service.code for service in listing.services])
    # One event id per button and page view: a double tap gets the same ticket, not two.
    choices = [(service, new_id()) for service in listing.services]
    return render_template(
        "home.html",
        centre_name=listing.centre_name,
        choices=choices,
        back=url_for("welcome.attract"),
    )


@bp.post("/tickets")
def take() -> Response | tuple[str, int]:
    if not csrf_ok():
        return problem_page(wording.FORM_EXPIRED)
    service = request.form.get("service", "")
    if service_code_problem(service):
        return problem_page(wording.UNKNOWN_SERVICE)
    event_id = request.form.get("event_id", "")
    retry_key = event_id if _EVENT_ID.match(event_id) else None
    try:
        issued = touch_context().desk.issue(service, retry_key)
    except (RpcTimeout, RpcFailed) as err:
        return problem_page(hub_problem(err))
    return redirect(url_for("tickets.show", number=issued.ticket.number), code=303)


@bp.get("/tickets/<number>")
def show(number: str) -> str | tuple[str, int]:
    ctx = touch_context()
    issued = ctx.desk.recent(number)
    if issued is None:
        return problem_page(wording.UNKNOWN_TICKET)
    try:
        status, status_text = wording.print_status(ctx.link.print_result(issued.print_job))
    except UnknownPrintJob:
        status, status_text = "", ""  # long forgotten: say nothing rather than guess
    return render_template(
        "ticket.html",
        centre_name=issued.ticket.centre_name,
        ticket=issued.ticket,
        offline=issued.offline,
        print_job=issued.print_job,
        print_status=status,
        print_text=status_text,
        return_after=RETURN_HOME_AFTER,
    )
