"""Cases at the touch screen: 民情意见箱 and 党员提案 (file a case), 查进度 (progress, rating).

One decision per screen, plain forms (they work without JavaScript), Post/Redirect/Get.
The case being filed is a :class:`~kiosk.touch.casework.Draft` in this process's memory,
found through an id in the session; the idle reset clears the session, so it is gone with
the resident. The logic lives in ``casework.py``; the JSON API is at the end of this module
(docs/touch-openapi.yaml).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers.response import Response as BaseResponse

from kiosk.domain.cases.model import CHANNELS
from kiosk.domain.identity import InvalidPhone
from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.protocol.cases import CaseLookupResult, GridNode
from kiosk.protocol.messages import new_id
from kiosk.settings import Settings
from kiosk.touch import wording
from kiosk.touch.casework import (
    SAVED_OFFLINE,
    CaseDesk,
    CaseProblem,
    CaseRequest,
    Draft,
    Fault,
    checked_text,
    local_time,
    scanned,
)
from kiosk.touch.context import touch_context
from kiosk.touch.csrf import csrf_ok, same_origin
from kiosk.touch.errors import ApiError, problem_page
from kiosk.touch.i18n import N_, gettext
from kiosk.touch.identify import on_forget
from kiosk.touch.link import KioskLink, UnknownPrintJob
from kiosk.touch.wording import Problem

_LOGGER = logging.getLogger(__name__)

bp = Blueprint("cases", __name__)

EXTENSION = "kiosk.touch.cases"
DRAFT_KEY = "case_draft"
FILED_KEY = "case_filed"  # the code this session just filed: its slip page shows the PIN
PIN_KEY = "case_pin"  # {"code", "pin"} from a scanned slip QR, for the rating screens
MAX_BODY = 64 * 1024  # a 2,000-character description escaped as \\uXXXX, with room to spare
MAX_FIELD = 16 * 1024  # one form field: the description
STEPS = 6  # category, place, title, description, identity, confirm
_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
_PIN = re.compile(r"[0-9]{6}")

# --- what the resident is told ------------------------------------------------------------

PROBLEMS: dict[Fault, Problem] = {
    "bad_channel": Problem("bad_channel", 400, N_("Choose the suggestion box or a proposal.")),
    "unknown_category": Problem(
        "unknown_category", 400, N_("There is no such category; please choose again.")
    ),
    "unknown_grid": Problem(
        "unknown_grid", 400, N_("There is no such place; please choose again.")
    ),
    "bad_building": Problem("bad_building", 400, N_("A building is 1 to 40 characters.")),
    "bad_text": Problem("bad_text", 400, N_("Please check what you typed.")),
    "bad_phone": Problem(
        "bad_phone",
        400,
        N_("A mobile number has 11 digits and starts with 1. Please check it and try again."),
    ),
    "contact_needs_phone": Problem(
        "contact_needs_phone", 400, N_("To be contacted by the staff, please give a mobile number.")
    ),
    "proposal_needs_card": Problem(
        "proposal_needs_card",
        403,
        N_("A party member's proposal needs your ID card: please place it on the reader."),
    ),
    "no_categories": Problem(
        "no_categories",
        503,
        N_("Suggestions cannot be taken at this kiosk yet; please ask at the service desk."),
        title=N_("Suggestions cannot be taken here yet"),
        advice=N_("The staff at the service desk will write it down for you."),
    ),
    "no_codes": Problem(
        "no_codes",
        503,
        N_("This kiosk cannot save suggestions right now; please ask at the service desk."),
        title=N_("Suggestions cannot be saved here right now"),
        advice=N_("The staff at the service desk will write it down for you."),
    ),
    "too_many": Problem(
        "too_many",
        429,
        N_("Many suggestions were made here just now; please try again in a few minutes."),
    ),
    "bad_code": Problem(
        "bad_code",
        400,
        N_("This is not a tracking code. Please check it against your slip (like MQ-2026-0042-Q)."),
    ),
    "unknown_case": Problem(
        "unknown_case",
        404,
        N_("No case has this tracking code. Please check it against your slip."),
    ),
    "cannot_rate": Problem("cannot_rate", 409, N_("This case cannot be rated now.")),
    "bad_pin": Problem(
        "bad_pin",
        403,
        N_("The rating code is not right. Please check the 6 digits on your slip."),
    ),
    "pin_required": Problem(
        "pin_required",
        403,
        N_("Please enter the 6-digit rating code printed on your slip."),
    ),
    "support_refused": Problem(
        "support_refused", 409, N_("Your voice is already counted for this problem.")
    ),
    "rate_limited": Problem(
        "rate_limited",
        429,
        N_("Too many requests from this kiosk or this person; please try again later."),
    ),
    "hub_refused": Problem(
        "hub_refused", 502, N_("The service centre could not do this; please ask at the desk.")
    ),
    "hub_unreachable": Problem(
        "hub_unreachable",
        503,
        N_("The service centre cannot be reached right now; please try again later."),
        title=N_("The service centre cannot be reached right now"),
        advice=N_("A suggestion can still be made: it is saved on this kiosk and sent later."),
    ),
}

# Why a text was refused, in words for the screen (the field and the domain's problem).
TEXT_PROBLEMS: dict[tuple[str, str], str] = {
    ("title", "empty"): N_("Please type a short title."),
    ("title", "too_short"): N_("The title needs at least 2 characters."),
    ("title", "too_long"): N_("The title is at most 60 characters; please shorten it."),
    ("description", "too_long"): N_("The description is at most 2000 characters."),
    ("comment", "too_long"): N_("The comment is at most 500 characters."),
}

RATING_NAMES = {
    "satisfied": N_("Satisfied"),
    "basic": N_("Mostly satisfied"),
    "unsatisfied": N_("Not satisfied"),
}
# Icons of tiles, by the name a category gives (static/cases-icons.svg); others get "other".
CATEGORY_ICONS = frozenset(
    {"road", "light", "water", "trash", "noise", "safety", "building", "people", "other"}
    | {"broom", "wrench", "drop", "shield", "handshake", "bulb", "note"}
)
CHANNEL_NAMES = {"box": N_("Suggestion box"), "proposal": N_("Party member's proposal")}


# --- wiring ---------------------------------------------------------------------------------


def init(app: Flask, settings: Settings, link: KioskLink) -> CaseDesk:
    """Make the desk for this app and register the blueprint."""
    desk = CaseDesk(link, secret=_secret(settings.kiosk.deployment_secret_file))
    app.extensions[EXTENSION] = desk
    on_forget(app, _forget_resident_cases)
    app.register_blueprint(bp)
    return desk


def _forget_resident_cases() -> None:
    """ "清除我的信息" and the idle reset: the draft, a scanned PIN and the codes just filed
    (whose slip page shows the PIN) go with the resident; the next person sees none."""
    case_desk().drop_draft(session.pop(DRAFT_KEY, None))
    session.pop(PIN_KEY, None)
    session.pop(FILED_KEY, None)


def _secret(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        secret = path.read_bytes().strip()
    except OSError as err:
        _LOGGER.warning("deployment secret not readable (%s): only anonymous cases", err.strerror)
        return None
    return secret if len(secret) >= 16 else None


def case_desk() -> CaseDesk:
    return cast(CaseDesk, current_app.extensions[EXTENSION])


@bp.before_request
def _room_for_text() -> None:
    # The app allows 1 KB bodies (tickets need a few dozen bytes); a description needs more.
    request.max_content_length = MAX_BODY
    request.max_form_memory_size = MAX_FIELD


def _problem_page(problem: CaseProblem) -> tuple[str, int]:
    return problem_page(PROBLEMS[problem.fault])


def _text_problem(problem: CaseProblem) -> str:
    """The screen's words (a msgid) for a refused text."""
    return TEXT_PROBLEMS.get((problem.field, problem.kind), PROBLEMS["bad_text"].message)


# --- the start ------------------------------------------------------------------------------


@bp.get("/cases")
def start() -> str:
    case_desk().prepare()
    return render_template("cases/start.html", back=url_for("tickets.home"))


@bp.get("/cases/new/<channel>")
def new(channel: str) -> BaseResponse | str | tuple[str, int]:
    if channel not in CHANNELS:
        return problem_page(PROBLEMS["bad_channel"])
    resident = touch_context().residents.current()
    if channel == "proposal" and (resident is None or resident.id_number is None):
        # Comes back here by itself once the card is read (data-on-identified).
        return render_template(
            "cases/card.html",
            then=url_for("cases.new", channel=channel),
            back=url_for("cases.start"),
            phone_allowed=False,
        )
    session[DRAFT_KEY] = case_desk().new_draft(channel)
    return redirect(url_for("cases.category"), code=303)


def _draft() -> Draft | None:
    return case_desk().draft(session.get(DRAFT_KEY), touch_context().ui.idle_total * 4)


def _flow(view: str, draft: Draft, **values: Any) -> str:
    return render_template(
        f"cases/{view}.html",
        draft=draft,
        channel_name=CHANNEL_NAMES[draft.channel],
        steps=STEPS,
        **values,
    )


def _restart() -> BaseResponse:
    return redirect(url_for("cases.start"), code=303)


def _posted(field_name: str) -> str | None:
    """A form field of a valid form, or None when the form is stale (no CSRF token)."""
    if not csrf_ok():
        return None
    return request.form.get(field_name, "")


# --- step 1: category -------------------------------------------------------------------------


@bp.get("/cases/category")
def category() -> BaseResponse | str | tuple[str, int]:
    draft = _draft()
    if draft is None:
        return _restart()
    try:
        categories = case_desk().categories()
    except CaseProblem as err:
        return _problem_page(err)
    return _flow(
        "category",
        draft,
        step=1,
        categories=categories,
        known_icons=CATEGORY_ICONS,
        back=url_for("cases.start"),
    )


@bp.post("/cases/category")
def category_chosen() -> BaseResponse | tuple[str, int]:
    draft, value = _draft(), _posted("category")
    if draft is None or value is None:
        return problem_page(wording.FORM_EXPIRED) if draft else _restart()
    try:
        draft.category = case_desk().category(value).id
    except CaseProblem as err:
        return _problem_page(err)
    return redirect(url_for("cases.place"), code=303)


# --- step 2: place ----------------------------------------------------------------------------


@bp.get("/cases/place")
def place() -> BaseResponse | str | tuple[str, int]:
    draft = _draft()
    if draft is None or not draft.category:
        return _restart()
    try:
        tree = case_desk().grids()
    except CaseProblem as err:
        return _problem_page(err)
    wanted = request.args.get("community", tree.community)
    found = next(
        (
            (street, community)
            for street in tree.streets
            for community in street.communities
            if community.id == wanted
        ),
        None,
    )
    if found is None:
        return redirect(url_for("cases.communities"), code=303)
    street, community = found
    return _flow(
        "place",
        draft,
        step=2,
        street=street,
        community=community,
        back=url_for("cases.category"),
    )


@bp.get("/cases/communities")
def communities() -> BaseResponse | str | tuple[str, int]:
    draft = _draft()
    if draft is None:
        return _restart()
    try:
        tree = case_desk().grids()
    except CaseProblem as err:
        return _problem_page(err)
    return _flow("communities", draft, step=2, tree=tree, back=url_for("cases.place"))


@bp.post("/cases/place")
def place_chosen() -> BaseResponse | tuple[str, int]:
    draft, value = _draft(), _posted("grid")
    if draft is None or value is None:
        return problem_page(wording.FORM_EXPIRED) if draft else _restart()
    try:
        case_desk().place(value)
    except CaseProblem as err:
        return _problem_page(err)
    draft.grid, draft.building = value, None
    if _grid_node(value) is not None and _grid_node(value).buildings:  # type: ignore[union-attr]
        return redirect(url_for("cases.building"), code=303)
    return redirect(url_for("cases.similar"), code=303)


def _grid_node(grid_id: str) -> GridNode | None:
    try:
        tree = case_desk().grids()
    except CaseProblem:
        return None
    for street in tree.streets:
        for community in street.communities:
            for grid in community.grids:
                if grid.id == grid_id:
                    return grid
    return None


@bp.get("/cases/building")
def building() -> BaseResponse | str:
    draft = _draft()
    grid = _grid_node(draft.grid) if draft else None
    if draft is None or grid is None:
        return _restart()
    return _flow("building", draft, step=2, grid=grid, back=url_for("cases.place"))


@bp.post("/cases/building")
def building_chosen() -> BaseResponse | tuple[str, int]:
    draft, value = _draft(), _posted("building")
    if draft is None or value is None:
        return problem_page(wording.FORM_EXPIRED) if draft else _restart()
    grid = _grid_node(draft.grid)
    if value and (grid is None or value not in grid.buildings):
        return problem_page(PROBLEMS["unknown_grid"])
    draft.building = value or None
    return redirect(url_for("cases.similar"), code=303)


# --- before typing: the same problem reported already? -----------------------------------


@bp.get("/cases/similar")
def similar() -> BaseResponse | str:
    draft = _draft()
    if draft is None or not draft.grid:
        return _restart()
    cases = case_desk().similar(draft.category, draft.grid)
    if not cases:
        return redirect(url_for("cases.title"), code=303)
    event_ids = [new_id() for _ in cases]  # a double tap on "me too" counts once
    return _flow(
        "similar", draft, step=2, cases=cases, event_ids=event_ids, back=url_for("cases.place")
    )


@bp.post("/cases/support")
def support() -> BaseResponse | str | tuple[str, int]:
    draft, token = _draft(), _posted("token")
    if token is None:
        return problem_page(wording.FORM_EXPIRED)
    event_id = request.form.get("event_id", "")
    resident = touch_context().residents.current()
    try:
        count = case_desk().support(
            token[:128], resident, event_id if _EVENT_ID.match(event_id) else None
        )
    except CaseProblem as err:
        return _problem_page(err)
    if draft is not None:
        case_desk().drop_draft(session.pop(DRAFT_KEY, None))
    return render_template("cases/supported.html", supporters=count, back=url_for("cases.start"))


# --- steps 3 and 4: title and description ------------------------------------------------


@bp.get("/cases/title")
def title() -> BaseResponse | str:
    draft = _draft()
    if draft is None or not draft.grid:
        return _restart()
    return _flow("title", draft, step=3, value=draft.title, problem="", back=url_for("cases.place"))


@bp.post("/cases/title")
def title_entered() -> BaseResponse | str | tuple[str, int]:
    draft, value = _draft(), _posted("title")
    if draft is None or value is None:
        return problem_page(wording.FORM_EXPIRED) if draft else _restart()
    try:
        draft.title = checked_text("title", value)
    except CaseProblem as err:
        page = _flow("title", draft, step=3, value=value[:200], problem=_text_problem(err), back="")
        return page, 422
    return redirect(url_for("cases.description"), code=303)


@bp.get("/cases/description")
def description() -> BaseResponse | str:
    draft = _draft()
    if draft is None or not draft.title:
        return _restart()
    return _flow(
        "description",
        draft,
        step=4,
        value=draft.description,
        problem="",
        back=url_for("cases.title"),
    )


@bp.post("/cases/description")
def description_entered() -> BaseResponse | str | tuple[str, int]:
    draft, value = _draft(), _posted("description")
    if draft is None or value is None:
        return problem_page(wording.FORM_EXPIRED) if draft else _restart()
    try:
        draft.description = checked_text("description", value)
    except CaseProblem as err:
        page = _flow("description", draft, step=4, value=value, problem=_text_problem(err), back="")
        return page, 422
    return redirect(url_for("cases.identity"), code=303)


# --- step 5: who (anonymous, card or phone) and contact ---------------------------------


@bp.get("/cases/identity")
def identity() -> BaseResponse | str:
    draft = _draft()
    if draft is None or not draft.title:
        return _restart()
    if draft.channel == "proposal":
        draft.identify = True
        return redirect(url_for("cases.confirm"), code=303)
    return _flow("identity", draft, step=5, back=url_for("cases.description"))


@bp.post("/cases/identity")
def identity_chosen() -> BaseResponse | tuple[str, int]:
    draft, value = _draft(), _posted("who")
    if draft is None or value is None:
        return problem_page(wording.FORM_EXPIRED) if draft else _restart()
    resident = touch_context().residents.current()
    draft.identify = value == "me" and resident is not None
    if draft.identify and resident is not None and resident.phone:
        return redirect(url_for("cases.contact"), code=303)
    draft.contact_ok = False
    return redirect(url_for("cases.confirm"), code=303)


@bp.get("/cases/card")
def card() -> BaseResponse | str:
    draft = _draft()
    if draft is None:
        return _restart()
    return render_template(
        "cases/card.html",
        then=url_for("cases.identity"),
        back=url_for("cases.identity"),
        phone_allowed=True,
    )


@bp.get("/cases/phone")
def phone() -> BaseResponse | str:
    draft = _draft()
    if draft is None:
        return _restart()
    return _flow("phone", draft, step=5, problem="", value="", back=url_for("cases.identity"))


@bp.post("/cases/phone")
def phone_entered() -> BaseResponse | str | tuple[str, int]:
    draft, value = _draft(), _posted("phone")
    if draft is None or value is None:
        return problem_page(wording.FORM_EXPIRED) if draft else _restart()
    try:
        touch_context().residents.identify_phone(value[:22])
    except InvalidPhone:
        page = _flow(
            "phone",
            draft,
            step=5,
            problem=PROBLEMS["bad_phone"].message,
            value=value[:22],
            back=url_for("cases.identity"),
        )
        return page, 422
    draft.identify = True
    return redirect(url_for("cases.contact"), code=303)


@bp.get("/cases/contact")
def contact() -> BaseResponse | str:
    draft = _draft()
    if draft is None or not draft.title:
        return _restart()
    return _flow("contact", draft, step=5, back=url_for("cases.identity"))


@bp.post("/cases/contact")
def contact_chosen() -> BaseResponse | tuple[str, int]:
    draft, value = _draft(), _posted("contact")
    if draft is None or value is None:
        return problem_page(wording.FORM_EXPIRED) if draft else _restart()
    draft.contact_ok = value == "yes"
    return redirect(url_for("cases.confirm"), code=303)


# --- step 6: confirm and file -------------------------------------------------------------


@bp.get("/cases/confirm")
def confirm() -> BaseResponse | str | tuple[str, int]:
    draft = _draft()
    if draft is None or not draft.title or draft.identify is None:
        return _restart()
    desk = case_desk()
    try:
        category_name = desk.category(draft.category).name
        where = desk.place(draft.grid, draft.building)
    except CaseProblem as err:
        return _problem_page(err)
    resident = touch_context().residents.current() if draft.identify else None
    return _flow(
        "confirm",
        draft,
        step=6,
        category_name=category_name,
        where=where,
        who=resident.public() if resident else None,
        back=url_for("cases.identity"),
    )


@bp.post("/cases/submit")
def submit() -> BaseResponse | str | tuple[str, int]:
    draft = _draft()
    if draft is None:
        return _restart()
    if not csrf_ok():
        return problem_page(wording.FORM_EXPIRED)
    resident = touch_context().residents.current() if draft.identify else None
    if draft.identify and resident is None:
        return redirect(url_for("cases.identity"), code=303)  # forgotten meanwhile: ask again
    case_request = CaseRequest(
        channel=draft.channel,
        category=draft.category,
        grid=draft.grid,
        building=draft.building,
        title=draft.title,
        description=draft.description,
        contact_ok=bool(draft.contact_ok),
    )
    try:
        filed = case_desk().submit(case_request, resident)
    except CaseProblem as err:
        return _problem_page(err)
    case_desk().drop_draft(session.pop(DRAFT_KEY, None))
    session[FILED_KEY] = filed.code
    return redirect(url_for("cases.slip", code=filed.code), code=303)


@bp.get("/cases/slip/<code>")
def slip(code: str) -> str | tuple[str, int]:
    filed = case_desk().filed(code)
    if filed is None:
        return problem_page(PROBLEMS["unknown_case"])
    try:
        status, status_text = wording.print_status(
            touch_context().link.print_result(filed.print_job)
        )
    except UnknownPrintJob:
        status, status_text = "", ""
    return render_template(
        "cases/slip.html",
        filed=filed,
        channel_name=CHANNEL_NAMES[filed.channel],
        accept_due=local_time(filed.accept_due),
        print_status=status,
        print_text=status_text,
        # Only to the session that filed it: anyone may open /cases/slip/<code>.
        rating_pin=filed.rating_pin if session.get(FILED_KEY) == filed.code else None,
        back=url_for("cases.start"),
    )


# --- 查进度 ----------------------------------------------------------------------------------


@bp.get("/cases/progress")
def progress() -> BaseResponse | str | tuple[str, int]:
    """The form, or the timeline of ``?code=`` (a code only: the form posts, so a scanned
    slip's PIN never reaches the address bar or the history)."""
    typed = request.args.get("code", "")[:80]
    if not typed.strip():
        return render_template(
            "cases/progress.html", value="", problem="", back=url_for("cases.start")
        )
    try:
        code, pin = scanned(typed)
        if pin is not None:
            _keep_scanned_pin(code, pin)
            return redirect(url_for("cases.progress", code=code), code=303)
        found = case_desk().lookup(code)
    except CaseProblem as err:
        return _progress_problem(typed, err)
    return render_template(
        "cases/timeline.html",
        view=found.view,
        delivered=found.delivered,
        times=_times(found.view),
        tz=CENTRE_TIMEZONE,
        back=url_for("cases.progress"),
    )


@bp.post("/cases/progress")
def progress_posted() -> BaseResponse | str | tuple[str, int]:
    """The 查进度 form: a typed code, or a slip's QR (``CODE#PIN``) whose PIN is kept in
    the session for the rating screens; then the timeline at ``?code=`` (the code only)."""
    if not csrf_ok():
        return problem_page(wording.FORM_EXPIRED)
    typed = request.form.get("code", "")[:80]
    if not typed.strip():
        return redirect(url_for("cases.progress"), code=303)
    try:
        code, pin = scanned(typed)
    except CaseProblem as err:
        return _progress_problem(typed, err)
    if pin is not None:
        _keep_scanned_pin(code, pin)
    return redirect(url_for("cases.progress", code=code), code=303)


def _keep_scanned_pin(code: str, pin: str) -> None:
    session[PIN_KEY] = {"code": code, "pin": pin}


def _progress_problem(typed: str, err: CaseProblem) -> BaseResponse | str | tuple[str, int]:
    if err.fault in ("bad_code", "unknown_case"):
        page = render_template(
            "cases/progress.html",
            value=typed.split("#", 1)[0],  # never the PIN back on the screen
            problem=PROBLEMS[err.fault].message,
            back=url_for("cases.start"),
        )
        return page, PROBLEMS[err.fault].status
    return _problem_page(err)


def _times(view: CaseLookupResult) -> dict[str, str]:
    return {
        "accept_due": local_time(view.accept_due),
        "handle_due": local_time(view.handle_due) if view.handle_due else "",
    }


@bp.get("/cases/rate/<code>")
def rate(code: str) -> str:
    """Rating, one decision per screen: the level, then solved or not, then a comment."""
    level = request.args.get("rating", "")
    solved = request.args.get("solved", "")
    page = functools.partial(
        render_template, "cases/rate.html", code=code, levels=list(RATING_NAMES.items())
    )
    if level not in RATING_NAMES:
        return page(ask="level", back=url_for("cases.progress", code=code))
    if solved not in ("yes", "no"):
        return page(ask="solved", level=level, back=url_for("cases.rate", code=code))
    return page(
        ask="comment",
        level=level,
        solved=solved,
        problem="",
        event_id=new_id(),
        back=url_for("cases.rate", code=code, rating=level),
    )


@bp.post("/cases/rate/<code>")
def rated(code: str) -> BaseResponse | str | tuple[str, int]:
    """The comment form and the PIN form both post here. Without a PIN (typed now, or
    scanned with the slip's QR) and without "my ID card", the PIN screen is shown first."""
    if not csrf_ok():
        return problem_page(wording.FORM_EXPIRED)
    form = _RatingForm.posted(code)
    try:
        checked_text("comment", form.comment)
    except CaseProblem as err:
        return _comment_page(form, _text_problem(err)), 422
    pin = None if form.with_card else form.pin if form.pin is not None else _scanned_pin(code)
    if pin is None and not form.with_card:
        return _pin_page(form, "")
    resident = touch_context().residents.current()
    try:
        result = case_desk().rate(
            code, form.level, form.solved == "yes", form.comment, resident, form.event_id, pin=pin
        )
    except CaseProblem as err:
        if err.fault in ("bad_pin", "pin_required"):
            session.pop(PIN_KEY, None)
            return _pin_page(form, PROBLEMS[err.fault].message), PROBLEMS[err.fault].status
        if err.fault == "bad_text":
            return _comment_page(form, _text_problem(err)), 422
        return _problem_page(err)
    session.pop(PIN_KEY, None)
    return render_template(
        "cases/rated.html",
        code=result.code,
        saved_offline=result.state == SAVED_OFFLINE,
        rework=form.level == "unsatisfied",
        back=url_for("cases.start"),
    )


@dataclass(frozen=True, slots=True)
class _RatingForm:
    code: str
    level: str
    solved: str
    comment: str
    event_id: str | None
    pin: str | None  # None: the form had no PIN field (the comment form)
    with_card: bool

    @classmethod
    def posted(cls, code: str) -> _RatingForm:
        event_id = request.form.get("event_id", "")
        pin = request.form.get("pin")
        return cls(
            code=code,
            level=request.form.get("rating", ""),
            solved="yes" if request.form.get("solved", "") == "yes" else "no",
            comment=request.form.get("comment", ""),
            event_id=event_id if _EVENT_ID.match(event_id) else None,
            pin=pin.strip()[:12] if pin is not None else None,
            with_card=request.form.get("with_card") == "yes",
        )


def _scanned_pin(code: str) -> str | None:
    """The PIN of a slip's QR scanned at 查进度, when it was for this code."""
    held = session.get(PIN_KEY)
    if not isinstance(held, dict):
        return None
    try:
        canonical = scanned(code)[0]
    except CaseProblem:
        return None
    pin = held.get("pin")
    return pin if held.get("code") == canonical and isinstance(pin, str) else None


def _comment_page(form: _RatingForm, problem: str) -> str:
    return render_template(
        "cases/rate.html",
        code=form.code,
        ask="comment",
        level=form.level,
        solved=form.solved,
        problem=problem,
        value=form.comment[:600],
        event_id=form.event_id or new_id(),
        levels=list(RATING_NAMES.items()),
        back=url_for("cases.rate", code=form.code, rating=form.level),
    )


def _pin_page(form: _RatingForm, problem: str) -> str:
    resident = touch_context().residents.current()
    return render_template(
        "cases/rate.html",
        code=form.code,
        ask="pin",
        level=form.level,
        solved=form.solved,
        comment=form.comment[:600],
        problem=problem,
        event_id=form.event_id or new_id(),
        has_card=resident is not None and resident.id_number is not None,
        levels=list(RATING_NAMES.items()),
        back=url_for("cases.rate", code=form.code, rating=form.level, solved=form.solved),
    )


# --- JSON API --------------------------------------------------------------------------------

CASE_FIELDS = frozenset(
    {"channel", "category", "grid", "building", "title", "description", "phone", "contact_ok"}
)
RATING_FIELDS = frozenset({"rating", "solved", "comment", "pin"})


def _api_problem(err: CaseProblem) -> ApiError:
    detail = err.detail if not err.field else f"{err.field}: {err.detail}"
    return ApiError(PROBLEMS[err.fault], detail)


@bp.get("/api/cases/categories")
def api_categories() -> Response:
    try:
        categories = case_desk().categories()
    except CaseProblem as err:
        raise _api_problem(err) from err
    return jsonify(categories=[category.model_dump(mode="json") for category in categories])


@bp.get("/api/grids")
def api_grids() -> Response:
    try:
        tree = case_desk().grids()
    except CaseProblem as err:
        raise _api_problem(err) from err
    return jsonify(tree.model_dump(mode="json"))


@bp.post("/api/cases")
def api_submit() -> tuple[Response, int]:
    if not same_origin():
        raise ApiError(wording.FORBIDDEN_ORIGIN)
    body = _json_object()
    case_request = _case_request(body)
    resident = touch_context().residents.current()
    try:
        filed = case_desk().submit(case_request, resident)
    except CaseProblem as err:
        raise _api_problem(err) from err
    answer = {
        "tracking_code": filed.code,
        "accept_due": filed.accept_due.isoformat(),
        "saved_offline": filed.saved_offline,
        "print_job": filed.print_job,
    }
    return jsonify(answer), 201


@bp.get("/api/cases/<code>")
def api_lookup(code: str) -> Response:
    try:
        found = case_desk().lookup(code)
    except CaseProblem as err:
        raise _api_problem(err) from err
    return jsonify({**found.view.model_dump(mode="json"), "delivered": found.delivered})


@bp.post("/api/cases/<code>/rating")
def api_rate(code: str) -> Response:
    if not same_origin():
        raise ApiError(wording.FORBIDDEN_ORIGIN)
    body = _json_object()
    problems = _unexpected(body, RATING_FIELDS)
    rating, solved, comment = body.get("rating"), body.get("solved"), body.get("comment", "")
    pin = body.get("pin")
    if not isinstance(rating, str) or rating not in RATING_NAMES:
        problems.append("'rating' must be 'satisfied', 'basic' or 'unsatisfied'.")
    if not isinstance(solved, bool):
        problems.append("'solved' must be true or false.")
    if not isinstance(comment, str):
        problems.append("'comment' must be a string.")
    if pin is not None and not (isinstance(pin, str) and _PIN.fullmatch(pin)):
        problems.append("'pin' must be the 6 digits of the slip's rating code, as a string.")
    if problems:
        raise ApiError(wording.BAD_REQUEST, " ".join(problems))
    resident = touch_context().residents.current()
    try:
        result = case_desk().rate(code, str(rating), bool(solved), str(comment), resident, pin=pin)
    except CaseProblem as err:
        raise _api_problem(err) from err
    answer = result.model_dump(mode="json")
    answer["rework"] = rating == "unsatisfied"
    return jsonify(answer)


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    required: bool
    kind: type


_CASE_SHAPE = (
    _Field("channel", True, str),
    _Field("category", True, str),
    _Field("grid", True, str),
    _Field("title", True, str),
    _Field("description", False, str),
    _Field("building", False, str),
    _Field("phone", False, str),
    _Field("contact_ok", False, bool),
)


def _case_request(body: dict[str, Any]) -> CaseRequest:
    problems = _unexpected(body, CASE_FIELDS)
    for spec in _CASE_SHAPE:
        value = body.get(spec.name)
        if value is None:
            if spec.required:
                problems.append(f"The field {spec.name!r} is missing.")
        elif not isinstance(value, spec.kind):
            problems.append(
                f"{spec.name!r} must be a {'boolean' if spec.kind is bool else 'string'}."
            )
    if problems:
        raise ApiError(wording.BAD_REQUEST, " ".join(problems))
    return CaseRequest(
        channel=body["channel"],
        category=body["category"],
        grid=body["grid"],
        title=body["title"],
        description=body.get("description") or "",
        building=body.get("building"),
        phone=body.get("phone"),
        contact_ok=bool(body.get("contact_ok", False)),
    )


def _unexpected(body: dict[str, Any], allowed: frozenset[str]) -> list[str]:
    extra = sorted(set(body) - allowed)
    if not extra:
        return []
    return [f"Unexpected field(s) {', '.join(map(repr, extra))}."]


def _json_object() -> dict[str, Any]:
    if request.mimetype != "application/json":
        raise ApiError(wording.UNSUPPORTED_MEDIA_TYPE)
    try:
        body = json.loads(request.get_data(cache=False))
    except ValueError as err:
        raise ApiError(wording.BAD_JSON) from err
    if not isinstance(body, dict):
        raise ApiError(wording.BAD_JSON)
    return body


def rating_name(level: str) -> str:
    return gettext(RATING_NAMES.get(level, level))
