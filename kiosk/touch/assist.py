""" "呼叫工作人员": the help button on every screen, like the kiosk's GPIO help button.

Without JavaScript the button posts a form and the next screen confirms; with it, the page
calls ``POST /api/help`` and confirms in place (a half-typed number stays where it is).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers.response import Response as BaseResponse

from kiosk.touch import wording
from kiosk.touch.context import touch_context
from kiosk.touch.csrf import same_origin
from kiosk.touch.errors import ApiError, problem_page
from kiosk.touch.screens import safe_next

bp = Blueprint("assist", __name__)


@bp.post("/help")
def call_staff() -> BaseResponse | tuple[str, int]:
    # No CSRF token (a page older than a restart must still call staff); a foreign Origin
    # is refused, and HelpDesk sends at most one request per help_repeat_after anyway.
    if not same_origin():
        return problem_page(wording.FORBIDDEN_ORIGIN)
    touch_context().helpdesk.request("screen")
    back = safe_next(request.form.get("next"))
    return redirect(url_for("assist.called", next=back), code=303)


@bp.get("/help")
def called() -> str:
    return render_template("help.html", back=safe_next(request.args.get("next")))


@bp.post("/api/help")
def call_staff_api() -> tuple[Response, int]:
    if not same_origin():
        raise ApiError(wording.FORBIDDEN_ORIGIN)
    if request.mimetype != "application/json":
        raise ApiError(wording.UNSUPPORTED_MEDIA_TYPE)
    count = touch_context().helpdesk.request("screen")
    return jsonify(notified=True, help=count), 202
