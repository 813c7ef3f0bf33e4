"""Wiring the cases part of the hub: one call for the service, the app and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from kiosk.hub.cases.directory import Directory, seed
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.db import Database
from kiosk.settings import CasesSettings


def build_store(
    settings: CasesSettings, database: Database, clock: Callable[[], datetime]
) -> CaseStore:
    """Validate settings.hub.cases, copy it into the tables, return the store."""
    directory = Directory.from_settings(settings)
    with database.write() as session:
        seed(session, directory)
    return CaseStore(database, directory, clock=clock)


def every(seconds: float, work: Callable[[], object]) -> Callable[[], None]:
    """``work`` at most once per ``seconds``, for the fleet monitor's sweep loop."""
    last = [float("-inf")]

    def maybe() -> None:
        now = time.monotonic()
        if now - last[0] >= seconds:
            last[0] = now
            work()

    return maybe
