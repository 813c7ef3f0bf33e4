"""Device latency through the firmware bridge: card placement to CardEvent, and the spool.

Runs what a kiosk runs, each in its own process: central and edge Mosquitto, the printer
and ID-card reader simulators on ptys (at 9600 and 115200 baud: they sleep the wire time a
pty skips), and the firmware bridge (``firmware_bridge.service.run``, mock GPIO). This
process plays the touch app on the edge broker (user ``touch``) and the person at the
kiosk (through the simulators' control sockets).

1. Card: place a test card (control socket), wait for ``CardEvent placed`` at the touch
   subscriber, remove it, wait for ``removed``; each placement at a random phase of the
   poll. Reported: placement → CardEvent: the wait for the next poll (half the interval
   on average), the wire time of the 1295-byte answer, parsing and the MQTT hop.
2. Printing: the same ticket written straight to the printer pty with ``SerialPrinter``
   (bridge not running), then published as a ``PrintJob`` through the bridge. Reported:
   send → last byte at the printer pty, both ways, and the difference: what the MQTT hop,
   the fsync'd spool and the status check before each job add.

    .venv/bin/python bench/devices.py [--placements 30] [--jobs 20] [--poll-interval 0.3]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paho.mqtt.properties import Properties

from firmware_bridge.printer.driver import SerialPrinter
from firmware_bridge.printer.escpos import PrinterProfile, render_receipt
from firmware_bridge.sim.control import control, control_socket, device_link
from firmware_bridge.sim.printer import read_jobs
from kiosk.brokers import CentralBroker, EdgeBroker, start_mosquitto
from kiosk.domain.receipt import Receipt, TicketSlip, ticket_qr_data, ticket_receipt
from kiosk.netutil import free_port, wait_for_port
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import CardEvent, DeviceState, PrintJob, PrintResult, decode
from kiosk.settings import IdReaderSettings, MqttSettings, PrinterSettings

KIOSK, CENTRE = "k1", "demo"
PRINTER_BAUD = 9600
READER_BAUD = 115200
WAIT = 30.0  # seconds: the longest any step may take before the benchmark gives up
CARDS = ("resident", "hmt", "foreign2017", "foreign2023")


def ticket(number: str) -> Receipt:
    return ticket_receipt(
        TicketSlip(
            centre_name="演示社区党群服务中心",
            service_name="社保医保",
            number=number,
            waiting_ahead=3,
            issued_at=datetime.now(UTC),
            qr_data=ticket_qr_data(CENTRE, "2026-11-22", number),
        )
    )


class Touch:
    """The touch app's side of the edge broker, timing what arrives."""

    def __init__(self, settings: MqttSettings) -> None:
        self._cond = threading.Condition()
        self.cards: list[tuple[float, str]] = []  # (arrival, event)
        self.results: dict[str, list[str]] = {}
        self.devices: dict[str, DeviceState] = {}
        self.link = MqttLink(f"{KIOSK}-touch", settings)
        self.link.subscribe(topics.CARD_EVENT, self._on_card)
        self.link.subscribe(topics.PRINT_RESULT, self._on_result)
        self.link.subscribe(f"{topics.SVC}/kiosk/{KIOSK}/device/+", self._on_device)
        self.link.start()
        if not self.link.wait_connected(WAIT):
            raise RuntimeError("the touch side cannot reach the edge broker")

    def _on_card(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        arrived = time.perf_counter()
        event = decode(CardEvent, payload)
        with self._cond:
            self.cards.append((arrived, event.event))
            self._cond.notify_all()

    def _on_result(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        result = decode(PrintResult, payload)
        with self._cond:
            self.results.setdefault(result.job_id, []).append(result.status)
            self._cond.notify_all()

    def _on_device(self, topic: str, payload: bytes, _props: Properties | None) -> None:
        with self._cond:
            self.devices[topic.rsplit("/", 1)[1]] = decode(DeviceState, payload)
            self._cond.notify_all()

    def wait(self, what: str, predicate: Any) -> Any:
        deadline = time.monotonic() + WAIT
        with self._cond:
            while not (value := predicate()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {what} after {WAIT:g} s")
                self._cond.wait(remaining)
            return value


@contextmanager
def process(argv: list[str], log: Path, ready: str | None = None) -> Iterator[None]:
    with log.open("wb") as out:
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=out)
    try:
        if ready is not None:
            assert child.stdout is not None
            line = child.stdout.readline().decode()
            if not line.startswith(ready):
                raise RuntimeError(f"{argv[2]} did not start; see {log}")
        yield
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


def brokers(stack: ExitStack, root: Path) -> dict[str, str]:
    """Central and edge Mosquitto; returns the edge users' passwords and its port."""
    central_port, edge_port = free_port(), free_port()
    users = {"touch": secrets.token_urlsafe(12), "bridge": secrets.token_urlsafe(12)}
    kiosk_password = secrets.token_urlsafe(12)
    central = CentralBroker(
        port=central_port,
        users={"hub": secrets.token_urlsafe(12), KIOSK: kiosk_password},
        kiosks={KIOSK: CENTRE},
    ).write(root / "central")
    edge = EdgeBroker(
        kiosk=KIOSK,
        centre=CENTRE,
        port=edge_port,
        central_host="127.0.0.1",
        central_port=central_port,
        kiosk_password=kiosk_password,
        users=users,
    ).write(root / "edge")
    for conf, port in ((central, central_port), (edge, edge_port)):
        child = start_mosquitto(conf)
        stack.callback(child.wait, 10)
        stack.callback(child.terminate)
        if not wait_for_port("127.0.0.1", port, 10):
            raise RuntimeError(f"mosquitto did not start; see {conf.parent}")
    return {**users, "port": str(edge_port)}


def reader_online(touch: Touch) -> bool:
    state = touch.devices.get("idreader")
    return state is not None and state.status == "online"


def mqtt(edge: dict[str, str], user: str) -> MqttSettings:
    return MqttSettings(port=int(edge["port"]), username=user, password=edge[user])


def last_byte_at(receipts: Path, number: str) -> float:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for job in read_jobs(receipts):
            if number in job["text"].splitlines():
                return float(job["last_byte_at"])
        time.sleep(0.01)
    raise TimeoutError(f"ticket {number} never reached the printer")


def print_direct(printer: PrinterSettings, receipts: Path, count: int) -> list[float]:
    """Send → last byte at the pty, writing straight to the port (no bridge)."""
    profile = PrinterProfile()
    delays = []
    with SerialPrinter(printer) as driver:
        for i in range(count):
            number = f"D{i:03d}"
            data = render_receipt(ticket(number), profile)
            started = time.time()
            driver.write(data)
            delays.append(last_byte_at(receipts, number) - started)
    return delays


def print_through_bridge(touch: Touch, receipts: Path, count: int) -> list[float]:
    """Publish → last byte at the pty, through MQTT, the spool and the bridge's worker."""
    delays = []
    for i in range(count):
        number = f"B{i:03d}"
        job = PrintJob(receipt=ticket(number), label=f"ticket {number}")
        started = time.time()
        touch.link.publish(topics.PRINT_JOB, job)
        delays.append(last_byte_at(receipts, number) - started)
        touch.wait("printed", lambda job_id=job.id: "printed" in touch.results.get(job_id, []))
    return delays


def place_cards(touch: Touch, state_dir: Path, count: int, poll: float) -> list[float]:
    delays = []
    for i in range(count):
        seen = len(touch.cards)
        # A resident's hand does not follow the poll: place the card at a random phase
        # (right after a removal was seen it would always wait one whole poll).
        time.sleep(random.uniform(0, poll))  # noqa: S311 - not cryptography
        started = time.perf_counter()
        control(state_dir, KIOSK, "card-place", CARDS[i % len(CARDS)])
        arrived = touch.wait("CardEvent", lambda n=seen: touch.cards[n:])[0][0]
        delays.append(arrived - started)
        control(state_dir, KIOSK, "card-remove")
        touch.wait("removal", lambda n=seen: len(touch.cards) >= n + 2)
    return delays


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"  {name:<34} p50 {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   "
        f"min {ms[0]:7.1f}   max {ms[-1]:7.1f}   (n={len(ms)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placements", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--poll-interval", type=float, default=IdReaderSettings().poll_interval)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-devices-") as tmp, ExitStack() as stack:
        return run(Path(tmp), stack, args)


def run(root: Path, stack: ExitStack, args: argparse.Namespace) -> int:
    python = sys.executable
    state = root / "state"
    logs = root / "logs"
    logs.mkdir()
    edge = brokers(stack, root)
    printer_link = device_link(state, KIOSK, "printer")
    reader_link = device_link(state, KIOSK, "idreader")
    receipts = root / "receipts"
    printer_sim = [
        *(python, "-m", "firmware_bridge.sim.printer", "--link", str(printer_link)),
        *("--receipts", str(receipts), "--baud", str(PRINTER_BAUD)),
    ]
    reader_sim = [
        *(python, "-m", "firmware_bridge.sim.idreader", "--link", str(reader_link)),
        *("--baud", str(READER_BAUD)),
    ]
    stack.enter_context(process(printer_sim, logs / "printer-sim.log", "PRINTER-SIM READY"))
    stack.enter_context(process(reader_sim, logs / "idreader-sim.log", "IDREADER-SIM READY"))
    assert control_socket(state, KIOSK, "idreader").exists()
    printer = PrinterSettings(
        port=str(printer_link), baudrate=PRINTER_BAUD, spool_dir=state / "spool"
    )
    direct = print_direct(printer, receipts, args.jobs)

    config = root / "bridge.json"
    config.write_text(
        json.dumps(
            {
                "state_dir": str(state),
                "kiosk": {"id": KIOSK, "centre": CENTRE},
                "mqtt": mqtt(edge, "bridge").model_dump(mode="json"),
                "bridge": {"printer": printer.model_dump(mode="json")},
            }
        )
    )
    reader = IdReaderSettings(port=str(reader_link), poll_interval=args.poll_interval)
    code = (
        "import sys; from pathlib import Path; from firmware_bridge.service import run; "
        "from kiosk.settings import GpioSettings, IdReaderSettings; "
        "from kiosk.settings import load_settings; "
        "sys.exit(run(load_settings(Path(sys.argv[1]), env={}), "
        "idreader=IdReaderSettings.model_validate_json(sys.argv[2]), "
        "gpio=GpioSettings(pin_factory='mock')))"
    )
    touch = Touch(mqtt(edge, "touch"))
    stack.callback(touch.link.stop)
    stack.enter_context(
        process([python, "-c", code, str(config), reader.model_dump_json()], logs / "bridge.log")
    )
    touch.wait(
        "reader online", lambda: getattr(touch.devices.get("idreader"), "status", "") == "online"
    )
    place_cards(touch, state, 3, args.poll_interval)  # warm-up
    cards = place_cards(touch, state, args.placements, args.poll_interval)
    bridged = print_through_bridge(touch, receipts, args.jobs)
    wire_card = 1295 * 10 / READER_BAUD
    ticket_bytes = len(render_receipt(ticket("B000"), PrinterProfile()))
    added = statistics.median(bridged) - statistics.median(direct)
    print(
        "\n".join(
            [
                f"firmware bridge on 127.0.0.1 (Python {sys.version.split()[0]})",
                f"card placement → CardEvent at the touch subscriber "
                f"(poll {args.poll_interval:g} s, {READER_BAUD} baud: "
                f"{wire_card * 1000:.0f} ms of wire per read)",
                summary("placement → CardEvent", cards),
                f"print job of {ticket_bytes} bytes at {PRINTER_BAUD} baud "
                f"({ticket_bytes * 10 / PRINTER_BAUD * 1000:.0f} ms of wire)",
                summary("direct write → last byte", direct),
                summary("PrintJob publish → last byte", bridged),
                f"  spool's added latency per job (p50 difference): {added * 1000:.1f} ms",
            ]
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
