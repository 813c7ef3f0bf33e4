"""The kiosk's health for the hub: retained QoS 1 on ``svc/v1/kiosk/{kiosk}/health``.

Sent every ``touch.health_interval`` seconds and with every birth (connect, hub back,
rebirth), so the hub's fleet page and alerts see a disk filling up, a hot Pi or events
piling up undelivered before residents notice. Everything is measured here, on the Pi,
from what Linux offers (``/proc/uptime``, the thermal zone, ``statvfs``); a figure the
machine cannot give is sent as ``None``, never guessed.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from kiosk import __version__
from kiosk.protocol.messages import KioskHealth

_LOGGER = logging.getLogger(__name__)

PROC_UPTIME = Path("/proc/uptime")
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


class OutboxFigures(Protocol):
    """What the touch app's persistent outbox tells about its backlog."""

    def depth(self) -> int: ...

    def oldest_age(self) -> float | None: ...


class HealthLink(Protocol):
    """The part of :class:`kiosk.touch.link.KioskLink` the reporter uses."""

    kiosk: str
    boot_id: str

    def publish_health(self, message: KioskHealth) -> None: ...

    def on_announce(self, listener: Callable[[], None]) -> Callable[[], None]: ...


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the figures come from; tests point them at files of their own."""

    data_dir: Path
    proc_uptime: Path = PROC_UPTIME
    thermal_zone: Path = THERMAL_ZONE


def outbox_of(link: object) -> Callable[[], tuple[int, float | None]]:
    """Depth and oldest age of ``link.outbox`` if the link has one, else (0, None)."""

    def figures() -> tuple[int, float | None]:
        outbox: OutboxFigures | None = getattr(link, "outbox", None)
        if outbox is None:
            return 0, None
        return int(outbox.depth()), outbox.oldest_age()

    return figures


def system_uptime(path: Path) -> float | None:
    try:
        return float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cpu_temperature(path: Path) -> float | None:
    """Degrees Celsius from a thermal zone (it reports millidegrees)."""
    try:
        return round(int(path.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


def disk_usage(directory: Path) -> tuple[int | None, int | None]:
    """Free and total bytes of the file system holding ``directory`` (or its nearest
    existing parent: a fresh kiosk may not have made its data folder yet)."""
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            try:
                usage = shutil.disk_usage(candidate)
            except OSError:
                return None, None
            return usage.free, usage.total
    return None, None


class HealthReporter:
    def __init__(
        self,
        link: HealthLink,
        sources: Sources,
        *,
        interval: float = 60.0,
        outbox: Callable[[], tuple[int, float | None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.sources = sources
        self.interval = interval
        self._outbox = outbox or outbox_of(link)
        self._clock = clock
        self._started = clock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        link.on_announce(self.publish)

    def sample(self) -> KioskHealth:
        depth, oldest = self._outbox()
        free, total = disk_usage(self.sources.data_dir)
        return KioskHealth(
            kiosk=self.link.kiosk,
            boot_id=self.link.boot_id,
            uptime_s=round(max(0.0, self._clock() - self._started), 1),
            system_uptime_s=system_uptime(self.sources.proc_uptime),
            outbox_depth=max(0, depth),
            outbox_oldest_age_s=None if oldest is None else round(max(0.0, oldest), 1),
            disk_free_bytes=free,
            disk_total_bytes=total,
            cpu_temperature_c=cpu_temperature(self.sources.thermal_zone),
            version=__version__,
        )

    def publish(self) -> None:
        """Measure and send now. Never raises: health must not break a birth."""
        try:
            self.link.publish_health(self.sample())
            self.sent += 1
        except Exception:
            _LOGGER.exception("could not send the kiosk's health; trying again next round")

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="health", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            self.publish()
