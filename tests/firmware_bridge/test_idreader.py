"""The ID-card reader driver and polling state machine against the SAM simulator on a pty."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from firmware_bridge.idreader import frames
from firmware_bridge.idreader.driver import (
    NoResponse,
    ReaderStats,
    ReaderUnavailable,
    SerialCardReader,
)
from firmware_bridge.idreader.frames import Request, Response
from firmware_bridge.idreader.poller import READ_ATTEMPTS, CardPoller
from firmware_bridge.idreader.service import CARD_EVENT_EXPIRY, IdReaderService
from firmware_bridge.sim.idreader import IdReaderSimulator
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import (
    CardEvent,
    DeviceState,
    DeviceStatus,
    Envelope,
    IdentityCard,
    decode,
)
from kiosk.settings import IdReaderSettings
from tests.firmware_bridge.helpers import eventually

FAST = {
    "poll_interval": 0.02,
    "command_timeout": 0.2,
    "read_timeout": 0.3,
    "fault_retry": 0.2,
}


@dataclass
class Recorder:
    """A ReaderListener that keeps what it was told."""

    events: list[tuple[str, str]] = field(default_factory=list)
    cards: list[IdentityCard | None] = field(default_factory=list)
    states: list[tuple[DeviceStatus, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def card_placed(self, card: IdentityCard | None, reason: str) -> None:
        with self.lock:
            self.cards.append(card)
            self.events.append(("placed", card.card_type if card else f"unusable: {reason}"))

    def card_removed(self) -> None:
        with self.lock:
            self.events.append(("removed", ""))

    def reader_state(self, status: DeviceStatus, detail: str) -> None:
        with self.lock:
            self.states.append((status, detail))

    def kinds(self) -> list[str]:
        with self.lock:
            return [kind for kind, _ in self.events]

    def status(self) -> DeviceStatus | None:
        with self.lock:
            return self.states[-1][0] if self.states else None


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[IdReaderSimulator]:
    with IdReaderSimulator(tmp_path / "idreader.tty") as simulator:
        yield simulator


@pytest.fixture
def settings(tmp_path: Path) -> IdReaderSettings:
    return IdReaderSettings(port=str(tmp_path / "idreader.tty"), **FAST)


class Running:
    def __init__(self, settings: IdReaderSettings) -> None:
        self.reader = SerialCardReader(settings)
        self.recorder = Recorder()
        self.poller = CardPoller(self.reader, self.recorder, settings)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.poller.run, args=(self._stop,))
        self._thread.start()

    def wait_events(self, *expected: str) -> None:
        eventually(lambda: self.recorder.kinds() == list(expected), f"events {expected}")

    def wait_status(self, status: DeviceStatus) -> str:
        eventually(lambda: self.recorder.status() == status, f"reader {status}")
        return self.recorder.states[-1][1]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def running(sim: IdReaderSimulator, settings: IdReaderSettings) -> Iterator[Running]:
    poller = Running(settings)
    poller.wait_status("online")
    yield poller
    poller.stop()


def test_start_resets_the_sam_and_reports_its_id(running: Running) -> None:
    assert running.recorder.states == [("online", "SAM 05.01-20231101-000000001-123456789")]
    assert running.poller.sam_id == "05.01-20231101-000000001-123456789"


def test_a_card_is_read_once_per_placement(sim: IdReaderSimulator, running: Running) -> None:
    sim.place("resident")
    running.wait_events("placed")
    time.sleep(0.2)  # ten polls with the card left on the reader: no second read
    assert running.recorder.kinds() == ["placed"] and sim.reads == 1
    card = running.recorder.cards[0]
    assert card is not None and card.id_number == "11010519491231002X"
    sim.remove()
    running.wait_events("placed", "removed")
    sim.place("hmt")
    running.wait_events("placed", "removed", "placed")
    assert running.recorder.events[-1] == ("placed", "hmt") and sim.reads == 2


def test_a_reader_that_stops_finding_a_read_card_still_sees_it(
    sim: IdReaderSimulator, running: Running
) -> None:
    sim.find_after_read = False  # find says 80 once read; only select still reaches it
    sim.place("foreign2023")
    running.wait_events("placed")
    time.sleep(0.2)
    assert running.recorder.kinds() == ["placed"]
    sim.remove()
    running.wait_events("placed", "removed")


@pytest.mark.parametrize("mode", ["status", "truncate"])
def test_a_card_pulled_away_mid_read_is_retried_cleanly(
    sim: IdReaderSimulator, running: Running, mode: str
) -> None:
    sim.yank(mode)  # type: ignore[arg-type]
    sim.place("resident")
    eventually(lambda: running.poller.stats.retries >= 1, "a retry")
    eventually(lambda: sim.card is None, "the card gone")
    time.sleep(0.1)
    assert running.recorder.events == []  # nothing half-read reaches anyone
    sim.place("resident")  # the resident puts it back
    running.wait_events("placed")
    assert running.recorder.cards[0] is not None and sim.reads == 1
    if mode == "truncate":
        assert running.reader.stats.timeouts >= 1
        assert running.reader.stats.frames.truncated >= 1


def test_garbage_before_an_answer_is_counted_and_skipped(
    sim: IdReaderSimulator, running: Running
) -> None:
    sim.inject_garbage()
    sim.place("hmt")
    running.wait_events("placed")
    stats = running.reader.stats.frames
    assert stats.garbage_bytes > 0 and stats.bad_checksums >= 1 and stats.bad_lengths >= 1
    assert running.recorder.status() == "online"


def test_an_unusable_card_is_reported_once_without_its_content(
    sim: IdReaderSimulator, running: Running
) -> None:
    sim.place("bad-checksum")
    running.wait_events("placed")
    assert running.recorder.cards == [None]
    assert "check digit" in running.recorder.events[0][1]
    assert running.poller.stats.unreadable == 1


def test_unplug_reports_offline_and_replug_recovers(
    sim: IdReaderSimulator, running: Running
) -> None:
    sim.place("resident")
    running.wait_events("placed")
    sim.unplug()
    detail = running.wait_status("offline")
    assert "Input/output error" in detail or "cannot open" in detail
    running.wait_events("placed", "removed")  # a card cannot outlive its reader
    started = time.monotonic()
    sim.replug()
    running.wait_status("online")
    assert time.monotonic() - started < 5.0
    running.wait_events("placed", "removed", "placed")  # the card still lies there


def test_a_sam_fault_is_unhealthy_until_the_sam_recovers(
    sim: IdReaderSimulator, running: Running
) -> None:
    sim.fault(frames.SAM_NOT_AUTHORISED)
    detail = running.wait_status("offline")
    assert detail.startswith("SAM fault 66 (SAM not authorised), SAM 05.01-")
    sim.place("resident")
    time.sleep(0.1)
    assert running.recorder.events == []  # a faulty SAM reads nothing
    sim.fault(None)
    running.wait_status("online")
    running.wait_events("placed")


def test_the_port_is_opened_for_one_process_only(
    sim: IdReaderSimulator, settings: IdReaderSettings
) -> None:
    with SerialCardReader(settings) as first:
        assert first.transact(Request.of(frames.SAM_STATUS), 1.0).sw3 == frames.OK
        with pytest.raises(ReaderUnavailable, match="cannot open"):
            SerialCardReader(settings).open()
    with pytest.raises(ReaderUnavailable, match="not open"):
        first.transact(Request.of(frames.FIND_CARD), 0.1)


def test_a_reader_that_never_answers_goes_offline(tmp_path: Path) -> None:
    master, slave = os.openpty()  # a port with nothing behind it
    link = tmp_path / "mute.tty"
    link.symlink_to(os.ttyname(slave))
    try:
        running = Running(IdReaderSettings(port=str(link), **FAST))
        try:
            assert running.wait_status("offline") == "the ID-card reader does not answer"
            assert running.reader.stats.timeouts >= 3
        finally:
            running.stop()
    finally:
        os.close(master)
        os.close(slave)


def test_a_pyserial_url_works_and_an_echo_is_no_answer() -> None:
    # loop:// sends our request back: a frame, but not an answer.
    with SerialCardReader(IdReaderSettings(port="loop://")) as reader:
        with pytest.raises(NoResponse):
            reader.transact(Request.of(frames.FIND_CARD), 0.1)
        assert reader.stats.malformed == 1 and reader.stats.timeouts == 1


# --- the state machine's branches, with a scripted reader ---------------------------------


class ScriptedReader:
    """Answers each command from a script: command → list of SW3 (the last one repeats)."""

    def __init__(self, script: dict[tuple[int, int], list[int]]) -> None:
        self.stats = ReaderStats()
        self.script = script
        self.sent: list[tuple[int, int]] = []

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def transact(self, request: Request, timeout: float) -> Response:
        self.sent.append(request.command)
        answers = self.script.get(request.command, [frames.COMMAND_ERROR])
        return Response(answers.pop(0) if len(answers) > 1 else answers[0])


def test_a_found_card_that_never_selects_is_reported_unreadable_once() -> None:
    reader = ScriptedReader(
        {
            frames.RESET: [frames.OK],
            frames.SAM_ID: [frames.OK],
            frames.FIND_CARD: [frames.CARD_FOUND],
            frames.SELECT_CARD: [frames.SELECT_FAILED],
        }
    )
    recorder = Recorder()
    poller = CardPoller(reader, recorder, IdReaderSettings(**FAST))
    for _ in range(READ_ATTEMPTS + 5):
        poller.step()
    assert recorder.events == [("placed", "unusable: the card could not be read")]
    assert poller.state == "present" and poller.stats.retries == READ_ATTEMPTS
    assert recorder.states == [("online", "SAM unknown")]  # the SAM id had no data


def test_a_reset_the_sam_refuses_is_an_offline_reader() -> None:
    reader = ScriptedReader({frames.RESET: [frames.COMMAND_ERROR]})
    recorder = Recorder()
    poller = CardPoller(reader, recorder, IdReaderSettings(**FAST))
    assert poller.step() == pytest.approx(0.5)  # the first reopen backoff
    assert poller.step() == pytest.approx(0.2)  # capped at fault_retry
    assert poller.state == "closed"
    assert set(recorder.states) == {("offline", "SAM reset answered 21 (unknown command)")}


# --- the MQTT side ----------------------------------------------------------------------


class LinkStub:
    def __init__(self) -> None:
        self.is_connected = True
        self.sent: list[tuple[str, bytes, bool, Any]] = []

    def publish(
        self, topic: str, message: Envelope, *, retain: bool = False, **options: Any
    ) -> None:
        self.sent.append((topic, message.to_bytes(), retain, options.get("properties")))


def test_the_service_sends_card_events_with_an_expiry_and_states_once() -> None:
    link = LinkStub()
    states: list[DeviceState] = []
    service = IdReaderService(
        "k1",
        cast(MqttLink, link),
        ScriptedReader({}),
        IdReaderSettings(),
        boot_id="b1",
        on_state=states.append,
    )
    service.reader_state("online", "SAM 1")
    service.reader_state("online", "SAM 1")  # no change: not published again
    assert [s.status for s in states] == ["online"] and len(link.sent) == 1
    assert link.sent[0][0] == "svc/v1/kiosk/k1/device/idreader" and link.sent[0][2]
    service.card_placed(None, "the card could not be read")
    topic, payload, retained, props = link.sent[-1]
    assert (topic, retained) == (topics.CARD_EVENT, False)
    assert props.MessageExpiryInterval == CARD_EVENT_EXPIRY
    assert decode(CardEvent, payload).event == "placed"
    link.is_connected = False  # queued by paho, it could reach a later resident's screen
    service.card_removed()
    assert len(link.sent) == 2 and service.dropped == 1
