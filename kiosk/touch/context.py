"""What every view of the touch app shares: settings, the link, and the kiosk's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from kiosk.settings import Settings
from kiosk.touch.devices import DeviceSignals
from kiosk.touch.helpdesk import HelpDesk
from kiosk.touch.issuing import TicketDesk
from kiosk.touch.link import KioskLink
from kiosk.touch.resident import ResidentDesk
from kiosk.touch.ui import TouchUi

EXTENSION = "kiosk.touch"


@dataclass(frozen=True, slots=True)
class TouchContext:
    settings: Settings
    link: KioskLink
    desk: TicketDesk
    ui: TouchUi
    residents: ResidentDesk
    helpdesk: HelpDesk
    devices: DeviceSignals

    @property
    def centre_name(self) -> str | None:
        """For page headers: from the cached services list, so a header never asks the hub."""
        cached = self.link.cached_services
        return cached.centre_name if cached else None


def touch_context() -> TouchContext:
    return cast(TouchContext, current_app.extensions[EXTENSION])
