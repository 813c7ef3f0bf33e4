"""Residents' identity: ID number checks, masking, and the key that replaces the number.

The raw number never leaves the kiosk's memory (DESIGN.md §4). What travels is
``person_key`` (an HMAC with the deployment secret) and the masked forms below.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

CardType = Literal["resident", "hmt", "foreign2017", "foreign2023"]

# The type flag at byte 248 of the reader's text block (reference/iot.md §5.4).
CARD_TYPE_FLAGS: dict[str, CardType] = {
    " ": "resident",
    "J": "hmt",
    "I": "foreign2017",
    "Y": "foreign2023",
}

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_EIGHTEEN = re.compile(r"^\d{17}[\dX]$")
_FOREIGN_2017 = re.compile(r"^[A-Z]{3}\d{12}$")
_HMT_REGIONS = ("810000", "820000", "830000")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class InvalidIdNumber(ValueError):
    """Not a valid number for that card type; the message says why (without the number)."""


class InvalidPhone(ValueError):
    """Not a mainland mobile number."""


def check_char(first17: str) -> str:
    """GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def normalise_id_number(number: str) -> str:
    return number.strip().upper().replace(" ", "")


@dataclass(frozen=True, slots=True)
class IdNumber:
    """A checked ID number. ``repr`` never shows the number itself."""

    value: str
    card_type: CardType
    birth_date: date | None

    def __repr__(self) -> str:
        return f"IdNumber({mask_id_number(self.value)}, {self.card_type})"

    __str__ = __repr__


def validate_id_number(
    number: str, card_type: CardType = "resident", today: date | None = None
) -> IdNumber:
    """Check format, check digit and birth date; raise :class:`InvalidIdNumber`."""
    value = normalise_id_number(number)
    if card_type == "foreign2017":
        if not _FOREIGN_2017.match(value):
            raise InvalidIdNumber(
                "a 2017 foreign permanent resident number is 3 letters + 12 digits"
            )
        return IdNumber(value, card_type, None)
    if not _EIGHTEEN.match(value):
        raise InvalidIdNumber("an ID number has 17 digits and a digit or X")
    if check_char(value[:17]) != value[17]:
        raise InvalidIdNumber("the check digit does not match (a digit was mistyped or misread)")
    if card_type == "hmt" and not value.startswith(_HMT_REGIONS):
        raise InvalidIdNumber("a HK/Macau/Taiwan residence permit starts with 810000-830000")
    if card_type == "foreign2023" and not value.startswith("9"):
        raise InvalidIdNumber("a 2023 foreign permanent resident number starts with 9")
    return IdNumber(value, card_type, _birth_date(value, today or date.today()))


def _birth_date(value: str, today: date) -> date:
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as err:
        raise InvalidIdNumber("the birth date in the number is not a real date") from err
    if not date(1880, 1, 1) <= born <= today:
        raise InvalidIdNumber("the birth date in the number is out of range")
    return born


def mask_id_number(number: str) -> str:
    """``110***********123X``: the first 3 and the last 4 characters stay."""
    value = normalise_id_number(number)
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(name: str) -> str:
    """``张*`` for 张三, ``欧**`` for 欧阳娜: a person recognises themselves, others do not."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def validate_phone(phone: str) -> str:
    digits = re.sub(r"[\s-]", "", phone)
    if not _MOBILE.match(digits):
        raise InvalidPhone("a mobile number has 11 digits and starts with 13-19")
    return digits


def mask_phone(phone: str) -> str:
    """``138****5678``."""
    digits = validate_phone(phone)
    return digits[:3] + "****" + digits[-4:]


def person_key(secret: bytes, number: str) -> str:
    """HMAC-SHA256 of the normalised number with the deployment secret, hex.

    Stable across kiosks of one deployment (the hub can count no-shows, caps and points per
    person) and useless without the secret (a table of all numbers cannot be built).
    """
    if len(secret) < 16:
        raise ValueError("the deployment secret must be at least 16 bytes")
    return hmac.new(secret, normalise_id_number(number).encode(), hashlib.sha256).hexdigest()
