"""Real Mosquitto brokers for tests, configured from the project's broker_config/."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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
        yield broker
    finally:
        broker.stop()
