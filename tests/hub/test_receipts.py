"""Receipt pictures for the console: newest first, never a file outside the folder."""

from __future__ import annotations

from pathlib import Path

from kiosk.hub import receipts


def _store(root: Path, kiosk: str, *numbers: int) -> None:
    folder = root / kiosk
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / f"{n}.png").write_bytes(b"\x89PNG")
    (folder / "jobs.jsonl").write_text("{}\n")


def test_latest_are_newest_first_and_limited(tmp_path: Path) -> None:
    _store(tmp_path, "k1", *range(1, 12))
    assert receipts.latest(tmp_path, "k1", count=3) == [11, 10, 9]
    assert receipts.latest(tmp_path, "k2") == []
    assert receipts.latest(None, "k1") == []


def test_picture_stays_inside_the_receipts_folder(tmp_path: Path) -> None:
    _store(tmp_path / "receipts", "k1", 1)
    (tmp_path / "secret.png").write_bytes(b"not yours")
    root = tmp_path / "receipts"
    assert receipts.picture(root, "k1", 1) == root / "k1" / "1.png"
    assert receipts.picture(root, "k1", 2) is None
    assert receipts.picture(root, "k1", 0) is None
    assert receipts.picture(root, "..", 1) is None
    assert receipts.picture(root, "k1/..", 1) is None
