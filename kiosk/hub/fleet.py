"""What the hub knows of each kiosk: its centre, presence, devices, uplink and enrolment.

Filled from the kiosks' retained messages. Those can arrive late or twice (a Will fires
after the kiosk already came back, a retained message is replayed at subscribe), so a
state is taken only if it is newer than the one kept, by (boot_id, session, ts), never
by arrival.

A kiosk enrolled with ``kiosk enroll`` belongs to the centre its credentials were made
for: a state message that claims another centre is refused (:class:`Refused`), and so is
anything from a revoked kiosk that was still on its way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.hub.models import Kiosk, KioskHealthSample, KioskPresence
from kiosk.protocol.messages import DeviceState, KioskHealth, KioskState

PrinterPaper = Literal["ok", "low", "out", "unknown"]
ReaderHealth = Literal["ok", "sam_fault", "offline", "unknown", "absent"]
PrinterHealth = Literal["ok", "offline", "unknown", "absent"]
# What the fleet page can filter on; "alert" (an unresolved alert) is added by the monitor.
PROBLEMS = ("offline", "paper_out", "paper_low", "printer_fault", "reader_fault", "revoked")


class Refused(ValueError):
    """A kiosk message the registry will not take: wrong centre, or the kiosk is revoked."""


@dataclass(frozen=True, slots=True)
class PrinterView:
    health: PrinterHealth
    paper: PrinterPaper
    cover_open: bool
    detail: str


@dataclass(frozen=True, slots=True)
class ReaderView:
    health: ReaderHealth
    detail: str


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
    state_ts: datetime | None = None
    offline_since: datetime | None = None
    enrolled_centre: str | None = None
    enrolled_at: datetime | None = None
    revoked_at: datetime | None = None
    health: dict[str, Any] | None = None
    health_at: datetime | None = None

    @property
    def online(self) -> bool:
        """Online by its own word, its edge broker's bridge is not known to be down, and
        its credentials are not revoked."""
        return self.state == "online" and self.uplink != "down" and self.revoked_at is None

    @property
    def home(self) -> str | None:
        """The centre it belongs to: the one it announced, else the one it was enrolled for."""
        return self.centre or self.enrolled_centre

    @property
    def never_seen(self) -> bool:
        return self.state_ts is None

    @property
    def printer(self) -> PrinterView:
        return printer_view(self.devices.get("printer"))

    @property
    def reader(self) -> ReaderView:
        return reader_view(self.devices.get("idreader"))

    @property
    def problems(self) -> frozenset[str]:
        return kiosk_problems(self)

    def figure(self, name: str) -> Any:
        """One figure of the latest health report (None when never reported)."""
        return None if self.health is None else self.health.get(name)

    @property
    def disk_free_percent(self) -> float | None:
        free, total = self.figure("disk_free_bytes"), self.figure("disk_total_bytes")
        if free is None or not total:
            return None
        return round(100 * float(free) / float(total), 1)


_PAPER: dict[str, PrinterPaper] = {"ok": "ok", "near_end": "low", "out": "out"}


def printer_view(device: dict[str, Any] | None) -> PrinterView:
    """The printer as staff read it. The firmware bridge reports a cover open as status
    offline with detail "cover open"; paper near its end is "low"."""
    if device is None:
        return PrinterView("absent", "unknown", False, "")
    detail = str(device.get("detail") or "")
    status = device.get("status")
    health: PrinterHealth = (
        "ok" if status == "online" else "offline" if status == "offline" else "unknown"
    )
    paper = _PAPER.get(str(device.get("paper")), "unknown")
    return PrinterView(health, paper, "cover open" in detail.lower(), detail)


def reader_view(device: dict[str, Any] | None) -> ReaderView:
    """The ID-card reader: a SAM fault (self-test failed, not authorised) is told apart from
    a reader that is merely unplugged."""
    if device is None:
        return ReaderView("absent", "")
    detail = str(device.get("detail") or "")
    status = device.get("status")
    if status == "online":
        return ReaderView("ok", detail)
    if status == "offline":
        return ReaderView("sam_fault" if "sam" in detail.lower() else "offline", detail)
    return ReaderView("unknown", detail)


def kiosk_problems(kiosk: KioskView) -> frozenset[str]:
    if kiosk.revoked_at is not None:
        return frozenset({"revoked"})
    found: set[str] = set()
    if not kiosk.online:
        found.add("offline")
        # Device states of a kiosk that is away are its last words, not news.
        return frozenset(found)
    printer = kiosk.printer
    if printer.paper == "out":
        found.add("paper_out")
    elif printer.paper == "low":
        found.add("paper_low")
    if printer.health == "offline":
        found.add("printer_fault")
    if kiosk.reader.health in ("sam_fault", "offline"):
        found.add("reader_fault")
    return frozenset(found)


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
            offline_since=now,
        )
        session.add(kiosk)
    return kiosk


def _update_offline_since(session: Session, kiosk: Kiosk, now: datetime) -> None:
    """Keep ``offline_since`` and, at each change, a row of presence history."""
    online = kiosk.state == "online" and kiosk.uplink != "down" and kiosk.revoked_at is None
    if online:
        if kiosk.offline_since is not None:
            session.add(KioskPresence(kiosk=kiosk.id, ts=now, online=True))
        kiosk.offline_since = None
    elif kiosk.offline_since is None:
        kiosk.offline_since = now
        session.add(KioskPresence(kiosk=kiosk.id, ts=now, online=False))


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


def _check_allowed(kiosk: Kiosk) -> None:
    if kiosk.revoked_at is not None:
        raise Refused(f"kiosk {kiosk.id!r} is revoked")


def record_state(session: Session, message: KioskState, now: datetime) -> bool:
    """Apply a kiosk's state message; False if it was older than the one kept.

    :class:`Refused` if the kiosk is revoked or claims another centre than it was enrolled
    for (the transaction is then left unchanged by this call).
    """
    kiosk = _kiosk_row(session, message.kiosk, now)
    _check_allowed(kiosk)
    if kiosk.enrolled_centre is not None and message.centre != kiosk.enrolled_centre:
        raise Refused(
            f"kiosk {kiosk.id!r} is enrolled at centre {kiosk.enrolled_centre!r} "
            f"but says it is at {message.centre!r}"
        )
    kiosk.last_seen = now
    if not _is_newer(kiosk, message):
        return False
    kiosk.centre = message.centre
    kiosk.state = message.state
    kiosk.boot_id = message.boot_id
    kiosk.session = message.session
    kiosk.version = message.version
    kiosk.state_ts = message.ts
    _update_offline_since(session, kiosk, now)
    return True


def record_device(session: Session, message: DeviceState, now: datetime) -> bool:
    """Keep the newest state of each of a kiosk's devices; False if it was older."""
    kiosk = _kiosk_row(session, message.kiosk, now)
    _check_allowed(kiosk)
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


def record_health(session: Session, message: KioskHealth, now: datetime) -> bool:
    """Keep a kiosk's latest health and a sample of it; False if older than the one kept."""
    kiosk = _kiosk_row(session, message.kiosk, now)
    _check_allowed(kiosk)
    kiosk.last_seen = now
    if not _newer_health(kiosk.health, message, live_boot=kiosk.boot_id):
        return False  # a retained report replayed at subscribe, or one overtaken
    kiosk.health = message.model_dump(mode="json", exclude={"v", "id"})
    kiosk.health_at = now
    session.add(
        KioskHealthSample(
            kiosk=message.kiosk,
            ts=message.ts,
            uptime_s=message.uptime_s,
            outbox_depth=message.outbox_depth,
            outbox_oldest_age_s=message.outbox_oldest_age_s,
            disk_free_bytes=message.disk_free_bytes,
            disk_total_bytes=message.disk_total_bytes,
            cpu_temperature_c=message.cpu_temperature_c,
        )
    )
    return True


def _newer_health(
    known: dict[str, Any] | None, message: KioskHealth, live_boot: str | None
) -> bool:
    """Order reports by boot first, then by the kiosk's clock within a boot: a Pi without
    a real-time clock may boot with a time far ahead, and its next boot's reports must not
    look older than that (DESIGN.md §3: never by arrival, never by ts alone)."""
    if known is None:
        return True
    if message.boot_id != known.get("boot_id"):
        return message.boot_id == live_boot or datetime.fromisoformat(known["ts"]) < message.ts
    return datetime.fromisoformat(known["ts"]) < message.ts


def record_uplink(session: Session, kiosk_id: str, up: bool, now: datetime) -> None:
    """The central broker's notice that a kiosk's edge bridge connected or dropped."""
    kiosk = _kiosk_row(session, kiosk_id, now)
    kiosk.uplink = "up" if up else "down"
    kiosk.last_seen = now
    _update_offline_since(session, kiosk, now)


def record_seen(session: Session, kiosk_id: str, now: datetime) -> None:
    """Any other message from the kiosk (an event): it is alive."""
    kiosk = _kiosk_row(session, kiosk_id, now)
    _check_allowed(kiosk)
    kiosk.last_seen = now


def enrol(session: Session, kiosk_id: str, centre: str, now: datetime) -> None:
    """``kiosk enroll``: the kiosk belongs to ``centre``; a revoked kiosk enrolled again is
    allowed back."""
    kiosk = _kiosk_row(session, kiosk_id, now)
    kiosk.enrolled_centre = centre
    kiosk.enrolled_at = now
    kiosk.revoked_at = None
    if kiosk.centre is None:
        kiosk.centre = centre
    _update_offline_since(session, kiosk, now)


def revoke(session: Session, kiosk_id: str, now: datetime) -> None:
    """``kiosk revoke``: shown as revoked, never alerted on, its messages refused."""
    kiosk = _kiosk_row(session, kiosk_id, now)
    kiosk.revoked_at = now
    # The broker drops the kiosk's bridge on the reload without sending its Will (it sends
    # none for a client it throws out), so no notice would ever say the link is down.
    kiosk.uplink = "down"
    _update_offline_since(session, kiosk, now)


def kiosk_centre(session: Session, kiosk_id: str) -> str | None:
    return session.scalar(select(Kiosk.centre).where(Kiosk.id == kiosk_id))


def _view(k: Kiosk) -> KioskView:
    return KioskView(
        id=k.id,
        centre=k.centre,
        state=k.state,
        uplink=k.uplink,
        boot_id=k.boot_id,
        session=k.session,
        version=k.version,
        last_seen=k.last_seen,
        devices=dict(k.devices),
        state_ts=k.state_ts,
        offline_since=k.offline_since,
        enrolled_centre=k.enrolled_centre,
        enrolled_at=k.enrolled_at,
        revoked_at=k.revoked_at,
        health=None if k.health is None else dict(k.health),
        health_at=k.health_at,
    )


def list_kiosks(
    session: Session, centre: str | None = None, *, scope: frozenset[str] | None = None
) -> list[KioskView]:
    """Every kiosk (of ``centre`` if given, within the centres of ``scope`` if given), by id."""
    home = func.coalesce(Kiosk.centre, Kiosk.enrolled_centre)
    query = select(Kiosk).order_by(Kiosk.id)
    if centre is not None:
        query = query.where(home == centre)
    if scope is not None:
        query = query.where(home.in_(sorted(scope)))
    return [_view(k) for k in session.scalars(query)]


def get_kiosk(session: Session, kiosk_id: str) -> KioskView | None:
    kiosk = session.get(Kiosk, kiosk_id)
    return None if kiosk is None else _view(kiosk)
