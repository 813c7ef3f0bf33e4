"""Identity at the kiosk: swipe the ID card or type a mobile number, see only masked data.

Three steps: choose how, then the card reader or the number pad, then who we think you
are. The card itself arrives from the firmware bridge (``devices.py``); the card screen
polls ``GET /api/status`` and moves on when the resident changes. "清除我的信息" works on
every screen. The JSON API: ``GET``/``DELETE /api/session`` and ``POST /api/activity``.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers.response import Response as BaseResponse

from kiosk.domain.identity import InvalidPhone
from kiosk.touch import wording
from kiosk.touch.context import touch_context
from kiosk.touch.csrf import csrf_ok, same_origin
from kiosk.touch.errors import ApiError, problem_page
from kiosk.touch.i18n import N_
from kiosk.touch.resident import NOBODY
from kiosk.touch.screens import safe_next

bp = Blueprint("identify", __name__)

STEPS = 3
FORGET_HOOKS = "kiosk.touch.identify.forget"
PHONE_DIGITS = 11
CLEARED = N_("Your information has been cleared from this kiosk.")
PHONE_PROBLEM = N_(
    "A mobile number has 11 digits and starts with 1. Please check it and try again."
)
CARD_NAMES = {
    "resident": N_("Resident identity card"),
    "hmt": N_("Residence permit for Hong Kong, Macao and Taiwan residents"),
    "foreign2017": N_("Foreign permanent resident ID card"),
    "foreign2023": N_("Foreign permanent resident ID card"),
}


def on_forget(app: Flask, hook: Callable[[], None]) -> None:
    """Let a feature forget what a resident left in it (a case draft, a scanned PIN) when
    the resident is forgotten; ``hook`` runs inside the request that forgets."""
    app.extensions.setdefault(FORGET_HOOKS, []).append(hook)


def forget_visit() -> None:
    """The one place that forgets everything the resident left at this screen: who they
    are, and what each feature kept for them (its hook). The clear button and the idle
    reset both end here."""
    touch_context().residents.forget()
    for hook in current_app.extensions.get(FORGET_HOOKS, []):
        hook()


@bp.get("/identify")
def choose() -> str:
    return render_template("identify/choose.html", step=1, steps=STEPS)


@bp.get("/identify/card")
def card() -> str:
    return render_template("identify/card.html", step=2, steps=STEPS)


@bp.get("/identify/phone")
def phone() -> str:
    return render_template("identify/phone.html", step=2, steps=STEPS, problem="", value="")


@bp.post("/identify/phone")
def phone_entered() -> BaseResponse | tuple[str, int]:
    if not csrf_ok():
        return problem_page(wording.FORM_EXPIRED)
    value = request.form.get("phone", "")[: PHONE_DIGITS * 2]
    try:
        touch_context().residents.identify_phone(value)
    except InvalidPhone:
        page = render_template(
            "identify/phone.html", step=2, steps=STEPS, problem=PHONE_PROBLEM, value=value
        )
        return page, 422
    return redirect(url_for("identify.done"), code=303)


@bp.get("/identify/done")
def done() -> BaseResponse | str:
    resident = touch_context().residents.current()
    if resident is None:
        return redirect(url_for("identify.choose"), code=303)
    return render_template(
        "identify/done.html", step=3, steps=STEPS, who=resident.public(), card_names=CARD_NAMES
    )


@bp.post("/identify/forget")
def forget() -> BaseResponse:
    """The "clear my information" button. No CSRF token on purpose: forgetting is always
    safe, and it must work even from a page older than the app's last restart."""
    forget_visit()
    flash(CLEARED)
    return redirect(safe_next(request.form.get("next")), code=303)


# --- JSON API -------------------------------------------------------------------------


@bp.get("/api/session")
def session_state() -> Response:
    resident = touch_context().residents.current()
    return jsonify(resident.public() if resident else NOBODY)


@bp.delete("/api/session")
def session_end() -> Response:
    """The idle reset: forget the resident and this browser's choices (language, elder mode)."""
    if not same_origin():
        raise ApiError(wording.FORBIDDEN_ORIGIN)
    forget_visit()
    session.clear()
    return jsonify(NOBODY)


@bp.post("/api/activity")
def activity() -> tuple[str, int]:
    """A touch on the screen (reported at most every ``activity_every`` seconds)."""
    if not same_origin():
        raise ApiError(wording.FORBIDDEN_ORIGIN)
    if request.mimetype != "application/json":
        raise ApiError(wording.UNSUPPORTED_MEDIA_TYPE)
    touch_context().residents.touched()
    return "", 204
