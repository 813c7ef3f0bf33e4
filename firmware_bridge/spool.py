"""Print jobs on disk until they are on paper: nothing is lost to a power cut or paper out.

One JSON file per job, named by a sequence number so that a directory listing is the
arrival order, written to a temporary name, fsync'd and renamed, so a job is either whole
or absent. A file that cannot be read back is moved aside as ``.bad``, never retried.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from kiosk.protocol.messages import PrintJob, decode

SUFFIX = ".json"
BAD_SUFFIX = ".bad"
DIGITS = 12


class Spool:
    """The jobs not yet printed, oldest first. Safe to use from several threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._ids: dict[str, Path] = {}  # job id → its file, for duplicates of a delivery
        # Numbers continue after every job file, quarantined ones too, so none is reused.
        numbers = [int(p.stem) for p in directory.iterdir() if p.stem.isdigit()]
        self._next = max(numbers, default=0) + 1
        for path in self._paths():
            with contextlib.suppress(Exception):
                self._ids[self.load(path).id] = path

    def __len__(self) -> int:
        with self._lock:
            return len(self._paths())

    def add(self, job: PrintJob) -> Path:
        """Store ``job`` durably; returns its file. A job id already spooled is not added twice."""
        with self._lock:
            existing = self._ids.get(job.id)
            if existing is not None and existing.exists():
                return existing
            path = self.directory / f"{self._next:0{DIGITS}d}{SUFFIX}"
            self._next += 1
            temp = path.with_name(f".{path.name}.tmp")
            with temp.open("wb") as handle:
                handle.write(job.to_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            temp.replace(path)
            self._sync_directory()
            self._ids[job.id] = path
            return path

    def contains(self, job_id: str) -> bool:
        with self._lock:
            path = self._ids.get(job_id)
            return path is not None and path.exists()

    def oldest(self) -> Path | None:
        with self._lock:
            paths = self._paths()
            return paths[0] if paths else None

    def pending(self) -> list[Path]:
        with self._lock:
            return self._paths()

    @staticmethod
    def load(path: Path) -> PrintJob:
        """The job in ``path``; InvalidPayload or OSError if it cannot be read back."""
        return decode(PrintJob, path.read_bytes())

    def remove(self, path: Path) -> None:
        """The job is on paper: forget it (durably, so a restart does not print it again)."""
        with self._lock:
            path.unlink(missing_ok=True)
            self._sync_directory()
            self._forget(path)

    def quarantine(self, path: Path) -> Path:
        """Move an unreadable or unprintable job aside, kept for a person to look at."""
        with self._lock:
            bad = path.with_suffix(BAD_SUFFIX)
            path.replace(bad)
            self._sync_directory()
            self._forget(path)
            return bad

    def _forget(self, path: Path) -> None:
        for job_id in [i for i, p in self._ids.items() if p == path]:
            del self._ids[job_id]

    def _paths(self) -> list[Path]:
        return sorted(
            p for p in self.directory.glob(f"*{SUFFIX}") if p.stem.isdigit() and p.is_file()
        )

    def _sync_directory(self) -> None:
        # A rename or unlink is durable only once the directory itself is on disk.
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
