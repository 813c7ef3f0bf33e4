"""The ``params`` of a ``config`` command: service display names and texts for the screens.

One model for both sides: the hub checks a configuration before it sends one (the
console's form and the API) and the kiosk checks what arrives (``kiosk.touch.commands``),
so both refuse the same things with the same words.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

TextKey = Literal["welcome", "notice"]
TEXT_KEYS: tuple[TextKey, ...] = get_args(TextKey)
MAX_SERVICES = 50
MAX_NAME = 20  # characters of a button's name; longer ones do not fit the start screen
MAX_TEXT = 120
MAX_PROBLEM = 200  # a CommandResult's detail holds at most that
SERVICE_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


# Control characters, the Unicode line and paragraph separators, and the bidirectional
# controls (a right-to-left override turns a name around on screen).
_REFUSED_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (a line break too), as ``U+000A``; None if
    there is none. The screens show one line: a break, a terminal escape or a bidi
    override has no place."""
    for char in text:
        if unicodedata.category(char) in _REFUSED_CATEGORIES or char in _BIDI_CONTROLS:
            return f"U+{ord(char):04X}"
    return None


class ConfigParams(BaseModel):
    """What a ``config`` command may set. Anything else is refused, with the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    services: dict[str, str] = Field(
        default_factory=dict, description="service code → the name its button shows"
    )
    texts: dict[TextKey, str] = Field(default_factory=dict)

    @field_validator("services")
    @classmethod
    def _services(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_SERVICES:
            raise ValueError(f"at most {MAX_SERVICES} services")
        for code, name in value.items():
            if not SERVICE_CODE.match(code):
                raise ValueError(f"service code {code!r} must be 1-32 of a-z 0-9 _ -")
            if not 1 <= len(name.strip()) <= MAX_NAME:
                raise ValueError(f"the name of {code!r} must be 1-{MAX_NAME} characters")
            if (char := control_character(name)) is not None:
                raise ValueError(f"the name of {code!r} contains the control character {char}")
        return {code: name.strip() for code, name in value.items()}

    @field_validator("texts")
    @classmethod
    def _texts(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if len(text) > MAX_TEXT:
                raise ValueError(f"text {key!r} must be at most {MAX_TEXT} characters")
            if (char := control_character(text)) is not None:
                raise ValueError(f"text {key!r} contains the control character {char}")
        return {key: text.strip() for key, text in value.items()}


def config_problem(params: dict[str, Any]) -> str | None:
    """Why ``params`` is no valid configuration, in one line; None if it is."""
    try:
        ConfigParams.model_validate(params)
    except ValidationError as err:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(params)'}: {_message(e)}"
            for e in err.errors()
        )[:MAX_PROBLEM]
    return None


def _message(error: ErrorDetails) -> str:
    # Our own checks read better without pydantic's "Value error, " in front.
    cause = error.get("ctx", {}).get("error")
    return str(cause) if error["type"] == "value_error" and cause is not None else error["msg"]
