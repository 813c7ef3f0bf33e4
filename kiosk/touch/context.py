"""What every view of the touch app shares: settings, the link to the broker, the ticket desk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from kiosk.settings import Settings
from kiosk.touch.issuing import TicketDesk
from kiosk.touch.link import KioskLink

EXTENSION = "kiosk.touch"


@dataclass(frozen=True, slots=True)
class TouchContext:
    settings: Settings
    link: KioskLink
    desk: TicketDesk

    @property
    def centre_name(self) -> str | None:
        """For page headers: from the cached services list, so a header never asks the hub."""
        cached = self.link.cached_services
        return cached.centre_name if cached else None


def touch_context() -> TouchContext:
    return cast(TouchContext, current_app.extensions[EXTENSION])
