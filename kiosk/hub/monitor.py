"""Fleet monitoring: which kiosks need a person, and telling staff.

The service layer behind the fleet and alert pages. It raises alerts from what the MQTT
worker records (device states, help requests) and from time (a kiosk offline longer than
the policy allows, checked by :meth:`FleetMonitor.sweep` on a timer), resolves the ones
whose cause went away, lets staff acknowledge and resolve the rest, and hands every new
or changed alert to the webhook notifier when one is configured.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.hub import alerts, audit, fleet, health
from kiosk.hub.alerts import AlertView
from kiosk.hub.db import Database
from kiosk.hub.fleet import KioskView
from kiosk.hub.health import HEALTH_KINDS, HealthLimits, Week
from kiosk.hub.metrics import Gauge, HubMetrics
from kiosk.hub.models import Alert, Kiosk
from kiosk.hub.webhook import WebhookNotifier

_LOGGER = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# What the fleet page filters on. "paper" covers out and low; "alert": any unresolved alert.
PROBLEM_FILTERS: dict[str, frozenset[str]] = {
    "offline": frozenset({"offline"}),
    "paper": frozenset({"paper_out", "paper_low"}),
    "printer": frozenset({"printer_fault"}),
    "reader": frozenset({"reader_fault"}),
    "revoked": frozenset({"revoked"}),
    "disk": frozenset({"disk_low"}),
    "temperature": frozenset({"overheated"}),
    "outbox": frozenset({"outbox_backlog"}),
}
PROBLEM_LABELS = {
    "offline": "离线",
    "paper": "缺纸/纸将尽",
    "printer": "打印机故障",
    "reader": "读卡器故障",
    "disk": "磁盘将满",
    "temperature": "温度过高",
    "outbox": "事件积压",
    "alert": "有未处理告警",
    "revoked": "已吊销",
    "any": "任何问题",
}


@dataclass(frozen=True, slots=True)
class FleetPolicy:
    """How the monitor behaves (settings.hub: offline_alert_minutes, alert_webhook_url…)."""

    offline_after: timedelta = timedelta(minutes=5)
    sweep_every: float = 30.0  # seconds between offline checks
    webhook_url: str | None = None
    webhook_secret: bytes | None = None
    webhook_timeout: float = 5.0
    limits: HealthLimits = field(default_factory=HealthLimits)
    keep_history: timedelta = timedelta(days=8)  # health samples and presence changes
    prune_every: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class FleetRow:
    kiosk: KioskView
    alerts: list[AlertView]
    # Health alert kinds its latest report calls for (disk_low, overheated, outbox_backlog).
    health: frozenset[str] = frozenset()

    @property
    def kiosk_problems(self) -> frozenset[str]:
        if self.kiosk.revoked_at is not None or not self.kiosk.online:
            return self.kiosk.problems  # an away kiosk's last report is not news
        return self.kiosk.problems | self.health

    @property
    def problems(self) -> frozenset[str]:
        found = set(self.kiosk_problems)
        if self.alerts:
            found.add("alert")
        return frozenset(found)

    def matches(self, problem: str | None) -> bool:
        if not problem:
            return True
        if problem == "any":
            return bool(self.problems)
        if problem == "alert":
            return bool(self.alerts)
        return bool(self.kiosk_problems & PROBLEM_FILTERS.get(problem, frozenset()))


class FleetMonitor:
    def __init__(
        self,
        database: Database,
        policy: FleetPolicy = FleetPolicy(),
        *,
        clock: Clock,
        metrics: HubMetrics | None = None,
    ) -> None:
        self.database = database
        self.policy = policy
        self._clock = clock
        self.metrics = metrics or HubMetrics()
        self.notifier: WebhookNotifier | None = None
        if policy.webhook_url:
            self.notifier = WebhookNotifier(
                policy.webhook_url,
                secret=policy.webhook_secret,
                timeout=policy.webhook_timeout,
                on_result=self._webhook_result,
            )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._pruned_at: datetime | None = None
        # More periodic work for the sweep thread (expiring remote commands).
        self.sweepers: list[Callable[[], object]] = []
        self.metrics.add_gauge(
            Gauge("kiosk_hub_kiosks_online", "Kiosks online, by centre.", self._online_gauge)
        )
        self.metrics.add_gauge(
            Gauge("kiosk_hub_kiosks_known", "Kiosks the hub knows, by centre.", self._known_gauge)
        )
        self.metrics.add_gauge(
            Gauge("kiosk_hub_alerts_open", "Unresolved alerts, by kind.", self._alerts_gauge)
        )

    def now(self) -> datetime:
        return self._clock()

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """The webhook sender and the offline sweeper, both daemon threads."""
        if self.notifier is not None:
            self.notifier.start()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._sweep_loop, name="fleet-sweep", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.notifier is not None:
            self.notifier.stop(timeout)

    def _sweep_loop(self) -> None:
        while not self._stopping.wait(self.policy.sweep_every):
            for work in (self.sweep, *self.sweepers):
                try:
                    work()
                except Exception:
                    _LOGGER.exception("periodic %s failed; trying again next round", work)

    # --- alerts from messages and time ----------------------------------------------------

    def kiosk_changed(self, kiosk_id: str) -> None:
        """After a state, device or uplink message: device alerts follow the devices, and
        an offline alert ends when the kiosk is back."""
        now = self.now()
        changed: list[tuple[str, AlertView]] = []
        with self.database.write() as session:
            view = fleet.get_kiosk(session, kiosk_id)
            if view is None:
                return
            open_now = alerts.unresolved(session, kiosk_id)
            if view.revoked_at is not None:
                for alert in open_now.values():
                    alerts.resolve_auto(session, alert, now)
                    changed.append(("alert.resolved", alerts.view(alert)))
            elif view.online:
                wanted = _device_conditions(view)
                wanted.update(health.health_conditions(view.health, self.policy.limits))
                followed = alerts.DEVICE_KINDS | HEALTH_KINDS
                for kind, alert in open_now.items():
                    if kind == "offline" or (kind in followed and kind not in wanted):
                        alerts.resolve_auto(session, alert, now)
                        changed.append(("alert.resolved", alerts.view(alert)))
                for kind, detail in wanted.items():
                    if kind not in open_now:
                        alert, _ = self._raise(session, view, kind, detail, now)
                        changed.append(("alert.opened", alerts.view(alert)))
            # An offline kiosk's device states are its last words: its alerts stay as they are.
        self._announce(changed)

    def help_requested(self, kiosk_id: str, centre: str | None, detail: str) -> AlertView:
        """A resident pressed the help button (or the on-screen one)."""
        with self.database.write() as session:
            result, announce = self.raise_help(session, kiosk_id, centre, detail)
        announce()
        return result

    def raise_help(
        self, session: Session, kiosk_id: str, centre: str | None, detail: str
    ) -> tuple[AlertView, Callable[[], None]]:
        """The help alert, inside the caller's transaction (the hub's event ledger's, so a
        redelivered request is not counted twice); call the second value once it commits."""
        view = fleet.get_kiosk(session, kiosk_id)
        home = view.home if view is not None else centre
        alert, new = alerts.raise_alert(
            session, kiosk_id, home, "help", detail, self.now(), webhook=self.notifier is not None
        )
        result = alerts.view(alert)

        def announce() -> None:
            if new:
                self.metrics.alerts_raised.inc(kind="help")
                self._announce([("alert.opened", result)])

        return result, announce

    def sweep(self) -> list[AlertView]:
        """Open an offline alert for every kiosk offline longer than the policy allows."""
        now = self.now()
        cutoff = now - self.policy.offline_after
        opened: list[tuple[str, AlertView]] = []
        with self.database.write() as session:
            query = select(Kiosk.id).where(
                Kiosk.offline_since.is_not(None),
                Kiosk.offline_since <= cutoff,
                Kiosk.revoked_at.is_(None),
            )
            for kiosk_id in list(session.scalars(query)):
                if "offline" in alerts.unresolved(session, kiosk_id):
                    continue
                view = fleet.get_kiosk(session, kiosk_id)
                if view is None or view.offline_since is None:
                    continue
                minutes = int((now - view.offline_since).total_seconds() // 60)
                since = view.offline_since.isoformat(timespec="seconds")
                detail = f"自 {since} 起离线约 {minutes} 分钟"
                alert, _ = self._raise(session, view, "offline", detail, now)
                opened.append(("alert.opened", alerts.view(alert)))
        self._announce(opened)
        self.prune_history(now)
        return [alert for _, alert in opened]

    def prune_history(self, now: datetime, *, force: bool = False) -> int:
        """Drop health and presence history past ``keep_history`` (at most once per
        ``prune_every``, unless forced)."""
        due = self._pruned_at is None or now - self._pruned_at >= self.policy.prune_every
        if not (due or force):
            return 0
        self._pruned_at = now
        with self.database.write() as session:
            return health.prune(session, now - self.policy.keep_history)

    def _raise(
        self, session: Session, view: KioskView, kind: str, detail: str, now: datetime
    ) -> tuple[Alert, bool]:
        alert, new = alerts.raise_alert(
            session, view.id, view.home, kind, detail, now, webhook=self.notifier is not None
        )
        if new:
            self.metrics.alerts_raised.inc(kind=kind)
            _LOGGER.warning("alert: %s at kiosk %s (%s)", kind, view.id, detail)
        return alert, new

    # --- staff ----------------------------------------------------------------------------

    def change_alert(
        self,
        alert_id: int,
        action: alerts.Action,
        *,
        actor: str,
        scope: frozenset[str] | None,
        remote_addr: str | None = None,
    ) -> AlertView:
        """Acknowledge or resolve; raises AlertNotFound / AlertConflict. Audited."""
        now = self.now()
        with self.database.write() as session:
            alert = alerts.change(session, alert_id, action, actor, now, scope)
            audit.record(
                session,
                now,
                actor,
                f"alert.{action}",
                f"alert:{alert_id}",
                centre=alert.centre,
                remote_addr=remote_addr,
                detail={"kiosk": alert.kiosk, "kind": alert.kind},
            )
            result = alerts.view(alert)
        event = "alert.acknowledged" if action == "acknowledge" else "alert.resolved"
        self._announce([(event, result)])
        return result

    def alerts(
        self,
        *,
        scope: frozenset[str] | None,
        status: str | None = None,
        centre: str | None = None,
        kiosk: str | None = None,
    ) -> list[AlertView]:
        with self.database.read() as session:
            return alerts.list_alerts(
                session, scope=scope, status=status, centre=centre, kiosk=kiosk
            )

    def fleet(
        self,
        *,
        scope: frozenset[str] | None,
        centre: str | None = None,
        problem: str | None = None,
    ) -> list[FleetRow]:
        with self.database.read() as session:
            kiosks = fleet.list_kiosks(session, centre, scope=scope)
            open_alerts = alerts.list_alerts(session, scope=None, status="unresolved")
        by_kiosk: dict[str, list[AlertView]] = {}
        for alert in open_alerts:
            by_kiosk.setdefault(alert.kiosk, []).append(alert)
        rows = [FleetRow(k, by_kiosk.get(k.id, []), self._health_problems(k)) for k in kiosks]
        return [row for row in rows if row.matches(problem)]

    def _health_problems(self, kiosk: KioskView) -> frozenset[str]:
        return frozenset(health.health_conditions(kiosk.health, self.policy.limits))

    def kiosk(self, kiosk_id: str, *, scope: frozenset[str] | None) -> FleetRow | None:
        """One kiosk with its whole alert history, or None (unknown, or outside scope)."""
        with self.database.read() as session:
            view = fleet.get_kiosk(session, kiosk_id)
            if view is None or (scope is not None and view.home not in scope):
                return None
            history = alerts.list_alerts(session, kiosk=kiosk_id, limit=200)
        return FleetRow(view, history, self._health_problems(view))

    def week(self, kiosk_id: str, *, scope: frozenset[str] | None) -> Week | None:
        """The numbers behind the kiosk page's charts (None: unknown, or outside scope)."""
        with self.database.read() as session:
            view = fleet.get_kiosk(session, kiosk_id)
            if view is None or (scope is not None and view.home not in scope):
                return None
            return health.week(session, kiosk_id, self.now(), online_now=view.online)

    # --- notifications and metrics ---------------------------------------------------------

    def _announce(self, changes: list[tuple[str, AlertView]]) -> None:
        if self.notifier is None:
            return
        for event, alert in changes:
            self.notifier.notify(alert.id, {"event": event, "alert": alert.as_json()})

    def _webhook_result(self, alert_id: int, ok: bool) -> None:
        if not ok:
            self.metrics.webhook_failures.inc()
        with self.database.write() as session:
            alerts.set_webhook(session, alert_id, "sent" if ok else "failed")

    def _online_gauge(self) -> list[tuple[tuple[tuple[str, str], ...], float]]:
        with self.database.read() as session:
            kiosks = fleet.list_kiosks(session)
        tally = Tally(k.home or "" for k in kiosks if k.online)
        centres = {k.home or "" for k in kiosks}
        return [((("centre", c),), float(tally.get(c, 0))) for c in sorted(centres)]

    def _known_gauge(self) -> list[tuple[tuple[tuple[str, str], ...], float]]:
        with self.database.read() as session:
            kiosks = fleet.list_kiosks(session)
        tally = Tally(k.home or "" for k in kiosks if k.revoked_at is None)
        return [((("centre", c),), float(n)) for c, n in sorted(tally.items())]

    def _alerts_gauge(self) -> list[tuple[tuple[tuple[str, str], ...], float]]:
        with self.database.read() as session:
            kinds = list(session.scalars(select(Alert.kind).where(Alert.status != "resolved")))
        tally = Tally(kinds)
        return [((("kind", kind),), float(tally.get(kind, 0))) for kind in alerts.KIND_LABELS]


def _device_conditions(view: KioskView) -> dict[str, str]:
    """Device alert kinds the kiosk's current device states call for, with their detail."""
    wanted: dict[str, str] = {}
    printer, reader = view.printer, view.reader
    if printer.paper == "out":
        wanted["paper_out"] = "打印机缺纸：凭条会在换纸后补打"
    elif printer.paper == "low":
        wanted["paper_low"] = "打印纸将尽，请尽快更换"
    if printer.health == "offline":
        wanted["printer_fault"] = "打印机盖未合上" if printer.cover_open else printer.detail
    if reader.health in ("sam_fault", "offline"):
        wanted["reader_fault"] = reader.detail or "读卡器离线"
    return wanted
