"""``kiosk sim``: the simulators' control sockets, as the demo lays them out."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmware_bridge.sim.control import (
    add_parser,
    control,
    control_socket,
    device_link,
    main,
)
from firmware_bridge.sim.ctl import ControlServer, SimControlError, request
from firmware_bridge.sim.idreader import IdReaderSimulator
from firmware_bridge.sim.printer import PrinterSimulator
from tests.firmware_bridge.helpers import WAIT


class Sims:
    def __init__(self, state_dir: Path, kiosk: str = "k1") -> None:
        self.printer = PrinterSimulator(
            device_link(state_dir, kiosk, "printer"), state_dir / "receipts" / kiosk
        )
        self.reader = IdReaderSimulator(device_link(state_dir, kiosk, "idreader"))
        self.servers = [
            ControlServer(control_socket(state_dir, kiosk, "printer"), self.printer.control),
            ControlServer(control_socket(state_dir, kiosk, "idreader"), self.reader.control),
        ]
        self.printer.start()
        self.reader.start()
        for server in self.servers:
            server.start()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.printer.stop()
        self.reader.stop()


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[Sims]:
    running = Sims(tmp_path)
    yield running
    running.stop()


def test_card_actions_reach_the_reader(tmp_path: Path, sims: Sims) -> None:
    assert control(tmp_path, "k1", "card-place", "hmt") == "card hmt placed"
    assert sims.reader.card is not None and sims.reader.card.key == "hmt"
    assert control(tmp_path, "k1", "card-remove") == "card removed"
    assert sims.reader.card is None
    assert "next read (truncate)" in control(tmp_path, "k1", "card-yank", "truncate")
    assert control(tmp_path, "k1", "sam-fault", "66") == "SAM fault 66"
    assert sims.reader.sam_fault == 0x66
    control(tmp_path, "k1", "sam-ok")
    assert sims.reader.sam_fault is None
    with pytest.raises(SimControlError, match="no test card 'nobody'; the cards are: resident"):
        control(tmp_path, "k1", "card-place", "nobody")
    with pytest.raises(SimControlError, match="card-place needs a card"):
        control(tmp_path, "k1", "card-place")


def test_paper_and_cover_actions_reach_the_printer(tmp_path: Path, sims: Sims) -> None:
    for action, paper in (("paper-out", "out"), ("paper-low", "near_end"), ("paper-ok", "ok")):
        assert f"paper {paper}" in control(tmp_path, "k1", action)
        assert sims.printer.paper == paper
    control(tmp_path, "k1", "cover-open")
    assert sims.printer.cover_open
    assert "cover closed" in control(tmp_path, "k1", "cover-close")


def test_cables_act_on_one_device_or_both(tmp_path: Path, sims: Sims) -> None:
    assert control(tmp_path, "k1", "unplug", "printer") == "printer unplugged"
    assert not sims.printer.plugged and sims.reader.plugged
    assert not device_link(tmp_path, "k1", "printer").exists()
    control(tmp_path, "k1", "unplug")
    assert not sims.reader.plugged
    assert control(tmp_path, "k1", "replug").splitlines() == [
        "printer plugged in",
        "ID-card reader plugged in",
    ]
    assert sims.printer.plugged and device_link(tmp_path, "k1", "idreader").is_symlink()
    assert "garbage" in control(tmp_path, "k1", "garbage", "idreader")
    status = control(tmp_path, "k1", "status").splitlines()
    assert status[0].startswith("printer: plugged in, paper ok")
    assert status[1].startswith("idreader: plugged in, card none")
    with pytest.raises(SimControlError, match="takes printer or idreader"):
        control(tmp_path, "k1", "unplug", "scanner")


def test_cards_need_no_simulator_and_errors_say_what_is_wrong(tmp_path: Path) -> None:
    cards = control(tmp_path, "k9", "cards").splitlines()
    assert [line.split()[0] for line in cards] == [
        "resident",
        "hmt",
        "foreign2017",
        "foreign2023",
        "bad-checksum",
        "expired",
    ]
    assert not any("1101" in line for line in cards)  # names and numbers stay out
    with pytest.raises(SimControlError, match="unknown action 'explode'"):
        control(tmp_path, "k9", "explode")
    with pytest.raises(SimControlError, match=r"no simulator answers on .*idreader\.ctl"):
        control(tmp_path, "k9", "card-remove")
    with pytest.raises(SimControlError, match=r"printer: no simulator.*idreader: no simulator"):
        control(tmp_path, "k9", "unplug")


def test_a_socket_in_a_deep_folder_still_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    server = ControlServer(deep / "x.ctl", lambda action, arg: f"{action}/{arg}")
    server.start()
    try:
        assert request(deep / "x.ctl", "hello", "there") == "hello/there"
    finally:
        server.stop()
    assert not (deep / "x.ctl").exists()


def test_a_failing_action_is_an_error_reply_not_a_dead_socket(tmp_path: Path) -> None:
    def handler(action: str, _arg: str | None) -> str:
        raise ZeroDivisionError(action)

    server = ControlServer(tmp_path / "x.ctl", handler)
    server.start()
    try:
        with pytest.raises(SimControlError, match="boom failed"):
            request(tmp_path / "x.ctl", "boom")
        with pytest.raises(SimControlError, match="again failed"):
            request(tmp_path / "x.ctl", "again")
    finally:
        server.stop()


def test_the_parser_wires_into_a_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="kiosk")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sim", "--state-dir", str(tmp_path), "k1", "cards"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.startswith("resident ")
    assert main(["--state-dir", str(tmp_path), "k1", "card-remove"]) == 1
    assert "kiosk sim: idreader: no simulator answers" in capsys.readouterr().err


def test_the_reader_simulator_runs_from_the_command_line(tmp_path: Path) -> None:
    link = device_link(tmp_path, "k1", "idreader")
    process = subprocess.Popen(
        [sys.executable, "-m", "firmware_bridge.sim.idreader", "--link", str(link)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"IDREADER-SIM READY {link}"
        assert control(tmp_path, "k1", "card-place", "resident") == "card resident placed"
        assert "card resident" in control(tmp_path, "k1", "status", "idreader")
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
    assert not link.is_symlink() and not control_socket(tmp_path, "k1", "idreader").exists()
