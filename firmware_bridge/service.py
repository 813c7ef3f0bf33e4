"""``kiosk bridge``: the firmware bridge process, sole owner of the kiosk's devices.

The touch app publishes :class:`PrintJob` on ``local/v1/printer/job`` on the kiosk's edge
broker. The bridge spools each job to disk (fsync'd) before it says ``spooled``, so a job
survives paper out, an unplugged printer and a power cut; one worker thread prints the
spool in order and says ``printed`` (or ``waiting`` while it cannot print). Serial I/O
happens only on that worker, never on the MQTT network thread.

Presence: ``svc/v1/kiosk/{kiosk}/device/bridge`` (retained; the Will says offline) and
``…/device/printer`` (retained: online/offline/unknown and paper), re-announced on every
(re)connect, whenever the hub says it is online, and whenever the printer's state changes.

The other devices are components on the same connection: the ID-card reader
(:mod:`firmware_bridge.idreader.service`) and the GPIO panel (:mod:`firmware_bridge.gpio`),
whose status LED follows :class:`~firmware_bridge.health.Health`.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Literal, Protocol

from paho.mqtt.properties import Properties

from firmware_bridge.gpio import GpioPanel
from firmware_bridge.health import Health, HubWatch
from firmware_bridge.idreader.driver import CardReader, SerialCardReader
from firmware_bridge.idreader.service import IdReaderService
from firmware_bridge.printer.driver import (
    PrinterStatus,
    PrinterUnavailable,
    ReceiptPrinter,
    SerialPrinter,
)
from firmware_bridge.printer.escpos import PrinterProfile, render_receipt
from firmware_bridge.spool import Spool
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink, Will
from kiosk.protocol.messages import (
    DeviceState,
    DeviceStatus,
    Envelope,
    InvalidPayload,
    PaperStatus,
    PrintJob,
    PrintResult,
    decode,
    new_id,
)
from kiosk.settings import (
    GpioSettings,
    IdReaderSettings,
    Settings,
)

_LOGGER = logging.getLogger(__name__)

RETRY_MIN = 0.5  # seconds before the first retry of a job that could not print
RETRY_MAX = 5.0  # a resident waits at most this long after the paper is reloaded
POLL_INTERVAL = 5.0  # seconds between status checks while there is nothing to print
STOP_TIMEOUT = 10.0
# The edge broker keeps the bridge's subscription and queues print jobs for this long while
# the bridge restarts, so a ticket taken meanwhile still prints; longer outages drop them.
SESSION_EXPIRY = 600

ResultStatus = Literal["spooled", "printed", "waiting", "failed"]


class Component(Protocol):
    """A device besides the printer, sharing the bridge's connection and lifetime."""

    def start(self) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...

    def announce(self) -> None:
        """Publish its retained device state (on every connect and hub birth)."""

    def farewell(self) -> list[tuple[str, Envelope]]:
        """The offline states to publish at a clean stop."""


def bridge_state(kiosk: str, boot_id: str, status: DeviceStatus, detail: str = "") -> DeviceState:
    return DeviceState(kiosk=kiosk, device="bridge", status=status, detail=detail, boot_id=boot_id)


def bridge_will(kiosk: str, boot_id: str) -> Will:
    """What the edge broker publishes (retained) if the bridge vanishes without a goodbye."""
    state = bridge_state(kiosk, boot_id, "offline", "connection lost")
    return Will(topics.kiosk_device(kiosk, "bridge"), state.to_bytes())


class FirmwareBridge:
    """Print jobs from MQTT to the receipt printer, through the spool.

    The bridge owns ``link`` and ``printer``: :meth:`start` connects and starts the worker,
    :meth:`stop` says offline and closes both. ``link`` should carry :func:`bridge_will` and
    call :meth:`announce` on every connect; :func:`create_bridge` builds it so.
    """

    def __init__(
        self,
        settings: Settings,
        link: MqttLink,
        printer: ReceiptPrinter,
        *,
        boot_id: str | None = None,
        retry_min: float = RETRY_MIN,
        retry_max: float = RETRY_MAX,
        poll_interval: float = POLL_INTERVAL,
        health: Health | None = None,
    ) -> None:
        self.kiosk = topics.check_id(settings.kiosk.id, "kiosk")
        self.boot_id = boot_id or new_id()
        self.health = health or Health()
        self.components: list[Component] = []
        self.profile = PrinterProfile.from_settings(settings.bridge.printer)
        self.spool = Spool(settings.bridge.printer.spool_dir)
        self.printed = 0  # jobs this process put on paper
        self._link = link
        self._printer = printer
        self._retry_min, self._retry_max = retry_min, retry_max
        self._poll_interval = poll_interval
        self._bridge_topic = topics.kiosk_device(self.kiosk, "bridge")
        self._printer_topic = topics.kiosk_device(self.kiosk, "printer")
        self._lock = threading.Lock()  # printer state and recent jobs
        # Held while a job is spooled and acknowledged, so "spooled" always precedes "printed".
        self._intake = threading.Lock()
        self._printer_state = self._printer_message("unknown", "unknown", "not checked yet")
        self._waiting_for: tuple[str, str] | None = None  # (job id, reason) last announced
        self._port_open = False
        self._silent_at: float | None = None  # time.monotonic() the printer last kept silent
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        link.subscribe(topics.PRINT_JOB, self._on_print_job)
        self.hub_watch = HubWatch(self.kiosk, link, self.health, on_hub_online=self.announce)

    def add(self, component: Component) -> None:
        """Run ``component`` with the bridge (before :meth:`start`)."""
        self.components.append(component)

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start printing what the spool holds and connect to the edge broker."""
        self._worker = threading.Thread(target=self._work, name="bridge-printer", daemon=True)
        self._worker.start()
        for component in self.components:
            component.start()
        self._link.start()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Finish the job on the wire, say offline (a clean disconnect sends no Will), close."""
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout)
        for component in self.components:
            component.stop(timeout)
        gone = "firmware bridge stopped"
        printer = self._printer_message("offline", "unknown", gone)
        farewell: list[tuple[str, Envelope]] = [
            (self._bridge_topic, bridge_state(self.kiosk, self.boot_id, "offline", gone)),
            (self._printer_topic, printer),
        ]
        for component in self.components:
            farewell += component.farewell()
        self._link.stop(farewell=farewell)
        self._close_printer()

    def wait_connected(self, timeout: float) -> bool:
        return self._link.wait_connected(timeout)

    @property
    def rejected(self) -> int:
        """Print job payloads dropped because they failed validation."""
        return self._link.rejected

    @property
    def printer_state(self) -> DeviceState:
        with self._lock:
            return self._printer_state

    def announce(self) -> None:
        """Publish every device's retained state (on every connect and hub birth)."""
        online = bridge_state(self.kiosk, self.boot_id, "online")
        self._link.publish(self._bridge_topic, online, retain=True)
        self._link.publish(self._printer_topic, self.printer_state, retain=True)
        for component in self.components:
            component.announce()
        self.hub_watch.refresh()

    # --- intake (MQTT network thread: disk only, never the serial port) -------------------

    def _on_print_job(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        job = decode(PrintJob, payload)  # InvalidPayload: MqttLink logs, counts and drops it
        with self._intake:
            if self.spool.printed(job.id):  # a redelivery (QoS 1 is at least once), a resend
                self._result(job.id, "printed")
                return
            try:
                self.spool.add(job)
            except OSError as err:
                _LOGGER.error("cannot spool print job %s: %s", job.id, err)
                self._result(job.id, "failed", f"cannot spool the job: {err}")
                return
            self._result(job.id, "spooled")
        self._wake.set()

    def _next_job(self) -> Path | None:
        with self._intake:
            return self.spool.oldest()

    # --- the printer worker -------------------------------------------------------------

    def _work(self) -> None:
        delay = self._retry_min
        while not self._stopping.is_set():
            self._wake.clear()
            path = self._next_job()
            if path is None:
                if not self._wake.wait(self._poll_interval):
                    self._check_idle_printer()
                continue
            try:
                done = self._print(path)
            except Exception:  # a bug must not stop the printing of later jobs
                _LOGGER.exception("print job %s failed unexpectedly", path.name)
                done = False
            if done:
                delay = self._retry_min
            else:
                self._stopping.wait(delay)
                delay = min(self._retry_max, delay * 2)

    def _print(self, path: Path) -> bool:
        """Print the job in ``path``; False if it must wait and be tried again."""
        try:
            job = self.spool.load(path)
        except (InvalidPayload, OSError) as err:
            bad = self.spool.quarantine(path)
            _LOGGER.error("unreadable spool file moved to %s: %s", bad, err)
            return True
        if self.spool.printed(job.id):
            self.spool.remove(path)  # on paper before a crash: its id was noted in time
            self._result(job.id, "printed")
            return True
        try:
            data = render_receipt(job.receipt, self.profile)
        except ValueError as err:
            self.spool.quarantine(path)
            self._result(job.id, "failed", str(err))
            return True
        reason = self._ready_to_print()
        if reason is None:
            reason = self._write(data)
        if reason is not None:
            self._announce_waiting(job.id, reason)
            return False
        self.spool.done(path, job.id)
        self.printed += 1
        self._waiting_for = None
        self._result(job.id, "printed")
        return True

    def _write(self, data: bytes) -> str | None:
        try:
            self._printer.write(data)
        except PrinterUnavailable as err:
            self._lost_printer(err)
            return str(err)
        return None

    def _ready_to_print(self) -> str | None:
        """Check the printer before a job, except one that recently kept silent: its
        queries cost two read timeouts each time and would tell nothing new."""
        silent_at = self._silent_at
        if silent_at is not None and time.monotonic() - silent_at < self._poll_interval:
            return None
        return self._check_printer()

    def _check_idle_printer(self) -> None:
        """Keep the device state fresh while idle; a bug here must not end the worker."""
        try:
            self._check_printer()
        except Exception:
            _LOGGER.exception("checking the idle printer failed unexpectedly")

    def _check_printer(self) -> str | None:
        """Ask the printer how it is; None if it can print, else why it cannot."""
        try:
            if not self._port_open:
                self._printer.open()
                self._port_open = True
            status = self._printer.status()
        except PrinterUnavailable as err:
            self._lost_printer(err)
            return str(err)
        self._silent_at = None if status.answered else time.monotonic()
        self._set_printer_state(*_describe(status))
        if status.paper == "out":
            return "paper out"
        if status.online is False:
            return "cover open" if status.cover_open else "printer offline"
        return None  # online, or silent: a printer that never answers still prints

    def _lost_printer(self, err: PrinterUnavailable) -> None:
        self._close_printer()
        self._set_printer_state("offline", "unknown", str(err))

    def _close_printer(self) -> None:
        self._port_open = False
        with contextlib.suppress(OSError):
            self._printer.close()

    # --- publishing ---------------------------------------------------------------------

    def _printer_message(
        self, status: DeviceStatus, paper: PaperStatus, detail: str
    ) -> DeviceState:
        return DeviceState(
            kiosk=self.kiosk,
            device="printer",
            status=status,
            paper=paper,
            detail=detail[:200],
            boot_id=self.boot_id,
        )

    def _set_printer_state(self, status: DeviceStatus, paper: PaperStatus, detail: str) -> None:
        message = self._printer_message(status, paper, detail)
        with self._lock:
            old = self._printer_state
            if (old.status, old.paper, old.detail) == (status, paper, message.detail):
                return
            self._printer_state = message
        _LOGGER.info("printer: %s, paper %s%s", status, paper, f" ({detail})" if detail else "")
        self._link.publish(self._printer_topic, message, retain=True)
        self.health.device(message)

    def _announce_waiting(self, job_id: str, reason: str) -> None:
        if self._waiting_for != (job_id, reason):  # once per job and reason, not every retry
            self._waiting_for = (job_id, reason)
            _LOGGER.warning("print job %s waits: %s", job_id, reason)
            self._result(job_id, "waiting", reason)

    def _result(self, job_id: str, status: ResultStatus, detail: str = "") -> None:
        result = PrintResult(job_id=job_id, status=status, detail=detail[:200])
        self._link.publish(topics.PRINT_RESULT, result)


def _describe(status: PrinterStatus) -> tuple[DeviceStatus, PaperStatus, str]:
    """The printer's answer as device state: status, paper and a few words for people."""
    names: dict[bool | None, DeviceStatus] = {True: "online", False: "offline", None: "unknown"}
    online = names[status.online]
    if not status.answered:
        return online, status.paper, "the printer does not answer status queries"
    if status.paper == "out":
        detail = "paper out"
    elif status.cover_open:
        detail = "cover open"
    elif status.paper == "near_end":
        detail = "paper near end"
    else:
        detail = ""
    return online, status.paper, detail


def create_bridge(
    settings: Settings,
    printer: ReceiptPrinter,
    *,
    reader: CardReader | None = None,
    idreader: IdReaderSettings | None = None,
    gpio: GpioSettings | None = None,
    pin_factory: Any = None,
    boot_id: str | None = None,
    session_expiry: int = SESSION_EXPIRY,
    retry_min: float = RETRY_MIN,
    retry_max: float = RETRY_MAX,
    poll_interval: float = POLL_INTERVAL,
) -> FirmwareBridge:
    """A bridge on its own MQTT connection (client id ``{kiosk}-bridge``) with its Will.

    With ``reader`` it also reads ID cards (timing from ``idreader``); with ``gpio`` (if
    enabled) it drives the button, LED and motion sensor, on ``pin_factory`` if given.
    """
    kiosk = topics.check_id(settings.kiosk.id, "kiosk")
    boot_id = boot_id or new_id()
    bridge: FirmwareBridge | None = None

    def on_connected() -> None:
        if bridge is not None:
            bridge.announce()

    link = MqttLink(
        f"{kiosk}-bridge",
        settings.mqtt,
        will=bridge_will(kiosk, boot_id),
        on_connected=on_connected,
        session_expiry=session_expiry,
    )
    bridge = FirmwareBridge(
        settings,
        link,
        printer,
        boot_id=boot_id,
        retry_min=retry_min,
        retry_max=retry_max,
        poll_interval=poll_interval,
    )
    if reader is not None:
        bridge.add(
            IdReaderService(
                kiosk,
                link,
                reader,
                idreader or IdReaderSettings(),
                boot_id=boot_id,
                on_state=bridge.health.device,
            )
        )
    if gpio is not None and gpio.enabled:
        bridge.add(
            GpioPanel(
                kiosk,
                link,
                gpio,
                bridge.health,
                boot_id=boot_id,
                pin_factory=pin_factory,
                refresh=bridge.hub_watch.refresh,
            )
        )
    return bridge


def run(
    settings: Settings,
    *,
    idreader: IdReaderSettings | None = None,
    gpio: GpioSettings | None = None,
) -> int:
    """Run the bridge with the real devices until SIGTERM or SIGINT; 0 on a clean stop.

    ``idreader`` and ``gpio`` default to ``settings.bridge.idreader`` / ``.gpio`` (or their
    defaults while kiosk.settings lacks them).
    """
    idreader = idreader or settings.bridge.idreader
    gpio = gpio or settings.bridge.gpio
    try:
        bridge = create_bridge(
            settings,
            SerialPrinter(settings.bridge.printer),
            reader=SerialCardReader(idreader) if idreader.enabled else None,
            idreader=idreader,
            gpio=gpio,
        )
    except OSError as err:
        _LOGGER.error("cannot start the firmware bridge: %s", err)
        return 1
    stop = threading.Event()
    with _signals_set(stop):
        bridge.start()
        _LOGGER.info(
            "firmware bridge of kiosk %s: printer %s, spool %s, ID-card reader %s",
            bridge.kiosk,
            settings.bridge.printer.port,
            bridge.spool.directory,
            idreader.port if idreader.enabled else "off",
        )
        while not stop.wait(0.5):
            pass
        _LOGGER.info("stopping")
        bridge.stop()
    _LOGGER.info("firmware bridge stopped")
    return 0


@contextlib.contextmanager
def _signals_set(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop``; the previous handlers come back afterwards."""

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        _LOGGER.info("signal %s", signum)
        stop.set()

    wanted = (signal.SIGTERM, signal.SIGINT)
    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {
        sig: signal.signal(sig, on_signal) for sig in wanted
    }
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
