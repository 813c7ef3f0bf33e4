"""Hub fixtures: a migrated SQLite file, a clock the test moves, the desk, the worker."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from paho.mqtt.properties import Properties

from kiosk.hub import users
from kiosk.hub.catalogue import Catalogue
from kiosk.hub.db import Database, migrate
from kiosk.hub.desk import QueueDesk
from kiosk.hub.worker import HubWorker
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import HubState, KioskState, PresenceState, decode
from kiosk.settings import Settings
from tests.brokers import RunningBroker
from tests.waiting import eventually as eventually

CENTRE = "demo"
CENTRE_NAME = "演示社区党群服务中心"
SERVICES = [
    {"code": "social", "name": "社保医保", "prefix": "A"},
    {"code": "civil", "name": "民政救助", "prefix": "B"},
]
# 10:00 in Asia/Shanghai on a working day.
MORNING = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)
WAIT = 10.0  # seconds any test waits for something over MQTT


class FakeClock:
    def __init__(self, now: datetime = MORNING) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def make_settings(tmp_path: Path, **hub: object) -> Settings:
    return Settings.model_validate(
        {
            "hub": {
                "database_url": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
                "board_size": 4,
                "centres": [{"code": CENTRE, "name": CENTRE_NAME, "services": SERVICES}],
                **hub,
            }
        }
    )


def kiosk_state(
    kiosk: str = "k1",
    state: PresenceState = "online",
    *,
    boot_id: str = "boot-1",
    session: int = 1,
    ts: datetime | None = None,
    centre: str = CENTRE,
    version: str = "0.1.0",
) -> KioskState:
    return KioskState(
        kiosk=kiosk,
        centre=centre,
        state=state,
        boot_id=boot_id,
        session=session,
        version=version,
        ts=ts or datetime.now(UTC),
    )


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its lowest cost: hashing is what these tests check, not its price.
    (Production's parameters take about 0.15 s a hash; tests hash hundreds.)"""
    monkeypatch.setattr(users, "HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    migrate(settings.hub.database_url)
    db = Database(settings.hub.database_url)
    yield db
    db.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def desk(database: Database, settings: Settings, clock: FakeClock) -> QueueDesk:
    return QueueDesk(
        database,
        Catalogue.from_settings(settings.hub),
        board_size=settings.hub.board_size,
        clock=clock,
    )


@pytest.fixture
def live_desk(database: Database, settings: Settings) -> QueueDesk:
    """A desk on the real clock: MQTT tests compare with messages stamped now."""
    return QueueDesk(
        database, Catalogue.from_settings(settings.hub), board_size=settings.hub.board_size
    )


def wait_hub_online(broker: RunningBroker, hub: HubWorker) -> None:
    """Wait for the hub's retained birth: it follows its SUBSCRIBEs on one connection, so
    once it is out, a kiosk's request cannot overtake the hub's subscriptions."""
    seen = threading.Event()

    def on_state(_topic: str, payload: bytes, _props: Properties | None) -> None:
        state = decode(HubState, payload)
        if state.boot_id == hub.boot_id and state.state == "online":
            seen.set()

    link = MqttLink(f"observer-{uuid.uuid4().hex[:8]}", broker.mqtt_settings("observer"))
    link.subscribe(topics.HUB_STATE, on_state)
    link.start()
    try:
        assert seen.wait(WAIT), f"the hub did not come online: {broker.log()}"
    finally:
        link.stop()


@pytest.fixture
def worker(central_broker: RunningBroker, live_desk: QueueDesk) -> Iterator[HubWorker]:
    hub = HubWorker(central_broker.mqtt_settings("hub"), live_desk, client_id="hub-test")
    hub.start()
    wait_hub_online(central_broker, hub)
    yield hub
    hub.stop()


@pytest.fixture
def kiosk_link(central_broker: RunningBroker) -> Iterator[MqttLink]:
    """Kiosk k1 straight on the central broker (its ACL as if through its bridge)."""
    link = MqttLink("k1-touch", central_broker.mqtt_settings("k1"))
    link.start()
    assert link.wait_connected(WAIT), central_broker.log()
    yield link
    link.stop()
