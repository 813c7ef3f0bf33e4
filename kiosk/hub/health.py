"""Kiosk health at the hub: the alert conditions, and the last week as figures for charts.

What a kiosk reports (:class:`~kiosk.protocol.messages.KioskHealth`) is kept as its latest
report on the registry and as samples; presence changes are kept too. From those, and from
the alert and ticket tables, a kiosk's page draws its last seven days: online time per
day, paper events per day and tickets per hour of the day. History older than
``hub.health_keep_days`` is pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub.models import Alert, KioskHealthSample, KioskPresence, Ticket

# Kinds that follow a kiosk's health reports: opened and resolved by the hub.
HEALTH_KINDS = frozenset({"disk_low", "overheated", "outbox_backlog"})
PAPER_KINDS = ("paper_out", "paper_low")
DAYS = 7


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """When a health figure becomes an alert (settings.hub: disk_alert_percent, …)."""

    disk_free_percent: float = 10.0
    temperature_c: float = 75.0
    outbox_age: timedelta = timedelta(minutes=15)


def health_conditions(health: dict[str, Any] | None, limits: HealthLimits) -> dict[str, str]:
    """Alert kind → detail, for what a health report says is wrong."""
    if not health:
        return {}
    found: dict[str, str] = {}
    free, total = health.get("disk_free_bytes"), health.get("disk_total_bytes")
    if free is not None and total:
        percent = 100 * free / total
        if percent < limits.disk_free_percent:
            found["disk_low"] = f"磁盘剩余 {percent:.1f}%（{free // 2**20} MB）"
    temperature = health.get("cpu_temperature_c")
    if temperature is not None and temperature > limits.temperature_c:
        found["overheated"] = f"CPU 温度 {temperature:.1f} °C"
    oldest = health.get("outbox_oldest_age_s")
    if oldest is not None and oldest > limits.outbox_age.total_seconds():
        depth = health.get("outbox_depth", 0)
        found["outbox_backlog"] = f"{depth} 条事件未送达，最早的已等待 {int(oldest // 60)} 分钟"
    return found


# --- the last week ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Week:
    """The numbers behind a kiosk page's charts, oldest day first (centre time)."""

    days: list[date]
    online_seconds: list[float]  # per day; today counts up to now
    paper_out: list[int]  # paper alerts opened per day
    paper_low: list[int]
    tickets_by_hour: list[int]  # 24 hours of the day, summed over the week

    @property
    def online_percent(self) -> list[float]:
        full = 24 * 3600.0
        return [round(100 * s / full, 1) for s in self.online_seconds]


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CENTRE_TIMEZONE)


def week_days(now: datetime) -> list[date]:
    today = now.astimezone(CENTRE_TIMEZONE).date()
    return [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]


def online_seconds(
    changes: list[tuple[datetime, bool]], before: bool, days: list[date], now: datetime
) -> list[float]:
    """Seconds online per day, from presence ``changes`` (time order) and the state
    ``before`` the first of them."""
    per_day: list[float] = []
    for day in days:
        start, end = _local_midnight(day), min(_local_midnight(day + timedelta(days=1)), now)
        total, state, since = 0.0, before, start
        for ts, online in changes:
            if ts <= start:
                state = online
                continue
            if ts >= end:
                break
            if state:
                total += (ts - since).total_seconds()
            state, since = online, ts
        if state and end > since:
            total += (end - since).total_seconds()
        per_day.append(max(0.0, total))
    return per_day


def week(session: Session, kiosk: str, now: datetime, *, online_now: bool) -> Week:
    days = week_days(now)
    start = _local_midnight(days[0])
    changes = [
        (row.ts, row.online)
        for row in session.scalars(
            select(KioskPresence)
            .where(KioskPresence.kiosk == kiosk, KioskPresence.ts >= start)
            .order_by(KioskPresence.ts, KioskPresence.id)
        )
    ]
    earlier = session.scalar(
        select(KioskPresence.online)
        .where(KioskPresence.kiosk == kiosk, KioskPresence.ts < start)
        .order_by(KioskPresence.ts.desc(), KioskPresence.id.desc())
        .limit(1)
    )
    if earlier is not None:
        before = earlier
    elif changes:
        before = not changes[0][1]  # the first change tells what it changed from
    else:
        before = online_now
    index = {day: i for i, day in enumerate(days)}
    paper = {kind: [0] * DAYS for kind in PAPER_KINDS}
    for kind, opened in session.execute(
        select(Alert.kind, Alert.opened_at).where(
            Alert.kiosk == kiosk, Alert.kind.in_(PAPER_KINDS), Alert.opened_at >= start
        )
    ):
        position = index.get(opened.astimezone(CENTRE_TIMEZONE).date())
        if position is not None:
            paper[kind][position] += 1
    hours = [0] * 24
    for issued in session.scalars(
        select(Ticket.issued_at).where(Ticket.kiosk == kiosk, Ticket.issued_at >= start)
    ):
        hours[issued.astimezone(CENTRE_TIMEZONE).hour] += 1
    return Week(
        days=days,
        online_seconds=online_seconds(changes, before, days, now),
        paper_out=paper["paper_out"],
        paper_low=paper["paper_low"],
        tickets_by_hour=hours,
    )


def latest_samples(session: Session, kiosk: str, limit: int = 20) -> list[KioskHealthSample]:
    query = (
        select(KioskHealthSample)
        .where(KioskHealthSample.kiosk == kiosk)
        .order_by(KioskHealthSample.ts.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def prune(session: Session, before: datetime) -> int:
    """Drop health samples and presence changes older than ``before``; how many went.

    The newest presence change of each kiosk before the cut is what its page needs to
    know the state at the start of the window: a kiosk's last change is never pruned.
    """
    removed = session.execute(delete(KioskHealthSample).where(KioskHealthSample.ts < before))
    count = int(getattr(removed, "rowcount", 0) or 0)
    for kiosk in list(session.scalars(select(KioskPresence.kiosk).distinct())):
        keep = session.scalar(
            select(KioskPresence.id)
            .where(KioskPresence.kiosk == kiosk, KioskPresence.ts < before)
            .order_by(KioskPresence.ts.desc(), KioskPresence.id.desc())
            .limit(1)
        )
        if keep is None:
            continue
        gone = session.execute(
            delete(KioskPresence).where(
                KioskPresence.kiosk == kiosk, KioskPresence.ts < before, KioskPresence.id != keep
            )
        )
        count += int(getattr(gone, "rowcount", 0) or 0)
    return count


# --- charts as data for inline SVG --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: str  # the figure as text, shown over the bar and in its <title>


@dataclass(frozen=True, slots=True)
class BarChart:
    title: str
    unit: str
    width: int
    height: int
    bars: list[Bar]
    baseline: float
    peak: str  # the scale, said in words for the axis

    @property
    def description(self) -> str:
        return "；".join(f"{bar.label}：{bar.value}" for bar in self.bars)


def bar_chart(
    title: str,
    labels: list[str],
    values: list[float],
    *,
    unit: str,
    fmt: str = "{:g}",
    width: int = 420,
    height: int = 160,
    top: float | None = None,
) -> BarChart:
    """Bars scaled to ``top`` (or the largest value), with room for labels below."""
    margin, label_room = 4.0, 18.0
    plot = height - label_room - margin
    peak = top if top is not None else max([*values, 0.0])
    slot = (width - 2 * margin) / max(1, len(values))
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        tall = 0.0 if peak <= 0 else plot * min(value, peak) / peak
        bars.append(
            Bar(
                x=round(margin + i * slot + slot * 0.15, 1),
                y=round(margin + plot - tall, 1),
                width=round(slot * 0.7, 1),
                height=round(tall, 1),
                label=label,
                value=fmt.format(value) + unit,
            )
        )
    return BarChart(title, unit, width, height, bars, margin + plot, fmt.format(peak) + unit)


def charts(figures: Week) -> list[BarChart]:
    day_labels = [day.strftime("%m-%d") for day in figures.days]
    hours = [f"{h:02d}" for h in range(24)]
    online_hours = [round(s / 3600, 1) for s in figures.online_seconds]
    paper = [o + low for o, low in zip(figures.paper_out, figures.paper_low, strict=True)]
    return [
        bar_chart("每日在线时长", day_labels, online_hours, unit=" 小时", top=24),
        bar_chart("每日缺纸/纸将尽告警", day_labels, [float(p) for p in paper], unit=" 次"),
        bar_chart(
            "近 7 天各时段取号数",
            hours,
            [float(n) for n in figures.tickets_by_hour],
            unit=" 张",
            width=480,
        ),
    ]
