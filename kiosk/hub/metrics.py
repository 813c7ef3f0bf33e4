"""The hub's Prometheus metrics, in the text exposition format (version 0.0.4).

A few counters and one histogram, written by hand: the format is a handful of lines, and
prometheus-client would be one more dependency for that. Counters live in this process
(a restart starts them at zero, which Prometheus' ``rate()`` handles); gauges that
describe the fleet (kiosks online, alerts open) are read from the database at scrape time,
so every hub worker reports the same truth.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds. An rpc answered on the hub takes about 2 ms (one SQLite write with FULL sync);
# the buckets reach far beyond that to show a database that stalls.
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = (*labels, *extra)
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help_text: str, label_names: tuple[str, ...] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = label_names
        self._values: dict[Labels, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def _key(self, labels: Mapping[str, str]) -> Labels:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {tuple(labels)}")
        return tuple((name, labels[name]) for name in self.label_names)

    def render(self) -> list[str]:
        with self._lock:
            values = sorted(self._values.items())
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        lines += [f"{self.name}{_labels(k)} {_number(v)}" for k, v in values]
        return lines


@dataclass
class _Series:
    buckets: list[int]
    count: int = 0
    total: float = 0.0


class Histogram:
    """Observations counted into cumulative ``le`` buckets, per label set."""

    def __init__(
        self,
        name: str,
        help_text: str,
        label_names: tuple[str, ...] = (),
        buckets: tuple[float, ...] = RPC_BUCKETS,
    ) -> None:
        self.name = name
        self.help = help_text
        self.label_names = label_names
        self.bounds = tuple(sorted(buckets))
        self._series: dict[Labels, _Series] = {}
        self._lock = threading.Lock()

    def observe(self, value: float, **labels: str) -> None:
        key = tuple((name, labels[name]) for name in self.label_names)
        with self._lock:
            series = self._series.setdefault(key, _Series([0] * len(self.bounds)))
            for i, bound in enumerate(self.bounds):
                if value <= bound:
                    series.buckets[i] += 1
            series.count += 1
            series.total += value

    def count(self, **labels: str) -> int:
        key = tuple((name, labels[name]) for name in self.label_names)
        with self._lock:
            series = self._series.get(key)
            return series.count if series else 0

    def render(self) -> list[str]:
        with self._lock:
            snapshot = sorted(
                (k, list(s.buckets), s.count, s.total) for k, s in self._series.items()
            )
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, buckets, count, total in snapshot:
            for bound, n in zip(self.bounds, buckets, strict=True):
                lines.append(f"{self.name}_bucket{_labels(key, (('le', _number(bound)),))} {n}")
            lines.append(f"{self.name}_bucket{_labels(key, (('le', '+Inf'),))} {count}")
            lines.append(f"{self.name}_sum{_labels(key)} {_number(total)}")
            lines.append(f"{self.name}_count{_labels(key)} {count}")
        return lines


@dataclass(frozen=True, slots=True)
class Gauge:
    """A value read when scraped: ``read`` returns label set → value."""

    name: str
    help: str
    read: Callable[[], Iterable[tuple[Labels, float]]]

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        lines += [f"{self.name}{_labels(k)} {_number(v)}" for k, v in self.read()]
        return lines


class HubMetrics:
    """Everything ``/metrics`` shows. The worker and the console write to one instance."""

    def __init__(self) -> None:
        self.intake = Counter(
            "kiosk_hub_intake_messages_total",
            "Kiosk messages received by the hub, by topic kind.",
            ("kind",),
        )
        self.rejected = Counter(
            "kiosk_hub_rejected_messages_total",
            "Kiosk messages dropped: invalid payload, another kiosk named than the topic's, "
            "wrong centre, revoked kiosk.",
            ("kind",),
        )
        self.duplicates = Counter(
            "kiosk_hub_duplicate_events_total",
            "Kiosk events delivered again after the hub had applied them (acked, not re-applied).",
            ("type",),
        )
        self.rpc_latency = Histogram(
            "kiosk_hub_rpc_duration_seconds",
            "Time the hub took to answer a kiosk's rpc request.",
            ("method",),
        )
        self.alerts_raised = Counter(
            "kiosk_hub_alerts_raised_total", "Alerts opened, by kind.", ("kind",)
        )
        self.webhook_failures = Counter(
            "kiosk_hub_webhook_failures_total", "Alert webhook deliveries that failed."
        )
        self.logins = Counter(
            "kiosk_hub_console_logins_total", "Console login attempts by outcome.", ("outcome",)
        )
        self._gauges: list[Gauge] = []

    def add_gauge(self, gauge: Gauge) -> None:
        self._gauges.append(gauge)

    def render(self) -> str:
        lines: list[str] = []
        families: list[Counter | Histogram | Gauge] = [
            self.intake,
            self.rejected,
            self.duplicates,
            self.rpc_latency,
            self.alerts_raised,
            self.webhook_failures,
            self.logins,
            *self._gauges,
        ]
        for family in families:
            lines += family.render()
        return "\n".join(lines) + "\n"
