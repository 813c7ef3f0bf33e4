"""TicketDesk's rules for taps of one press, with a stand-in link (pure logic: the real
link, brokers and hub are in test_api.py and tests/hub/test_outbox_delivery.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from kiosk.domain.receipt import Receipt
from kiosk.protocol.messages import TicketLeaseResult, TicketTakeResult
from kiosk.protocol.rpc import RpcFailed
from kiosk.touch.issuing import TicketDesk
from kiosk.touch.outbox import Outbox
from tests.waiting import eventually


class _Link:
    """Takes tickets like the hub; the first request waits for ``gate`` and is refused."""

    kiosk, centre = "k1", "demo"
    cached_services = None

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.gate = threading.Event()
        self.first_waiting = threading.Event()
        self.second_gate = threading.Event()
        self.second_waiting = threading.Event()
        self.calls = 0
        self.printed: list[str] = []
        self._lock = threading.Lock()

    def take_ticket(self, service: str, event_id: str | None = None) -> TicketTakeResult:
        with self._lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            self.first_waiting.set()
            self.gate.wait(5)
            raise RpcFailed("busy", "the hub refused this one")
        if self.calls == 2:
            self.second_waiting.set()
            self.second_gate.wait(5)
        return TicketTakeResult(
            number="A001",
            service=service,
            service_name="社保医保",
            centre_name="中心",
            day="2026-12-01",
            waiting_ahead=0,
            issued_at=datetime.now(UTC),
        )

    def lease_tickets(self, service: str) -> TicketLeaseResult:
        raise RpcFailed("no_leases", "not in this test")

    def print(self, receipt: Receipt, label: str = "") -> str:
        self.printed.append(label)
        return f"job-{len(self.printed)}"


def test_a_failed_first_tap_leaves_the_others_of_its_press_one_ticket(tmp_path: Path) -> None:
    link = _Link(Outbox(tmp_path / "touch.sqlite3"))
    desk = TicketDesk(link)  # type: ignore[arg-type]
    key = "0123456789abcdef0123456789abcdef"
    outcomes: list[object] = []

    def tap() -> None:
        try:
            outcomes.append(desk.issue("social", key).ticket.number)
        except RpcFailed as err:
            outcomes.append(err.code)

    taps = [threading.Thread(target=tap) for _ in range(3)]
    taps[0].start()
    assert link.first_waiting.wait(5)
    taps[1].start()  # waits for the first tap of its press
    link.gate.set()  # the first tap fails; the second asks the hub in its turn
    assert link.second_waiting.wait(5)
    taps[2].start()  # a third tap while the second is still at the hub: it must wait too
    link.second_gate.set()
    for thread in taps:
        thread.join(10)
    eventually(lambda: len(outcomes) == 3, "every tap answered")
    assert sorted(map(str, outcomes)) == ["A001", "A001", "busy"]
    assert link.calls == 2 and link.printed == ["ticket A001"], "one ticket, one slip"
