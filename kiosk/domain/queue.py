"""Queue numbering rules: prefixes, daily reset, how a number is written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

CENTRE_TIMEZONE = ZoneInfo("Asia/Shanghai")

_PREFIX = re.compile(r"^[A-Z]$")


class QueueRuleError(ValueError):
    """A queue rule was broken (bad prefix, number out of range)."""


@dataclass(frozen=True, slots=True)
class Service:
    """A service a centre offers at its counters, e.g. 社保医保 with prefix A."""

    code: str
    name: str
    prefix: str

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise QueueRuleError(f"service {self.code!r}: prefix must be one letter A-Z")


def service_day(moment: datetime, tz: ZoneInfo = CENTRE_TIMEZONE) -> date:
    """The calendar day a ticket belongs to: numbering restarts at 001 each local day."""
    if moment.tzinfo is None:
        raise QueueRuleError("service_day needs an aware datetime")
    return moment.astimezone(tz).date()


def format_ticket_number(prefix: str, number: int) -> str:
    """A001 … A999, then A1000: three digits at least, never truncated."""
    if number < 1:
        raise QueueRuleError(f"ticket numbers start at 1, got {number}")
    return f"{prefix}{number:03d}"


def call_announcement(ticket: str, counter: int) -> str:
    """What the call display shows and the voice says."""
    return f"请 {ticket} 号到 {counter} 号窗口"
