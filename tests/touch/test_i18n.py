"""The message catalogues: every visible string translated, none fuzzy, .mo files current,
and pages in one language show no text of another."""

from __future__ import annotations

import gettext
import html
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from kiosk.touch import i18n

TOUCH = Path(i18n.__file__).resolve().parent
CATALOGUES = sorted(i18n.TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
SCREENS = ["/welcome", "/identify", "/identify/card", "/identify/phone", "/find", "/help", "/nope"]
HAN = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The msgids in the code and templates today, extracted as docs/touch.md says."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(TOUCH / "babel.cfg"), "--no-location",
         "-o", str(pot), str(TOUCH)]
    )  # fmt: skip
    with pot.open("rb") as f:
        return {_key(m.id) for m in read_po(f) if m.id}


def _key(msgid: str | tuple[str, ...]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _translated(string: str | tuple[str, ...]) -> bool:
    return all(string) if isinstance(string, tuple) else bool(string)


def test_there_is_a_catalogue_for_each_language_but_english() -> None:
    folders = {path.parents[1].name for path in CATALOGUES}
    assert folders == set(i18n.LANGUAGES) - {"en"}, "English is the msgids themselves"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parents[1].name)
def test_every_msgid_is_translated_and_none_is_fuzzy_or_stale(po: Path, template: set[str]) -> None:
    with po.open("rb") as f:
        catalogue = read_po(f)
    entries = {_key(m.id): m for m in catalogue if m.id}
    missing = template - set(entries)
    assert not missing, f"not in {po}: {sorted(missing)} (run pybabel update, see docs/touch.md)"
    stale = set(entries) - template
    assert not stale, f"no longer used, remove from {po}: {sorted(stale)}"
    untranslated = [key for key, m in entries.items() if not _translated(m.string)]
    assert not untranslated, f"untranslated in {po}: {untranslated}"
    fuzzy = [key for key, m in entries.items() if m.fuzzy]
    assert not fuzzy, f"fuzzy in {po}: {fuzzy}"
    assert not catalogue.obsolete, f"obsolete entries in {po}: {list(catalogue.obsolete)}"


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parents[1].name)
def test_the_compiled_catalogue_is_up_to_date(po: Path) -> None:
    with po.open("rb") as f:
        expected = {_key(m.id): m.string for m in read_po(f) if m.id}
    with po.with_suffix(".mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    for msgid, string in expected.items():
        if isinstance(string, str):
            got, want = compiled.gettext(msgid), string
        else:
            got, want = compiled.ngettext(msgid, msgid, 1), string[0]
        assert got == want, f"{po.with_suffix('.mo')} is stale: run pybabel compile (docs/touch.md)"


def _visible(page: str) -> str:
    """The text a person reads, without what is data (service names, language names)."""
    page = re.sub(r"<(script|style|head)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<(\w+)\b[^>]*\blang="zh-Han[st]"[^>]*>.*?</\1>', " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _in(client: FlaskClient, code: str, path: str) -> str:
    client.post("/language", data={"lang": code, "next": "/"})
    return _visible(client.get(path).get_data(as_text=True))


@pytest.mark.parametrize("path", SCREENS)
def test_an_english_screen_has_no_chinese_left(bare: FlaskClient, path: str) -> None:
    text = _in(bare, "en", path)
    assert not HAN.search(text), text


@pytest.mark.parametrize("path", SCREENS)
def test_a_chinese_screen_has_no_english_left(bare: FlaskClient, path: str) -> None:
    for code in ("zh_Hans", "zh_Hant"):
        words = set(re.findall(r"[A-Za-z]{2,}", _in(bare, code, path))) - {"English"}
        assert not words, (code, path, words)
