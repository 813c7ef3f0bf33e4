"""A real central Mosquitto with the project's configs plus the TLS listener, a private CA,
and the hub's worker on it: what enrolment, revocation and the ACL are tested against.

The broker is shared by the tests of a module (starting one costs little, but every test
here needs one); tests keep apart by using kiosk ids of their own.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from paho.mqtt.properties import Properties

from kiosk.brokers import CentralBroker, start_mosquitto
from kiosk.ca import Authority, CertPair, TlsListener, init_ca, issue_client, issue_server
from kiosk.enroll import CentralBrokerFiles, Endpoint, Target
from kiosk.hub import users
from kiosk.hub.catalogue import Catalogue
from kiosk.hub.db import Database, migrate
from kiosk.hub.desk import QueueDesk
from kiosk.hub.monitor import FleetMonitor, FleetPolicy
from kiosk.hub.worker import HubWorker
from kiosk.netutil import free_port, wait_for_port
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import HubState, decode
from kiosk.settings import MqttSettings, Settings
from tests.hub.conftest import CENTRE, WAIT, make_settings

# Kiosks the broker knows from its config (like the demo's); others are enrolled by tests.
CONFIGURED_KIOSKS = {"k1": CENTRE, "k2": CENTRE}


@dataclass
class Central:
    """The central broker: plain listener (hub, tools) and TLS listener (kiosks)."""

    directory: Path
    port: int
    tls_port: int
    users: dict[str, str]
    ca: Authority
    process: subprocess.Popen[bytes]

    @property
    def conf(self) -> Path:
        return self.directory / "mosquitto.conf"

    def mqtt(self, user: str, password: str | None = None, *, tls: bool = False) -> MqttSettings:
        return MqttSettings(
            host="127.0.0.1",
            port=self.tls_port if tls else self.port,
            username=user,
            password=password if password is not None else self.users[user],
            tls_ca_file=self.ca.cert if tls else None,
        )

    def plain(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.port)

    def tls(self) -> Endpoint:
        return Endpoint("127.0.0.1", self.tls_port, self.ca.cert)

    def log(self) -> str:
        return (self.directory / "mosquitto.log").read_text(errors="replace")


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(scope="module")
def fleet_ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    ca = init_ca(tmp_path_factory.mktemp("ca") / "ca", "Test fleet CA")
    issue_server(ca, ["localhost", "127.0.0.1"])
    return ca


@pytest.fixture(scope="module")
def client_cert(fleet_ca: Authority) -> CertPair:
    return issue_client(fleet_ca, "k1")


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory, fleet_ca: Authority) -> Iterator[Central]:
    directory = tmp_path_factory.mktemp("central")
    passwords = {"hub": "hub-" + secrets.token_urlsafe(12), "observer": secrets.token_urlsafe(12)}
    passwords |= {kiosk: secrets.token_urlsafe(12) for kiosk in CONFIGURED_KIOSKS}
    port, tls_port = free_port(), free_port()
    conf = CentralBroker(port=port, users=passwords, kiosks=CONFIGURED_KIOSKS).write(directory)
    listener = TlsListener(
        tls_port,
        fleet_ca.cert,
        fleet_ca.directory / "server.crt",
        fleet_ca.directory / "server.key",
        bind="127.0.0.1",
    )
    with conf.open("a", encoding="utf-8") as out:
        out.write(listener.config())
    process = start_mosquitto(conf)
    broker = Central(directory, port, tls_port, passwords, fleet_ca, process)
    try:
        if not (
            wait_for_port("127.0.0.1", port, WAIT) and wait_for_port("127.0.0.1", tls_port, WAIT)
        ):
            raise RuntimeError(f"mosquitto did not start: {broker.log()}")
        yield broker
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def hub_settings(tmp_path: Path, central: Central) -> Settings:
    settings = make_settings(tmp_path)
    return settings.model_copy(update={"mqtt": central.mqtt("hub")})


@pytest.fixture
def database(hub_settings: Settings) -> Iterator[Database]:
    migrate(hub_settings.hub.database_url)
    db = Database(hub_settings.hub.database_url)
    yield db
    db.dispose()


@pytest.fixture
def desk(database: Database, hub_settings: Settings) -> QueueDesk:
    return QueueDesk(database, Catalogue.from_settings(hub_settings.hub))


@pytest.fixture
def monitor(database: Database, desk: QueueDesk) -> FleetMonitor:
    return FleetMonitor(database, FleetPolicy(), clock=desk.now)


@pytest.fixture
def hub(central: Central, desk: QueueDesk, monitor: FleetMonitor) -> Iterator[HubWorker]:
    """The hub worker on the plain listener, with a client id and session of its own."""
    worker = HubWorker(
        central.mqtt("hub"),
        desk,
        client_id=f"hub-{uuid.uuid4().hex[:8]}",
        session_expiry=0,
        monitor=monitor,
    )
    worker.start()
    wait_hub_online(central.mqtt("observer"), worker)
    yield worker
    worker.stop()


def wait_hub_online(observer: MqttSettings, hub: HubWorker) -> None:
    """The hub's retained birth follows its SUBSCRIBEs on one connection: once it is out,
    nothing a test publishes can overtake the hub's subscriptions."""
    seen = threading.Event()

    def on_state(_topic: str, payload: bytes, _props: Properties | None) -> None:
        state = decode(HubState, payload)
        if state.boot_id == hub.boot_id and state.state == "online":
            seen.set()

    link = MqttLink(f"observer-{uuid.uuid4().hex[:8]}", observer)
    link.subscribe(topics.HUB_STATE, on_state)
    link.start()
    try:
        assert seen.wait(WAIT), "the hub did not come online"
    finally:
        link.stop()


@pytest.fixture
def target(tmp_path: Path, central: Central, hub_settings: Settings) -> Target:
    """Enrolment against the running central broker: kiosks dial its TLS listener."""
    secret = tmp_path / "deployment.secret"
    secret.write_text(secrets.token_hex(32) + "\n")
    secret.chmod(0o600)
    return Target(
        broker=CentralBrokerFiles(
            central.directory / "passwd", central.directory / "acl", pid=central.process.pid
        ),
        endpoint=central.tls(),
        secret_file=secret,
        bundles_dir=tmp_path / "bundles",
        hub=hub_settings,
        local_bundles=True,
    )


@pytest.fixture
def plain_target(target: Target, central: Central) -> Target:
    return replace(target, endpoint=central.plain())


def connect(settings: MqttSettings, client_id: str) -> MqttLink:
    link = MqttLink(client_id, settings)
    link.start()
    assert link.wait_connected(WAIT), f"{client_id} could not connect"
    return link
