"""Queue tickets through the demo topology: throughput, latency to paper, bytes on the wire.

Starts ``kiosk demo`` on free ports (central and edge Mosquitto, hub, touch app, firmware
bridge, printer simulator on a pty), then takes tickets through ``POST /api/tickets``:
sequentially, then from concurrent clients. For every ticket it measures the time from
sending the request to the last byte of its receipt arriving at the printer's pty (the
simulator logs that in ``jobs.jsonl``). Targets (issue 2): zero duplicates, p95 < 50 ms,
≥ 200 tickets/s with 20 concurrent clients.

    .venv/bin/python bench/tickets.py [--sequential 200] [--concurrent 1000] [--clients 20]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kiosk.demo import launch_demo
from kiosk.netutil import free_port_block

BAUD = 9600
PRINT_WAIT = 30.0  # seconds to wait for the last receipt to reach the printer


def take_tickets(port: int, count: int, service: str) -> list[tuple[str, float, float]]:
    """(number, request start, response time) for ``count`` tickets over one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"service": service})
    taken = []
    for _ in range(count):
        started = time.time()
        conn.request("POST", "/api/tickets", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        payload = json.loads(response.read())
        if response.status != 201:
            raise RuntimeError(f"ticket refused: {response.status} {payload}")
        taken.append((payload["number"], started, time.time() - started))
    conn.close()
    return taken


def concurrent(port: int, total: int, clients: int, service: str) -> tuple[list[Any], float]:
    results: list[list[tuple[str, float, float]]] = [[] for _ in range(clients)]
    share = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]

    def work(i: int) -> None:
        results[i] = take_tickets(port, share[i], service)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return [t for chunk in results for t in chunk], elapsed


def printed_jobs(receipts: Path, numbers: set[str]) -> dict[str, dict[str, Any]]:
    """Jobs from the simulator's log, keyed by the ticket number printed on them."""
    deadline = time.monotonic() + PRINT_WAIT
    found: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        found = {}
        log = receipts / "jobs.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        for line in lines:
            job = json.loads(line)
            for text_line in job["text"].splitlines():
                if text_line.strip() in numbers:
                    found[text_line.strip()] = job
        if numbers <= found.keys():
            break
        time.sleep(0.2)
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(
    name: str,
    taken: list[tuple[str, float, float]],
    elapsed: float,
    jobs: dict[str, dict[str, Any]],
) -> list[str]:
    to_paper = [jobs[n]["last_byte_at"] - start for n, start, _ in taken if n in jobs]
    http_ms = [rtt * 1000 for _, _, rtt in taken]
    return [
        f"{name}: {len(taken)} tickets in {elapsed:.2f} s = {len(taken) / elapsed:.0f} tickets/s",
        f"  HTTP response      p50 {statistics.median(http_ms):6.1f} ms   "
        f"p95 {percentile(http_ms, 0.95):6.1f} ms",
        f"  request→last byte  p50 {statistics.median(to_paper) * 1000:6.1f} ms   "
        f"p95 {percentile(to_paper, 0.95) * 1000:6.1f} ms   ({len(to_paper)} printed)",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tickets-") as tmp:
        process, info = launch_demo(Path(tmp), port_base=free_port_block(40))
        try:
            return run(info, args)
        finally:
            process.terminate()
            process.wait(30)


def run(info: dict[str, Any], args: argparse.Namespace) -> int:
    port = info["ports"]["touch"]["k1"]
    receipts = Path(info["receipts"]) / "k1"
    take_tickets(port, 5, "civil")  # warm-up on another service's numbers
    started = time.perf_counter()
    seq = take_tickets(port, args.sequential, "social")
    seq_elapsed = time.perf_counter() - started
    conc, conc_elapsed = concurrent(port, args.concurrent, args.clients, "social")
    numbers = [n for n, _, _ in seq + conc]
    jobs = printed_jobs(receipts, set(numbers))
    sizes = [job["bytes"] for job in jobs.values()]
    expected = {f"A{i:03d}" for i in range(1, len(numbers) + 1)}
    lines = [
        f"kiosk demo on 127.0.0.1, {args.clients} concurrent clients",
        *report("sequential", seq, seq_elapsed, jobs),
        *report(f"concurrent x{args.clients}", conc, conc_elapsed, jobs),
        f"duplicates: {len(numbers) - len(set(numbers))}   "
        f"gaps: {len(expected - set(numbers))}   not printed: {len(set(numbers) - jobs.keys())}",
        f"bytes per ticket: min {min(sizes)}  max {max(sizes)}  "
        f"→ {max(sizes) * 10 / BAUD * 1000:.0f} ms on the wire at {BAUD} baud",
    ]
    print("\n".join(lines))
    return 0 if len(set(numbers)) == len(numbers) and set(numbers) == expected else 1


if __name__ == "__main__":
    sys.exit(main())
