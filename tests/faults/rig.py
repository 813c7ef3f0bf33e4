"""Running one fault against the demo while traffic flows, and judging the outcome.

The demo supervises its children like systemd. To hold a part down for a while, the
supervisor is paused (SIGSTOP) around the kill and resumed (SIGCONT) to heal: it then
restarts the part after its usual delay, as in production.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_bridge.sim.control import control as sim_control
from tests.faults import report
from tests.faults.ledger import HubLedger, Tally, printed_slips
from tests.faults.relay import TcpRelay
from tests.faults.traffic import Capabilities, Created, Traffic, get, post

KIOSKS = ("k1", "k2")
FAULTS = 6
RECOVERY_BOUND = 60.0  # seconds a kiosk may take to recover on its own after the fault
DRAIN_BOUND = 60.0  # seconds for everything confirmed to reach the hub and the printer
WARMUP = 1.5  # seconds of traffic before the fault
TAIL = 1.5  # seconds of traffic after recovery
POLL = 0.25


@dataclass
class Outcome:
    tally: Tally
    recovery: float | None
    traffic: Traffic
    stuck: str = ""  # why the kiosks had not recovered, with the logs' tails

    def verdict(self) -> str:
        problems = self.tally.problems
        shown = "\n  ".join(problems[:15])
        more = f"\n  … and {len(problems) - 15} more" if len(problems) > 15 else ""
        return (
            f"created {self.tally.created}, delivered {self.tally.delivered}, "
            f"duplicates {self.tally.duplicates}, lost {self.tally.lost}, "
            f"recovery {self.recovery}:\n  {shown}{more}{self.stuck}"
        )

    @property
    def ok(self) -> bool:
        return self.recovery is not None and self.tally.clean


@dataclass
class FaultRig:
    process: subprocess.Popen[str]
    info: dict[str, Any]
    state_dir: Path
    relays: dict[str, TcpRelay]
    database: Path
    centre: str
    soak_minutes: float = 0.0
    _caps: Capabilities | None = None
    _probes: list[Created] = field(default_factory=list)
    _waiting_for: dict[str, str] = field(default_factory=dict)

    @property
    def ledger(self) -> HubLedger:
        return HubLedger(self.database, self.centre)

    def touch_url(self, kiosk: str) -> str:
        return str(self.info["urls"]["touch"][kiosk])

    def receipts(self, kiosk: str) -> Path:
        return Path(self.info["receipts"]) / kiosk

    def capabilities(self) -> Capabilities:
        if self._caps is None:
            self._caps = Capabilities.probe(self.touch_url(KIOSKS[0]))
            assert self._caps.case_body or not self._caps.cases_offered, (
                "the touch app offers POST /api/cases but refused its documented example"
            )
        return self._caps

    # --- the demo's parts -------------------------------------------------------------

    def pids(self) -> dict[str, int]:
        described = json.loads((self.state_dir / "demo.json").read_text(encoding="utf-8"))
        return {name: int(pid) for name, pid in described["pids"].items() if pid}

    def kill(self, part: str, signum: int = signal.SIGKILL) -> int:
        pid = self.pids()[part]
        os.kill(pid, signum)
        return pid

    def pause_supervisor(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume_supervisor(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    def wait_restarted(self, part: str, old_pid: int, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pids().get(part, old_pid) != old_pid:
                return True
            time.sleep(POLL)
        return False

    def printer(self, kiosk: str, action: str) -> str:
        return sim_control(self.state_dir, kiosk, action)

    def take_ticket(self, kiosk: str, service: str = "general") -> Created | None:
        """A ticket outside the traffic, checked like the traffic's when confirmed."""
        body: dict[str, Any] = {"service": service}
        event_id = os.urandom(16).hex()
        if field_name := self.capabilities().ticket_event_field:
            body[field_name] = event_id
        answer = post(self.touch_url(kiosk) + "api/tickets", body)
        if answer.status != 201 or not answer.body.get("number"):
            return None
        created = Created(
            "ticket",
            kiosk,
            str(answer.body["number"]),
            str(answer.body.get("event_id") or "") or None,
            time.monotonic(),
            answer.body.get("print_job"),
        )
        self._probes.append(created)
        return created

    # --- one fault --------------------------------------------------------------------

    def rounds(self) -> Iterator[int]:
        """Once by default; in soak mode, again and again for this fault's share of time."""
        deadline = time.monotonic() + self.soak_minutes * 60 / FAULTS
        round_ = 0
        while round_ == 0 or time.monotonic() < deadline:
            yield round_
            round_ += 1

    def exercise(
        self,
        fault: str,
        inject: Callable[[Traffic], None],
        heal: Callable[[], object],
        hold: float,
    ) -> Outcome:
        """Traffic, the fault for ``hold`` seconds, healing, then the bounded checks."""
        self._probes = []
        self._waiting_for = {}
        help_before = self.ledger.help_counts()
        traffic = Traffic({k: self.touch_url(k) for k in KIOSKS}, self.capabilities()).start()
        try:
            time.sleep(WARMUP)
            inject(traffic)
            time.sleep(hold)
            healed = time.monotonic()
            heal()
            recovery = self._wait_recovered(healed)
            time.sleep(TAIL)
        finally:
            traffic.stop()
        tally = self._wait_drained(
            [*traffic.confirmed(), *self._probes], help_before, traffic.unanswered_help
        )
        outcome = Outcome(tally, recovery, traffic, "" if recovery is not None else self._stuck())
        unconfirmed = ", ".join(f"{k}: {n}" for k, n in sorted(traffic.unconfirmed.items()))
        kinds = Counter(c.kind for c in [*traffic.confirmed(), *self._probes])
        mix = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        report.add(
            report.Row(
                fault,
                tally.created,
                tally.delivered,
                tally.duplicates,
                tally.lost,
                recovery,
                unconfirmed,
                mix,
            )
        )
        return outcome

    def _wait_recovered(self, since: float) -> float | None:
        """Seconds until every kiosk is online at the hub and a new ticket reaches it."""
        pending: dict[str, Created | None] = dict.fromkeys(KIOSKS)
        done: set[str] = set()
        deadline = since + RECOVERY_BOUND
        while time.monotonic() < deadline:
            for kiosk in KIOSKS:
                if kiosk not in done and self._recovered(kiosk, pending):
                    done.add(kiosk)
                    self._waiting_for.pop(kiosk)
            if len(done) == len(KIOSKS):
                return time.monotonic() - since
            time.sleep(POLL)
        return None

    def _recovered(self, kiosk: str, pending: dict[str, Created | None]) -> bool:
        ledger = self.ledger
        ticket = pending[kiosk]
        if ticket is None:
            pending[kiosk] = self.take_ticket(kiosk)
            self._waiting_for[kiosk] = "a ticket taken at the touch app"
            return False
        if ledger.ticket_count(ticket.key) < 1:
            self._waiting_for[kiosk] = f"ticket {ticket.key} to reach the hub"
            return False
        if (state := ledger.kiosk_state(kiosk)) != "online":
            self._waiting_for[kiosk] = f"the hub to see the kiosk online (it says {state})"
            return False
        # The kiosk's own screens agree: no "hub unreachable" banner any more.
        status = get(self.touch_url(kiosk) + "api/status")
        self._waiting_for[kiosk] = f"the touch app to see the hub online: {status}"
        return status.get("hub") == "online"

    def _stuck(self) -> str:
        waits = "".join(f"\n  {k} waits for {why}" for k, why in self._waiting_for.items())
        return waits + "".join(
            f"\n--- {log.name} (last lines) ---\n" + "\n".join(_tail(log, 15))
            for log in sorted(Path(self.info["logs"]).glob("*.log"))
        )

    def _wait_drained(
        self, created: list[Created], help_before: Counter[str], help_unanswered: Counter[str]
    ) -> Tally:
        deadline = time.monotonic() + DRAIN_BOUND
        while True:
            tally = self.ledger.check(created, help_before, help_unanswered)
            self._check_slips(created, tally)
            if tally.clean or time.monotonic() > deadline:
                return tally
            time.sleep(1.0)

    def _check_slips(self, created: list[Created], tally: Tally) -> None:
        for kiosk in KIOSKS:
            slips = printed_slips(self.receipts(kiosk))
            for ticket in created:
                # A ticket's number and a case's code stand on a line of their own.
                mine = ticket.kind != "help" and ticket.kiosk == kiosk and ticket.print_job
                if mine and slips[ticket.key] != 1:
                    tally.problems.append(
                        f"slip of {ticket.kind} {ticket.key} of {kiosk} printed "
                        f"{slips[ticket.key]} times"
                    )


def _tail(path: Path, lines: int) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
