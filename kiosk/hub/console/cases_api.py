"""Cases as JSON for other platforms: an Open311 GeoReport v2 shaped API and the staff
actions, behind a staff API token (``Authorization: Bearer``) or a console session.

GeoReport mapping (docs/cases.md): ``service_request_id`` = tracking code, ``status`` =
open/closed from the state type, ``status_notes`` = the latest public step,
``requested_datetime`` = submitted, ``updated_datetime`` = last event,
``expected_datetime`` = handling due (acceptance due before acceptance),
``agency_responsible`` = the holding unit's name; ``extended_attributes`` carries the
detailed state. ``description`` is the resident's text (staff only: this API needs a
token). Every case answered is one the token's user may see (its units).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, jsonify, request
from werkzeug.wrappers import Response

from kiosk.domain.cases.model import Actor
from kiosk.domain.cases.public import timeline
from kiosk.domain.cases.records import event_to_record
from kiosk.domain.cases.sla import accept_due, handle_due
from kiosk.domain.cases.states import (
    STATE_LABELS,
    STATE_TYPES,
    Case,
    TransitionRefused,
    open311_status,
)
from kiosk.domain.cases.text import InvalidText
from kiosk.hub.cases.actions import Access, ActionError, buttons, make_command
from kiosk.hub.cases.store import CaseNotFound, EventIdTaken
from kiosk.hub.console.cases import access, check_merge_target, load_visible, store
from kiosk.hub.console.common import json_error, staff
from kiosk.hub.models import CaseRow

bp = Blueprint("cases_api", __name__)

MAX_REQUESTS = 1000  # GeoReport's usual page; narrow by dates for more
OPEN_STATES_SQL = ("pending", "open", "fixed")


def _request_json(case: Case, row: CaseRow) -> dict[str, Any]:
    d = store().directory
    steps = timeline(case)
    unit = d.units.get(row.unit)
    expected = handle_due(case) if case.accepted_at is not None else accept_due(case)
    place = case.submission.place
    return {
        "service_request_id": case.code,
        "status": open311_status(case.state),
        "status_notes": f"{steps[-1].title}：{steps[-1].detail}" if steps else "",
        "service_name": d.category_names().get(case.submission.category, case.submission.category),
        "service_code": case.submission.category,
        "description": case.submission.description or case.submission.title,
        "agency_responsible": unit.unit.name if unit else row.unit,
        "service_notice": "",
        "requested_datetime": case.submitted_at.isoformat(),
        "updated_datetime": case.last_event.at.isoformat(),
        "expected_datetime": expected.isoformat() if expected else None,
        "address": " ".join(
            part
            for part in (
                place.street.name,
                place.community.name,
                place.grid.name if place.grid else "",
                place.building or "",
            )
            if part
        ),
        "address_id": place.grid.id if place.grid else place.community.id,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
        "extended_attributes": {
            "state": str(case.state),
            "state_label": STATE_LABELS[case.state],
            "state_type": STATE_TYPES[case.state],
            "channel": case.submission.channel,
            "title": case.submission.title,
            "unit": row.unit,
            "co_handlers": [u.id for u in case.co_handlers],
            "supporters": case.support_count,
            "rework_count": case.rework_count,
            "accept_due": accept_due(case).isoformat(),
            "handle_due": _iso(handle_due(case)),
            "merged_into": case.merged_into,
        },
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@bp.get("/open311/v2/services.json")
def services() -> Response:
    access()
    d = store().directory
    return jsonify(
        [
            {
                "service_code": c.id,
                "service_name": c.name,
                "description": f"{c.name}（时限 {d.sla.tiers[c.tier]} 小时）",
                "metadata": False,
                "type": "realtime",
                "keywords": c.tier,
                "group": "民情诉求",
            }
            for c in d.categories.values()
        ]
    )


def _date_arg(name: str) -> datetime | None:
    text = request.args.get(name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        abort(400, description=f"{name} must be an ISO 8601 date-time")
    if value.tzinfo is None:
        abort(400, description=f"{name} must carry its UTC offset")
    return value


@bp.get("/open311/v2/requests.json")
def requests_list() -> Response:
    who = access()
    conditions: list[Any] = []
    ids = [i.strip() for i in request.args.get("service_request_id", "").split(",") if i.strip()]
    if ids:
        conditions.append(CaseRow.code.in_(ids[:MAX_REQUESTS]))
    codes = [c.strip() for c in request.args.get("service_code", "").split(",") if c.strip()]
    if codes:
        conditions.append(CaseRow.category.in_(codes))
    status = request.args.get("status")
    if status == "open":
        conditions.append(CaseRow.state_type.in_(OPEN_STATES_SQL))
    elif status == "closed":
        conditions.append(CaseRow.state_type == "closed")
    elif status:
        abort(400, description="status must be open or closed")
    start, end = _date_arg("start_date"), _date_arg("end_date")
    if start:
        conditions.append(CaseRow.submitted_at >= start)
    if end:
        conditions.append(CaseRow.submitted_at < end)
    if request.args.get("state"):
        conditions.append(CaseRow.state == request.args["state"])
    rows = [r for r in store().rows(*conditions, limit=MAX_REQUESTS) if who.sees(r)]
    cases = {c.code: c for c in store().cases(CaseRow.code.in_([r.code for r in rows]))}
    return jsonify([_request_json(cases[r.code], r) for r in rows if r.code in cases])


@bp.get("/open311/v2/requests/<code>.json")
def request_one(code: str) -> Response:
    who = access()
    stored = load_visible(code, who)
    # GeoReport answers a single request as a list of one.
    return jsonify([_request_json(stored.case, stored.row)])


@bp.get("/api/cases/<code>")
def case_json(code: str) -> Response:
    """The case with its full event log (internal notes included: staff only)."""
    who = access()
    stored = load_visible(code, who)
    body = _request_json(stored.case, stored.row)
    body["events"] = [event_to_record(e) for e in stored.case.events]
    body["actions"] = buttons(stored.case) if who.acting_units(stored.row) else []
    return jsonify(body)


@bp.post("/api/cases/<code>/actions/<action>")
def case_action(code: str, action: str) -> Response | tuple[Response, int]:
    """A staff action as JSON: the fields the console form has (reason, summary, target,
    lead, co_handlers, text, reply, template, rating, solved, comment, as_unit)."""
    who: Access = access()
    stored = load_visible(code, who)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "bad_request", "send a JSON object"), 400
    acting = who.acting_units(stored.row)
    unit = str(body.get("as_unit") or (acting[0] if acting else ""))
    if unit not in acting:
        return json_error(403, "forbidden", "you cannot act for that unit on this case"), 403
    user = staff()
    if user is None:  # pragma: no cover - access() checked it
        abort(401)
    try:
        command = make_command(
            action, body, Actor("staff", user.username, unit), stored.case, store().directory
        )
        check_merge_target(command, who)
        case = store().act(
            stored.row.code,
            command,
            event_id=str(body["event_id"])[:64] if body.get("event_id") else None,
            remote_addr=request.remote_addr,
        )
    except TransitionRefused as err:
        return json_error(409, "refused", str(err)), 409
    except EventIdTaken as err:
        return json_error(409, "event_id_taken", str(err)), 409
    except (InvalidText, ActionError) as err:
        return json_error(400, "invalid", str(err)), 400
    except CaseNotFound as err:
        return json_error(404, "unknown_case", str(err)), 404
    row = store().get(case.code).row
    return jsonify(_request_json(case, row))
