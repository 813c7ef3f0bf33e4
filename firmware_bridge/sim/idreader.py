"""A resident ID-card reader on a pty: a SAM module that speaks the frame protocol.

It answers reset, SAM status and id, find, select and read (text + photo) as a SAM does
(reference/iot.md §5), with a card from :data:`~firmware_bridge.sim.cards.TEST_CARDS` on
its antenna or none. Faults on demand: the card pulled away during the next read (the SAM
says ``41``, or the answer breaks off half-way), garbage before the next answer, a SAM
fault (``60`` self-test failed, ``66`` not authorised), unplug and replug.

From the command line it also listens on a control socket (``--control``, default: the
link with the suffix ``.ctl``) for :mod:`firmware_bridge.sim.control`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from firmware_bridge.idreader import frames
from firmware_bridge.idreader.frames import FrameParser, Request, Response
from firmware_bridge.sim.cards import TEST_CARDS, TestCard, card_list
from firmware_bridge.sim.ctl import SimControlError, serve, then
from firmware_bridge.sim.pty import PtyDevice

_LOGGER = logging.getLogger(__name__)

YankMode = Literal["status", "truncate"]
# A made-up SAM: version 05.01, issued 2023-11-01, serial numbers 1 and 123456789.
SAM_ID = bytes([5, 0, 1, 0]) + b"".join(n.to_bytes(4, "little") for n in (20231101, 1, 123456789))
# Garbage as a noisy line makes it: noise, a false preamble with an absurd length, and a
# whole frame with a wrong checksum. The driver must skip all of it and still find the answer.
GARBAGE = (
    b"\x00\xff\x13\xaa\xaa"
    + frames.PREAMBLE
    + b"\xff\xff\x01"
    + frames.Response(frames.OK).to_bytes()[:-1]
    + b"\x00"
)


class IdReaderSimulator(PtyDevice):
    """A SAM reader on a pty. Change its state with the methods below, from any thread."""

    kind = "idreader"

    def __init__(
        self,
        link: Path,
        *,
        baud: int | None = None,
        cards: dict[str, TestCard] | None = None,
        find_after_read: bool = True,
    ) -> None:
        super().__init__(link, baud=baud)
        self.cards = TEST_CARDS if cards is None else cards
        # Some readers stop answering "find" for a card once it was read, though it is still
        # there (only "select" shows it): False simulates those.
        self.find_after_read = find_after_read
        self.card: TestCard | None = None
        self.sam_fault: int | None = None
        self.requests = 0
        self.reads = 0  # whole card reads answered
        self.bad_requests = 0
        self._lock = threading.Lock()
        self._selected = False
        self._was_read = False
        self._yank: YankMode | None = None
        self._garbage = b""
        self._parser = FrameParser()

    # --- the card and the faults ---------------------------------------------------------

    def place(self, key: str) -> TestCard:
        """Put test card ``key`` on the antenna (replacing any card there)."""
        card = self.cards.get(key)
        if card is None:
            raise SimControlError(f"no test card {key!r}; the cards are: {', '.join(self.cards)}")
        with self._lock:
            self.card = card
            self._selected = self._was_read = False
        return card

    def remove(self) -> None:
        with self._lock:
            self.card = None
            self._selected = self._was_read = False

    def yank(self, mode: YankMode = "status") -> None:
        """Pull the card away during the next read: the SAM answers ``41`` (``status``), or
        its answer breaks off after a few hundred bytes (``truncate``)."""
        with self._lock:
            self._yank = mode

    def inject_garbage(self, data: bytes = GARBAGE) -> None:
        """Send ``data`` on the line just before the next answer."""
        with self._lock:
            self._garbage += data

    def fault(self, code: int | None) -> None:
        """Every command is answered with SAM fault ``code`` (0x60, 0x66) until ``None``."""
        if code is not None and code not in frames.SAM_FAULTS:
            raise SimControlError(f"SAM faults are 60 and 66, not {code:02X}")
        with self._lock:
            self.sam_fault = code

    # --- the protocol -----------------------------------------------------------------------

    def _receive(self, data: bytes) -> None:
        bad_before = self._parser.stats.bad_checksums + self._parser.stats.bad_lengths
        received = self._parser.feed(data)
        bad_now = self._parser.stats.bad_checksums + self._parser.stats.bad_lengths
        for _ in range(bad_now - bad_before):
            self.bad_requests += 1
            self._reply(Response(frames.CHECKSUM_ERROR).to_bytes())
        for frame in received:
            try:
                request = Request.from_frame(frame)
            except frames.FrameError:
                self.bad_requests += 1
                self._reply(Response(frames.LENGTH_ERROR).to_bytes())
                continue
            self.requests += 1
            self._reply(self._answer(request))

    def _reply(self, data: bytes) -> None:
        with self._lock:
            garbage, self._garbage = self._garbage, b""
        self.send(garbage + data)

    def _answer(self, request: Request) -> bytes:
        with self._lock:
            if self.sam_fault is not None:
                return Response(self.sam_fault).to_bytes()
            command = request.command
            if command == frames.RESET:
                self._selected = False
                return Response(frames.OK).to_bytes()
            if command == frames.SAM_STATUS:
                return Response(frames.OK).to_bytes()
            if command == frames.SAM_ID:
                return Response(frames.OK, SAM_ID).to_bytes()
            if command == frames.FIND_CARD:
                return self._find()
            if command == frames.SELECT_CARD:
                self._selected = self.card is not None
                if self._selected:
                    return Response(frames.OK, bytes(8)).to_bytes()
                return Response(frames.SELECT_FAILED).to_bytes()
            if command == frames.READ_TEXT_PHOTO:
                return self._read()
            if command == frames.READ_NEW_ADDRESS:
                return Response(frames.NO_CONTENT).to_bytes()
            return Response(frames.COMMAND_ERROR).to_bytes()

    def _find(self) -> bytes:
        if self.card is None or (self._was_read and not self.find_after_read):
            return Response(frames.NO_CARD).to_bytes()
        return Response(frames.CARD_FOUND, bytes(4)).to_bytes()

    def _read(self) -> bytes:
        card = self.card
        if card is None or not self._selected:
            return Response(frames.READ_FAILED).to_bytes()
        text, photo = card.text_block(), card.photo()
        answer = Response(
            frames.OK,
            len(text).to_bytes(2, "big") + len(photo).to_bytes(2, "big") + text + photo,
        ).to_bytes()
        if self._yank is not None:
            mode, self._yank = self._yank, None
            self.card = None
            self._selected = False
            if mode == "status":
                return Response(frames.READ_FAILED).to_bytes()
            return answer[:300]
        self._was_read = True
        self.reads += 1
        return answer

    # --- control ------------------------------------------------------------------------

    def control(self, action: str, arg: str | None) -> str:
        """One control action (see :mod:`firmware_bridge.sim.control`); the text to show."""
        handlers: dict[str, Callable[[str | None], str]] = {
            "card-place": self._control_place,
            "card-remove": then(self.remove, "card removed"),
            "card-yank": self._control_yank,
            "garbage": self._control_garbage,
            "sam-fault": self._control_fault,
            "sam-ok": then(lambda: self.fault(None), "SAM healthy"),
            "unplug": then(self.unplug, "ID-card reader unplugged"),
            "replug": then(self.replug, "ID-card reader plugged in"),
            "cards": lambda _arg: card_list(),
            "status": lambda _arg: self.describe(),
        }
        handler = handlers.get(action)
        if handler is None:
            raise SimControlError(f"the ID-card reader simulator does not know {action!r}")
        return handler(arg)

    def _control_place(self, arg: str | None) -> str:
        if arg is None:
            raise SimControlError("card-place needs a card: " + ", ".join(self.cards))
        return f"card {self.place(arg).key} placed"

    def _control_yank(self, arg: str | None) -> str:
        mode: YankMode
        if arg in (None, "status"):
            mode = "status"
        elif arg == "truncate":
            mode = "truncate"
        else:
            raise SimControlError("card-yank takes status or truncate")
        self.yank(mode)
        return f"the card will be pulled away during the next read ({mode})"

    def _control_garbage(self, _arg: str | None) -> str:
        self.inject_garbage()
        return f"{len(GARBAGE)} bytes of garbage before the next answer"

    def _control_fault(self, arg: str | None) -> str:
        try:
            code = int(arg or "60", 16)
        except ValueError as err:
            raise SimControlError("sam-fault takes 60 or 66") from err
        self.fault(code)
        return f"SAM fault {code:02X}"

    def describe(self) -> str:
        card = self.card.key if self.card else "none"
        fault = f"{self.sam_fault:02X}" if self.sam_fault is not None else "none"
        plugged = "plugged in" if self.plugged else "unplugged"
        return f"idreader: {plugged}, card {card}, SAM fault {fault}, {self.reads} reads"


# --- command line -------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_bridge.sim.idreader",
        description="A resident ID-card reader (SAM protocol) on a pty, with test cards.",
    )
    parser.add_argument("--link", type=Path, required=True, help="symlink to the pty to create")
    parser.add_argument(
        "--control", type=Path, default=None, help="control socket (default: LINK with .ctl)"
    )
    parser.add_argument("--baud", type=int, default=None, help="sleep the wire time at N baud")
    parser.add_argument("--card", choices=sorted(TEST_CARDS), default=None, help="card on start")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run until SIGTERM or SIGINT; prints ``IDREADER-SIM READY <link>`` once it can be used."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    sim = IdReaderSimulator(args.link, baud=args.baud)
    if args.card:
        sim.place(args.card)
    control = args.control or args.link.with_suffix(".ctl")
    return serve(sim, control, f"IDREADER-SIM READY {args.link}")


if __name__ == "__main__":
    sys.exit(main())
