"""Faults while two kiosks are busy: nothing confirmed is lost or doubled, kiosks recover.

Each test breaks one part of a running demo while residents keep taking tickets, calling
staff and (when the touch app offers it) submitting cases, heals it, then checks the hub's
database against what the kiosks confirmed (see ``rig.FaultRig.exercise``). The table of
outcomes is printed at the end and written to ``test-artifacts/faults.md``.
"""

from __future__ import annotations

import functools
import json
import signal
import time
import urllib.request
from collections.abc import Callable

from tests.faults.rig import FaultRig
from tests.faults.traffic import Traffic

HOLD = 4.0  # seconds a part stays down


def _killer(rig: FaultRig, part: str, signum: int = signal.SIGKILL) -> Callable[[Traffic], None]:
    """Stop the supervisor, then the part: it stays down until the supervisor resumes."""

    def inject(_traffic: Traffic) -> None:
        rig.pause_supervisor()
        rig.kill(part, signum)

    return inject


def test_hub_killed_and_restarted(rig: FaultRig) -> None:
    for _ in rig.rounds():
        outcome = rig.exercise("kill -9 hub", _killer(rig, "hub"), rig.resume_supervisor, HOLD)
        assert outcome.ok, outcome.verdict()


def test_central_broker_stopped_and_restarted(rig: FaultRig) -> None:
    for _ in rig.rounds():
        inject = _killer(rig, "central-broker", signal.SIGTERM)
        outcome = rig.exercise("central broker stop", inject, rig.resume_supervisor, HOLD)
        assert outcome.ok, outcome.verdict()


def test_uplink_cut_and_restored(rig: FaultRig) -> None:
    relay = rig.relays["k1"]
    for _ in rig.rounds():
        outcome = rig.exercise(
            "uplink k1 cut", lambda _traffic: relay.cut(), relay.restore, 2 * HOLD
        )
        assert outcome.ok, outcome.verdict()


def test_touch_app_killed_mid_submission(rig: FaultRig) -> None:
    for _ in rig.rounds():
        in_flight: list[bool] = []
        outcome = rig.exercise(
            "kill -9 touch k1 mid-request",
            functools.partial(_kill_touch_mid_request, rig, seen=in_flight),
            rig.resume_supervisor,
            HOLD / 2,
        )
        assert in_flight == [True], "no request was in flight when the touch app died"
        assert outcome.ok, outcome.verdict()


def _kill_touch_mid_request(rig: FaultRig, traffic: Traffic, *, seen: list[bool]) -> None:
    rig.pause_supervisor()
    deadline = time.monotonic() + 5
    while not traffic.in_flight("k1") and time.monotonic() < deadline:
        time.sleep(0.001)
    seen.append(traffic.in_flight("k1"))
    rig.kill("k1-touch")


def test_edge_broker_killed_and_restarted(rig: FaultRig) -> None:
    for _ in rig.rounds():
        inject = _killer(rig, "k1-edge-broker")
        outcome = rig.exercise("kill -9 edge broker k1", inject, rig.resume_supervisor, HOLD)
        assert outcome.ok, outcome.verdict()


def test_firmware_bridge_restarted_with_a_spooled_job(rig: FaultRig) -> None:
    for _ in rig.rounds():
        spooled: list[str] = []
        outcome = rig.exercise(
            "bridge k1 restart, job spooled",
            functools.partial(_restart_bridge_holding_a_job, rig, held=spooled),
            functools.partial(rig.printer, "k1", "paper-ok"),
            HOLD / 2,
        )
        assert spooled, "no ticket was taken while the paper was out"
        assert outcome.ok, outcome.verdict()


def _restart_bridge_holding_a_job(rig: FaultRig, _traffic: Traffic, *, held: list[str]) -> None:
    """Paper out, a ticket whose slip the bridge holds, then the bridge restarts."""
    rig.printer("k1", "paper-out")
    ticket = rig.take_ticket("k1")
    assert ticket is not None, "k1 did not issue a ticket with its printer out of paper"
    held.append(ticket.key)
    _wait_job_held(rig, ticket.print_job)
    old = rig.kill("k1-bridge", signal.SIGTERM)
    assert rig.wait_restarted("k1-bridge", old), "the supervisor did not restart the bridge"


def _wait_job_held(rig: FaultRig, job: str | None, timeout: float = 10.0) -> None:
    """Until the bridge says it holds the job (spooled, or waiting for paper)."""
    assert job, "the ticket has no print job"
    deadline = time.monotonic() + timeout
    url = rig.touch_url("k1") + f"api/print-jobs/{job}"
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            status = json.loads(response.read()).get("status")
        if status not in (None, "pending"):
            return
        time.sleep(0.1)
    raise AssertionError(f"the bridge never reported on print job {job}")
