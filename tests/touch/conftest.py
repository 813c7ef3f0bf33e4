"""Touch app fixtures: the real edge and central brokers and a stand-in hub.

The stand-in hub is the real ``RpcServer`` on the central broker (user ``hub``) with small
handlers; the kiosk reaches it only through its edge broker's bridge, as in production.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from paho.mqtt.properties import Properties

from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import (
    HubState,
    Params,
    PresenceState,
    ServiceInfo,
    ServicesListResult,
    TicketTakeParams,
    TicketTakeResult,
    new_id,
)
from kiosk.protocol.rpc import RpcRefused, RpcServer
from kiosk.settings import KioskSettings, Settings, TouchSettings
from kiosk.touch import create_app
from kiosk.touch.link import KioskLink
from kiosk.touch.ui import TouchUi
from tests.brokers import CENTRE, KIOSK, RunningBroker
from tests.waiting import eventually

WAIT = 10.0  # seconds: the longest any test waits for a broker, the bridge or a message
CENTRE_NAME = "测试社区党群服务中心"
SERVICES = [
    ServiceInfo(code="social", name="社保医保", prefix="A"),
    ServiceInfo(code="civil", name="民政救助", prefix="B"),
]
DAY = "2026-11-22"


@dataclass
class StandInHub:
    """Answers ``services.list`` and ``ticket.take`` like the real hub, numbers in memory."""

    link: MqttLink
    boot_id: str = field(default_factory=new_id)
    taken: dict[str, int] = field(default_factory=dict)
    by_event: dict[str, TicketTakeResult] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    answering: bool = True  # a hub that said offline (its own Will) answers nothing

    def services(self, kiosk: str, _params: Params) -> Params:
        self.requests.append(f"{kiosk}:services.list")
        return ServicesListResult(centre=CENTRE, centre_name=CENTRE_NAME, services=SERVICES)

    def take(self, kiosk: str, params: Params) -> Params:
        assert isinstance(params, TicketTakeParams)
        self.requests.append(f"{kiosk}:ticket.take")
        service = next((s for s in SERVICES if s.code == params.service), None)
        if service is None:
            raise RpcRefused("unknown_service", f"no service {params.service!r}")
        with self.lock:
            if params.event_id in self.by_event:
                return self.by_event[params.event_id]
            number = self.taken.get(service.code, 0) + 1
            self.taken[service.code] = number
            ticket = TicketTakeResult(
                number=f"{service.prefix}{number:03d}",
                service=service.code,
                service_name=service.name,
                centre_name=CENTRE_NAME,
                day=DAY,
                waiting_ahead=number - 1,
                issued_at=datetime.now(UTC),
            )
            self.by_event[params.event_id] = ticket
            return ticket

    def say(
        self, state: PresenceState, boot_id: str | None = None, *, answering: bool | None = None
    ) -> None:
        """Publish the hub's retained presence (as its birth or its Will would).

        Its own "offline" silences its rpc, as a hub that is gone is silent, unless
        ``answering`` says otherwise (a late Will of a hub that is up); another boot's
        Will leaves it answering.
        """
        own = boot_id in (None, self.boot_id)
        self.answering = state == "online" or not own if answering is None else answering
        message = HubState(state=state, boot_id=boot_id or self.boot_id)
        self.link.publish(topics.HUB_STATE, message, retain=True).wait_for_publish(WAIT)

    def serve(self) -> RpcServer:
        """Its rpc server, with ``services.list`` and ``ticket.take`` registered."""
        server = _StandInRpc(self)
        server.register("services.list", self.services)
        server.register("ticket.take", self.take)
        return server


class _StandInRpc(RpcServer):
    """Answers only while the stand-in hub is :attr:`StandInHub.answering`."""

    def __init__(self, hub: StandInHub) -> None:
        super().__init__(hub.link)
        self._hub = hub

    def _on_request(self, topic: str, payload: bytes, props: Properties | None) -> None:
        if self._hub.answering:
            super()._on_request(topic, payload, props)


@pytest.fixture
def hub(central_broker: RunningBroker) -> Iterator[StandInHub]:
    link = MqttLink(f"hub-{new_id()[:8]}", central_broker.mqtt_settings("hub"))
    stand_in = StandInHub(link)
    stand_in.serve()
    link.start()
    assert link.wait_connected(WAIT), "the stand-in hub could not connect"
    stand_in.say("online")
    yield stand_in
    link.stop()


def touch_settings(edge: RunningBroker, state_dir: Path | None = None, **touch: float) -> Settings:
    """The kiosk's settings; its outbox file goes to ``state_dir`` (a fresh temporary
    directory unless given: no test replays another test's undelivered events)."""
    return Settings(
        state_dir=state_dir or Path(tempfile.mkdtemp(prefix="kiosk-touch-")),
        kiosk=KioskSettings(id=KIOSK, centre=CENTRE),
        mqtt=edge.mqtt_settings("touch"),
        touch=TouchSettings(**{"rpc_timeout": 2.0, **touch}),
    )


def start_link(settings: Settings) -> KioskLink:
    """A started KioskLink that has heard the hub's birth through the bridge."""
    link = KioskLink(settings)
    link.start()
    assert link.wait_connected(WAIT), "the touch app could not reach its edge broker"
    eventually(lambda: link.hub_online, "the hub's birth to cross the bridge", WAIT)
    return link


@pytest.fixture
def settings(edge_broker: RunningBroker) -> Settings:
    return touch_settings(edge_broker)


@pytest.fixture
def link(settings: Settings, hub: StandInHub) -> Iterator[KioskLink]:
    started = start_link(settings)
    yield started
    started.stop()


@pytest.fixture
def app(settings: Settings, link: KioskLink) -> Flask:
    return create_app(settings, link)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class Listener:
    """Collects what arrives on one topic filter, as a given user of a given broker."""

    def __init__(self, broker: RunningBroker, user: str, topic_filter: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.link = MqttLink(f"{user}-listener-{new_id()[:8]}", broker.mqtt_settings(user))
        self.link.subscribe(topic_filter, self._on_message)
        self.link.start()
        assert self.link.wait_connected(WAIT), f"{user} could not connect"

    def _on_message(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        with self._lock:
            self.messages.append((topic, payload))

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [payload for _, payload in self.messages]

    def first(self, match: Callable[[bytes], bool], what: str) -> bytes:
        return eventually(lambda: next((p for p in self.payloads() if match(p)), None), what, WAIT)

    def close(self) -> None:
        self.link.stop()


@pytest.fixture
def printer_side(edge_broker: RunningBroker) -> Iterator[Listener]:
    """Stands where the firmware bridge stands: user ``bridge`` on the edge broker."""
    listener = Listener(edge_broker, "bridge", topics.PRINT_JOB)
    yield listener
    listener.close()


@pytest.fixture
def observer(central_broker: RunningBroker) -> Iterator[Listener]:
    """Watches the kiosk's presence on the central broker (read-only user ``observer``)."""
    listener = Listener(central_broker, "observer", topics.kiosk_state(KIOSK))
    yield listener
    listener.close()


def bare_app(ui: TouchUi | None = None) -> Flask:
    """The app with a link that never connects: for what needs neither broker nor hub."""
    settings = Settings()
    return create_app(settings, KioskLink(settings), ui)


@pytest.fixture
def bare() -> FlaskClient:
    return bare_app().test_client()
