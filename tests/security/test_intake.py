"""What the hub takes from a kiosk that the broker let through: only what the kiosk may say
about itself."""

from __future__ import annotations

from kiosk.hub.desk import QueueDesk
from kiosk.hub.events import HelpRequested
from kiosk.hub.monitor import FleetMonitor
from kiosk.hub.worker import HubWorker
from kiosk.protocol import topics
from tests.hub.conftest import eventually, kiosk_state
from tests.security.conftest import Central, connect


def _help(kiosk: str, seq: int = 1) -> HelpRequested:
    return HelpRequested(kiosk=kiosk, centre="demo", boot_id="boot-1", seq=seq, source="button")


def test_the_hub_drops_an_event_whose_body_names_another_kiosk(
    central: Central, hub: HubWorker, desk: QueueDesk, monitor: FleetMonitor
) -> None:
    k1 = connect(central.mqtt("k1"), "k1-touch")
    try:
        k1.publish(topics.kiosk_state("k1"), kiosk_state("k1"), retain=True)
        before = hub.rejected
        # On its own topic (the broker allows it), speaking for k2.
        k1.publish(topics.kiosk_event("k1", "help.requested"), _help("k2"))
        k1.publish(
            topics.kiosk_event("k1", "ticket.issued"),
            b'{"v": 1, "id": "x", "ts": "2024-05-06T02:00:00+00:00", "kiosk": "k2"}',
        )
        eventually(lambda: hub.rejected >= before + 2, "two rejections")
        assert hub.metrics.rejected.value(kind="event") == 2
        assert monitor.alerts(scope=None) == [], "no alert for the forged help request"
        # Its own help request is taken, once however often it is delivered.
        k1.publish(topics.kiosk_event("k1", "help.requested"), _help("k1"))
        k1.publish(topics.kiosk_event("k1", "help.requested"), _help("k1", 2))
        (alert,) = eventually(
            lambda: [a for a in monitor.alerts(scope=None) if a.count == 2], "the help alert"
        )
    finally:
        k1.stop()
    assert (alert.kiosk, alert.kind, alert.centre, alert.status) == ("k1", "help", "demo", "open")
    assert [k.id for k in desk.kiosks()] == ["k1"]
    assert hub.handler_errors == 0
