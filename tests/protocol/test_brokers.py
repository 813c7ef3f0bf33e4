"""The project's broker configs, run in a real Mosquitto: auth, ACLs and the edge bridge."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.settings import MqttSettings
from tests.brokers import RunningBroker


def _client(settings: MqttSettings, client_id: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(settings.username, settings.password)
    return client


def _connect_result(settings: MqttSettings) -> int:
    client = _client(settings, "probe")
    result: list[int] = []
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
        result.append(reason.value)  # type: ignore[attr-defined]
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", settings.port)
    client.loop_start()
    done.wait(5)
    client.loop_stop()
    client.disconnect()
    return result[0]


def test_wrong_password_is_refused(central_broker: RunningBroker) -> None:
    good = central_broker.mqtt_settings("observer")
    assert _connect_result(good) == 0
    bad = good.model_copy(update={"password": "wrong"})
    assert _connect_result(bad) == 135  # v5 "Not authorized"


def test_edge_bridge_carries_kiosk_topics_but_not_local_ones(
    central_broker: RunningBroker, edge_broker: RunningBroker
) -> None:
    received: list[str] = []
    got = threading.Event()
    observer = _client(central_broker.mqtt_settings("observer"), "observer-test")

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        received.append(msg.topic)
        if msg.topic.endswith("/event/probe"):
            got.set()

    observer.on_message = on_message
    observer.connect("127.0.0.1", central_broker.port)
    observer.subscribe("#", qos=1)
    observer.loop_start()
    touch = _client(edge_broker.mqtt_settings("touch"), "k1-touch")
    touch.connect("127.0.0.1", edge_broker.port)
    touch.loop_start()
    try:
        # The bridge may still be connecting: publish until the event shows up centrally.
        for _ in range(50):
            touch.publish("local/v1/printer/job", b"{}", qos=1).wait_for_publish(2)
            touch.publish("svc/v1/kiosk/k1/event/probe", b"{}", qos=1).wait_for_publish(2)
            if got.wait(0.2):
                break
        assert got.is_set(), "kiosk event never reached the central broker"
        assert not any(topic.startswith("local/") for topic in received)
    finally:
        touch.loop_stop()
        observer.loop_stop()
