"""The attract screen: what this kiosk can do, shown when nobody is using it.

The idle reset lands here. It dims after ``sleep_after`` seconds without motion or a touch
and wakes when the motion sensor sees someone (the page follows ``GET /api/status``).
"""

from __future__ import annotations

from flask import Blueprint, render_template

from kiosk.touch.context import touch_context

bp = Blueprint("welcome", __name__)


@bp.get("/welcome")
def attract() -> str:
    return render_template("welcome.html", centre_name=touch_context().centre_name)
