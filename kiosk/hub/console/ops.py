"""``/metrics`` for Prometheus.

Without a token configured (settings.hub.metrics_token_file) only a scraper on this
machine may read it (the loopback address); with one, any address that sends
``Authorization: Bearer <token>``. The figures name kiosks and centres, not people.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, request

from kiosk.hub.console.common import context
from kiosk.hub.metrics import CONTENT_TYPE

bp = Blueprint("ops", __name__)


def _loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@bp.get("/metrics")
def metrics() -> Response:
    ctx = context()
    if ctx.metrics_token is not None:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {ctx.metrics_token}".encode()):
            abort(401, description="metrics need the bearer token")
    elif not _loopback(request.remote_addr):
        abort(403, description="metrics are served to this machine only")
    response = Response(ctx.metrics.render(), mimetype="text/plain")
    response.headers["Content-Type"] = CONTENT_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response
