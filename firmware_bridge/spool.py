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
PRINTED_LOG = "printed.ids"  # ids of jobs on paper, newest last: a redelivery is not reprinted
PRINTED_KEPT = 1000  # ids remembered; the log is rewritten to this many when it doubles


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
        self._printed_log = directory / PRINTED_LOG
        self._printed = self._read_printed()

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

    def printed(self, job_id: str) -> bool:
        """True if a job with this id went on paper (in this run or one before)."""
        with self._lock:
            return job_id in self._printed

    def done(self, path: Path, job_id: str) -> None:
        """The job is on paper: note its id durably first, then forget the job. A crash in
        between leaves a job whose id is noted: :meth:`printed` says so, and it is dropped
        instead of printed twice."""
        with self._lock:
            with self._printed_log.open("a", encoding="ascii") as log:
                log.write(job_id + "\n")
                log.flush()
                os.fsync(log.fileno())
            self._printed[job_id] = None
            if len(self._printed) > 2 * PRINTED_KEPT:
                self._compact_printed()
            # No directory sync for this unlink: if a power cut undoes it, the job's id is
            # noted already, and the job is dropped unprinted (one fsync a job, not two).
            path.unlink(missing_ok=True)
            self._forget(path)

    def _read_printed(self) -> dict[str, None]:
        try:
            lines = self._printed_log.read_text(encoding="ascii", errors="replace").split()
        except FileNotFoundError:
            return {}
        return dict.fromkeys(lines[-PRINTED_KEPT:])

    def _compact_printed(self) -> None:
        keep = list(self._printed)[-PRINTED_KEPT:]
        temp = self._printed_log.with_name(f".{PRINTED_LOG}.tmp")
        with temp.open("w", encoding="ascii") as handle:
            handle.write("".join(f"{job_id}\n" for job_id in keep))
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(self._printed_log)
        self._printed = dict.fromkeys(keep)

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
