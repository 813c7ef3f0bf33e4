"""The fault suite's demo: two kiosks whose uplinks run through relays the tests can cut.

``--soak MINUTES`` (or ``KIOSK_SOAK=MINUTES``) repeats every fault for about that long
in all; without it each fault runs once and the whole suite stays within a few minutes.
The option exists when pytest is given ``tests/faults`` (``pytest tests/faults --soak 30``);
the environment variable works with any selection.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.demo import CENTRE, launch_demo
from kiosk.netutil import free_port_block
from tests.faults import report
from tests.faults.relay import TcpRelay
from tests.faults.rig import KIOSKS, FaultRig

RELAY_OFFSET = 30  # relays listen on port_base + 30 + i (the demo uses base … base + 29)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak",
        type=float,
        default=None,
        metavar="MINUTES",
        help="fault suite: repeat the faults for about this many minutes in all",
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if report.ROWS:
        terminalreporter.write_sep("=", "fault suite")
        terminalreporter.write_line(report.text_table(report.ROWS))
        terminalreporter.write_line(f"(also in {report.ARTIFACT})")


@pytest.fixture(scope="session")
def soak_minutes(pytestconfig: pytest.Config) -> float:
    minutes = pytestconfig.getoption("--soak", default=None)
    if minutes is None and os.environ.get("KIOSK_SOAK"):
        minutes = float(os.environ["KIOSK_SOAK"])
    return float(minutes or 0.0)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory, soak_minutes: float) -> Iterator[FaultRig]:
    state_dir = tmp_path_factory.mktemp("fault-demo")
    base = free_port_block(40)
    relays = {
        kiosk: TcpRelay(base + RELAY_OFFSET + i, base + 1)
        for i, kiosk in enumerate(KIOSKS, start=1)
    }
    for relay in relays.values():
        relay.start()
    process, info = launch_demo(
        state_dir,
        port_base=base,
        kiosks=len(KIOSKS),
        uplinks={kiosk: relay.port for kiosk, relay in relays.items()},
        # Every call for staff goes out (not one per 30 s), so each one can be counted.
        env={"KIOSK__TOUCH__HELP_REPEAT_AFTER": "0.001"},
    )
    rig = FaultRig(
        process=process,
        info=info,
        state_dir=Path(state_dir),
        relays=relays,
        database=Path(state_dir) / "hub" / "hub.sqlite3",
        centre=CENTRE,
        soak_minutes=soak_minutes,
    )
    try:
        yield rig
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(30)
        for relay in relays.values():
            relay.stop()
