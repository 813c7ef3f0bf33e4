"""Case reports against a centre's history: what a month's metrics cost as cases pile up.

Builds a hub database in a temporary folder with ``--cases`` cases filed evenly over
``--months`` months (each accepted, dispatched, claimed and resolved, a third of them
rated), then times what the console does for the last month's metrics page: loading
the logs (only the cases that can have a fact in the month, ``logs_for_period``) and
computing the metrics of every unit. For comparison it times the same from every case's
log, as the page did before. The figures must not grow with the history, only with
what a month holds.

    .venv/bin/python bench/cases.py [--cases 2000] [--months 12]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from kiosk.domain.cases.metrics import Period, metrics_by_unit
from kiosk.domain.cases.model import Actor, Rating, Submission
from kiosk.domain.cases.states import Accept, Claim, Dispatch, Rate, Resolve, Submit
from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.db import Database, migrate
from kiosk.settings import Settings

REPEATS = 5
CLERK = Actor("staff", "clerk", "sq-dongfeng")
GRIDDER = Actor("staff", "gridder", "wg-df1")
RESIDENT = Actor("resident", "anonymous")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _file(store: CaseStore, clock: Clock, at: datetime, rated: bool) -> None:
    clock.now = at
    d = store.directory

    def submit_for(code: str) -> Submit:
        submission = Submission(
            channel="box",
            category="repair",
            place=d.place("wg-df1", "3号楼"),
            title="楼道灯坏了",
            description="3号楼二单元楼道灯不亮",
            terms=d.terms("repair"),
            resident=None,
        )
        return Submit(actor=CLERK, code=code, submission=submission, reason="电话反映")

    code = store.file("box", submit_for).code
    store.act(code, Accept(actor=CLERK), audited=False)
    store.act(code, Dispatch(actor=CLERK, lead=d.unit("wg-df1")), audited=False)
    clock.now = at + timedelta(hours=2)
    store.act(code, Claim(actor=GRIDDER), audited=False)
    clock.now = at + timedelta(hours=30)
    store.act(code, Resolve(actor=GRIDDER, reply="已更换灯泡"), audited=False)
    if rated:
        clock.now = at + timedelta(hours=40)
        rating = Rating(level="satisfied", solved=True)
        store.act(code, Rate(actor=RESIDENT, rating=rating, pin_verified=True), audited=False)


def _timed(work: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--months", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cases-") as folder:
        url = f"sqlite:///{Path(folder) / 'hub.sqlite3'}"
        migrate(url)
        database = Database(url)
        end = datetime(2026, 11, 1, tzinfo=CENTRE_TIMEZONE)
        start = end - timedelta(days=30 * args.months)
        clock = Clock(start)
        store = build_store(Settings().hub.cases, database, clock)
        step = (end - start) / args.cases
        started = time.perf_counter()
        for i in range(args.cases):
            _file(store, clock, start + step * i, rated=i % 3 == 0)
        print(
            f"{args.cases} cases over {args.months} months filed in "
            f"{time.perf_counter() - started:.1f} s"
        )
        period = Period.month(2026, 10)
        as_of = period.end
        month = store.logs_for_period(period.start, period.end)
        print(f"cases loaded for the month: {len(month)} of {len(store.logs())}")
        scoped = _timed(
            lambda: metrics_by_unit(store.logs_for_period(period.start, period.end), period, as_of)
        )
        everything = _timed(lambda: metrics_by_unit(store.logs(), period, as_of))
        print(
            f"metrics of October, every unit: {scoped:.0f} ms "
            f"(from every case's log: {everything:.0f} ms), median of {REPEATS}"
        )
        database.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
