"""Chinese text for ESC/POS printers in Kanji (Chinese) mode, one character at a time.

We do not use python-escpos's ``MagicEncode``: it sends a string as GB18030 only when it
holds a hanzi of U+4E00-9FA5, so punctuation or full-width letters alone print as ``?``,
``¥`` goes out as a 4-byte sequence that GBK printers print as junk, and rare characters
outside that range never reach the Chinese path (python-escpos #678, node-escpos #332).
"""

from __future__ import annotations

from typing import Literal

Encoding = Literal["gb18030", "gbk", "gb2312"]

ENCODINGS: tuple[Encoding, ...] = ("gb18030", "gbk", "gb2312")

FALLBACK = "?"

# Always sent in this form: the half-width yen sign is 4 bytes in GB18030 (81 30 84 36) and
# absent from GBK/GB2312, while every Chinese printer font has the full-width one (A3 A4).
_PREFERRED = {"\u00a5": "\uffe5", "\u00a0": " ", "\t": " ", "\n": " ", "\r": " "}

# Tried when the encoding lacks a character: Python's GB2312 codec maps A1 A4 to U+30FB
# and A1 AA to U+2015, while Chinese text uses U+00B7 (middle dot) and U+2014 (dash).
_ALTERNATIVES = {
    "\u00b7": "\u30fb",
    "\u30fb": "\u00b7",
    "\u2014": "\u2015",
    "\u2015": "\u2014",
    "\u301c": "\uff5e",
}


def encode_text(text: str, encoding: Encoding) -> bytes:
    """``text`` as the bytes a printer in Chinese mode prints, in ``encoding``.

    Control characters never pass through (they would be ESC/POS commands); a character the
    encoding lacks becomes ``?``. TODO: rare name characters (生僻字) that a printer's font
    lacks should be printed as small raster images instead of ``?``.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"unsupported printer encoding {encoding!r}; use one of {ENCODINGS}")
    if _is_plain(text):
        try:
            return text.encode(encoding)
        except UnicodeEncodeError:
            pass  # some character needs an alternative or the fallback
    return b"".join(_encode_char(char, encoding) for char in text)


def _is_plain(text: str) -> bool:
    """True if no character needs special treatment before encoding (the common case)."""
    return not any(char in _PREFERRED or _is_control(char) for char in text)


def _is_control(char: str) -> bool:
    code = ord(char)
    return code < 0x20 or 0x7F <= code < 0xA0


def _encode_char(char: str, encoding: Encoding) -> bytes:
    char = _PREFERRED.get(char, char)
    if _is_control(char):
        return FALLBACK.encode()
    for candidate in (char, _ALTERNATIVES.get(char)):
        if candidate is None:
            continue
        try:
            return candidate.encode(encoding)
        except UnicodeEncodeError:
            continue
    return FALLBACK.encode()
