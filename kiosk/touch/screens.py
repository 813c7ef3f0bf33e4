"""What every screen shows around its one task: the header with language and elder mode,
the resident's masked identity, the hub banner, back / home / call staff, and the timers.

Templates get it as ``chrome`` (a context processor), so no view has to remember it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from kiosk.touch import i18n
from kiosk.touch.commands import kiosk_commands
from kiosk.touch.context import touch_context
from kiosk.touch.i18n import Language
from kiosk.touch.resident import PublicView
from kiosk.touch.ui import TouchUi

ELDER_KEY = "elder"


@dataclass(frozen=True, slots=True)
class Chrome:
    centre: str | None  # from the cached services list; never asks the hub
    language: Language
    languages: tuple[Language, ...]
    elder: bool
    resident: PublicView | None
    hub_down: bool
    ui: TouchUi
    here: str  # where language, elder mode and help return to
    seqs: dict[str, int]  # what the page has seen; the status poll says what changed


def elder_mode() -> bool:
    """On unless this session turned it off (长辈模式 is the kiosk's default)."""
    return session.get(ELDER_KEY, True) is not False


def status_seqs() -> dict[str, int]:
    """The counters ``GET /api/status`` answers with, for a page to compare against."""
    ctx = touch_context()
    return {
        "resident": ctx.residents.changes,
        "card_rejected": ctx.residents.rejected_cards,
        "motion": ctx.devices.motions,
        "help": ctx.helpdesk.requests,
        "reload": kiosk_commands().reloads,  # a remote reload or config (touch/commands.py)
    }


def here() -> str:
    """This screen's own address, to come back to after a language switch or a help call."""
    if request.method == "GET":
        return safe_next(request.full_path.rstrip("?"))
    return safe_next(request.path)  # a form answered with its own page: its GET address


def safe_next(value: str | None) -> str:
    """``value`` when it is a screen of this app that a GET can show; the start screen if not.

    Keeps a form's ``next`` from sending the kiosk to another site or to an API answer.
    """
    home = url_for("tickets.home")
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return home
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(("/api/", "/static/")):
        return home
    try:
        current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except (HTTPException, RequestRedirect):
        return home
    return value


def chrome() -> Chrome:
    ctx = touch_context()
    resident = ctx.residents.current()
    return Chrome(
        centre=ctx.centre_name,
        language=i18n.current(),
        languages=tuple(i18n.LANGUAGES.values()),
        elder=elder_mode(),
        resident=resident.public() if resident else None,
        hub_down=ctx.link.hub_unreachable,
        ui=ctx.ui,
        here=here(),
        seqs=status_seqs(),
    )


def register(app: Flask) -> None:
    app.context_processor(lambda: {"chrome": chrome()})
