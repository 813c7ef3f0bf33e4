"""Alerts in the database: raise, bump, acknowledge, resolve, list.

At most one unresolved alert per kiosk and kind (a partial unique index makes the database
refuse a second one, even from two hub workers). A cause seen again bumps ``count`` and
``updated_at`` of the alert that is open. Conditions that clear by themselves (paper
refilled, kiosk back online) resolve their alert as ``hub``; a help request stays until a
person resolves it. Nothing is deleted: resolved alerts are the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.hub.models import Alert

AUTO = "hub"  # resolved_by / acknowledged_by for what the hub decides itself
# Kinds that follow a kiosk's device states: opened and resolved by the hub.
DEVICE_KINDS = frozenset({"paper_out", "paper_low", "printer_fault", "reader_fault"})
MAX_ROWS = 1000

KIND_LABELS = {
    "offline": "终端离线",
    "paper_out": "打印机缺纸",
    "paper_low": "打印纸将尽",
    "printer_fault": "打印机故障",
    "reader_fault": "读卡器故障",
    "help": "群众呼叫工作人员",
    "disk_low": "磁盘将满",
    "overheated": "温度过高",
    "outbox_backlog": "事件积压未送达",
}
STATUS_LABELS = {"open": "待处理", "acknowledged": "已确认", "resolved": "已解决"}

Action = Literal["acknowledge", "resolve"]


class AlertNotFound(LookupError):
    """No such alert, or not in a centre the user may see."""


class AlertConflict(ValueError):
    """The alert is already resolved (or acknowledged, for an acknowledge)."""


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    kiosk: str
    centre: str | None
    kind: str
    status: str
    detail: str
    opened_at: datetime
    updated_at: datetime
    count: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    webhook: str

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kiosk": self.kiosk,
            "centre": self.centre,
            "kind": self.kind,
            "status": self.status,
            "detail": self.detail,
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "count": self.count,
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": _iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "webhook": self.webhook,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def view(alert: Alert) -> AlertView:
    return AlertView(
        id=alert.id,
        kiosk=alert.kiosk,
        centre=alert.centre,
        kind=alert.kind,
        status=alert.status,
        detail=alert.detail,
        opened_at=alert.opened_at,
        updated_at=alert.updated_at,
        count=alert.count,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        webhook=alert.webhook,
    )


def unresolved(session: Session, kiosk: str) -> dict[str, Alert]:
    """Kind → the kiosk's unresolved alert of that kind (locked for update on PostgreSQL)."""
    query = select(Alert).where(Alert.kiosk == kiosk, Alert.status != "resolved").with_for_update()
    return {alert.kind: alert for alert in session.scalars(query)}


def raise_alert(
    session: Session,
    kiosk: str,
    centre: str | None,
    kind: str,
    detail: str,
    now: datetime,
    *,
    webhook: bool,
) -> tuple[Alert, bool]:
    """Open an alert, or bump the unresolved one of that kind; True when it is new."""
    existing = unresolved(session, kiosk).get(kind)
    if existing is not None:
        existing.count += 1
        existing.updated_at = now
        existing.detail = detail[:200] or existing.detail
        return existing, False
    alert = Alert(
        kiosk=kiosk,
        centre=centre,
        kind=kind,
        status="open",
        detail=detail[:200],
        opened_at=now,
        updated_at=now,
        count=1,
        webhook="pending" if webhook else "none",
    )
    try:
        # A savepoint: another hub worker may open the same alert at this moment; the
        # unique index refuses one of the two, and that one bumps the other's instead.
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return raise_alert(session, kiosk, centre, kind, detail, now, webhook=webhook)
    return alert, True


def resolve_auto(session: Session, alert: Alert, now: datetime) -> None:
    alert.status = "resolved"
    alert.resolved_at = now
    alert.resolved_by = AUTO


def change(
    session: Session,
    alert_id: int,
    action: Action,
    actor: str,
    now: datetime,
    scope: frozenset[str] | None,
) -> Alert:
    """A person acknowledges or resolves an alert of a centre in ``scope`` (None: any)."""
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None or (scope is not None and alert.centre not in scope):
        raise AlertNotFound(f"no alert {alert_id}")
    if alert.status == "resolved":
        raise AlertConflict(f"alert {alert_id} is already resolved")
    if action == "acknowledge":
        if alert.status == "acknowledged":
            raise AlertConflict(f"alert {alert_id} is already acknowledged")
        alert.status = "acknowledged"
        alert.acknowledged_at = now
        alert.acknowledged_by = actor[:64]
    else:
        if alert.acknowledged_at is None:
            alert.acknowledged_at, alert.acknowledged_by = now, actor[:64]
        alert.status = "resolved"
        alert.resolved_at = now
        alert.resolved_by = actor[:64]
    return alert


def list_alerts(
    session: Session,
    *,
    scope: frozenset[str] | None = None,
    status: str | None = None,
    centre: str | None = None,
    kiosk: str | None = None,
    limit: int = MAX_ROWS,
) -> list[AlertView]:
    """Newest first. ``status`` "unresolved" means open or acknowledged."""
    query = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)
    if scope is not None:
        query = query.where(Alert.centre.in_(sorted(scope)))
    if status == "unresolved":
        query = query.where(Alert.status != "resolved")
    elif status:
        query = query.where(Alert.status == status)
    if centre:
        query = query.where(Alert.centre == centre)
    if kiosk:
        query = query.where(Alert.kiosk == kiosk)
    return [view(a) for a in session.scalars(query)]


def set_webhook(session: Session, alert_id: int, status: str) -> None:
    alert = session.get(Alert, alert_id)
    if alert is not None:
        alert.webhook = status
