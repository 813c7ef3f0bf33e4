"""Cases end to end on the real demo: touch app → outbox → edge bridge → the real hub, and the
slip on the printer simulator (its text rendering of what the printer received)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kiosk.domain.cases.codes import make_code, parse_code
from tests.demo_client import http_json, receipt_files
from tests.waiting import eventually


def _touch(demo: dict[str, Any], kiosk: str = "k1") -> str:
    return str(demo["urls"]["touch"][kiosk])


def test_a_case_filed_at_a_kiosk_reaches_the_hub_and_its_slip_prints(
    demo: dict[str, Any],
) -> None:
    base = _touch(demo)
    status, categories = http_json(base + "api/cases/categories")
    assert (
        status == 200
        and {"id": "repair", "name": "设施维修"}.items()
        <= {
            k: v for c in categories["categories"] if c["id"] == "repair" for k, v in c.items()
        }.items()
    )
    status, tree = http_json(base + "api/grids")
    assert status == 200 and tree["community"] == "sq-dongfeng"
    body = {
        "channel": "box",
        "category": "repair",
        "grid": "wg-df1",
        "building": "2号楼",
        "title": "<b>楼道灯</b>不亮💡",
        "description": "2号楼三单元楼道灯坏了一周。",
        "phone": "13912345678",
        "contact_ok": True,
    }
    status, filed = http_json(base + "api/cases", body)
    assert status == 201, filed
    code = filed["tracking_code"]
    assert parse_code(code).channel == "box"
    # The slip, as the printer simulator rendered what it received.
    txt = eventually(lambda: receipt_files(Path(demo["receipts"]) / "k1", code), "the slip", 15)
    slip = txt.read_text(encoding="utf-8")
    assert "民情意见箱" in slip and "类别：设施维修" in slip and "承诺受理" in slip
    assert "139****5678" in slip and "13912345678" not in slip
    assert "事项：<b>楼道灯</b>不亮" in slip
    # The real hub has it: 查进度 answers from the hub, not from the kiosk's own copy.

    def delivered() -> dict[str, Any] | None:
        answer_status, answer = http_json(base + f"api/cases/{code}")
        return answer if answer_status == 200 and answer["delivered"] else None

    progress = eventually(delivered, "the case at the hub", 15)
    assert progress["status"] == "待受理" and progress["title"] == "<b>楼道灯</b>不亮💡"
    assert "13912345678" not in str(progress) and "139****5678" not in str(progress)
    # The other kiosk of the centre sees the same case by its code.
    status, seen = http_json(_touch(demo, "k2") + f"api/cases/{code.lower()}")
    assert status == 200 and seen["code"] == code
    # The real hub asks for the slip's rating PIN, and knows a wrong one.
    pin_printed = re.search(r"评价码 ([0-9]{6})", slip)
    assert pin_printed, slip
    pin = pin_printed.group(1)
    rating = {"rating": "satisfied", "solved": True, "comment": ""}
    status, refused = http_json(base + f"api/cases/{code}/rating", rating)
    assert status == 403 and refused["error"] == "pin_required", refused
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    status, refused = http_json(base + f"api/cases/{code}/rating", {**rating, "pin": wrong})
    assert status == 403 and refused["error"] == "bad_pin", refused
    # The printed PIN is right (kiosk and hub agree), but the case is not resolved yet:
    # the real hub refuses the rating, and the kiosk says so in words.
    status, refused = http_json(base + f"api/cases/{code}/rating", {**rating, "pin": pin})
    assert status == 409 and refused["error"] == "cannot_rate", refused


def test_a_typo_and_an_unknown_code_are_told_apart(demo: dict[str, Any]) -> None:
    status, typo = http_json(_touch(demo) + "api/cases/MQ-2026-0042-A")
    assert status == 400 and typo["error"] == "bad_code"
    status, unknown = http_json(_touch(demo) + f"api/cases/{make_code('box', 2099, 999_999)}")
    assert status == 404 and unknown["error"] == "unknown_case", unknown
