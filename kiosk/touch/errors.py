"""Error answers: JSON ``{"error", "message"}`` under /api, a calm page everywhere else.

A resident never sees a stack trace: anything unexpected is logged and answered with a
page that says to ask at the service desk.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from kiosk.protocol.rpc import RpcFailed, RpcTimeout
from kiosk.touch import wording
from kiosk.touch.context import touch_context
from kiosk.touch.wording import Problem

_LOGGER = logging.getLogger(__name__)

_BY_STATUS: dict[int, Problem] = {
    400: wording.BAD_REQUEST,
    404: wording.NOT_FOUND,
    405: wording.METHOD_NOT_ALLOWED,
    413: wording.TOO_LARGE,
    415: wording.UNSUPPORTED_MEDIA_TYPE,
}


class ApiError(Exception):
    """Raised in an API view to answer with ``problem`` (and an English ``detail``)."""

    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(problem.code)
        self.problem = problem
        self.detail = detail


def hub_problem(err: RpcTimeout | RpcFailed) -> Problem:
    """What to tell people when asking the hub did not work."""
    if isinstance(err, RpcFailed):
        if err.code == "unknown_service":
            return wording.UNKNOWN_SERVICE
        _LOGGER.warning("the hub refused: %s %s", err.code, err)
        return wording.HUB_ERROR
    _LOGGER.warning("the hub cannot be reached: %s", err)
    return wording.HUB_UNREACHABLE


def api_error(problem: Problem, detail: str = "") -> tuple[Response, int]:
    body = jsonify(error=problem.code, message=problem.api_message(detail))
    return body, problem.status


def problem_page(problem: Problem) -> tuple[str, int]:
    html = render_template(
        "problem.html",
        problem=problem,
        centre_name=touch_context().centre_name,
    )
    return html, problem.status


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, _on_api_error)
    app.register_error_handler(HTTPException, _on_http_error)
    app.register_error_handler(Exception, _on_unexpected)


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _on_api_error(err: ApiError) -> tuple[Response, int]:
    return api_error(err.problem, err.detail)


def _on_http_error(err: HTTPException) -> tuple[Response, int]:
    status = err.code or 500
    problem = _BY_STATUS.get(status, wording.HTTP_ERROR)
    if _wants_json():
        response, _ = api_error(problem, "" if status in _BY_STATUS else str(err.name))
    else:
        html, _ = problem_page(problem)
        response = Response(html, mimetype="text/html")
    allow = dict(err.get_headers()).get("Allow")  # a 405 says what is allowed
    if allow:
        response.headers["Allow"] = allow
    return response, status


def _on_unexpected(err: Exception) -> tuple[Response | str, int]:
    _LOGGER.exception("unexpected error on %s %s", request.method, request.path, exc_info=err)
    if _wants_json():
        return api_error(wording.INTERNAL)
    return problem_page(wording.INTERNAL)
