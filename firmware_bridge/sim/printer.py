"""A receipt printer on a pty: it reads ESC/POS, answers status queries, and saves each job.

The bridge opens the pty's slave like a real serial port (through a stable symlink, as udev
gives the real printer ``/dev/kiosk-printer``). Every job lands in the receipts folder as
``<n>.bin`` (the bytes), ``<n>.txt`` (the text, UTF-8), ``<n>.png`` (what the paper would
look like) and one line of ``jobs.jsonl`` with the arrival times of its first and last
byte, which the ticket benchmark reads.

Faults on demand: set :attr:`PrinterSimulator.paper`, ``silent``, ``offline`` or
``cover_open``, or call ``unplug()`` / ``replug()`` / ``inject_garbage()``; from the command
line, the control socket (``--control``, default: the link with the suffix ``.ctl``) takes
the actions of :mod:`firmware_bridge.sim.control`, ``SIGUSR1`` cycles the paper (ok →
near_end → out) and ``SIGUSR2`` toggles silence.
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal, get_args

from firmware_bridge.printer.escpos import PAPER_DOTS
from firmware_bridge.sim.ctl import SimControlError, serve, then
from firmware_bridge.sim.escpos_stream import Command, Tokenizer
from firmware_bridge.sim.paper import Page, page_png, page_text
from firmware_bridge.sim.pty import PtyDevice

_LOGGER = logging.getLogger(__name__)

PaperState = Literal["ok", "near_end", "out"]
PAPER_STATES: tuple[PaperState, ...] = get_args(PaperState)

IDLE_GAP = 1.0  # seconds of silence after which pending bytes are taken as a whole job
JOURNAL = "jobs.jsonl"
RENDER_AFTER_QUIET = 0.05  # seconds without bytes before a received job is drawn
RENDER_MAX_DEFER = 2.0  # … but under a steady stream, draw it after this long anyway
# What a printer's serial line says when it is being plugged in or has a loose contact:
# no valid status byte (bit 4 set, bits 0 and 7 clear) among it.
GARBAGE = b"\xff\x00\xaa\x81\xff"


def status_reply(
    kind: int, *, paper: PaperState, offline: bool = False, cover_open: bool = False
) -> int | None:
    """The byte a printer answers to ``DLE EOT kind`` (Epson bit layout), None if no such query.

    Paper out and an open cover take the printer offline, as on real heads.
    """
    stopped = offline or cover_open or paper == "out"
    if kind == 1:
        return 0x12 | (0x08 if stopped else 0)
    if kind == 2:
        return 0x12 | (0x04 if cover_open else 0) | (0x20 if paper == "out" else 0)
    if kind == 3:
        return 0x12
    if kind == 4:
        return 0x12 | {"ok": 0x00, "near_end": 0x0C, "out": 0x60}[paper]
    return None


@dataclass(slots=True)
class _Job:
    first_byte_at: float
    last_byte_at: float
    raw: bytearray = field(default_factory=bytearray)
    commands: list[Command] = field(default_factory=list)


class PrinterSimulator(PtyDevice):
    """A pty that behaves like an ESC/POS receipt printer. Use as a context manager."""

    kind = "printer"

    def __init__(
        self,
        link: Path,
        receipts_dir: Path,
        *,
        baud: int | None = None,
        paper_width_mm: Literal[58, 80] = 80,
        idle_gap: float = IDLE_GAP,
        encoding: str = "gb18030",
    ) -> None:
        # A pty ignores the baud rate: when set, receiving sleeps the wire time.
        super().__init__(link, baud=baud)
        self.receipts_dir = receipts_dir
        self.dots = PAPER_DOTS[paper_width_mm]
        self.idle_gap = idle_gap
        self.encoding = encoding
        # Fault state, read by the reader thread at each status query.
        self.paper: PaperState = "ok"
        self.silent = False
        self.offline = False
        self.cover_open = False
        self.garbage_bytes = 0  # bytes that were no command at all
        self.status_queries = 0
        self._tokenizer = Tokenizer()
        self._job: _Job | None = None
        self._job_lock = threading.Lock()  # the reader thread and unplug() both end jobs
        self._last_read = 0.0  # time.monotonic() of the latest bytes
        self._finished: queue.Queue[_Job | None] = queue.Queue()
        self._saved = threading.Condition()
        self._next_number = 1
        self._writer: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Create the pty and the link, and start reading. The link exists on return."""
        self.receipts_dir.mkdir(parents=True, exist_ok=True)
        self._next_number = _first_free_number(self.receipts_dir)
        self._writer = threading.Thread(target=self._write_loop, name="printer-sim-save")
        self._writer.daemon = True
        self._writer.start()
        super().start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop reading, save what was received so far, remove the link."""
        if self._writer is None:
            return
        super().stop(timeout)
        self._finished.put(None)
        self._writer.join(timeout)
        self._writer = None

    def _before_unplug(self) -> None:
        self._end_of_input()  # what arrived before the cable was pulled is on paper

    # --- faults -------------------------------------------------------------------------

    def inject_garbage(self, data: bytes = GARBAGE) -> None:
        """Noise on the line, unasked."""
        self.send(data)

    def control(self, action: str, arg: str | None) -> str:
        """One control action (see :mod:`firmware_bridge.sim.control`); the text to show."""
        handlers: dict[str, Callable[[str | None], str]] = {
            "paper-out": lambda _arg: self._set(paper="out"),
            "paper-low": lambda _arg: self._set(paper="near_end"),
            "paper-ok": lambda _arg: self._set(paper="ok"),
            "cover-open": lambda _arg: self._set(cover_open=True),
            "cover-close": lambda _arg: self._set(cover_open=False),
            "unplug": then(self.unplug, "printer unplugged"),
            "replug": then(self.replug, "printer plugged in"),
            "garbage": then(self.inject_garbage, f"{len(GARBAGE)} bytes of garbage"),
            "status": lambda _arg: self.describe(),
        }
        handler = handlers.get(action)
        if handler is None:
            raise SimControlError(f"the printer simulator does not know {action!r}")
        return handler(arg)

    def _set(self, *, paper: PaperState | None = None, cover_open: bool | None = None) -> str:
        if paper is not None:
            self.paper = paper
        if cover_open is not None:
            self.cover_open = cover_open
        return self.describe()

    def describe(self) -> str:
        plugged = "plugged in" if self.plugged else "unplugged"
        cover = "open" if self.cover_open else "closed"
        return f"printer: {plugged}, paper {self.paper}, cover {cover}, {len(self.jobs())} jobs"

    # --- reading the saved jobs ---------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        """Every job in the receipts folder's journal, oldest first."""
        return read_jobs(self.receipts_dir)

    def wait_for_jobs(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """The journal once it holds at least ``count`` jobs; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._saved:
            while len(jobs := self.jobs()) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(jobs)} of {count} jobs saved after {timeout:g} s")
                self._saved.wait(min(remaining, 0.2))
        return jobs

    # --- the reader thread --------------------------------------------------------------

    def _idle_timeout(self) -> float | None:
        if self._job is None and not self._tokenizer.pending:
            return None
        return max(0.0, self._last_read + self.idle_gap - time.monotonic())

    def _receive(self, data: bytes) -> None:
        started = time.time()
        if self.baud:
            time.sleep(len(data) * 10 / self.baud)
        arrived = time.time()
        self._last_read = time.monotonic()
        with self._job_lock:
            for command in self._tokenizer.feed(data):
                self._handle(command, started, arrived)

    def _on_idle(self) -> None:
        if time.monotonic() - self._last_read >= self.idle_gap:
            self._end_of_input()

    def _end_of_input(self) -> None:
        now = time.time()
        with self._job_lock:
            for command in self._tokenizer.flush():
                self._handle(command, now, now)
            self._finish_job()

    def _handle(self, command: Command, started: float, arrived: float) -> None:
        if command.name == "status":
            self._answer(command.arg)
            return  # a status query is not part of any job
        if command.name == "init" and self._job is not None:
            self._finish_job()  # ESC @ after data starts the next job
        if command.name == "garbage":
            self.garbage_bytes += len(command.raw)
        if self._job is None:
            self._job = _Job(first_byte_at=started, last_byte_at=arrived)
        self._job.raw += command.raw
        self._job.commands.append(command)
        self._job.last_byte_at = arrived
        if command.name == "cut":
            self._finish_job()

    def _answer(self, kind: int) -> None:
        self.status_queries += 1
        if self.silent:
            return
        reply = status_reply(
            kind, paper=self.paper, offline=self.offline, cover_open=self.cover_open
        )
        if reply is not None:
            self.send(bytes([reply]))

    def _finish_job(self) -> None:
        if self._job is not None:
            self._finished.put(self._job)
            self._job = None

    # --- the writer thread: rendering is slow, so it never delays reading ---------------

    def _write_loop(self) -> None:
        while (job := self._finished.get()) is not None:
            self._wait_for_a_quiet_line()
            try:
                self._save(job)
            except Exception:
                _LOGGER.exception("printer simulator: cannot save a job")

    def _wait_for_a_quiet_line(self) -> None:
        """Render between bursts of bytes, not during them.

        Drawing a receipt holds the GIL for milliseconds at a time; done while bytes arrive,
        it delayed this process's reader thread (its timestamps and its answers to status
        queries) and so the latency the benchmark measured: p95 33-121 ms instead of ~20 ms.
        """
        deadline = time.monotonic() + RENDER_MAX_DEFER
        while time.monotonic() < deadline:
            quiet_for = time.monotonic() - self._last_read
            if quiet_for >= RENDER_AFTER_QUIET:
                return
            time.sleep(RENDER_AFTER_QUIET - quiet_for)

    def _save(self, job: _Job) -> None:
        page = Page(encoding=self.encoding)
        for command in job.commands:
            page.apply(command)
        rows = page.finish()
        text = page_text(rows)
        number = self._next_number
        self._next_number += 1
        folder = self.receipts_dir
        picture = page_png(rows, self.dots)
        temps = {
            ".bin": _temp_file(folder, number, ".bin", bytes(job.raw)),
            ".txt": _temp_file(folder, number, ".txt", text.encode("utf-8")),
        }
        png_temp = folder / f".{number}.png.tmp"
        picture.save(png_temp, format="PNG")
        temps[".png"] = png_temp
        for suffix, temp in temps.items():  # .png last: its presence means the job is whole
            temp.replace(folder / f"{number}{suffix}")
        record = {
            "n": number,
            "bytes": len(job.raw),
            "first_byte_at": job.first_byte_at,
            "last_byte_at": job.last_byte_at,
            "text": text,
        }
        with (folder / JOURNAL).open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(record, ensure_ascii=False) + "\n")
        with self._saved:
            self._saved.notify_all()
        _LOGGER.info("printed job %s (%s bytes) to %s", number, len(job.raw), folder)


def read_jobs(receipts_dir: Path) -> list[dict[str, Any]]:
    """The jobs a simulator saved in ``receipts_dir``, oldest first."""
    journal = receipts_dir / JOURNAL
    if not journal.exists():
        return []
    lines = journal.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _first_free_number(folder: Path) -> int:
    numbers = [int(path.stem) for path in folder.glob("*.bin") if path.stem.isdigit()]
    return max(numbers, default=0) + 1


def _temp_file(folder: Path, number: int, suffix: str, content: bytes) -> Path:
    temp = folder / f".{number}{suffix}.tmp"
    temp.write_bytes(content)
    return temp


# --- command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_bridge.sim.printer",
        description="An ESC/POS receipt printer on a pty; saves every job as .bin/.txt/.png.",
    )
    parser.add_argument("--link", type=Path, required=True, help="symlink to the pty to create")
    parser.add_argument("--receipts", type=Path, required=True, help="folder for the jobs")
    parser.add_argument(
        "--control", type=Path, default=None, help="control socket (default: LINK with .ctl)"
    )
    parser.add_argument("--baud", type=int, default=None, help="sleep the wire time at N baud")
    parser.add_argument("--paper", choices=PAPER_STATES, default="ok")
    parser.add_argument("--paper-width", type=int, choices=(58, 80), default=80)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM or SIGINT; prints ``PRINTER-SIM READY <link>`` once the link exists."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sim = PrinterSimulator(
        args.link, args.receipts, baud=args.baud, paper_width_mm=args.paper_width
    )
    sim.paper = args.paper

    def on_paper(_signum: int, _frame: FrameType | None) -> None:
        sim.paper = PAPER_STATES[(PAPER_STATES.index(sim.paper) + 1) % len(PAPER_STATES)]
        _LOGGER.info("paper is now %s", sim.paper)

    def on_silent(_signum: int, _frame: FrameType | None) -> None:
        sim.silent = not sim.silent
        _LOGGER.info("status answers are now %s", "off" if sim.silent else "on")

    signal.signal(signal.SIGUSR1, on_paper)
    signal.signal(signal.SIGUSR2, on_silent)
    control = args.control or args.link.with_suffix(".ctl")
    return serve(sim, control, f"PRINTER-SIM READY {args.link}")


if __name__ == "__main__":
    sys.exit(main())
