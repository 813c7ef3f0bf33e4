"""What the hub knows of each kiosk: its centre, presence, devices and uplink.

Filled from the kiosks' retained messages. Those can arrive late or twice (a Will fires
after the kiosk already came back, a retained message is replayed at subscribe), so a
state is taken only if it is newer than the one kept, by (boot_id, session, ts), never
by arrival.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.hub.models import Kiosk
from kiosk.protocol.messages import DeviceState, KioskState


@dataclass(frozen=True, slots=True)
class KioskView:
    id: str
    centre: str | None
    state: str
    uplink: str | None
    boot_id: str
    session: int
    version: str
    last_seen: datetime
    devices: dict[str, Any]

    @property
    def online(self) -> bool:
        """Online by its own word, and its edge broker's bridge is not known to be down."""
        return self.state == "online" and self.uplink != "down"


def _kiosk_row(session: Session, kiosk_id: str, now: datetime) -> Kiosk:
    # FOR UPDATE: two hub workers (PostgreSQL) apply one kiosk's messages one at a time.
    kiosk = session.get(Kiosk, kiosk_id, with_for_update=True)
    if kiosk is None:
        kiosk = Kiosk(
            id=kiosk_id,
            centre=None,
            state="offline",
            boot_id="",
            session=0,
            version="",
            state_ts=None,
            uplink=None,
            last_seen=now,
            devices={},
        )
        session.add(kiosk)
    return kiosk


def _order(session: int, state: str, ts: datetime) -> tuple[int, bool, datetime]:
    # Within one connection (session) the offline Will always comes after the online
    # birth, even though the Will's ts is older: it was written when the kiosk connected.
    return (session, state == "offline", ts)


def _is_newer(kiosk: Kiosk, message: KioskState) -> bool:
    if kiosk.state_ts is None:
        return True
    if message.boot_id != kiosk.boot_id:
        # Another process start: the later one wins, so an old boot's late Will is ignored.
        return message.ts > kiosk.state_ts
    return _order(message.session, message.state, message.ts) >= _order(
        kiosk.session, kiosk.state, kiosk.state_ts
    )


def record_state(session: Session, message: KioskState, now: datetime) -> bool:
    """Apply a kiosk's state message; False if it was older than the one kept."""
    kiosk = _kiosk_row(session, message.kiosk, now)
    kiosk.last_seen = now
    if not _is_newer(kiosk, message):
        return False
    kiosk.centre = message.centre
    kiosk.state = message.state
    kiosk.boot_id = message.boot_id
    kiosk.session = message.session
    kiosk.version = message.version
    kiosk.state_ts = message.ts
    return True


def record_device(session: Session, message: DeviceState, now: datetime) -> bool:
    """Keep the newest state of each of a kiosk's devices; False if it was older."""
    kiosk = _kiosk_row(session, message.kiosk, now)
    kiosk.last_seen = now
    known = kiosk.devices.get(message.device)
    if known is not None and datetime.fromisoformat(known["ts"]) > message.ts:
        return False
    # A new dict: the JSON column notices reassignment, not changes inside the value.
    kiosk.devices = {
        **kiosk.devices,
        message.device: message.model_dump(
            mode="json", include={"status", "paper", "detail", "boot_id", "ts"}
        ),
    }
    return True


def record_uplink(session: Session, kiosk_id: str, up: bool, now: datetime) -> None:
    """The central broker's notice that a kiosk's edge bridge connected or dropped."""
    kiosk = _kiosk_row(session, kiosk_id, now)
    kiosk.uplink = "up" if up else "down"
    kiosk.last_seen = now


def kiosk_centre(session: Session, kiosk_id: str) -> str | None:
    return session.scalar(select(Kiosk.centre).where(Kiosk.id == kiosk_id))


def list_kiosks(session: Session, centre: str | None = None) -> list[KioskView]:
    """Every kiosk (of ``centre`` if given), by id."""
    query = select(Kiosk).order_by(Kiosk.id)
    if centre is not None:
        query = query.where(Kiosk.centre == centre)
    return [
        KioskView(
            id=k.id,
            centre=k.centre,
            state=k.state,
            uplink=k.uplink,
            boot_id=k.boot_id,
            session=k.session,
            version=k.version,
            last_seen=k.last_seen,
            devices=dict(k.devices),
        )
        for k in session.scalars(query)
    ]
