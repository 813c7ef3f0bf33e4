"""Languages of the touch screens: Simplified Chinese first, Traditional Chinese, English.

Texts are English msgids in the code and templates, translated through Flask-Babel's
message catalogues in ``kiosk/touch/translations/{zh_Hans,zh_Hant}/LC_MESSAGES/``. English
needs no catalogue: the msgids are the English text. ``docs/touch.md`` says how to extract,
update and compile them; tests fail when a msgid lacks a translation or a ``.mo`` is stale.

The choice is kept in the (signed cookie) session; the idle reset goes back to the default.
Flask-Babel ships no type information: this module is the typed face of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import flask_babel  # type: ignore[import-untyped]
from flask import Flask, session

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DOMAIN = "messages"
SESSION_KEY = "lang"


@dataclass(frozen=True, slots=True)
class Language:
    code: str  # Babel's locale name and the catalogue's folder
    tag: str  # BCP 47, for <html lang> (fonts and screen readers pick by it)
    name: str  # in its own script, so that a reader of it recognises it


LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in (
        Language("zh_Hans", "zh-Hans", "简体"),
        Language("zh_Hant", "zh-Hant", "繁體"),
        Language("en", "en", "English"),
    )
}
DEFAULT = "zh_Hans"


def init(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    flask_babel.Babel(app, locale_selector=current_code)


def current_code() -> str:
    """The session's language, or the default."""
    code = session.get(SESSION_KEY)
    return code if isinstance(code, str) and code in LANGUAGES else DEFAULT


def current() -> Language:
    return LANGUAGES[current_code()]


def choose(code: str) -> bool:
    """Keep ``code`` for this browser's session; False when it is not one of ours."""
    if code not in LANGUAGES:
        return False
    session[SESSION_KEY] = code
    return True


def gettext(message: str, **variables: object) -> str:
    return cast(str, flask_babel.gettext(message, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    return cast(str, flask_babel.ngettext(singular, plural, num, **variables))


def N_(message: str) -> str:
    """Mark a msgid for extraction where it is defined; translate it where it is shown."""
    return message


@contextmanager
def in_language(code: str) -> Iterator[None]:
    """Translate in ``code`` for a while, whatever the session says (API messages)."""
    with flask_babel.force_locale(code):
        yield
