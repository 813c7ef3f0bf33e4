"""Real Mosquitto brokers for tests, configured from the project's broker_config/."""

from __future__ import annotations

import secrets
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.brokers import CentralBroker, EdgeBroker, start_mosquitto
from kiosk.netutil import free_port, wait_for_port
from kiosk.settings import MqttSettings

KIOSK = "k1"
CENTRE = "demo"


@dataclass
class RunningBroker:
    port: int
    users: dict[str, str]
    directory: Path
    conf: Path
    process: subprocess.Popen[bytes]

    def mqtt_settings(self, user: str) -> MqttSettings:
        return MqttSettings(
            host="127.0.0.1", port=self.port, username=user, password=self.users[user]
        )

    def log(self) -> str:
        return (self.directory / "mosquitto.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def start(self) -> None:
        """(Re)start on the same port and data: a restart keeps persisted sessions."""
        self.process = start_mosquitto(self.conf)
        if not wait_for_port("127.0.0.1", self.port, 10):
            raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log()}")


def _launch(conf: Path, port: int, users: dict[str, str]) -> RunningBroker:
    broker = RunningBroker(port, users, conf.parent, conf, process=None)  # type: ignore[arg-type]
    broker.start()
    return broker


def _password() -> str:
    return secrets.token_urlsafe(12)


@contextmanager
def central_broker(
    directory: Path, kiosks: dict[str, str] | None = None
) -> Iterator[RunningBroker]:
    kiosks = {KIOSK: CENTRE} if kiosks is None else kiosks
    users = {"hub": _password(), "observer": _password(), **{k: _password() for k in kiosks}}
    port = free_port()
    conf = CentralBroker(port=port, users=users, kiosks=kiosks).write(directory)
    broker = _launch(conf, port, users)
    try:
        yield broker
    finally:
        broker.stop()


def wait_bridge_up(central: RunningBroker, kiosk: str, timeout: float = 15.0) -> None:
    """Wait until the kiosk's edge bridge is connected to the central broker.

    Mosquitto sets up a bridge's local subscriptions when it first connects: a message
    published on the edge broker before that is not forwarded, so tests wait for this.
    """
    up = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bridge-probe-{_password()}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set("observer", central.users["observer"])

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload == b"1":
            up.set()

    client.on_message = on_message
    client.connect("127.0.0.1", central.port)
    client.subscribe(f"$SYS/broker/connection/{kiosk}-edge/state", qos=1)
    client.loop_start()
    try:
        if not up.wait(timeout):
            raise RuntimeError(f"the edge bridge of {kiosk} did not connect within {timeout} s")
    finally:
        client.loop_stop()
        client.disconnect()


@contextmanager
def edge_broker(
    directory: Path, central: RunningBroker, kiosk: str = KIOSK, centre: str = CENTRE
) -> Iterator[RunningBroker]:
    users = {"touch": _password(), "bridge": _password()}
    port = free_port()
    conf = EdgeBroker(
        kiosk=kiosk,
        centre=centre,
        port=port,
        central_host="127.0.0.1",
        central_port=central.port,
        kiosk_password=central.users[kiosk],
        users=users,
    ).write(directory)
    broker = _launch(conf, port, users)
    try:
        wait_bridge_up(central, kiosk)
        yield broker
    finally:
        broker.stop()
