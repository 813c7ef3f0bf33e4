"""Kiosk health at the hub: kept, alerted on, filtered, drawn; and its intake over MQTT."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from kiosk.hub import fleet, health
from kiosk.hub.app import create_app
from kiosk.hub.db import Database
from kiosk.hub.desk import QueueDesk
from kiosk.hub.enrolment import record
from kiosk.hub.health import HealthLimits, bar_chart, online_seconds, week_days
from kiosk.hub.models import Alert, KioskHealthSample, KioskPresence
from kiosk.hub.monitor import FleetMonitor, FleetPolicy
from kiosk.hub.users import add_user
from kiosk.hub.worker import HubWorker
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import DeviceState, KioskHealth
from kiosk.settings import Settings
from tests.brokers import RunningBroker
from tests.hub.conftest import CENTRE, WAIT, FakeClock, eventually, kiosk_state

PASSWORD = "correct horse battery"  # noqa: S105 - a test account
GB = 2**30


def report(kiosk: str = "k1", ts: datetime | None = None, **figures: Any) -> KioskHealth:
    values: dict[str, Any] = {
        "uptime_s": 3600.0,
        "system_uptime_s": 86400.0,
        "outbox_depth": 0,
        "outbox_oldest_age_s": None,
        "disk_free_bytes": 20 * GB,
        "disk_total_bytes": 32 * GB,
        "cpu_temperature_c": 48.5,
        "version": "0.1.0",
        **figures,
    }
    return KioskHealth(kiosk=kiosk, boot_id="boot-1", ts=ts or datetime.now(UTC), **values)


@pytest.fixture
def monitor(desk: QueueDesk, clock: FakeClock) -> FleetMonitor:
    limits = HealthLimits(disk_free_percent=10, temperature_c=75, outbox_age=timedelta(minutes=15))
    return FleetMonitor(desk.database, FleetPolicy(limits=limits), clock=clock)


def record_health(desk: QueueDesk, message: KioskHealth) -> bool:
    with desk.database.write() as session:
        return fleet.record_health(session, message, desk.now())


def test_the_latest_report_is_kept_with_a_sample_and_an_older_one_is_ignored(
    desk: QueueDesk, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    assert record_health(desk, report(ts=clock.now, cpu_temperature_c=50.0))
    assert not record_health(desk, report(ts=clock.now - timedelta(seconds=5)))
    assert not record_health(desk, report(ts=clock.now)), "a replayed retained report"
    (view,) = desk.kiosks()
    assert view.figure("cpu_temperature_c") == 50.0 and view.disk_free_percent == 62.5
    with desk.database.read() as session:
        assert session.scalar(select(func.count()).select_from(KioskHealthSample)) == 1


def test_a_clock_far_ahead_in_one_boot_does_not_freeze_the_next_boots_reports(
    desk: QueueDesk, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", boot_id="boot-1", ts=clock.now))
    ahead = report(ts=clock.now + timedelta(days=30), cpu_temperature_c=40.0)  # no RTC yet
    assert record_health(desk, ahead)
    desk.kiosk_state(kiosk_state("k1", boot_id="boot-2", ts=clock.now + timedelta(minutes=1)))
    fresh = report(ts=clock.now + timedelta(minutes=1), cpu_temperature_c=60.0)
    fresh = fresh.model_copy(update={"boot_id": "boot-2"})
    assert record_health(desk, fresh), "the live boot's report wins over an older boot's"
    stale = report(ts=clock.now, cpu_temperature_c=99.0)  # boot-1's, replayed late
    assert not record_health(desk, stale)
    (view,) = desk.kiosks()
    assert view.figure("cpu_temperature_c") == 60.0


def test_a_revoked_kiosk_s_report_is_refused(
    database: Database, desk: QueueDesk, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    record(database.url, "kiosk.revoke", "k1", CENTRE, "cli:root")
    with pytest.raises(fleet.Refused):
        record_health(desk, report(ts=clock.now))


@pytest.mark.parametrize(
    ("figures", "kind", "detail"),
    [
        ({"disk_free_bytes": 2 * GB}, "disk_low", "磁盘剩余 6.2%"),
        ({"cpu_temperature_c": 81.0}, "overheated", "81.0 °C"),
        ({"outbox_depth": 12, "outbox_oldest_age_s": 1200.0}, "outbox_backlog", "12 条事件"),
    ],
)
def test_health_alerts_open_and_resolve_themselves(
    desk: QueueDesk,
    monitor: FleetMonitor,
    clock: FakeClock,
    figures: dict[str, Any],
    kind: str,
    detail: str,
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    record_health(desk, report(ts=clock.now, **figures))
    monitor.kiosk_changed("k1")
    (alert,) = monitor.alerts(scope=None, status="unresolved")
    assert alert.kind == kind and detail in alert.detail
    (row,) = monitor.fleet(scope=None, problem=_filter_of(kind))
    assert kind in row.problems
    assert monitor.fleet(scope=None, problem="paper") == []
    clock.advance(seconds=60)
    record_health(desk, report(ts=clock.now))  # fixed: space freed, cooled, delivered
    monitor.kiosk_changed("k1")
    assert monitor.alerts(scope=None, status="unresolved") == []
    (done,) = monitor.alerts(scope=None, status="resolved")
    assert done.resolved_by == "hub"


def _filter_of(kind: str) -> str:
    return {"disk_low": "disk", "overheated": "temperature", "outbox_backlog": "outbox"}[kind]


def test_a_report_within_the_limits_raises_nothing(
    desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    edge = report(
        ts=clock.now,
        disk_free_bytes=10 * GB,
        disk_total_bytes=100 * GB,  # exactly 10 %: not below
        cpu_temperature_c=75.0,
        outbox_depth=3,
        outbox_oldest_age_s=900.0,
    )
    record_health(desk, edge)
    monitor.kiosk_changed("k1")
    assert monitor.alerts(scope=None) == []
    assert monitor.fleet(scope=None, problem="any") == []


# --- the last seven days ----------------------------------------------------------------


def test_online_time_is_cut_at_midnight_and_counts_today_up_to_now() -> None:
    tz = health.CENTRE_TIMEZONE
    now = datetime(2024, 5, 6, 12, 0, tzinfo=tz)
    days = week_days(now)
    assert [d.day for d in days] == [30, 1, 2, 3, 4, 5, 6]
    changes = [
        (datetime(2024, 5, 4, 22, 0, tzinfo=tz), True),  # up at 22:00 on the 4th
        (datetime(2024, 5, 5, 8, 0, tzinfo=tz), False),  # down at 08:00 on the 5th
        (datetime(2024, 5, 6, 9, 30, tzinfo=tz), True),  # up again at 09:30 today
    ]
    hours = [s / 3600 for s in online_seconds(changes, False, days, now)]
    assert hours == [0, 0, 0, 0, 2.0, 8.0, 2.5]
    assert [s / 3600 for s in online_seconds([], True, days[-1:], now)] == [12.0]


def test_the_week_counts_presence_paper_alerts_and_tickets_from_the_tables(
    desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock
) -> None:
    # MORNING is 10:00 in the centre on Monday 2024-05-06.
    start = clock.now
    clock.now = start - timedelta(days=2)  # Saturday 10:00: first seen, online
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    clock.now = start - timedelta(days=2) + timedelta(hours=4)  # Saturday 14:00: offline
    desk.kiosk_state(kiosk_state("k1", "offline", ts=clock.now))
    clock.now = start - timedelta(hours=1)  # Monday 09:00: back
    desk.kiosk_state(kiosk_state("k1", session=2, ts=clock.now))
    for hours_ago, paper in ((30, "out"), (3, "near_end"), (2, "out")):
        clock.now = start - timedelta(hours=hours_ago)
        desk.device_state(
            DeviceState(kiosk="k1", device="printer", status="online", paper=paper, ts=clock.now)
        )
        monitor.kiosk_changed("k1")
        desk.device_state(
            DeviceState(kiosk="k1", device="printer", status="online", paper="ok", ts=clock.now)
        )
        monitor.kiosk_changed("k1")
    clock.now = start
    for minutes in (0, 5, 70):
        clock.now = start + timedelta(minutes=minutes)
        desk.take("k1", "social", uuid.uuid4().hex)
    clock.now = start + timedelta(hours=2)  # 12:00 on Monday
    figures = monitor.week("k1", scope=None)
    assert figures is not None
    assert [d.isoformat() for d in figures.days][-1] == "2024-05-06"
    assert [round(s / 3600, 2) for s in figures.online_seconds] == [0, 0, 0, 0, 4.0, 0, 3.0]
    # Sunday 04:00 (30 h before Monday 10:00): out; Monday 07:00 low; 08:00 out.
    assert figures.paper_out == [0, 0, 0, 0, 0, 1, 1]
    assert figures.paper_low == [0, 0, 0, 0, 0, 0, 1]
    by_hour = {hour: n for hour, n in enumerate(figures.tickets_by_hour) if n}
    assert by_hour == {10: 2, 11: 1}
    assert monitor.week("k1", scope=frozenset({"north"})) is None


def test_a_bar_chart_scales_to_its_top_and_says_its_numbers() -> None:
    chart = bar_chart("在线", ["a", "b"], [24.0, 6.0], unit=" 小时", top=24, height=122)
    tall, short = chart.bars
    assert tall.height == 100.0 and short.height == 25.0
    assert tall.y + tall.height == short.y + short.height == chart.baseline
    assert chart.description == "a：24 小时；b：6 小时"


def test_history_is_pruned_but_each_kiosk_keeps_its_last_change(
    desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock
) -> None:
    start = clock.now
    clock.now = start - timedelta(days=20)
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    record_health(desk, report(ts=clock.now))
    clock.now = start - timedelta(days=19)
    desk.kiosk_state(kiosk_state("k1", "offline", ts=clock.now))
    clock.now = start - timedelta(days=18)
    desk.kiosk_state(kiosk_state("k1", session=2, ts=clock.now))
    clock.now = start
    record_health(desk, report(ts=clock.now))
    assert monitor.prune_history(start, force=True) == 3  # one sample, two old changes
    with desk.database.read() as session:
        assert session.scalar(select(func.count()).select_from(KioskHealthSample)) == 1
        kept = list(session.scalars(select(KioskPresence.online)))
    assert kept == [True], "the last change before the cut tells the state at its start"
    figures = monitor.week("k1", scope=None)
    assert figures is not None and figures.online_seconds[-1] == 10 * 3600


# --- the console ---------------------------------------------------------------------------


@pytest.fixture
def app(settings: Settings, desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock) -> Flask:
    add_user(desk.database, "boss", PASSWORD, role="admin")
    for kiosk in ("k1", "k2"):
        desk.kiosk_state(kiosk_state(kiosk, ts=clock.now))
    record_health(desk, report("k1", ts=clock.now, cpu_temperature_c=82.3, outbox_depth=4))
    record_health(desk, report("k2", ts=clock.now, disk_free_bytes=GB, uptime_s=90061.0))
    monitor.kiosk_changed("k1")
    monitor.kiosk_changed("k2")
    return create_app(settings, desk, secret_key=b"k" * 32, monitor=monitor)


def _login(app: Flask) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    data = {"username": "boss", "password": PASSWORD, "csrf_token": token.group(1)}
    assert client.post("/login", data=data).status_code == 302
    return client


def test_the_fleet_page_shows_health_and_filters_by_it(app: Flask) -> None:
    client = _login(app)
    page = client.get("/fleet").get_data(as_text=True)
    for heading in ("事件积压", "磁盘剩余", "温度", "运行时长"):
        assert f"<th>{heading}</th>" in page
    assert "82.3 °C" in page and "4 条" in page and "1 天 1 小时" in page
    hot = client.get("/fleet?problem=temperature").get_data(as_text=True)
    assert 'data-kiosk="k1"' in hot and 'data-kiosk="k2"' not in hot
    full = client.get("/fleet?problem=disk").get_data(as_text=True)
    assert 'data-kiosk="k2"' in full and 'data-kiosk="k1"' not in full
    answer = client.get("/api/fleet?problem=disk").get_json()
    (kiosk,) = answer["kiosks"]
    assert kiosk["problems"] == ["disk_low"] and kiosk["health"]["disk_free_bytes"] == GB
    assert [a["kind"] for a in kiosk["alerts"]] == ["disk_low"]


def test_the_kiosk_page_draws_its_week_as_accessible_svg_without_scripts(app: Flask) -> None:
    page = _login(app).get("/fleet/k1").get_data(as_text=True)
    charts = re.findall(r'<svg role="img" aria-labelledby="([^"]+)"', page)
    assert len(charts) == 3
    for title in ("每日在线时长", "每日缺纸/纸将尽告警", "近 7 天各时段取号数"):
        assert f">{title}</title>" in page
    assert page.count('<g class="bar"') == 7 + 7 + 24
    assert "<script>" not in page and " style=" not in page
    assert "82.3 °C" in page and "程序 1 小时 0 分钟" in page


def test_health_reaches_the_registry_over_mqtt_and_a_forged_one_is_dropped(
    central_broker: RunningBroker, live_desk: QueueDesk, database: Database
) -> None:
    monitor = FleetMonitor(database, FleetPolicy(), clock=live_desk.now)
    hub = HubWorker(
        central_broker.mqtt_settings("hub"), live_desk, client_id="hub-health", monitor=monitor
    )
    hub.start()
    kiosk = MqttLink(f"k1-{uuid.uuid4().hex[:6]}", central_broker.mqtt_settings("k1"))
    kiosk.start()
    try:
        assert hub.wait_connected(WAIT) and kiosk.wait_connected(WAIT)
        kiosk.publish(topics.kiosk_state("k1"), kiosk_state("k1"), retain=True)
        eventually(live_desk.kiosks, "k1 known")
        forged = report("k2", cpu_temperature_c=99.0)
        kiosk.publish(topics.kiosk_health("k1"), forged, retain=True, qos=1)
        eventually(lambda: hub.rejected >= 1, "the forged report refused")
        hot = report("k1", cpu_temperature_c=90.0)
        kiosk.publish(topics.kiosk_health("k1"), hot, retain=True, qos=1)
        eventually(
            lambda: live_desk.kiosks()[0].figure("cpu_temperature_c") == 90.0, "the report kept"
        )
        eventually(
            lambda: [a.kind for a in monitor.alerts(scope=None)] == ["overheated"],
            "the overheated alert",
        )
    finally:
        kiosk.stop()
        hub.stop()
    assert [k.id for k in live_desk.kiosks()] == ["k1"], "k2 never came to exist"
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(Alert)) == 1
