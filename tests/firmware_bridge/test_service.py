"""The firmware bridge process against a real edge Mosquitto and the printer simulator."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from firmware_bridge.printer.driver import SerialPrinter
from firmware_bridge.service import FirmwareBridge, bridge_will, create_bridge
from firmware_bridge.sim.printer import PrinterSimulator
from firmware_bridge.spool import Spool
from kiosk.domain.receipt import Text
from kiosk.protocol import topics
from kiosk.protocol.messages import DeviceState, PrintJob, decode
from kiosk.settings import BridgeSettings, KioskSettings, PrinterSettings, Settings
from tests.brokers import CENTRE, KIOSK, RunningBroker
from tests.firmware_bridge.helpers import WAIT, eventually, ticket
from tests.firmware_bridge.mqtt import Touch

FAST: dict[str, Any] = {"retry_min": 0.05, "retry_max": 0.2, "poll_interval": 0.3}
BRIDGE_TOPIC = topics.kiosk_device(KIOSK, "bridge")
PRINTER_TOPIC = topics.kiosk_device(KIOSK, "printer")


@pytest.fixture
def touch(edge_broker: RunningBroker) -> Iterator[Touch]:
    client = Touch(edge_broker)
    yield client
    client.link.stop()


@pytest.fixture
def settings(edge_broker: RunningBroker, tmp_path: Path) -> Settings:
    return Settings(
        state_dir=tmp_path,
        kiosk=KioskSettings(id=KIOSK, centre=CENTRE),
        mqtt=edge_broker.mqtt_settings("bridge"),
        bridge=BridgeSettings(
            printer=PrinterSettings(
                port=str(tmp_path / "printer.tty"), spool_dir=tmp_path / "spool"
            )
        ),
    )


@pytest.fixture
def start_bridge(settings: Settings, touch: Touch) -> Iterator[Callable[[], FirmwareBridge]]:
    bridges: list[FirmwareBridge] = []

    def start() -> FirmwareBridge:
        bridge = create_bridge(settings, SerialPrinter(settings.bridge.printer), **FAST)
        bridges.append(bridge)
        bridge.start()
        # Its birth follows its SUBSCRIBE on the same connection: once the touch side sees
        # it, the broker routes print jobs to the bridge.
        touch.wait_device(BRIDGE_TOPIC, status="online", boot_id=bridge.boot_id)
        return bridge

    yield start
    for bridge in bridges:
        bridge.stop()


def _texts(sim: PrinterSimulator) -> list[list[str]]:
    return [job["text"].splitlines() for job in sim.jobs()]


def test_a_job_is_spooled_then_printed_and_garbage_is_dropped(
    sim: PrinterSimulator, touch: Touch, start_bridge: Callable[[], FirmwareBridge]
) -> None:
    bridge = start_bridge()
    touch.send(b"\xff not json")
    touch.send(b'{"v": 1, "receipt": [{"kind": "text", "text": "x", "scale": 9}]}')
    job = PrintJob(receipt=ticket("A007"), label="ticket A007")
    touch.send(job)
    touch.wait_statuses(job.id, ["spooled", "printed"])
    (printed,) = sim.wait_for_jobs(1, WAIT)
    assert "A007" in printed["text"].splitlines()
    assert printed["bytes"] <= 400
    assert bridge.rejected == 2 and bridge.printed == 1
    assert len(bridge.spool) == 0
    assert touch.wait_device(BRIDGE_TOPIC, status="online").boot_id == bridge.boot_id
    touch.wait_device(PRINTER_TOPIC, status="online", paper="ok")


def test_a_redelivered_job_prints_once(
    sim: PrinterSimulator, touch: Touch, start_bridge: Callable[[], FirmwareBridge]
) -> None:
    start_bridge()
    job = PrintJob(receipt=[Text("一次")])
    touch.send(job)
    touch.wait_statuses(job.id, ["spooled", "printed"])
    touch.send(job)  # QoS 1 is at least once: the same job id may come again
    eventually(lambda: len(touch.statuses(job.id)) == 3, "the answer to the redelivery")
    assert touch.statuses(job.id)[-1] == "printed"
    time.sleep(0.3)
    assert _texts(sim) == [["一次"]]


def test_a_job_resent_after_a_restart_of_the_bridge_prints_once(
    sim: PrinterSimulator, touch: Touch, start_bridge: Callable[[], FirmwareBridge]
) -> None:
    first = start_bridge()
    job = PrintJob(receipt=[Text("只印一次")])
    touch.send(job)
    touch.wait_statuses(job.id, ["spooled", "printed"])
    first.stop()
    start_bridge()  # a new process: it knows from the spool's log what went on paper
    touch.send(job)  # the touch app resends a job whose answer it never heard
    eventually(lambda: len(touch.statuses(job.id)) == 3, "the answer to the resend")
    assert touch.statuses(job.id)[-1] == "printed"
    time.sleep(0.3)
    assert _texts(sim) == [["只印一次"]]


def test_a_job_waits_while_the_printer_is_unplugged_and_prints_once_it_is_back(
    tmp_path: Path, touch: Touch, start_bridge: Callable[[], FirmwareBridge]
) -> None:
    start_bridge()
    job = PrintJob(receipt=ticket("A002"))
    touch.send(job)
    touch.wait_statuses(job.id, ["spooled", "waiting"])
    assert "cannot open the receipt printer" in touch.results(job.id)[-1].detail
    touch.wait_device(PRINTER_TOPIC, status="offline")
    with PrinterSimulator(tmp_path / "printer.tty", tmp_path / "receipts", idle_gap=0.3) as sim:
        touch.wait_statuses(job.id, ["spooled", "waiting", "printed"])
        sim.wait_for_jobs(1, WAIT)
        touch.wait_device(PRINTER_TOPIC, status="online", paper="ok")
        time.sleep(0.5)  # several retry periods: nothing more may come
        assert [lines[2] for lines in _texts(sim)] == ["A002"]
    assert touch.statuses(job.id).count("printed") == 1


def test_paper_out_holds_the_job_until_paper_is_loaded(
    sim: PrinterSimulator, touch: Touch, start_bridge: Callable[[], FirmwareBridge]
) -> None:
    sim.paper = "out"
    bridge = start_bridge()
    job = PrintJob(receipt=ticket("A003"))
    touch.send(job)
    touch.wait_statuses(job.id, ["spooled", "waiting"])
    assert touch.results(job.id)[-1].detail == "paper out"
    touch.wait_device(PRINTER_TOPIC, status="offline", paper="out", detail="paper out")
    assert sim.jobs() == [] and len(bridge.spool) == 1
    sim.paper = "near_end"
    touch.wait_statuses(job.id, ["spooled", "waiting", "printed"])
    touch.wait_device(PRINTER_TOPIC, status="online", paper="near_end")
    assert len(sim.wait_for_jobs(1, WAIT)) == 1 and len(bridge.spool) == 0


def test_a_silent_printer_still_prints(
    sim: PrinterSimulator, touch: Touch, start_bridge: Callable[[], FirmwareBridge]
) -> None:
    sim.silent = True
    start_bridge()
    job = PrintJob(receipt=[Text("无应答")])
    touch.send(job)
    touch.wait_statuses(job.id, ["spooled", "printed"])
    touch.wait_device(PRINTER_TOPIC, status="unknown", paper="unknown")
    sim.wait_for_jobs(1, WAIT)
    assert _texts(sim) == [["无应答"]]


def test_jobs_left_in_the_spool_print_once_in_order_at_start_up(
    sim: PrinterSimulator, settings: Settings, start_bridge: Callable[[], FirmwareBridge]
) -> None:
    spool = Spool(settings.bridge.printer.spool_dir)
    for number in ("A010", "A011", "A012"):
        spool.add(PrintJob(receipt=ticket(number)))
    first = start_bridge()
    sim.wait_for_jobs(3, WAIT)
    eventually(lambda: len(first.spool) == 0, "an empty spool")
    first.stop()
    start_bridge()  # a restart must not print them again
    time.sleep(0.5)
    assert [lines[2] for lines in _texts(sim)] == ["A010", "A011", "A012"]


def test_stop_says_offline_and_the_will_would_too(
    sim: PrinterSimulator, touch: Touch, start_bridge: Callable[[], FirmwareBridge]
) -> None:
    bridge = start_bridge()
    touch.wait_device(BRIDGE_TOPIC, status="online")
    touch.wait_device(PRINTER_TOPIC, status="online")
    bridge.stop()
    touch.wait_device(BRIDGE_TOPIC, status="offline", boot_id=bridge.boot_id)
    touch.wait_device(PRINTER_TOPIC, status="offline", paper="unknown")
    will = bridge_will(KIOSK, bridge.boot_id)
    assert will.topic == BRIDGE_TOPIC and will.retain
    state = decode(DeviceState, will.payload)
    assert (state.device, state.status, state.boot_id) == ("bridge", "offline", bridge.boot_id)


def test_run_wires_the_real_parts_and_stops_on_sigterm(
    sim: PrinterSimulator, settings: Settings, touch: Touch, tmp_path: Path
) -> None:
    config = tmp_path / "bridge.json"
    config.write_text(json.dumps(settings.model_dump(mode="json")), encoding="utf-8")
    code = (
        "import sys; from pathlib import Path; from firmware_bridge.service import run; "
        "from kiosk.settings import load_settings; "
        "sys.exit(run(load_settings(Path(sys.argv[1]), env={})))"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(config)])
    try:
        touch.wait_device(BRIDGE_TOPIC, status="online")
        job = PrintJob(receipt=[Text("进程")])
        touch.send(job)
        touch.wait_statuses(job.id, ["spooled", "printed"])
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
    touch.wait_device(BRIDGE_TOPIC, status="offline")
    touch.wait_device(PRINTER_TOPIC, status="offline")
    assert _texts(sim) == [["进程"]]
