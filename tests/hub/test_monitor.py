"""Fleet monitoring: alerts from device states, help requests and time; acknowledge and
resolve; history; the webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from kiosk.hub import fleet
from kiosk.hub.alerts import AlertConflict, AlertNotFound
from kiosk.hub.db import Database
from kiosk.hub.desk import QueueDesk
from kiosk.hub.enrolment import record
from kiosk.hub.monitor import FleetMonitor, FleetPolicy
from kiosk.protocol.messages import DeviceState
from tests.hub.conftest import FakeClock, eventually, kiosk_state


@pytest.fixture
def monitor(database: Database, clock: FakeClock) -> FleetMonitor:
    return FleetMonitor(database, FleetPolicy(offline_after=timedelta(minutes=5)), clock=clock)


def _device(desk: QueueDesk, monitor: FleetMonitor, kiosk: str = "k1", **fields: Any) -> None:
    """A device state as the worker applies it: record, then let the monitor look."""
    message = DeviceState(kiosk=kiosk, ts=desk.now(), **fields)
    desk.device_state(message)
    monitor.kiosk_changed(kiosk)


def _state(desk: QueueDesk, monitor: FleetMonitor, kiosk: str = "k1", **fields: Any) -> None:
    desk.kiosk_state(kiosk_state(kiosk, ts=desk.now(), **fields))
    monitor.kiosk_changed(kiosk)


def _kinds(monitor: FleetMonitor, status: str = "unresolved") -> list[str]:
    return sorted(a.kind for a in monitor.alerts(scope=None, status=status))


def test_paper_low_then_out_then_refilled(
    desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock
) -> None:
    _state(desk, monitor)
    _device(desk, monitor, device="printer", status="online", paper="ok")
    assert _kinds(monitor) == []
    clock.advance(seconds=1)
    _device(desk, monitor, device="printer", status="online", paper="near_end")
    assert _kinds(monitor) == ["paper_low"]
    clock.advance(seconds=1)
    _device(desk, monitor, device="printer", status="online", paper="out")
    assert _kinds(monitor) == ["paper_out"], "low resolved, out opened"
    clock.advance(seconds=1)
    _device(desk, monitor, device="printer", status="online", paper="out")
    assert len(monitor.alerts(scope=None, status="unresolved")) == 1, "no second alert"
    clock.advance(seconds=1)
    _device(desk, monitor, device="printer", status="online", paper="ok")
    assert _kinds(monitor) == []
    history = monitor.alerts(scope=None, status="resolved")
    assert sorted(a.kind for a in history) == ["paper_low", "paper_out"]
    assert {a.resolved_by for a in history} == {"hub"}


def test_cover_open_and_a_sam_fault_are_faults(desk: QueueDesk, monitor: FleetMonitor) -> None:
    _state(desk, monitor)
    _device(desk, monitor, device="printer", status="offline", paper="ok", detail="cover open")
    _device(desk, monitor, device="idreader", status="offline", detail="60 (SAM self-test failed)")
    assert _kinds(monitor) == ["printer_fault", "reader_fault"]
    (k1,) = desk.kiosks()
    assert k1.printer.cover_open and k1.reader.health == "sam_fault"
    assert k1.problems == {"printer_fault", "reader_fault"}


def test_an_offline_kiosk_raises_an_alert_only_after_the_grace_time(
    desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock
) -> None:
    _state(desk, monitor)
    _state(desk, monitor, state="offline")
    clock.advance(minutes=4)
    assert monitor.sweep() == []
    clock.advance(minutes=2)
    (alert,) = monitor.sweep()
    assert (alert.kind, alert.kiosk, alert.centre) == ("offline", "k1", "demo")
    assert "6 分钟" in alert.detail
    assert monitor.sweep() == [], "one alert per outage"
    clock.advance(seconds=5)
    _state(desk, monitor, session=2)
    assert _kinds(monitor) == [], "back online: resolved"


def test_a_bridge_that_went_down_counts_as_offline(
    desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock
) -> None:
    _state(desk, monitor)
    desk.uplink("k1", up=False)
    monitor.kiosk_changed("k1")
    clock.advance(minutes=6)
    assert [a.kind for a in monitor.sweep()] == ["offline"]


def test_device_alerts_of_an_offline_kiosk_stay_as_they_were(
    desk: QueueDesk, monitor: FleetMonitor
) -> None:
    _state(desk, monitor)
    _device(desk, monitor, device="printer", status="online", paper="out")
    _state(desk, monitor, state="offline")
    assert _kinds(monitor) == ["paper_out"]


def test_help_requests_open_one_alert_that_people_resolve(
    desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock
) -> None:
    _state(desk, monitor)
    first = monitor.help_requested("k1", "demo", "按了呼叫按钮")
    clock.advance(seconds=30)
    again = monitor.help_requested("k1", "demo", "按了呼叫按钮")
    assert first.id == again.id and again.count == 2
    _state(desk, monitor, session=2)
    assert _kinds(monitor) == ["help"], "a help request does not clear by itself"
    acked = monitor.change_alert(first.id, "acknowledge", actor="user:clerk", scope=None)
    assert (acked.status, acked.acknowledged_by) == ("acknowledged", "user:clerk")
    with pytest.raises(AlertConflict):
        monitor.change_alert(first.id, "acknowledge", actor="user:clerk", scope=None)
    done = monitor.change_alert(first.id, "resolve", actor="user:clerk", scope=None)
    assert (done.status, done.resolved_by) == ("resolved", "user:clerk")
    with pytest.raises(AlertConflict):
        monitor.change_alert(first.id, "resolve", actor="user:clerk", scope=None)
    assert monitor.help_requested("k1", "demo", "again").id != first.id, "a new one after"


def test_alerts_outside_the_users_centres_do_not_exist_for_them(
    desk: QueueDesk, monitor: FleetMonitor
) -> None:
    _state(desk, monitor, kiosk="k9", centre="north")
    alert = monitor.help_requested("k9", "north", "help")
    assert monitor.alerts(scope=frozenset({"demo"})) == []
    with pytest.raises(AlertNotFound):
        monitor.change_alert(alert.id, "resolve", actor="user:x", scope=frozenset({"demo"}))
    assert monitor.kiosk("k9", scope=frozenset({"demo"})) is None
    assert [r.kiosk.id for r in monitor.fleet(scope=frozenset({"north"}))] == ["k9"]


def test_the_fleet_filters_by_centre_and_problem(desk: QueueDesk, monitor: FleetMonitor) -> None:
    _state(desk, monitor, kiosk="k1")
    _state(desk, monitor, kiosk="k2")
    _device(desk, monitor, kiosk="k2", device="printer", status="online", paper="near_end")
    _state(desk, monitor, kiosk="k3", centre="north")
    _state(desk, monitor, kiosk="k3", centre="north", state="offline")

    def ids(**filters: Any) -> list[str]:
        return [r.kiosk.id for r in monitor.fleet(scope=None, **filters)]

    assert ids() == ["k1", "k2", "k3"]
    assert ids(centre="demo") == ["k1", "k2"]
    assert ids(problem="paper") == ["k2"]
    assert ids(problem="offline") == ["k3"]
    assert ids(problem="any") == ["k2", "k3"]
    assert ids(problem="alert") == ["k2"]
    assert ids(problem="reader") == []


def test_a_revoked_kiosk_is_shown_revoked_its_alerts_end_and_its_messages_are_refused(
    database: Database, desk: QueueDesk, monitor: FleetMonitor, clock: FakeClock
) -> None:
    _state(desk, monitor)
    _device(desk, monitor, device="printer", status="online", paper="out")
    record(database.url, "kiosk.revoke", "k1", "demo", "cli:root")
    monitor.kiosk_changed("k1")
    assert _kinds(monitor) == []
    clock.advance(hours=1)
    assert monitor.sweep() == [], "never alerted offline"
    with pytest.raises(fleet.Refused):
        desk.kiosk_state(kiosk_state("k1", ts=clock.now, session=5))
    (k1,) = desk.kiosks()
    assert k1.problems == {"revoked"} and not k1.online


def test_an_enrolled_kiosk_is_known_before_it_ever_connects(
    database: Database, desk: QueueDesk
) -> None:
    record(database.url, "kiosk.enrol", "k5", "demo", "cli:root")
    (k5,) = desk.kiosks()
    assert (k5.id, k5.home, k5.never_seen, k5.online) == ("k5", "demo", True, False)
    with pytest.raises(fleet.Refused, match="enrolled at centre 'demo'"):
        desk.kiosk_state(kiosk_state("k5", centre="north"))


class _Hook:
    """A webhook receiver on 127.0.0.1 that answers ``status``."""

    def __init__(self, status: int = 204) -> None:
        self.bodies: list[tuple[dict[str, Any], dict[str, str]]] = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                hook.bodies.append((json.loads(body), dict(self.headers) | {"raw": body.decode()}))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Hook:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[_Hook]:
    with _Hook() as receiver:
        yield receiver


def test_alerts_are_posted_to_the_webhook_signed(
    database: Database, desk: QueueDesk, clock: FakeClock, hook: _Hook
) -> None:
    secret = b"a-webhook-secret-of-some-length"
    policy = FleetPolicy(webhook_url=hook.url, webhook_secret=secret, webhook_timeout=2)
    monitor = FleetMonitor(database, policy, clock=clock)
    monitor.start()
    try:
        _state(desk, monitor)
        alert = monitor.help_requested("k1", "demo", "按了呼叫按钮")
        monitor.change_alert(alert.id, "resolve", actor="user:clerk", scope=None)
        eventually(lambda: len(hook.bodies) == 2, "two deliveries")
        eventually(
            lambda: monitor.alerts(scope=None, status="resolved")[0].webhook == "sent", "status"
        )
    finally:
        monitor.stop()
    (opened, headers), (resolved, _) = hook.bodies
    assert opened["event"] == "alert.opened" and opened["alert"]["kind"] == "help"
    assert (
        resolved["event"] == "alert.resolved" and resolved["alert"]["resolved_by"] == "user:clerk"
    )
    expected = hmac.new(secret, headers["raw"].encode(), hashlib.sha256).hexdigest()
    assert headers["X-Kiosk-Signature"] == f"sha256={expected}"


def test_a_failing_webhook_is_retried_then_recorded(
    database: Database, desk: QueueDesk, clock: FakeClock
) -> None:
    with _Hook(status=500) as failing:
        monitor = FleetMonitor(database, FleetPolicy(webhook_url=failing.url), clock=clock)
        assert monitor.notifier is not None
        monitor.notifier._backoff = (0.01, 0.01)
        monitor.start()
        try:
            monitor.help_requested("k1", "demo", "help")
            eventually(lambda: monitor.alerts(scope=None)[0].webhook == "failed", "the failure")
        finally:
            monitor.stop()
    assert len(failing.bodies) == 3
    assert monitor.metrics.webhook_failures.value() == 1


def test_the_webhook_url_must_be_http() -> None:
    from kiosk.hub.webhook import WebhookNotifier

    for url in ("file:///etc/passwd", "ftp://x/", "nonsense"):
        with pytest.raises(ValueError, match="http"):
            WebhookNotifier(url)
