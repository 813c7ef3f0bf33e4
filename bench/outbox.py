"""Offline tickets and the outbox's replay, through the demo topology.

Starts ``kiosk demo`` on free ports, takes one ticket online (the kiosk caches its services
and leases a block of numbers), then stops the hub cleanly while the demo's supervisor is
paused (the hub says offline; the kiosk knows at once). It takes ``--tickets`` tickets
while the hub is away, measuring the HTTP time of an offline ticket (a SQLite transaction
with FULL sync, the slip queued to the printer), then lets the supervisor restart the hub
and measures how long the kiosk's outbox takes to drain: every event applied once by the
hub and acked end to end.

    .venv/bin/python bench/outbox.py [--tickets 500]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kiosk.demo import launch_demo
from kiosk.netutil import free_port_block

DRAIN_WAIT = 300.0  # seconds the replay may take before the bench gives up


def take(port: int, count: int) -> list[tuple[str, float]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"service": "social"})
    taken = []
    for _ in range(count):
        started = time.perf_counter()
        conn.request("POST", "/api/tickets", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = json.loads(response.read())
        if response.status != 201:
            raise RuntimeError(f"ticket refused: {response.status} {payload}")
        taken.append((payload["number"], time.perf_counter() - started))
    conn.close()
    return taken


def hub_status(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/api/status")
    status = str(json.loads(conn.getresponse().read())["hub"])
    conn.close()
    return status


def count(path: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        return int(db.execute(sql).fetchone()[0])


def wait_for(predicate: Any, timeout: float, what: str) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if predicate():
            return time.perf_counter() - started
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        process, info = launch_demo(Path(tmp), port_base=free_port_block(40))
        try:
            return run(Path(tmp), process.pid, info, args.tickets)
        finally:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
            process.wait(30)


def run(state: Path, supervisor: int, info: dict[str, Any], tickets: int) -> int:
    port = info["ports"]["touch"]["k1"]
    outbox = state / "kiosks" / "k1" / "touch.sqlite3"
    hub_db = state / "hub" / "hub.sqlite3"
    take(port, 1)  # online: services cached, a lease of numbers asked for in the background
    time.sleep(1.0)
    os.kill(supervisor, signal.SIGSTOP)  # nobody restarts the hub until we say so
    os.kill(info["pids"]["hub"], signal.SIGTERM)
    wait_for(lambda: hub_status(port) == "unreachable", 30, "the kiosk to see the hub gone")
    started = time.perf_counter()
    offline = take(port, tickets)
    elapsed = time.perf_counter() - started
    depth = count(outbox, "SELECT count(*) FROM outbox")
    before = count(hub_db, "SELECT count(*) FROM tickets")
    os.kill(supervisor, signal.SIGCONT)
    back = wait_for(lambda: hub_status(port) == "online", 60, "the hub back at the kiosk")
    drain = wait_for(
        lambda: count(outbox, "SELECT count(*) FROM outbox") == 0, DRAIN_WAIT, "the replay"
    )
    filed = count(hub_db, "SELECT count(*) FROM tickets") - before
    numbers = [n for n, _ in offline]
    ms = sorted(t * 1000 for _, t in offline)
    leased = sum(1 for n in numbers if "-" not in n)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    print(
        "\n".join(
            [
                f"offline: {tickets} tickets in {elapsed:.2f} s = {tickets / elapsed:.0f}/s, "
                f"HTTP p50 {statistics.median(ms):.1f} ms  p95 {p95:.1f} ms",
                f"  leased numbers {leased}, fallback numbers {tickets - leased}, "
                f"outbox depth {depth}",
                f"hub back at the kiosk after {back:.1f} s; outbox drained {drain:.1f} s later "
                f"= {depth / max(drain, 1e-9):.0f} events/s",
                f"filed at the hub: {filed}   duplicates: {len(numbers) - len(set(numbers))}",
            ]
        )
    )
    return 0 if filed == tickets and len(set(numbers)) == tickets else 1


if __name__ == "__main__":
    sys.exit(main())
