"""End to end on the real demo: touch → hub → printer, and the staff console."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.demo_client import http_json, receipt_files
from tests.waiting import eventually


def _touch(demo: dict[str, Any], kiosk: str = "k1") -> str:
    return str(demo["urls"]["touch"][kiosk])


def test_demo_json_names_every_part(demo: dict[str, Any]) -> None:
    assert demo["kiosks"] == ["k1", "k2"]
    expected = {"central-broker", "hub"} | {
        f"{k}-{part}"
        for k in ("k1", "k2")
        for part in ("edge-broker", "printer-sim", "idreader-sim", "bridge", "touch")
    }
    assert set(demo["pids"]) == expected
    assert all(isinstance(pid, int) for pid in demo["pids"].values())
    assert demo["admin"]["password"] and demo["observer"]["username"] == "observer"


def test_services_come_from_the_hub(demo: dict[str, Any]) -> None:
    status, body = http_json(_touch(demo) + "api/services")
    assert status == 200
    assert body["centre"] == "demo"
    assert {"code": "social", "name": "社保医保", "prefix": "A"} in body["services"]


def test_a_ticket_is_printed_on_the_kiosk_that_issued_it(demo: dict[str, Any]) -> None:
    status, ticket = http_json(_touch(demo, "k2") + "api/tickets", {"service": "civil"})
    assert status == 201, ticket
    assert re.fullmatch(r"B\d{3}", ticket["number"])
    assert ticket["service"] == "civil" and ticket["waiting_ahead"] >= 0
    receipts = Path(demo["receipts"]) / "k2"
    txt = eventually(lambda: receipt_files(receipts, ticket["number"]), "the receipt", 10)
    text = txt.read_text(encoding="utf-8")
    assert "演示社区党群服务中心" in text and "民政救助" in text
    raw = txt.with_suffix(".bin").read_bytes()
    assert len(raw) <= 400, "a ticket with a native QR fits in 400 bytes"
    assert b"\x1c\x26" in raw, "Chinese mode (FS &) is switched on explicitly"
    assert ticket["number"].encode() in raw, "the number is text, not a raster image"
    png = eventually(
        lambda: txt.with_suffix(".png").exists() and txt.with_suffix(".png"),
        "the receipt's picture",
        5,
    )
    assert png.stat().st_size > 1000


def test_fifty_tickets_at_once_from_two_kiosks_are_distinct_and_consecutive(
    demo: dict[str, Any],
) -> None:
    def take(i: int) -> dict[str, Any]:
        status, body = http_json(
            _touch(demo, f"k{i % 2 + 1}") + "api/tickets", {"service": "party"}
        )
        assert status == 201, body
        return body

    with ThreadPoolExecutor(max_workers=50) as pool:
        numbers = [t["number"] for t in pool.map(take, range(50))]
    values = sorted(int(n[1:]) for n in numbers)
    assert len(set(numbers)) == 50
    assert values == list(range(values[0], values[0] + 50))


def test_bad_requests_get_a_clear_answer(demo: dict[str, Any]) -> None:
    status, body = http_json(_touch(demo) + "api/tickets", {"service": "no-such-service"})
    assert status == 404 and body["error"] and body["message"]
    status, body = http_json(_touch(demo) + "api/tickets", {"servce": "social"})
    assert status == 400 and "service" in body["message"]
