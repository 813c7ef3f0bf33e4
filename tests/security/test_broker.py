"""The central broker's door: passwords, TLS, and the ACL that keeps each kiosk in its
own subtree. Everything is asserted on the receiving side: MQTT 3.1.1 and 5 both ack a
publish the ACL denied, so a sender cannot tell."""

from __future__ import annotations

import threading
import time
import uuid

from paho.mqtt.properties import Properties

from kiosk.ca import Authority, CertPair, init_ca, issue_server
from kiosk.enroll import Endpoint, check_login
from kiosk.hub.desk import QueueDesk
from kiosk.hub.events import HelpRequested
from kiosk.hub.worker import HubWorker
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import DeviceState, RpcRequest
from tests.hub.conftest import WAIT, eventually, kiosk_state
from tests.security.conftest import Central, connect


class Inbox:
    def __init__(self) -> None:
        self.topics: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, topic: str, _payload: bytes, _props: Properties | None) -> None:
        with self._lock:
            self.topics.append(topic)

    def seen(self) -> list[str]:
        with self._lock:
            return list(self.topics)


def test_a_wrong_password_is_refused_on_both_listeners(central: Central) -> None:
    assert check_login(central.plain(), "k1", central.users["k1"]) is None
    assert check_login(central.tls(), "k1", central.users["k1"]) is None
    for endpoint in (central.plain(), central.tls()):
        answer = check_login(endpoint, "k1", "not-the-password")
        assert answer is not None and "refused" in answer, answer
        unknown = check_login(endpoint, "nobody", "whatever")
        assert unknown is not None and "refused" in unknown


def test_the_tls_listener_refuses_plain_mqtt_and_an_unknown_ca(
    central: Central, tmp_path: object
) -> None:
    plain_on_tls = Endpoint("127.0.0.1", central.tls_port)  # no CA: no TLS
    answer = check_login(plain_on_tls, "k1", central.users["k1"], timeout=3)
    assert answer is not None, "a plain MQTT CONNECT on the TLS port must fail"
    assert "Protocol error" in central.log() or "wrong version number" in central.log()

    other = init_ca(central.directory / f"other-ca-{uuid.uuid4().hex[:6]}", "Someone else")
    issue_server(other, ["127.0.0.1"])
    impostor = check_login(Endpoint("127.0.0.1", central.tls_port, other.cert), "k1", "x")
    assert impostor is not None and "certificate verify failed" in impostor


def test_a_client_certificate_from_the_fleet_ca_is_accepted(
    central: Central, client_cert: CertPair, fleet_ca: Authority
) -> None:
    # The listener here does not require one; a kiosk that has one presents it.
    assert check_login(central.tls(), "k1", central.users["k1"], cert=client_cert) is None


def test_kiosk_a_publishing_under_kiosk_bs_topics_never_reaches_the_hub(
    central: Central, hub: HubWorker, desk: QueueDesk
) -> None:
    k1 = connect(central.mqtt("k1"), "k1-touch")
    try:
        forged_state = kiosk_state("k2")
        k1.publish(topics.kiosk_state("k2"), forged_state, retain=True)
        k1.publish(
            topics.kiosk_device("k2", "printer"),
            DeviceState(kiosk="k2", device="printer", status="online", paper="out"),
        )
        help_for_k2 = HelpRequested(kiosk="k2", centre="demo", boot_id="b", seq=1, source="button")
        k1.publish(topics.kiosk_event("k2", "help.requested"), help_for_k2)
        k1.publish(
            topics.kiosk_rpc("k2", "ticket.take"),
            RpcRequest(corr="c1", params={"service": "social", "event_id": "e1"}),
        )
        # One client's messages arrive in order: once k1's own state is in, every forged
        # one before it would have been too.
        k1.publish(topics.kiosk_state("k1"), kiosk_state("k1"), retain=True)
        eventually(lambda: [k for k in desk.kiosks() if k.id == "k1"], "k1's own state")
        time.sleep(0.2)
    finally:
        k1.stop()
    assert [k.id for k in desk.kiosks()] == ["k1"], "nothing of k2 reached the hub"
    assert hub.metrics.intake.value(kind="rpc") == 0


def test_kiosk_a_cannot_read_kiosk_bs_topics(central: Central, hub: HubWorker) -> None:
    spy, inbox = MqttLink("k1-touch", central.mqtt("k1")), Inbox()
    for topic_filter in ("svc/v1/kiosk/k2/#", "svc/v1/kiosk/+/state", "#", "svc/v1/kiosk/k1/#"):
        spy.subscribe(topic_filter, inbox)
    spy.start()
    k2 = connect(central.mqtt("k2"), "k2-touch")
    hub_link = connect(central.mqtt("hub"), f"hub-cmd-{uuid.uuid4().hex[:6]}")
    try:
        assert spy.wait_connected(WAIT)
        time.sleep(0.2)  # the spy's SUBSCRIBEs are in before anything is published
        k2.publish(topics.kiosk_state("k2"), kiosk_state("k2"), retain=True)
        k2.publish(topics.kiosk_event("k2", "ticket.issued"), b'{"secret": 1}')
        hub_link.publish(topics.kiosk_cmd("k2", "reload"), b"{}")
        hub_link.publish(topics.kiosk_reply("k2"), b"{}")
        # The barrier: something k1 may read arrives after all of the above.
        hub_link.publish(topics.kiosk_cmd("k1", "reload"), b"{}")
        eventually(lambda: "svc/v1/kiosk/k1/cmd/reload" in inbox.seen(), "k1's own command")
        time.sleep(0.2)
    finally:
        for link in (spy, k2, hub_link):
            link.stop()
    allowed = {topics.HUB_STATE, topics.centre_board("demo")}
    leaked = [t for t in inbox.seen() if not t.startswith("svc/v1/kiosk/k1/") and t not in allowed]
    assert leaked == [], f"k1 read other kiosks' topics: {leaked}"


def test_a_kiosk_cannot_forge_another_kiosks_uplink_notice(
    central: Central, hub: HubWorker, desk: QueueDesk
) -> None:
    """The ACL keys bridge notices on the username (%u-edge), not the client id a client
    picks: k1 calling itself "k2-edge" cannot say k2's bridge went down."""
    k2 = connect(central.mqtt("k2"), "k2-edge")  # k2's own bridge may say it is up
    try:
        k2.publish("$SYS/broker/connection/k2-edge/state", b"1")
    finally:
        k2.stop()
    eventually(lambda: [k for k in desk.kiosks() if k.id == "k2" and k.uplink == "up"], "k2 up")
    impostor = connect(central.mqtt("k1"), "k2-edge")
    try:
        impostor.publish("$SYS/broker/connection/k2-edge/state", b"0")
        impostor.publish("$SYS/broker/connection/k1-edge/state", b"1")  # its own: allowed
        eventually(lambda: [k for k in desk.kiosks() if k.id == "k1" and k.uplink == "up"], "k1 up")
    finally:
        impostor.stop()
    (k2,) = [k for k in desk.kiosks() if k.id == "k2"]
    assert k2.uplink == "up"


def test_on_the_tls_listener_a_kiosk_cannot_take_over_another_session(
    central: Central,
) -> None:
    """use_username_as_clientid: whatever id k1 asks for, it gets "k1", so it cannot end
    k2's (or the hub's) session by connecting under its id."""
    dropped = threading.Event()
    k2 = MqttLink("k2-edge", central.mqtt("k2", tls=True))
    k2.start()
    try:
        assert k2.wait_connected(WAIT)
        original = k2._client.on_disconnect

        def on_disconnect(*args: object) -> None:
            dropped.set()
            original(*args)  # type: ignore[misc]

        k2._client.on_disconnect = on_disconnect
        intruder = MqttLink("k2-edge", central.mqtt("k1", tls=True))
        intruder.start()
        try:
            assert intruder.wait_connected(WAIT)
            assert not dropped.wait(1.0), "k1 took over k2's session"
        finally:
            intruder.stop()
    finally:
        k2.stop()
    assert "as k1 (" in central.log() or "as k1 " in central.log()


def test_a_client_id_takeover_is_still_possible_on_the_plain_listener(central: Central) -> None:
    """Documents why kiosks belong on the TLS listener only: on a listener without
    use_username_as_clientid, Mosquitto 2.0 lets any user take any client id."""
    victim = connect(central.mqtt("k2"), "k2-victim")
    try:
        intruder = connect(central.mqtt("k1"), "k2-victim")
        intruder.stop()
        eventually(lambda: not victim.is_connected or None, "the takeover", timeout=3)
    finally:
        victim.stop()
