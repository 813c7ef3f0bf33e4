"""The bridge with every device, over real ptys and the real edge and central brokers.

The card reader's events reach the touch app on the edge broker only; the hub (here an
observer on the central broker) sees device states and never a resident's identity.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from gpiozero.pins.mock import MockFactory, MockPin

from firmware_bridge.health import uplink_topic
from firmware_bridge.idreader.driver import SerialCardReader
from firmware_bridge.printer.driver import SerialPrinter
from firmware_bridge.service import FirmwareBridge, create_bridge
from firmware_bridge.sim.cards import TEST_CARDS
from firmware_bridge.sim.idreader import IdReaderSimulator
from firmware_bridge.sim.printer import PrinterSimulator
from kiosk.domain.identity import mask_id_number, mask_name
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import HubState, PresenceState, PrintJob
from kiosk.settings import (
    BridgeSettings,
    GpioSettings,
    IdReaderSettings,
    KioskSettings,
    PrinterSettings,
    Settings,
)
from tests.brokers import CENTRE, KIOSK, RunningBroker
from tests.firmware_bridge.helpers import WAIT, eventually, ticket
from tests.firmware_bridge.mqtt import Observer, Touch

READER_TOPIC = topics.kiosk_device(KIOSK, "idreader")
PRINTER_TOPIC = topics.kiosk_device(KIOSK, "printer")
GPIO_TOPIC = topics.kiosk_device(KIOSK, "gpio")
SAM = "SAM 05.01-20231101-000000001-123456789"
PRINTER_TIMING: dict[str, Any] = {"retry_min": 0.05, "retry_max": 0.2, "poll_interval": 0.3}
GPIO = GpioSettings(help_button=5, status_led=6, motion_sensor=None)


def _reader_settings(tmp_path: Path) -> IdReaderSettings:
    return IdReaderSettings(
        port=str(tmp_path / "idreader.tty"),
        poll_interval=0.05,
        command_timeout=0.3,
        read_timeout=0.4,
        fault_retry=0.3,
    )


@pytest.fixture
def settings(edge_broker: RunningBroker, tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path / "state",
        kiosk=KioskSettings(id=KIOSK, centre=CENTRE),
        mqtt=edge_broker.mqtt_settings("bridge"),
        bridge=BridgeSettings(
            printer=PrinterSettings(
                port=str(tmp_path / "printer.tty"), spool_dir=tmp_path / "state" / "spool"
            )
        ),
    )


@pytest.fixture
def reader_sim(tmp_path: Path) -> Iterator[IdReaderSimulator]:
    with IdReaderSimulator(tmp_path / "idreader.tty") as simulator:
        yield simulator


@pytest.fixture
def touch(edge_broker: RunningBroker) -> Iterator[Touch]:
    client = Touch(edge_broker)
    yield client
    client.link.stop()


@pytest.fixture
def observer(central_broker: RunningBroker) -> Iterator[Observer]:
    client = Observer(central_broker)
    yield client
    client.stop()


@pytest.fixture
def pins() -> MockFactory:
    return MockFactory()


@pytest.fixture
def bridge(
    settings: Settings,
    tmp_path: Path,
    sim: PrinterSimulator,
    reader_sim: IdReaderSimulator,
    touch: Touch,
    pins: MockFactory,
) -> Iterator[FirmwareBridge]:
    reader = _reader_settings(tmp_path)
    running = create_bridge(
        settings,
        SerialPrinter(settings.bridge.printer),
        reader=SerialCardReader(reader),
        idreader=reader,
        gpio=GPIO,
        pin_factory=pins,
        **PRINTER_TIMING,
    )
    running.start()
    touch.wait_device(READER_TOPIC, status="online", detail=SAM, boot_id=running.boot_id)
    yield running
    running.stop()
    pins.reset()


def _hub_says(central: RunningBroker, state: PresenceState) -> None:
    """Publish the hub's retained birth (or Will) on the central broker, as the hub does."""
    hub = MqttLink("test-hub", central.mqtt_settings("hub"))
    hub.start()
    assert hub.wait_connected(WAIT)
    message = HubState(state=state, boot_id="hub-boot")
    hub.publish(topics.HUB_STATE, message, retain=True).wait_for_publish(WAIT)
    hub.stop()


def _secrets() -> list[bytes]:
    """Every raw name and number of the test cards, in every form it could leak in."""
    values = [
        value
        for card in TEST_CARDS.values()
        for key, value in card.values.items()
        if key in ("name", "english_name", "id_number", "address") and value
    ]
    forms: list[bytes] = []
    for value in values:
        forms += [value.encode(), value.encode("utf-16-le"), json.dumps(value).encode()]
    return forms


def test_cards_reach_the_touch_app_once_and_identity_goes_nowhere_else(
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    central_broker: RunningBroker,
    edge_broker: RunningBroker,
    observer: Observer,
    reader_sim: IdReaderSimulator,
    touch: Touch,
    bridge: FirmwareBridge,
) -> None:
    caplog.set_level(logging.DEBUG)
    observer.wait_device(READER_TOPIC, status="online", detail=SAM)
    expected: list[str] = []
    for key in ("resident", "hmt", "foreign2017", "foreign2023", "expired", "bad-checksum"):
        reader_sim.place(key)
        expected.append("placed")
        touch.wait_cards(*expected)
        time.sleep(0.15)  # three polls with the card left there: no second read
        assert touch.card_events() == expected
        reader_sim.remove()
        expected.append("removed")
        touch.wait_cards(*expected)
    placed = [e.card for e in touch.cards if e.event == "placed"]
    cards = [card for card in placed if card is not None]
    assert [c.card_type for c in cards] == [
        "resident",
        "hmt",
        "foreign2017",
        "foreign2023",
        "resident",
    ]
    assert placed[-1] is None  # the bad check digit: "cannot be used", nothing else
    resident = cards[0]
    assert mask_id_number(resident.id_number) == "110***********002X"
    assert mask_name(resident.name) == "张**"
    assert (resident.gender, resident.birth_date, resident.valid_to) == ("female", "19491231", "")
    assert cards[4].valid_to == "20200307"  # expired: the touch app decides what that means

    # Everything the bridge published has crossed the bridge once its farewell has.
    bridge.stop()
    observer.wait_device(READER_TOPIC, status="offline", detail="firmware bridge stopped")
    seen = observer.payloads()
    assert not [t for t, _ in seen if not t.startswith(("svc/", "$SYS/"))]
    secrets = _secrets()
    assert not [t for t, p in seen for s in secrets if s in p]
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "card placed: resident card read" in caplog.text
    assert not [s for s in secrets if s.decode("utf-8", "replace") in logged]
    # No file either: not the spool, not the brokers' persistence (saved when they stop).
    edge_broker.stop()
    central_broker.stop()
    leaks = [
        path
        for path in tmp_path.rglob("*")
        if path.is_file() and not path.is_symlink() and any(s in path.read_bytes() for s in secrets)
    ]
    assert leaks == []


def test_reader_faults_reach_the_hub_and_the_led(
    central_broker: RunningBroker,
    observer: Observer,
    reader_sim: IdReaderSimulator,
    touch: Touch,
    bridge: FirmwareBridge,
    pins: MockFactory,
) -> None:
    led = cast(MockPin, pins.pin(6))
    _hub_says(central_broker, "online")
    eventually(lambda: bridge.health.mode() == "steady", "a steady LED")
    assert led.state

    reader_sim.unplug()
    observer.wait_device(READER_TOPIC, status="offline")
    assert bridge.health.mode() == "fast"
    reader_sim.replug()
    observer.wait_device(READER_TOPIC, status="online", detail=SAM)
    eventually(lambda: bridge.health.mode() == "steady", "the LED steady again")

    reader_sim.fault(0x60)
    state = observer.wait_device(READER_TOPIC, status="offline", detail_has="SAM fault 60")
    assert state.detail == f"SAM fault 60 (SAM self-test failed), {SAM}"
    reader_sim.fault(None)
    observer.wait_device(READER_TOPIC, status="online")

    reader_sim.yank("truncate")  # the card leaves half-way through the answer
    reader_sim.inject_garbage()
    reader_sim.place("hmt")
    eventually(lambda: reader_sim.card is None, "the card pulled away")
    time.sleep(0.2)
    assert touch.cards == []
    reader_sim.place("hmt")
    events = touch.wait_cards("placed")
    assert events[0].card is not None and events[0].card.card_type == "hmt"
    service = bridge.components[0]
    stats = service.poller.reader.stats  # type: ignore[attr-defined]
    assert stats.timeouts >= 1 and stats.frames.garbage_bytes > 0

    _hub_says(central_broker, "offline")
    eventually(lambda: bridge.health.mode() == "slow", "a slow blink without the hub")
    central_broker.stop()  # the uplink itself goes down too: still slow, never steady
    time.sleep(0.3)
    assert bridge.health.mode() == "slow"


def test_a_lost_uplink_blinks_slowly_when_the_edge_acl_shows_it(
    settings: Settings,
    central_broker: RunningBroker,
    edge_broker: RunningBroker,
    sim: PrinterSimulator,
) -> None:
    # The line the edge ACL must grant the bridge user (docs/devices.md); added here if
    # the template lacks it (the bridge section is the last one of the generated file).
    acl = edge_broker.directory / "acl"
    grant = f"topic read {uplink_topic(KIOSK)}\n"
    if not acl.read_text().endswith(grant):
        acl.write_text(acl.read_text() + grant)
        edge_broker.stop()
        edge_broker.start()
    _hub_says(central_broker, "online")
    running = create_bridge(settings, SerialPrinter(settings.bridge.printer), **PRINTER_TIMING)
    running.start()
    try:
        eventually(lambda: running.health.mode() == "steady", "the hub reachable")
        central_broker.stop()  # the hub's last word stays "online": only the uplink tells
        eventually(lambda: running.health.mode() == "slow", "a slow blink")
        central_broker.start()
        eventually(lambda: running.health.mode() == "steady", "steady once it is back")
    finally:
        running.stop()


def test_paper_out_is_held_known_at_the_hub_and_printed_once_refilled(
    central_broker: RunningBroker,
    observer: Observer,
    sim: PrinterSimulator,
    touch: Touch,
    bridge: FirmwareBridge,
) -> None:
    sim.paper = "out"
    job = PrintJob(receipt=ticket("A021"))
    touch.send(job)
    touch.wait_statuses(job.id, ["spooled", "waiting"])
    observer.wait_device(PRINTER_TOPIC, status="offline", paper="out", detail="paper out")
    # Retained at the central broker: a hub that starts now learns it too.
    late = Observer(central_broker, "late-observer")
    try:
        late.wait_device(PRINTER_TOPIC, paper="out")
    finally:
        late.stop()
    assert bridge.health.mode() == "fast" and sim.jobs() == []
    sim.paper = "ok"
    touch.wait_statuses(job.id, ["spooled", "waiting", "printed"])
    observer.wait_device(PRINTER_TOPIC, status="online", paper="ok")
    time.sleep(0.4)  # more than a retry period: nothing prints twice
    assert [j["text"].splitlines()[2] for j in sim.jobs()] == ["A021"]


def test_the_help_button_calls_once_per_burst_through_the_edge_broker(
    observer: Observer, touch: Touch, bridge: FirmwareBridge, pins: MockFactory
) -> None:
    observer.wait_device(GPIO_TOPIC, status="online", detail="help button 5, status LED 6")
    button = cast(MockPin, pins.pin(5))
    for _ in range(3):
        button.drive_low()
        button.drive_high()
    eventually(lambda: [e.event for e in touch.gpio] == ["help_pressed"], "one help call")
    time.sleep(0.2)
    assert len(touch.gpio) == 1
    assert not [t for t, _ in observer.payloads() if "gpio/event" in t]  # local only


def test_run_reads_cards_with_the_reader_settings_and_says_offline_at_the_end(
    settings: Settings,
    tmp_path: Path,
    sim: PrinterSimulator,
    reader_sim: IdReaderSimulator,
    touch: Touch,
) -> None:
    config = tmp_path / "bridge.json"
    config.write_text(json.dumps(settings.model_dump(mode="json")), encoding="utf-8")
    reader = _reader_settings(tmp_path).model_dump_json()
    code = (
        "import sys; from pathlib import Path; from firmware_bridge.service import run; "
        "from kiosk.settings import GpioSettings, IdReaderSettings; "
        "from kiosk.settings import load_settings; "
        "sys.exit(run(load_settings(Path(sys.argv[1]), env={}), "
        "idreader=IdReaderSettings.model_validate_json(sys.argv[2]), "
        "gpio=GpioSettings(pin_factory='mock')))"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(config), reader])
    try:
        touch.wait_device(READER_TOPIC, status="online", detail=SAM)
        touch.wait_device(GPIO_TOPIC, status="online")
        reader_sim.place("foreign2017")
        (event,) = touch.wait_cards("placed")
        assert event.card is not None and event.card.name == "SMITH JOHN"
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
    touch.wait_device(READER_TOPIC, status="offline", detail="firmware bridge stopped")
    touch.wait_device(GPIO_TOPIC, status="offline")
