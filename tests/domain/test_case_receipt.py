"""The case slip's layout (kiosk.domain.receipt.case_receipt)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kiosk.domain.receipt import CaseSlip, Cut, QrCode, Text, case_receipt

SUBMITTED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in the centre


def _slip(**changes: object) -> CaseSlip:
    values: dict[str, object] = {
        "centre_name": "和平社区党群服务中心",
        "channel_name": "民情意见箱",
        "code": "MQ-2026-0042-Q",
        "category_name": "道路设施",
        "title": "路灯坏了",
        "submitted_at": SUBMITTED,
        "accept_due": SUBMITTED + timedelta(hours=8),
    }
    values.update(changes)
    return CaseSlip(**values)  # type: ignore[arg-type]


def _texts(slip: CaseSlip) -> list[str]:
    return [block.text for block in case_receipt(slip) if isinstance(block, Text)]


def test_the_slip_has_the_code_its_qr_the_category_and_the_promise() -> None:
    blocks = case_receipt(_slip())
    texts = _texts(_slip())
    assert "MQ-2026-0042-Q" in texts
    assert [b.data for b in blocks if isinstance(b, QrCode)] == ["MQ-2026-0042-Q"]
    assert "类别：道路设施" in texts
    assert "提交时间：2026-03-02 09:30" in texts
    assert "承诺受理：2026-03-02 17:30 前" in texts  # local time, 8 hours later
    assert "匿名提交" in texts
    assert "已保存，联网后自动上传" not in texts
    assert isinstance(blocks[-1], Cut)


def test_a_masked_identity_and_offline_saving_are_printed() -> None:
    texts = _texts(_slip(identity="张* 110***********002X", saved_offline=True))
    assert "登记人：张* 110***********002X" in texts
    assert "匿名提交" not in texts
    assert "已保存，联网后自动上传" in texts


@pytest.mark.parametrize("title", ["<script>alert(1)</script>", "路灯💡坏了👨‍👩‍👧𠀀", "长" * 60])
def test_titles_print_as_typed_and_long_ones_are_cut_to_fit(title: str) -> None:
    line = next(t for t in _texts(_slip(title=title)) if t.startswith("事项："))
    if len(title) <= 40:
        assert line == f"事项：{title}"
    else:
        assert line == "事项：" + title[:39] + "…"


def test_a_slip_without_a_centre_name_still_prints() -> None:
    assert _texts(_slip(centre_name=""))[0] == "民情意见箱"
