"""KioskLink's presence on the central broker, seen through the edge broker's bridge."""

from __future__ import annotations

import time

import kiosk
from kiosk.domain.receipt import Text
from kiosk.protocol import topics
from kiosk.protocol.messages import KioskState, PrintResult, decode
from kiosk.settings import Settings
from kiosk.touch.link import PRINT_RESEND_AFTER, KioskLink
from tests.brokers import RunningBroker
from tests.touch.conftest import WAIT, Listener, StandInHub, start_link
from tests.waiting import eventually


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


def test_a_hub_last_heard_of_as_offline_is_asked_and_its_answer_ends_the_banner(
    link: KioskLink, hub: StandInHub, observer: Listener
) -> None:
    """The hub's "online" can be lost or overtaken by a late Will of its own: the kiosk
    asks now and then, and an answer to a question asked after the Will outranks it."""
    hub.say("offline", answering=True)  # a late Will: the hub is up
    eventually(lambda: link.hub_known_offline, "the hub's Will", WAIT)
    births = len(_states(observer))
    link.probe_hub()
    eventually(lambda: link.hub_online, "the probe's answer", WAIT)
    assert not link.hub_unreachable
    assert "k1:services.list" in hub.requests
    observer.first(lambda _: len(_states(observer)) > births, "a birth once the hub answered")


def test_after_a_probe_revived_the_link_the_next_will_counts_whatever_its_boot(
    link: KioskLink, hub: StandInHub
) -> None:
    """The probe cannot tell which hub process answered: a Will that follows is believed,
    even from a boot the kiosk never heard announce itself."""
    hub.say("offline", answering=True)
    eventually(lambda: link.hub_known_offline, "the hub's Will", WAIT)
    link.probe_hub()
    eventually(lambda: link.hub_online, "the probe's answer", WAIT)
    hub.say("offline", boot_id="a-process-whose-birth-was-lost")
    eventually(lambda: link.hub_known_offline, "the next process's Will", WAIT)


def test_an_answer_to_a_question_asked_before_the_hubs_will_does_not_undo_it(
    link: KioskLink, hub: StandInHub
) -> None:
    hub.say("offline", answering=True)  # a late Will: the hub is up
    eventually(lambda: link.hub_known_offline, "the hub's Will", WAIT)
    asked_before = link._hub_news - 1  # as if the Will had come while the question was out
    link._probe(asked_before)
    assert link.hub_known_offline, "the Will is the newer word"


def test_each_link_is_a_new_boot() -> None:
    assert KioskLink(Settings()).boot_id != KioskLink(Settings()).boot_id


def test_a_print_job_the_bridge_never_answered_is_sent_again_until_it_does(
    link: KioskLink, printer_side: Listener, edge_broker: RunningBroker
) -> None:
    job_id = link.print([Text("补打")], label="resend")
    printer_side.first(lambda p: job_id.encode() in p, "the first copy")
    assert link.resend_unanswered_prints() == 0, "not before PRINT_RESEND_AFTER"
    later = time.monotonic() + PRINT_RESEND_AFTER + 0.1
    assert link.resend_unanswered_prints(now=later) == 1
    eventually(
        lambda: len([p for p in printer_side.payloads() if job_id.encode() in p]) == 2,
        "the second copy, with the same job id",
        WAIT,
    )
    answer = PrintResult(job_id=job_id, status="spooled")
    printer_side.link.publish(topics.PRINT_RESULT, answer).wait_for_publish(WAIT)
    eventually(lambda: link.print_result(job_id) is not None, "the bridge's answer", WAIT)
    assert link.resend_unanswered_prints(now=later + PRINT_RESEND_AFTER) == 0
