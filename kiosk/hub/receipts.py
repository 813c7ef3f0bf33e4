"""Receipts the printer simulators stored, for the console to show (demo and test sites).

A simulator keeps every job as ``<receipts_dir>/<kiosk>/<n>.png`` (and ``.txt``, ``.bin``),
so anyone running the demo can see what a kiosk would have printed. On a real site there
are no such files and the console shows nothing.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.protocol.topics import TopicError, check_id

LATEST = 6  # receipts shown per kiosk


def latest(root: Path | None, kiosk: str, count: int = LATEST) -> list[int]:
    """Numbers of the newest receipts with a picture, newest first."""
    folder = _folder(root, kiosk)
    if folder is None:
        return []
    numbers = [int(p.stem) for p in folder.glob("*.png") if p.stem.isdigit()]
    return sorted(numbers, reverse=True)[:count]


def picture(root: Path | None, kiosk: str, number: int) -> Path | None:
    """The PNG of receipt ``number`` of ``kiosk``, or None. Never a path outside ``root``."""
    folder = _folder(root, kiosk)
    path = folder / f"{number}.png" if folder is not None and number > 0 else None
    return path if path is not None and path.is_file() else None


def _folder(root: Path | None, kiosk: str) -> Path | None:
    if root is None:
        return None
    try:
        check_id(kiosk, "kiosk")  # a topic-safe id has no "/" or "..": the path stays inside
    except TopicError:
        return None
    folder = root / kiosk
    return folder if folder.is_dir() else None
