"""Receipts and waits shared by the firmware bridge tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from kiosk.domain.receipt import Receipt, TicketSlip, ticket_qr_data, ticket_receipt

T = TypeVar("T")

WAIT = 10.0  # seconds: the longest any test waits for a job, a message or a state

CENTRE_NAME = "演示社区党群服务中心"
QR_DATA = ticket_qr_data("demo", "2026-11-22", "A001")


def ticket(number: str = "A001", waiting_ahead: int = 3) -> Receipt:
    """A realistic queue ticket, as the touch app makes it."""
    return ticket_receipt(
        TicketSlip(
            centre_name=CENTRE_NAME,
            service_name="社保医保",
            number=number,
            waiting_ahead=waiting_ahead,
            issued_at=datetime(2026, 11, 22, 1, 30, tzinfo=UTC),
            qr_data=ticket_qr_data("demo", "2026-11-22", number),
        )
    )


def eventually(probe: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Poll ``probe`` until it returns something truthy; fail naming ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
