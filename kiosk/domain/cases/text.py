"""Input rules for what people type: titles, descriptions, reasons, replies, comments.

Cleaning is conservative. It removes what no one means to type (control characters,
invisible direction overrides, lone surrogates), tidies whitespace, and keeps everything
else as it is: emoji (with their joiners and variation selectors), rare characters
(CJK extensions, private-use characters that old input methods use for 生僻字), and
markup. ``<script>`` stays ``<script>``: escaping is the templates' job, at output,
so the text is shown exactly as typed everywhere.

Lengths count code points after cleaning; an emoji family counts as several. Too long
is refused with a clear error rather than cut, so the kiosk can show a counter.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

TextField = Literal["title", "description", "reason", "reply", "note", "comment", "summary"]

Problem = Literal["empty", "too_short", "too_long"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Allowed length in code points; ``multiline`` keeps line breaks."""

    min_len: int
    max_len: int
    multiline: bool


LIMITS: dict[TextField, Limits] = {
    "title": Limits(2, 60, multiline=False),
    "description": Limits(0, 2000, multiline=True),
    "reason": Limits(2, 500, multiline=True),
    "reply": Limits(2, 2000, multiline=True),
    "note": Limits(1, 2000, multiline=True),
    "comment": Limits(0, 500, multiline=True),
    "summary": Limits(2, 60, multiline=False),  # the staff-written line on the public board
}


class InvalidText(ValueError):
    """Text outside its field's rules; ``field`` and ``problem`` let a UI say it in its words."""

    def __init__(self, field: TextField, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem


# Format characters that are needed: joiners inside emoji and Indic/Arabic script.
_KEEP_FORMAT = frozenset({"\u200c", "\u200d"})
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_RUN = re.compile(r"\n{3,}")


def _keep(char: str) -> bool:
    category = unicodedata.category(char)
    if category == "Cc":
        return char in "\n\t"
    if category == "Cf":
        return char in _KEEP_FORMAT
    # Cs: lone surrogates (from JSON escapes) cannot be stored as UTF-8.
    # Zl/Zp: line and paragraph separators, treated as control characters.
    return category not in ("Cs", "Zl", "Zp")


def clean(value: str, *, multiline: bool) -> str:
    """Strip invisible junk, tidy whitespace, keep everything a person meant.

    Line breaks become ``\\n``; a one-line field turns them into spaces. Runs of spaces
    (including the full-width 　) shrink to one, lines lose trailing spaces, and at most
    one blank line separates paragraphs.
    """
    text = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(char for char in text if _keep(char))
    if not multiline:
        text = text.replace("\n", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


def validate(field: TextField, value: str) -> str:
    """The cleaned text, or :class:`InvalidText` saying which rule it broke."""
    limits = LIMITS[field]
    text = clean(value, multiline=limits.multiline)
    if limits.min_len and not text:
        raise InvalidText(field, "empty", f"the {field} is empty")
    if len(text) < limits.min_len:
        raise InvalidText(
            field, "too_short", f"the {field} needs at least {limits.min_len} characters"
        )
    if len(text) > limits.max_len:
        raise InvalidText(
            field,
            "too_long",
            f"the {field} has {len(text)} characters; at most {limits.max_len} fit",
        )
    return text


def validate_optional(field: TextField, value: str | None) -> str | None:
    """Like :func:`validate`, but nothing (or only whitespace) is allowed and gives None."""
    if value is None or not clean(value, multiline=True):
        return None
    return validate(field, value)
