"""Value types shared by the case rules: channels, units and places, actors, ratings, terms.

Everything here is a frozen value. Nothing holds a resident's raw identity: a resident
appears as ``person_key`` plus masked forms (DESIGN.md §4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

Channel = Literal["box", "proposal"]
"""民情意见箱 (anyone, may stay anonymous) or 党员提案 (party members, identified)."""

CHANNELS: tuple[Channel, ...] = get_args(Channel)

UnitLevel = Literal["grid", "community", "street", "department"]
"""The grid tree's levels that handle cases, plus departments (which sit outside it)."""

UNIT_LEVELS: tuple[UnitLevel, ...] = get_args(UnitLevel)

# Escalation (吹哨) walks this ladder one step at a time; departments are not on it.
LADDER: tuple[UnitLevel, ...] = ("grid", "community", "street")

ActorKind = Literal["resident", "staff", "system"]

RatingLevel = Literal["satisfied", "basic", "unsatisfied"]
"""满意 / 基本满意 / 不满意."""

RATING_LEVELS: tuple[RatingLevel, ...] = get_args(RatingLevel)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$")
_TIER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class CaseValueError(ValueError):
    """A value given to the case rules is malformed (bad unit level, empty id, …)."""


def check_ident(value: str, what: str) -> str:
    """Ids of units, staff and categories: short, ASCII, no spaces (they go into URLs)."""
    if not _ID.match(value):
        raise CaseValueError(f"{what} must be 1-64 ASCII letters, digits or _.:@- , got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit that accepts or handles cases: a grid, community, street or department."""

    id: str
    level: UnitLevel
    name: str

    def __post_init__(self) -> None:
        check_ident(self.id, "unit id")
        if self.level not in UNIT_LEVELS:
            raise CaseValueError(f"unit {self.id}: level must be one of {UNIT_LEVELS}")
        if not self.name.strip():
            raise CaseValueError(f"unit {self.id}: a unit needs a name residents can read")


def level_above(level: UnitLevel) -> UnitLevel | None:
    """grid → community → street; None at the top and for departments."""
    if level not in LADDER:
        return None
    index = LADDER.index(level)
    return LADDER[index + 1] if index + 1 < len(LADDER) else None


@dataclass(frozen=True, slots=True)
class Place:
    """Where the problem is: street → community → grid (→ building, free text)."""

    street: Unit
    community: Unit
    grid: Unit | None = None
    building: str | None = None

    def __post_init__(self) -> None:
        _expect_level(self.street, "street")
        _expect_level(self.community, "community")
        if self.grid is not None:
            _expect_level(self.grid, "grid")
        if self.building is not None and not 1 <= len(self.building.strip()) <= 40:
            raise CaseValueError("a building label is 1-40 characters")


def _expect_level(unit: Unit, level: UnitLevel) -> None:
    if unit.level != level:
        raise CaseValueError(f"place: {unit.id} is a {unit.level}, expected a {level}")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something, and for which unit.

    ``id`` is a staff username, a resident's ``person_key`` or ``anonymous``, or a system
    job's name. Staff act for a ``unit``; residents and the system for none.
    """

    kind: ActorKind
    id: str
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("resident", "staff", "system"):
            raise CaseValueError(f"actor kind must be resident, staff or system, got {self.kind!r}")
        check_ident(self.id, "actor id")
        if self.unit is not None:
            check_ident(self.unit, "actor unit")
        if self.kind == "staff" and self.unit is None:
            raise CaseValueError(f"staff {self.id} must act for a unit")

    @property
    def identified(self) -> bool:
        """A resident who gave a card or phone (their ``id`` is a person key)."""
        return self.kind == "resident" and self.id != ANONYMOUS


ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Resident:
    """A resident who chose to identify: the key and the masked forms, never raw data."""

    person_key: str
    masked_name: str | None = None
    masked_phone: str | None = None
    contact_ok: bool = False

    def __post_init__(self) -> None:
        check_ident(self.person_key, "person key")
        if self.contact_ok and self.masked_phone is None:
            # Staff can only call back a resident whose phone the hub can look up.
            raise CaseValueError("contact_ok needs a phone number")

    def __repr__(self) -> str:  # the key is not secret, but keep it out of log lines anyway
        return f"Resident({self.masked_name or '-'}, {self.masked_phone or '-'})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Rating:
    """The resident's verdict on one round of handling."""

    level: RatingLevel
    solved: bool
    comment: str = ""

    def __post_init__(self) -> None:
        if self.level not in RATING_LEVELS:
            raise CaseValueError(f"rating must be one of {RATING_LEVELS}, got {self.level!r}")

    @property
    def satisfied(self) -> bool:
        """满意 or 基本满意: what counts towards the satisfaction rate."""
        return self.level != "unsatisfied"


@dataclass(frozen=True, slots=True)
class SlaTerms:
    """The promise made when a case is submitted: hours to accept, hours to handle.

    Copied into the case at submission (the slip printed it), so changing a category's
    tier later changes new cases only, and old metrics stay what they were.
    """

    tier: str
    accept_hours: int
    handle_hours: int

    def __post_init__(self) -> None:
        if not _TIER.match(self.tier):
            raise CaseValueError(f"tier must be a short lower-case name, got {self.tier!r}")
        if not 1 <= self.accept_hours <= 24 * 30 or not 1 <= self.handle_hours <= 24 * 365:
            raise CaseValueError("accept hours must be 1-720 and handle hours 1-8760")


@dataclass(frozen=True, slots=True)
class Submission:
    """What the resident (or staff on their behalf) filed: the facts of the case."""

    channel: Channel
    category: str
    place: Place
    title: str
    description: str
    terms: SlaTerms
    resident: Resident | None = None
    kiosk: str | None = None

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise CaseValueError(f"channel must be one of {CHANNELS}, got {self.channel!r}")
        check_ident(self.category, "category")
        if self.kiosk is not None:
            check_ident(self.kiosk, "kiosk")
        if self.channel == "proposal" and self.resident is None:
            # 党员提案 comes from an identified party member (DESIGN.md §5).
            raise CaseValueError("a party-member proposal needs an identified resident")
