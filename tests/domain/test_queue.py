from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kiosk.domain.queue import (
    QueueRuleError,
    Service,
    call_announcement,
    format_ticket_number,
    service_day,
)


def test_numbers_have_three_digits_at_least() -> None:
    assert format_ticket_number("A", 1) == "A001"
    assert format_ticket_number("B", 42) == "B042"
    assert format_ticket_number("A", 1000) == "A1000"


def test_number_zero_is_refused() -> None:
    with pytest.raises(QueueRuleError):
        format_ticket_number("A", 0)


def test_the_day_turns_at_midnight_in_china_not_utc() -> None:
    assert service_day(datetime(2026, 11, 22, 15, 59, tzinfo=UTC)) == date(2026, 11, 22)
    assert service_day(datetime(2026, 11, 22, 16, 0, tzinfo=UTC)) == date(2026, 11, 23)


def test_naive_times_are_refused() -> None:
    with pytest.raises(QueueRuleError):
        service_day(datetime(2026, 11, 22, 12, 0))


@pytest.mark.parametrize("prefix", ["", "AB", "a", "1"])
def test_prefix_is_one_capital_letter(prefix: str) -> None:
    with pytest.raises(QueueRuleError):
        Service("x", "社保", prefix)


def test_announcement() -> None:
    assert call_announcement("A001", 1) == "请 A001 号到 1 号窗口"
