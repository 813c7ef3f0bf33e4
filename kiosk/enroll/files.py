"""Writing the files enrolment makes: private (0600) files, and atomic replacement that
keeps a file's owner and mode."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, keeping its owner and mode: Mosquitto rereads
    the file as its own user after SIGHUP, so a root-owned 0600 copy would lock it out."""
    before = path.stat() if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if before is not None:
            os.chmod(tmp, before.st_mode & 0o777)
            if os.geteuid() == 0:
                os.chown(tmp, before.st_uid, before.st_gid)
        else:
            os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
