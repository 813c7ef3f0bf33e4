"""KioskLink's presence on the central broker, seen through the edge broker's bridge."""

from __future__ import annotations

import kiosk
from kiosk.protocol.messages import KioskState, decode
from kiosk.settings import Settings
from kiosk.touch.link import KioskLink
from tests.brokers import RunningBroker
from tests.touch.conftest import Listener, StandInHub, start_link


def _states(listener: Listener) -> list[KioskState]:
    return [decode(KioskState, p) for p in listener.payloads() if p]


def _retained_state(central: RunningBroker) -> KioskState:
    """What a client that connects now is told: the retained state."""
    late = Listener(central, "observer", "svc/v1/kiosk/k1/state")
    try:
        return decode(KioskState, late.first(bool, "the retained kiosk state"))
    finally:
        late.close()


def test_online_is_retained_centrally_and_stop_says_offline(
    settings: Settings, hub: StandInHub, observer: Listener, central_broker: RunningBroker
) -> None:
    link = start_link(settings)
    try:
        observer.first(lambda p: link.boot_id.encode() in p, "the birth")
        retained = _retained_state(central_broker)
        assert retained.state == "online"
        assert (retained.kiosk, retained.centre) == ("k1", "demo")
        assert (retained.boot_id, retained.session) == (link.boot_id, 1)
        assert retained.version == kiosk.__version__
    finally:
        link.stop()
    observer.first(lambda p: b'"offline"' in p, "the farewell")
    retained = _retained_state(central_broker)
    assert (retained.state, retained.boot_id, retained.session) == ("offline", link.boot_id, 1)
    link.stop()  # a second stop is harmless


def test_the_kiosk_announces_itself_again_when_the_hub_comes_online(
    link: KioskLink, hub: StandInHub, observer: Listener
) -> None:
    observer.first(lambda p: b'"online"' in p, "the birth")
    before = len(_states(observer))
    hub.say("online", boot_id="a-new-hub-process")
    observer.first(
        lambda _: len(_states(observer)) > before, "a second birth after the hub's birth"
    )
    assert all(s.state == "online" and s.boot_id == link.boot_id for s in _states(observer))


def test_each_link_is_a_new_boot() -> None:
    assert KioskLink(Settings()).boot_id != KioskLink(Settings()).boot_id
