"""The touch app's JSON API for tickets and the kiosk's status (docs/touch-openapi.yaml).

The pages do not need it to work (they are plain forms); with JavaScript they follow the
printer and the kiosk's status with it, and tests, the benchmark and future front ends take
tickets through it. Identity and help have their endpoints in ``identify.py`` and
``assist.py``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from kiosk.protocol.rpc import RpcFailed, RpcTimeout
from kiosk.touch import wording
from kiosk.touch.context import touch_context
from kiosk.touch.csrf import same_origin
from kiosk.touch.errors import ApiError, hub_problem
from kiosk.touch.issuing import service_code_problem
from kiosk.touch.link import UnknownPrintJob
from kiosk.touch.screens import status_seqs

bp = Blueprint("api", __name__)

TICKET_FIELDS = frozenset({"service", "event_id"})
EVENT_ID = re.compile(r"^[0-9a-f]{32}$")  # what new_id() makes


@bp.get("/services")
def services() -> Response:
    try:
        listing = touch_context().link.services()
    except (RpcTimeout, RpcFailed) as err:
        raise ApiError(hub_problem(err)) from err
    return jsonify(listing.model_dump(mode="json"))


@bp.post("/tickets")
def take_ticket() -> tuple[Response, int]:
    if not same_origin():
        raise ApiError(wording.FORBIDDEN_ORIGIN)
    service, event_id = _ticket_request()
    try:
        issued = touch_context().desk.issue(service, event_id)
    except (RpcTimeout, RpcFailed) as err:
        raise ApiError(hub_problem(err)) from err
    ticket = issued.ticket
    body = {
        "number": ticket.number,
        "service": ticket.service,
        "service_name": ticket.service_name,
        "waiting_ahead": None if issued.offline else ticket.waiting_ahead,
        "issued_at": ticket.issued_at.isoformat(),
        "print_job": issued.print_job,
        "offline": issued.offline,
    }
    return jsonify(body), 201


@bp.get("/print-jobs/<job_id>")
def print_job(job_id: str) -> Response:
    try:
        result = touch_context().link.print_result(job_id)
    except UnknownPrintJob as err:
        raise ApiError(wording.UNKNOWN_PRINT_JOB) from err
    status, text = wording.print_status(result)
    detail = result.detail if result else ""
    return jsonify(job_id=job_id, status=status, message=text, detail=detail)


@bp.get("/status")
def status() -> Response:
    """What every screen polls: the hub banner, and counters that say something happened
    (a card read, a card refused, motion, a help request). Cheap: no hub, no lock held long.
    """
    ctx = touch_context()
    ctx.link.probe_hub()
    return jsonify(
        hub="unreachable" if ctx.link.hub_unreachable else "online",
        identified=ctx.residents.current() is not None,
        **status_seqs(),
    )


def _ticket_request() -> tuple[str, str | None]:
    """The service code and optional retry key of a ``{"service": "<code>", "event_id"?}``
    body; ApiError for anything else."""
    if request.mimetype != "application/json":
        raise ApiError(wording.UNSUPPORTED_MEDIA_TYPE)
    body = _json_body()
    problems = []
    if "service" not in body:
        problems.append("The field 'service' is missing.")
    elif problem := service_code_problem(body["service"]):
        problems.append(problem)
    event_id = body.get("event_id")
    if event_id is not None and not (isinstance(event_id, str) and EVENT_ID.match(event_id)):
        problems.append("'event_id' must be 32 lowercase hexadecimal characters.")
    if extra := sorted(set(body) - TICKET_FIELDS):
        problems.append(
            f"Unexpected field(s) {', '.join(map(repr, extra))}; send 'service' and 'event_id'."
        )
    if problems:
        raise ApiError(wording.BAD_REQUEST, " ".join(problems))
    return str(body["service"]), event_id


def _json_body() -> dict[str, Any]:
    # get_data raises 413 past MAX_CONTENT_LENGTH before anything is parsed.
    try:
        body = json.loads(request.get_data(cache=False))
    except ValueError as err:  # UnicodeDecodeError is a ValueError too
        raise ApiError(wording.BAD_JSON) from err
    if not isinstance(body, dict):
        raise ApiError(wording.BAD_JSON)
    return body
