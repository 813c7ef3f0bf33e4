from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.domain.receipt import TicketSlip, ticket_receipt
from kiosk.protocol.messages import (
    InvalidPayload,
    KioskState,
    PrintJob,
    RpcRequest,
    TicketTakeParams,
    decode,
)


def test_print_job_round_trip_keeps_the_receipt() -> None:
    slip = TicketSlip("中心", "社保医保", "A001", 2, datetime(2026, 11, 22, tzinfo=UTC), "q")
    job = PrintJob(receipt=ticket_receipt(slip))
    assert decode(PrintJob, job.to_bytes()) == job


def test_envelope_fields_are_filled() -> None:
    state = KioskState(
        kiosk="k1", centre="demo", state="online", boot_id="b", session=1, version="0"
    )
    assert state.v == 1 and len(state.id) == 32 and state.ts.tzinfo is not None


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"", "invalid KioskState"),
        (b"not json", "invalid KioskState"),
        (b"\xff\xfe\x00", "invalid KioskState"),
        (b"[]", "invalid KioskState"),
        (b'{"v": 2}', "v:"),
        (b'{"v": 1, "kiosk": 5}', "kiosk:"),
    ],
)
def test_bad_payloads_raise_a_clear_error(payload: bytes, says: str) -> None:
    with pytest.raises(InvalidPayload, match=says):
        decode(KioskState, payload)


def test_unknown_fields_are_refused() -> None:
    payload = RpcRequest(corr="c1").to_bytes()[:-1] + b',"x":1}'
    with pytest.raises(InvalidPayload, match="x: Extra inputs are not permitted"):
        decode(RpcRequest, payload)


def test_params_limits() -> None:
    with pytest.raises(ValueError, match="service"):
        TicketTakeParams(service="x" * 33, event_id="e")
