"""The central broker's password and ACL files: who is in them, adding and removing a
kiosk, and the lock that lets one enrolment or revocation at a time edit them."""

from __future__ import annotations

import contextlib
import fcntl
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from string import Template

from kiosk.brokers import TEMPLATE_DIR, write_password_file
from kiosk.enroll.files import replace
from kiosk.enroll.targets import CentralBrokerFiles


@contextlib.contextmanager
def locked(broker: CentralBrokerFiles) -> Iterator[None]:
    """One enrolment or revocation at a time on these files (two admins, one hub)."""
    lock_path = broker.acl_file.parent / ".kiosk-enroll.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _passwd_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def passwd_users(path: Path) -> set[str]:
    return {line.split(":", 1)[0] for line in _passwd_lines(path)}


def _hashed_line(user: str, password: str) -> str:
    """``user:$7$…``, hashed by mosquitto_passwd (PBKDF2-SHA512), never on a command line."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "passwd"
        write_password_file(path, {user: password})
        return path.read_text(encoding="utf-8").strip()


def set_password(path: Path, user: str, password: str) -> None:
    line = _hashed_line(user, password)
    others = [entry for entry in _passwd_lines(path) if entry.split(":", 1)[0] != user]
    replace(path, "\n".join([*others, line]) + "\n")


def remove_password(path: Path, user: str) -> bool:
    lines = _passwd_lines(path)
    kept = [entry for entry in lines if entry.split(":", 1)[0] != user]
    if len(kept) == len(lines):
        return False
    replace(path, "\n".join(kept) + ("\n" if kept else ""))
    return True


_BEGIN = re.compile(r"^# BEGIN kiosk (\S+)\s*$")
_USER = re.compile(r"^user\s+(\S+)\s*$")


def acl_section(kiosk: str, centre: str) -> str:
    template = Template((TEMPLATE_DIR / "central-kiosk.acl.template").read_text("utf-8"))
    return template.substitute(kiosk=kiosk, centre=centre)


def acl_kiosks(text: str) -> dict[str, str | None]:
    """Kiosk id → centre (from its board line) of each marked kiosk section."""
    found: dict[str, str | None] = {}
    current: str | None = None
    for line in text.splitlines():
        begin = _BEGIN.match(line)
        if begin:
            current = begin.group(1)
            found[current] = None
        elif current is not None and line.startswith(f"# END kiosk {current}"):
            current = None
        elif current is not None:
            board = re.match(r"^topic read svc/v1/centre/(\S+)/board\s*$", line)
            if board:
                found[current] = board.group(1)
    return found


def acl_other_users(text: str) -> set[str]:
    """``user`` lines outside kiosk sections: the hub, the observer, anything an operator
    added. Never enrolled as kiosks."""
    users: set[str] = set()
    inside = False
    for line in text.splitlines():
        if _BEGIN.match(line):
            inside = True
        elif line.startswith("# END kiosk "):
            inside = False
        elif not inside and (user := _USER.match(line)):
            users.add(user.group(1))
    return users


def acl_without(text: str, kiosk: str) -> tuple[str, bool]:
    """``text`` without kiosk's marked section. A file written before the markers existed
    has a bare ``user <kiosk>`` block: that goes too, up to the next user or section."""
    out: list[str] = []
    removed = False
    skipping: str | None = None  # "marked" or "bare"
    for line in text.splitlines():
        if skipping == "marked":
            if line.startswith(f"# END kiosk {kiosk}"):
                skipping = None
            continue
        if skipping == "bare":
            if _USER.match(line) or _BEGIN.match(line):
                skipping = None
            else:
                continue
        begin = _BEGIN.match(line)
        if begin and begin.group(1) == kiosk:
            skipping, removed = "marked", True
            continue
        user = _USER.match(line)
        if user and user.group(1) == kiosk:
            skipping, removed = "bare", True
            if out and out[-1].startswith("# kiosk "):
                out.pop()  # its comment line from the old template
            continue
        out.append(line)
    return "\n".join(out).rstrip("\n") + "\n", removed
