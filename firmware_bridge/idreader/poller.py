"""The ID-card reader's polling state machine: one read per card placement.

::

    closed --open, reset 10 FF, SAM id 12 FF--> idle
    idle   --find 20 01: 9F--> select 20 02: 90 --> read 30 01: 90 --> present (card placed)
           \\ 80 no card: stay          \\ 81, 41, 80, cut-off answer: retry from find
    present --find 9F or select 90: stay; absent twice--> idle (card removed)
    any    --SAM 60 / 66--> fault --reset every fault_retry until it answers 90--> idle
    any    --port error, or three commands unanswered--> closed (reopened with backoff)

A card left on the reader is not read again until it has been taken away. A card that
was found but cannot be read three times running is reported once as unreadable.
The callbacks run on the polling thread; they must not block for long.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal, Protocol

from firmware_bridge.idreader import frames
from firmware_bridge.idreader.driver import CardReader, NoResponse, ReaderUnavailable
from firmware_bridge.idreader.frames import Request, Response
from firmware_bridge.idreader.textblock import TEXT_SIZE, TextBlockError, parse_text_block
from kiosk.protocol.messages import DeviceStatus, IdentityCard
from kiosk.settings import IdReaderSettings

_LOGGER = logging.getLogger(__name__)

State = Literal["closed", "idle", "present", "fault"]

READ_ATTEMPTS = 3  # reads of one found card before it is reported unreadable
ABSENT_POLLS = 2  # polls without the card before it counts as removed (RF flicker)
SILENT_COMMANDS = 3  # unanswered commands in a row before the reader counts as lost
REOPEN_MIN = 0.5  # seconds before the first reopen of a lost port
RETRY_DELAY = 0.05  # seconds before a read is retried (the card may still be on its way)


class ReaderListener(Protocol):
    def card_placed(self, card: IdentityCard | None, reason: str) -> None:
        """A card was put down: its identity, or None (and why) if it cannot be used."""

    def card_removed(self) -> None: ...

    def reader_state(self, status: DeviceStatus, detail: str) -> None:
        """How the reader is; ``detail`` never holds personal data."""


class SamFault(Exception):
    """The SAM answered 60 or 66: it cannot read cards until it is healthy again."""

    def __init__(self, sw3: int) -> None:
        super().__init__(frames.describe_status(sw3))
        self.sw3 = sw3


@dataclass(slots=True)
class PollerStats:
    placements: int = 0  # cards reported (readable or not)
    unreadable: int = 0
    retries: int = 0  # reads begun again from "find" (card moved, answer cut off)
    removals: int = 0
    reopens: int = 0


class _Retry(Exception):
    """This read did not work out; start again from find."""


class CardPoller:
    """Runs ``reader`` (see module doc). Call :meth:`run` on a thread of its own, or
    :meth:`step` repeatedly; :meth:`step` returns the seconds to wait before the next."""

    def __init__(
        self,
        reader: CardReader,
        listener: ReaderListener,
        settings: IdReaderSettings,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.reader = reader
        self.state: State = "closed"
        self.sam_id = ""
        self.stats = PollerStats()
        self._listener = listener
        self._settings = settings
        self._today = today
        self._attempts = 0
        self._absent = 0
        self._silent = 0
        self._reopen_delay = REOPEN_MIN

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set, then close the port."""
        try:
            while not stop.is_set():
                try:
                    delay = self.step()
                except Exception:  # a bug must not end card reading for good
                    _LOGGER.exception("ID-card reader poll failed")
                    self._lost("internal error")
                    delay = self._settings.fault_retry
                stop.wait(delay)
        finally:
            self.reader.close()

    def step(self) -> float:
        try:
            if self.state == "closed":
                return self._open()
            if self.state == "fault":
                return self._recover()
            if self.state == "idle":
                return self._look_for_card()
            return self._watch_card()
        except ReaderUnavailable as err:
            self._lost(str(err))
        except NoResponse:
            self._silent += 1
            if self._silent < SILENT_COMMANDS:
                return self._settings.poll_interval
            self._lost("the ID-card reader does not answer")
        except SamFault as fault:
            self._fault(fault)
            return self._settings.fault_retry
        delay = self._reopen_delay
        self._reopen_delay = min(self._settings.fault_retry, delay * 2)
        return delay

    # --- states -------------------------------------------------------------------------

    def _open(self) -> float:
        self.reader.open()
        self.stats.reopens += 1
        self._start_sam()
        self._reopen_delay = REOPEN_MIN
        return 0.0

    def _start_sam(self) -> None:
        """Reset the SAM and read its id; the reader is then online."""
        reset = self._call(frames.RESET, self._settings.command_timeout)
        if reset.sw3 != frames.OK:
            raise ReaderUnavailable(f"SAM reset answered {frames.describe_status(reset.sw3)}")
        answer = self._call(frames.SAM_ID, self._settings.command_timeout)
        known = answer.sw3 == frames.OK and answer.data
        self.sam_id = frames.format_sam_id(answer.data) if known else "unknown"
        self.state = "idle"
        self._attempts = 0
        self._listener.reader_state("online", f"SAM {self.sam_id}")

    def _recover(self) -> float:
        self._start_sam()  # SamFault again: stay in fault
        return 0.0

    def _look_for_card(self) -> float:
        found = self._call(frames.FIND_CARD, self._settings.command_timeout)
        if found.sw3 != frames.CARD_FOUND:
            self._attempts = 0  # 80: nothing there (any other answer: try again later)
            return self._settings.poll_interval
        try:
            card, reason = self._read_card()
        except _Retry:
            self.stats.retries += 1
            self._attempts += 1
            if self._attempts < READ_ATTEMPTS:
                return RETRY_DELAY
            card, reason = None, "the card could not be read"
        self._attempts = 0
        self._absent = 0
        self.state = "present"
        self.stats.placements += 1
        if card is None:
            self.stats.unreadable += 1
        self._listener.card_placed(card, reason)
        return self._settings.poll_interval

    def _read_card(self) -> tuple[IdentityCard | None, str]:
        selected = self._call(frames.SELECT_CARD, self._settings.command_timeout)
        if selected.sw3 != frames.OK:
            raise _Retry
        try:
            answer = self._call(frames.READ_TEXT_PHOTO, self._settings.read_timeout)
        except NoResponse as err:  # cut off half-way: the card left during the transfer
            raise _Retry from err
        if answer.sw3 != frames.OK:  # 41 read failed, 80 card gone
            raise _Retry
        text = _text_of(answer)
        if text is None:
            raise _Retry
        # The photo that came with the text is neither decoded nor kept: it goes with
        # ``answer`` when this returns.
        try:
            return parse_text_block(text, self._today()), ""
        except TextBlockError as err:
            return None, str(err)

    def _watch_card(self) -> float:
        if self._card_there():
            self._absent = 0
        else:
            self._absent += 1
            if self._absent >= ABSENT_POLLS:
                self._card_gone()
                self.state = "idle"
        return self._settings.poll_interval

    def _card_there(self) -> bool:
        # Some readers answer "no card" to find once a card was read, though it is still
        # there; select still reaches it. Only when both miss is it gone.
        timeout = self._settings.command_timeout
        if self._call(frames.FIND_CARD, timeout).sw3 == frames.CARD_FOUND:
            return True
        return self._call(frames.SELECT_CARD, timeout).sw3 == frames.OK

    # --- transitions --------------------------------------------------------------------

    def _call(self, command: tuple[int, int], timeout: float) -> Response:
        answer = self.reader.transact(Request.of(command), timeout)
        self._silent = 0
        if answer.sw3 in frames.SAM_FAULTS:
            raise SamFault(answer.sw3)
        return answer

    def _card_gone(self) -> None:
        if self.state == "present":
            self.stats.removals += 1
            self._listener.card_removed()

    def _lost(self, reason: str) -> None:
        self._card_gone()
        self.reader.close()
        self.state = "closed"
        self._silent = 0
        self._listener.reader_state("offline", reason)

    def _fault(self, fault: SamFault) -> None:
        self._card_gone()
        self.state = "fault"
        sam = f", SAM {self.sam_id}" if self.sam_id else ""
        self._listener.reader_state("offline", f"SAM fault {fault}{sam}")


def _text_of(answer: Response) -> bytes | None:
    """The text block of a 30 01 answer: text length, photo length, text, photo."""
    data = answer.data
    if len(data) < 4:
        return None
    text_size = int.from_bytes(data[0:2], "big")
    photo_size = int.from_bytes(data[2:4], "big")
    if text_size != TEXT_SIZE or len(data) < 4 + text_size + photo_size:
        return None
    return data[4 : 4 + text_size]
