"""Receipts and waits shared by the firmware bridge tests."""

from __future__ import annotations

from datetime import UTC, datetime

from kiosk.domain.receipt import Receipt, TicketSlip, ticket_qr_data, ticket_receipt
from tests.waiting import WAIT as WAIT
from tests.waiting import eventually as eventually

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
