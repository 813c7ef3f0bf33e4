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


# Numbers of one service on one day come from three ranges that never meet:
# - online: 1, 2, 3, … in the order the hub hands them out (001–9000, then 10000 on);
# - leased: 9001–9999, handed to kiosks in blocks ahead of need, issued while the hub is
#   away (a lease gap is harmless: it only means a block was not used up);
# - fallback: the lease ran out offline; the kiosk writes ``A-k1-003`` (prefix, kiosk,
#   its own count), which no other kiosk and no online number can be, and the hub files
#   it under an internal number from FALLBACK_BASE on.
# A dash or a 9xxx number on a slip tells staff at a glance it was issued offline.
LEASED_NUMBERS = range(9001, 10_000)
ONLINE_SKIP_TO = 10_000  # online numbering jumps over the leased range if it ever gets there
FALLBACK_BASE = 100_000
LEASE_BLOCK = 20  # numbers per lease; a kiosk asks again when fewer than half are left


def next_online_number(last: int) -> int:
    """The online number after ``last``: consecutive, stepping over the leased range."""
    number = last + 1
    return ONLINE_SKIP_TO if number in LEASED_NUMBERS else number


def format_fallback_number(prefix: str, kiosk: str, count: int) -> str:
    """``A-k1-003``: a ticket issued offline after the kiosk's lease ran out."""
    if count < 1:
        raise QueueRuleError(f"fallback counts start at 1, got {count}")
    return f"{prefix}-{kiosk}-{count:03d}"


def call_announcement(ticket: str, counter: int) -> str:
    """What the call display shows and the voice says."""
    return f"请 {ticket} 号到 {counter} 号窗口"
