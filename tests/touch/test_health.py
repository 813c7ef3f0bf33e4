"""The kiosk's health report: what it measures, and that it reaches the central broker
retained at connect and then on its timer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kiosk.protocol import topics
from kiosk.protocol.messages import KioskHealth, decode
from kiosk.touch import create_app
from kiosk.touch.app import HEALTH
from kiosk.touch.health import HealthReporter, Sources, outbox_of
from kiosk.touch.link import KioskLink
from tests.brokers import KIOSK, RunningBroker
from tests.touch.conftest import WAIT, Listener, StandInHub, touch_settings
from tests.waiting import eventually


class FakeLink:
    kiosk = KIOSK
    boot_id = "b" * 32

    def __init__(self) -> None:
        self.sent: list[KioskHealth] = []
        self.hooks: list[Callable[[], None]] = []

    def publish_health(self, message: KioskHealth) -> None:
        self.sent.append(message)

    def on_announce(self, listener: Callable[[], None]) -> Callable[[], None]:
        self.hooks.append(listener)
        return lambda: None


class FakeOutbox:
    def depth(self) -> int:
        return 7

    def oldest_age(self) -> float | None:
        return 123.456


def test_a_sample_holds_what_the_machine_offers(tmp_path: Path) -> None:
    (tmp_path / "uptime").write_text("3600.52 7000.00\n")
    (tmp_path / "temp").write_text("61234\n")
    ticks = iter([100.0, 130.0])
    link = FakeLink()
    reporter = HealthReporter(
        link,
        Sources(tmp_path / "not-yet", tmp_path / "uptime", tmp_path / "temp"),
        outbox=lambda: (7, 123.456),
        clock=lambda: next(ticks),
    )
    health = reporter.sample()
    assert (health.kiosk, health.boot_id, health.uptime_s) == (KIOSK, "b" * 32, 30.0)
    assert health.system_uptime_s == 3600.52 and health.cpu_temperature_c == 61.2
    assert (health.outbox_depth, health.outbox_oldest_age_s) == (7, 123.5)
    # The data folder does not exist yet: its nearest parent's file system is measured.
    assert health.disk_total_bytes and health.disk_free_bytes is not None
    assert health.disk_free_bytes <= health.disk_total_bytes
    assert link.hooks == [reporter.publish], "health goes out with every birth"


def test_what_cannot_be_measured_is_none_not_a_guess(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("garbage")
    link = FakeLink()
    reporter = HealthReporter(
        link, Sources(tmp_path, tmp_path / "missing", tmp_path / "temp"), outbox=lambda: (0, None)
    )
    health = reporter.sample()
    assert health.system_uptime_s is None and health.cpu_temperature_c is None
    assert health.outbox_oldest_age_s is None


def test_the_outbox_figures_come_from_the_link_when_it_has_one() -> None:
    class WithOutbox:
        outbox = FakeOutbox()

    assert outbox_of(WithOutbox())() == (7, 123.456)
    assert outbox_of(object())() == (0, None)


def test_health_is_retained_at_connect_and_sent_on_its_timer(
    edge_broker: RunningBroker, central_broker: RunningBroker, hub: StandInHub
) -> None:
    settings = touch_settings(edge_broker, health_interval=0.3)
    settings = settings.model_copy(update={"state_dir": Path("/")})
    link = KioskLink(settings)
    app = create_app(settings, link)  # as `kiosk touch` does: the app before the connection
    reporter: HealthReporter = app.extensions[HEALTH]
    link.start()
    try:
        assert link.wait_connected(WAIT)
        eventually(lambda: reporter.sent >= 1, "health at connect", WAIT)
        late = Listener(central_broker, "observer", topics.kiosk_health(KIOSK))
        try:
            retained = decode(KioskHealth, late.first(lambda _p: True, "retained health"))
            assert retained.kiosk == KIOSK and retained.boot_id == link.boot_id
            before = reporter.sent
            reporter.start()
            eventually(lambda: len(late.payloads()) >= 3, "health on its timer", WAIT)
            assert reporter.sent > before
        finally:
            late.close()
    finally:
        reporter.stop()
        link.stop()
