"""Tracking codes: ``MQ-2026-0042-Q``, the resident's only handle on a case.

Layout: channel prefix (``MQ`` 民情 for the suggestion box, ``TA`` 提案 for party-member
proposals), year, sequence (4 digits at least, up to 6), check letter.

The check letter is a weighted sum modulo 23 over the channel digit, the year and the
sequence, written with 23 letters that exclude ``I``, ``O`` (read as 1 and 0) and ``Z``
(read as 2). Why it catches what it must:

- every payload character is a digit 0-9, so two different digits differ by 1-9, which is
  never 0 modulo the prime 23, and every weight is non-zero modulo 23: a single
  substitution always changes the sum;
- neighbouring weights differ (``w = 2**i mod 23``; 2 has order 11 and payloads are at most
  11 digits), so swapping two different neighbouring digits changes the sum by
  ``(w_i - w_j)(a - b)``, again never 0 modulo 23;
- the check is a letter and the payload is digits: swapping the last digit with the
  check letter, or changing the letter into a digit, breaks the layout;
- changing one prefix letter gives no valid prefix (``MQ`` and ``TA`` share no letter).

Parsing forgives what people do when typing from a slip: lower case, spaces, missing or
full-width dashes, and the letters ``O``/``I``/``L`` typed for the digits 0 and 1 (such a
"typo" reads as the code that was meant, never as another one). Separators are all there
(four groups) or all missing: a dash typed as a digit would otherwise act as an inserted
digit, which a check character cannot always catch.

The slip also carries a rating PIN (评价码, :func:`rating_pin`): codes are sequential and
the check letter is public, so a code alone proves nothing; the PIN is what lets the slip's
holder rate the case. The slip's QR holds ``MQ-2026-0042-K#123456`` (:func:`slip_qr`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

from kiosk.domain.cases.model import CHANNELS, Channel

CHECK_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXY"  # 23 letters: no I, O, Z
_MODULUS = len(CHECK_ALPHABET)

PREFIXES: dict[Channel, str] = {"box": "MQ", "proposal": "TA"}
_CHANNEL_OF = {prefix: channel for channel, prefix in PREFIXES.items()}
_CHANNEL_DIGIT: dict[Channel, int] = {"box": 1, "proposal": 2}

MIN_YEAR, MAX_YEAR = 2000, 2999
MAX_SEQ = 999_999

_LAYOUT = re.compile(r"^([A-Z]{2})(\d{4})(\d{4,6})([A-Z])$")
_DIGIT_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-_.·/\u2010-\u2015\u2212]+")


class InvalidTrackingCode(ValueError):
    """Not a tracking code: mistyped, misread or made up. The message says what is wrong."""


@dataclass(frozen=True, slots=True)
class TrackingCode:
    """A parsed code; ``str()`` gives the canonical form ``MQ-2026-0042-Q``."""

    channel: Channel
    year: int
    seq: int

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise InvalidTrackingCode(f"unknown channel {self.channel!r}")
        if not MIN_YEAR <= self.year <= MAX_YEAR:
            raise InvalidTrackingCode(f"year must be {MIN_YEAR}-{MAX_YEAR}, got {self.year}")
        if not 1 <= self.seq <= MAX_SEQ:
            raise InvalidTrackingCode(f"sequence must be 1-{MAX_SEQ}, got {self.seq}")

    @property
    def check(self) -> str:
        return check_letter(self.channel, self.year, self.seq)

    def __str__(self) -> str:
        return f"{PREFIXES[self.channel]}-{self.year}-{self.seq:04d}-{self.check}"


def _payload(channel: Channel, year: int, seq: int) -> str:
    return f"{_CHANNEL_DIGIT[channel]}{year}{seq:04d}"


def check_letter(channel: Channel, year: int, seq: int) -> str:
    """The check letter of a code (see the module docstring for why it works)."""
    payload = _payload(channel, year, seq)
    total = sum(int(digit) * pow(2, i, _MODULUS) for i, digit in enumerate(payload))
    return CHECK_ALPHABET[total % _MODULUS]


def make_code(channel: Channel, year: int, seq: int) -> str:
    """The canonical code text, e.g. ``make_code("box", 2026, 42) == "MQ-2026-0042-Q"``."""
    return str(TrackingCode(channel, year, seq))


def parse_code(text: str) -> TrackingCode:
    """Read a typed or scanned code; raise :class:`InvalidTrackingCode` on any typo."""
    parts = [
        part for part in _SEPARATORS.split(unicodedata.normalize("NFKC", text).upper()) if part
    ]
    # Four groups or none: a separator turned into a digit would otherwise shift the digits.
    if len(parts) not in (1, 4) or (
        len(parts) == 4 and (len(parts[0]), len(parts[1]), len(parts[3])) != (2, 4, 1)
    ):
        raise InvalidTrackingCode("a tracking code looks like MQ-2026-0042-Q")
    compact = "".join(parts)
    if len(compact) < 4:
        raise InvalidTrackingCode("a tracking code looks like MQ-2026-0042-Q")
    # Only the digit positions may hold look-alike letters; the prefix and check may not.
    middle = compact[2:-1].translate(_DIGIT_LOOKALIKES)
    match = _LAYOUT.match(compact[:2] + middle + compact[-1])
    if match is None:
        raise InvalidTrackingCode("a tracking code looks like MQ-2026-0042-Q")
    prefix, year, seq, check = match.groups()
    if prefix not in _CHANNEL_OF:
        raise InvalidTrackingCode(f"a tracking code starts with {' or '.join(_CHANNEL_OF)}")
    if len(seq) > 4 and seq.startswith("0"):
        raise InvalidTrackingCode("the number part has a digit too many")
    code = TrackingCode(_CHANNEL_OF[prefix], int(year), int(seq))
    if code.check != check:
        raise InvalidTrackingCode(
            "the check letter does not match: a character was mistyped or two were swapped"
        )
    return code


# --- the rating PIN (评价码) ------------------------------------------------------------------

PIN_DIGITS = 6
PIN_SEPARATOR = "#"  # the slip's QR: ``MQ-2026-0042-K#123456``
_PIN = re.compile(r"[0-9]{6}")  # ASCII digits only (fullmatch)


def rating_pin(secret: bytes, code: str) -> str:
    """The 6-digit rating PIN (评价码) printed on the slip of ``code``: who holds the slip
    may rate the case, someone walking the (sequential, checkable) codes may not.

    ``HMAC-SHA256(secret, "rate:" + canonical code)``; its first 8 bytes read as a
    big-endian number, modulo 10^6, written with 6 digits (leading zeros kept). ``secret``
    is the deployment secret (the one of ``kiosk.domain.identity.person_key``), so the
    kiosk that prints the slip (offline too) and the hub that checks the PIN agree without
    talking. The ``rate:`` prefix keeps it apart from person keys. Compare a typed PIN
    with :func:`hmac.compare_digest`. Raises :class:`InvalidTrackingCode` for a non-code
    and ``ValueError`` for a secret shorter than 16 bytes.
    """
    if len(secret) < 16:
        raise ValueError("the deployment secret must be at least 16 bytes")
    canonical = str(parse_code(code))
    digest = hmac.new(secret, f"rate:{canonical}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**PIN_DIGITS:0{PIN_DIGITS}d}"


def pin_matches(secret: bytes, code: str, pin: str) -> bool:
    """Is ``pin`` the rating PIN of ``code``? In constant time; a malformed PIN is False."""
    if not _PIN.fullmatch(pin):
        return False
    return hmac.compare_digest(rating_pin(secret, code), pin)


def slip_qr(code: str, pin: str | None) -> str:
    """What the slip's QR holds: the code, and ``#`` and the PIN when there is one."""
    return f"{code}{PIN_SEPARATOR}{pin}" if pin else code


def split_scanned(text: str) -> tuple[str, str | None]:
    """A typed or scanned 查进度 entry as (code text, PIN or None): ``…-K#123456`` is a
    slip's QR. The code part is not checked here (:func:`parse_code` does that); a PIN
    part that is not 6 digits raises :class:`InvalidTrackingCode`."""
    normal = unicodedata.normalize("NFKC", text)
    if PIN_SEPARATOR not in normal:
        return text, None
    code, _, pin = normal.rpartition(PIN_SEPARATOR)
    pin = pin.strip()
    if not _PIN.fullmatch(pin):
        raise InvalidTrackingCode("the rating code after # has 6 digits")
    return code, pin
