"""The reader's 256-byte text block: UCS-2 little-endian fields at fixed offsets. Pure.

The layout depends on the card type, flagged at byte 248 (reference/iot.md §5.4): a space
for the resident ID card, ``J`` for the Hong Kong/Macau/Taiwan residence permit, ``I`` for
the 2017 foreign permanent resident card and ``Y`` for its 2023 edition. Fields are padded
with spaces (``20 00``).

Errors never quote a field's value: the block is a resident's identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

from kiosk.domain.identity import (
    CARD_TYPE_FLAGS,
    CardType,
    InvalidIdNumber,
    validate_id_number,
)
from kiosk.protocol.messages import IdentityCard

TEXT_SIZE = 256
FLAG_OFFSET = 248
LONG_TERM = "长期"  # "valid to" of a card without an end date
_PAD = " \x00"
_DATE = re.compile(r"^\d{8}$")


class TextBlockError(ValueError):
    """The block is not a readable card text. The message names the field, never its value."""


@dataclass(frozen=True, slots=True)
class Field:
    offset: int
    size: int  # bytes; two per character


# Only the fields we use or check; the rest of each layout is documented in docs/devices.md.
RESIDENT: dict[str, Field] = {
    "name": Field(0, 30),
    "gender": Field(30, 2),
    "ethnicity": Field(32, 4),
    "birth_date": Field(36, 16),
    "address": Field(52, 70),
    "id_number": Field(122, 36),
    "authority": Field(158, 30),
    "valid_from": Field(188, 16),
    "valid_to": Field(204, 16),
}
HMT: dict[str, Field] = {
    **{k: v for k, v in RESIDENT.items() if k != "ethnicity"},
    "pass_number": Field(220, 18),
    "issue_count": Field(238, 4),
}
FOREIGN_2017: dict[str, Field] = {
    "english_name": Field(0, 120),
    "gender": Field(120, 2),
    "id_number": Field(122, 30),
    "nationality": Field(152, 6),
    "name": Field(158, 30),
    "valid_from": Field(188, 16),
    "valid_to": Field(204, 16),
    "birth_date": Field(220, 16),
    "card_version": Field(236, 4),
    "authority": Field(240, 8),
}
FOREIGN_2023: dict[str, Field] = {
    "name": Field(0, 30),
    "gender": Field(30, 2),
    "renewal_count": Field(32, 4),
    "birth_date": Field(36, 16),
    "english_name": Field(52, 70),
    "id_number": Field(122, 36),
    "valid_from": Field(188, 16),
    "valid_to": Field(204, 16),
    "english_name_2": Field(220, 22),
    "nationality": Field(242, 6),
}
LAYOUTS: dict[CardType, dict[str, Field]] = {
    "resident": RESIDENT,
    "hmt": HMT,
    "foreign2017": FOREIGN_2017,
    "foreign2023": FOREIGN_2023,
}
FLAGS: dict[CardType, str] = {card_type: flag for flag, card_type in CARD_TYPE_FLAGS.items()}
Gender = Literal["male", "female", "unknown"]
GENDERS: dict[str, Gender] = {"1": "male", "2": "female"}


def card_type_of(block: bytes) -> CardType:
    """The layout flagged at byte 248; :class:`TextBlockError` for an unknown flag."""
    if len(block) != TEXT_SIZE:
        raise TextBlockError(f"a text block has {TEXT_SIZE} bytes, not {len(block)}")
    flag = block[FLAG_OFFSET : FLAG_OFFSET + 2].decode("utf-16-le", errors="replace")
    # Some readers leave the reserved bytes of a resident card zero instead of spaces.
    card_type = CARD_TYPE_FLAGS.get(" " if flag == "\x00" else flag)
    if card_type is None:
        raise TextBlockError("unknown card type flag at byte 248")
    return card_type


def fields_of(block: bytes) -> tuple[CardType, dict[str, str]]:
    """Every field of the block's layout as text, padding stripped."""
    card_type = card_type_of(block)
    values = {
        name: _decode(block[f.offset : f.offset + f.size]) for name, f in LAYOUTS[card_type].items()
    }
    return card_type, values


def parse_text_block(block: bytes, today: date | None = None) -> IdentityCard:
    """The card in ``block``, checked: a valid number (check digit, real birth date) that
    agrees with the birth date field, real dates, a name. Raises :class:`TextBlockError`.
    """
    card_type, values = fields_of(block)
    try:
        number = validate_id_number(values["id_number"], card_type, today)
    except InvalidIdNumber as err:
        raise TextBlockError(f"ID number: {err}") from err
    birth = _check_date("birth date", values["birth_date"])
    if number.birth_date is not None and number.birth_date.strftime("%Y%m%d") != birth:
        raise TextBlockError("the birth date field does not match the ID number")
    valid_to = values["valid_to"]
    valid_to = "" if valid_to == LONG_TERM else _check_date("valid-to date", valid_to)
    name = values["name"] or _english_name(card_type, block)
    if not name:
        raise TextBlockError("the name field is empty")
    return IdentityCard(
        card_type=card_type,
        name=name[:60],
        id_number=number.value,
        gender=GENDERS.get(values["gender"], "unknown"),
        birth_date=birth,
        valid_to=valid_to,
    )


def build_text_block(card_type: CardType, values: dict[str, str]) -> bytes:
    """A text block as a reader returns it (for simulators and tests): ``values`` by field
    name, every other byte a space. Raises :class:`TextBlockError` for an unknown field or a
    value too long for its field."""
    layout = LAYOUTS[card_type]
    block = bytearray(" ".encode("utf-16-le") * (TEXT_SIZE // 2))
    for name, value in values.items():
        spot = layout.get(name)
        if spot is None:
            raise TextBlockError(f"no field {name!r} on a {card_type} card")
        encoded = value.encode("utf-16-le")
        if len(encoded) > spot.size:
            raise TextBlockError(f"field {name!r} holds {spot.size // 2} characters")
        block[spot.offset : spot.offset + len(encoded)] = encoded
    block[FLAG_OFFSET : FLAG_OFFSET + 2] = FLAGS[card_type].encode("utf-16-le")
    return bytes(block)


def _decode(raw: bytes) -> str:
    # UCS-2 has no surrogate pairs: a lone surrogate (a rare character some cards carry in a
    # private encoding) becomes U+FFFD rather than making the whole card unreadable.
    return raw.decode("utf-16-le", errors="replace").strip(_PAD)


def _english_name(card_type: CardType, block: bytes) -> str:
    layout = LAYOUTS[card_type]
    spots = [layout[k] for k in ("english_name", "english_name_2") if k in layout]
    # The 2023 card splits a long name over two fields, possibly at a space: join the raw
    # characters before stripping, then tidy the spaces.
    raw = b"".join(block[f.offset : f.offset + f.size] for f in spots)
    return " ".join(_decode(raw).split())


def _check_date(what: str, value: str) -> str:
    if not _DATE.match(value):
        raise TextBlockError(f"the {what} is not YYYYMMDD")
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as err:
        raise TextBlockError(f"the {what} is not a real date") from err
    return value
