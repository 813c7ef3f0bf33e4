"""``kiosk sim --state-dir DIR KIOSK ACTION [ARG]``: faults on demand in a running demo.

Each simulator of kiosk ``KIOSK`` listens on a control socket next to its pty link, in
``DIR/kiosks/KIOSK/``: ``printer.ctl`` and ``idreader.ctl`` (see :func:`device_link`).

Actions:

=====================  ============================================================
``cards``              list the test cards (no simulator needed)
``card-place NAME``    put a test card on the reader
``card-remove``        take it away
``card-yank [MODE]``   pull the card away during the next read (``status``: the SAM
                       says 41; ``truncate``: the answer breaks off)
``sam-fault [60|66]``  the SAM fails every command; ``sam-ok`` heals it
``paper-out``          printer: no paper; ``paper-low``: near end; ``paper-ok``
``cover-open``         printer: cover open; ``cover-close``
``unplug [DEVICE]``    pull the cable (``printer``, ``idreader``; both if left out)
``replug [DEVICE]``    plug it back in
``garbage [DEVICE]``   noise on the line (the reader's comes before its next answer)
``status``             what each simulator is doing
=====================  ============================================================
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Literal

from firmware_bridge.sim.ctl import SimControlError, request

Device = Literal["printer", "idreader"]
DEVICES: tuple[Device, ...] = ("printer", "idreader")

READER_ACTIONS = frozenset({"card-place", "card-remove", "card-yank", "sam-fault", "sam-ok"})
PRINTER_ACTIONS = frozenset({"paper-out", "paper-low", "paper-ok", "cover-open", "cover-close"})
EITHER_ACTIONS = frozenset({"unplug", "replug", "garbage", "status"})
ACTIONS = ("cards", *sorted(READER_ACTIONS | PRINTER_ACTIONS | EITHER_ACTIONS))


def device_link(state_dir: Path, kiosk: str, device: Device) -> Path:
    """Where the demo puts the simulator's pty link: ``DIR/kiosks/KIOSK/<device>.tty``."""
    return state_dir / "kiosks" / kiosk / f"{device}.tty"


def control_socket(state_dir: Path, kiosk: str, device: Device) -> Path:
    """The simulator's control socket: its link with the suffix ``.ctl``."""
    return device_link(state_dir, kiosk, device).with_suffix(".ctl")


def control(state_dir: Path, kiosk: str, action: str, arg: str | None = None) -> str:
    """Do ``action`` on kiosk ``kiosk``'s simulators; what they said, one line each.

    Raises :class:`SimControlError` for an unknown action or device, or when no simulator
    it was meant for could do it.
    """
    if action == "cards":
        # Imported here: the cards pull in pydantic, which `kiosk --help` need not load.
        from firmware_bridge.sim.cards import card_list

        return card_list()
    targets, arg = _targets(action, arg)
    answers: list[str] = []
    failures: list[str] = []
    for device in targets:
        try:
            answers.append(request(control_socket(state_dir, kiosk, device), action, arg))
        except SimControlError as err:
            failures.append(f"{device}: {err}")
    if not answers:
        raise SimControlError("; ".join(failures))
    return "\n".join(answers + failures)


def _targets(action: str, arg: str | None) -> tuple[tuple[Device, ...], str | None]:
    if action in READER_ACTIONS:
        return ("idreader",), arg
    if action in PRINTER_ACTIONS:
        return ("printer",), arg
    if action in EITHER_ACTIONS:
        if arg is None:
            return DEVICES, None
        for device in DEVICES:
            if arg == device:
                return (device,), None
        raise SimControlError(f"{action} takes printer or idreader, not {arg!r}")
    raise SimControlError(f"unknown action {action!r}; the actions are: {', '.join(ACTIONS)}")


# --- command line -------------------------------------------------------------------------


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``sim`` to an argparse sub-command set (``kiosk sim …``); it runs :func:`run`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="faults on demand in a running demo: cards, paper, cables",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", type=Path, required=True, help="the demo's state dir")
    parser.add_argument("kiosk", help="kiosk id, e.g. k1")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("arg", nargs="?", default=None, help="card name, device or code")


def run(args: argparse.Namespace) -> int:
    """Do what ``args`` asks and print the answer; 0 on success, 1 if it failed."""
    try:
        print(control(args.state_dir, args.kiosk, args.action, args.arg))
    except SimControlError as err:
        print(f"kiosk sim: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m firmware_bridge.sim.control",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
