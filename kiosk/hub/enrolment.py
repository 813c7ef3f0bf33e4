"""What ``kiosk enroll`` and ``kiosk revoke`` tell the hub's database.

The broker is what keeps a revoked kiosk out; the hub's records make the fleet page show
an enrolled kiosk that never came online, refuse a kiosk that claims another centre than
it was enrolled for, stop alerting on a revoked one, and keep both acts in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kiosk.hub import audit, fleet
from kiosk.hub.db import Database, migrate


def record(
    database_url: str,
    action: str,
    kiosk: str,
    centre: str | None,
    actor: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """``action`` is ``kiosk.enrol`` or ``kiosk.revoke``; migrates the database first (the
    first kiosk may be enrolled before the hub ever ran)."""
    migrate(database_url)
    database = Database(database_url)
    now = datetime.now(UTC)
    try:
        with database.write() as session:
            if action == "kiosk.enrol":
                if centre is None:
                    raise ValueError("enrolment needs a centre")
                fleet.enrol(session, kiosk, centre, now)
            elif action == "kiosk.revoke":
                fleet.revoke(session, kiosk, now)
            else:
                raise ValueError(f"unknown enrolment action {action!r}")
            audit.record(
                session, now, actor, action, f"kiosk:{kiosk}", centre=centre, detail=detail
            )
    finally:
        database.dispose()
