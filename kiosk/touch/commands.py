"""Remote commands from the hub, carried out at the kiosk (``svc/v1/kiosk/{kiosk}/cmd/+``).

Every command is validated (:class:`KioskCommand`), checked to be ours and in time, run at
most once, and answered with a :class:`CommandResult` event the hub records:

- ``print_test``: a test slip through the firmware bridge; done once the printer took it.
- ``reload``: the screens reload (the status poll carries a ``reload`` counter they
  compare with the one their page was made with).
- ``rebirth``: the kiosk re-announces its state and health.
- ``config``: service display names and texts for the screens, validated, applied to the
  running app until the next start (the hub pushes again after a restart if it must).

A command past ``expires_at`` is answered ``expired`` and not run: a kiosk back after a
day must not print yesterday's test page. The MQTT v5 expiry drops most of those in the
broker already; this is the check that survives any bridge and any clock on the way.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from flask import Flask, current_app
from pydantic import ValidationError

from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.domain.receipt import Cut, Feed, Receipt, Text
from kiosk.protocol.messages import (
    CommandResult,
    Envelope,
    InvalidPayload,
    KioskCommand,
    PrintResult,
    ServiceInfo,
    ServicesListResult,
    decode,
    utcnow,
)
from kiosk.protocol.pushed_config import ConfigParams, config_problem
from kiosk.protocol.topics import COMMAND_RESULT

_LOGGER = logging.getLogger(__name__)

EXTENSION = "kiosk.touch.commands"
REMEMBERED = 256  # command ids kept to run each once; a kiosk gets a few a day
PRINT_WAIT = 15.0  # seconds a test page may take to reach the printer before "failed"
COMMAND_NAMES = ("print_test", "reload", "rebirth", "config")

Status = Literal["done", "failed", "refused", "expired"]
Clock = Callable[[], datetime]


class CommandLink(Protocol):
    """The part of :class:`kiosk.touch.link.KioskLink` commands use."""

    kiosk: str

    def on_command(self, listener: Callable[[str, bytes], None]) -> Callable[[], None]: ...

    def print(self, receipt: Receipt, label: str = "") -> str: ...

    def print_result(self, job_id: str) -> PrintResult | None: ...

    def announce(self) -> None: ...

    def queue_event(self, event_type: str, message: Envelope) -> object: ...


class KioskCommands:
    """Receives, checks and runs the hub's commands for one kiosk."""

    def __init__(
        self,
        link: CommandLink,
        *,
        clock: Clock = utcnow,
        print_wait: float = PRINT_WAIT,
        config_file: Path | None = None,
    ) -> None:
        self.link = link
        self._clock = clock
        self.print_wait = print_wait
        self._lock = threading.Lock()
        self._seen: OrderedDict[str, CommandResult | None] = OrderedDict()
        self._config_file = config_file
        self.config = _load_config(config_file)
        self.reloads = 0  # the screens reload when this changes (GET /api/status)
        self.malformed = 0
        # Names of the latest commands run, in order (the log and tests read it).
        self.executed: deque[str] = deque(maxlen=REMEMBERED)
        link.on_command(self.receive)

    # --- what the screens use ------------------------------------------------------------

    def text(self, key: str) -> str:
        return self.config.texts.get(cast(Literal["welcome", "notice"], key), "")

    def services(self, listing: ServicesListResult) -> ServicesListResult:
        """The hub's list with the display names a ``config`` command set."""
        names = self.config.services
        if not names:
            return listing
        renamed = [
            ServiceInfo(code=s.code, name=names.get(s.code, s.name), prefix=s.prefix)
            for s in listing.services
        ]
        return listing.model_copy(update={"services": renamed})

    # --- intake ----------------------------------------------------------------------------

    def receive(self, name: str, payload: bytes) -> None:
        """One delivery of ``svc/v1/kiosk/{kiosk}/cmd/{name}`` (on the network thread)."""
        try:
            command = decode(KioskCommand, payload)
        except InvalidPayload as err:
            self._malformed(name, payload, str(err))
            return
        if command.name != name:
            self._answer(command, "refused", f"command {command.name!r} on the topic of {name!r}")
            return
        if command.kiosk != self.link.kiosk:
            # The broker's ACL should make this impossible; if it happens, do nothing.
            _LOGGER.warning("command %s for kiosk %r refused", command.id, command.kiosk)
            self._answer(command, "refused", f"this is kiosk {self.link.kiosk!r}")
            return
        with self._lock:
            if command.id in self._seen:
                earlier = self._seen[command.id]
                duplicate = True
            else:
                self._seen[command.id] = None
                while len(self._seen) > REMEMBERED:
                    self._seen.popitem(last=False)
                duplicate = False
        if duplicate:
            _LOGGER.info("command %s delivered again: not run again", command.id)
            if earlier is not None:
                self._publish(earlier)  # the first answer may have been lost on the way
            return
        if command.expires_at <= self._clock():
            self._answer(command, "expired", f"arrived after its deadline {command.expires_at}")
            return
        self._run(command)

    def _malformed(self, name: str, payload: bytes, problem: str) -> None:
        with self._lock:
            self.malformed += 1
        _LOGGER.warning("malformed command on cmd/%s dropped: %s", name, problem)
        # Tell the hub when the command can still be named, so it does not wait in vain.
        try:
            body = json.loads(payload)
        except ValueError:
            return
        command_id = body.get("id") if isinstance(body, dict) else None
        if isinstance(command_id, str) and 1 <= len(command_id) <= 64 and name in COMMAND_NAMES:
            result = CommandResult(
                kiosk=self.link.kiosk,
                command_id=command_id,
                name=cast(Any, name),
                status="refused",
                detail=problem[:200],
            )
            self._publish(result)

    # --- running ---------------------------------------------------------------------------

    def _run(self, command: KioskCommand) -> None:
        _LOGGER.info("command %s (%s) from %s", command.name, command.id, command.actor)
        self.executed.append(command.name)
        if command.name == "print_test":
            self._print_test(command)
        elif command.name == "reload":
            with self._lock:
                self.reloads += 1
            self._answer(command, "done", "screens reload at their next status poll")
        elif command.name == "rebirth":
            self.link.announce()
            self._answer(command, "done", "state and health announced again")
        else:
            self._configure(command)

    def _configure(self, command: KioskCommand) -> None:
        problem = config_problem(command.params)
        if problem is not None:
            self._answer(command, "refused", f"invalid configuration: {problem}")
            return
        config = ConfigParams.model_validate(command.params)
        merged = ConfigParams(
            services={**self.config.services, **config.services},
            texts={**self.config.texts, **config.texts},
        )
        try:
            _save_config(self._config_file, merged)
        except OSError as err:
            self._answer(command, "failed", f"cannot keep the configuration: {err}")
            return
        self.config = merged
        with self._lock:
            self.reloads += 1  # the screens show the new names and texts at once
        applied = len(config.services) + len(config.texts)
        self._answer(command, "done", f"applied {applied} setting(s)")

    def _print_test(self, command: KioskCommand) -> None:
        job = self.link.print(check_slip(self.link.kiosk, command, self._clock()), "test")
        # The printer's answer comes on this (network) thread: wait for it on another.
        threading.Thread(
            target=self._await_print, args=(command, job), name="test-page", daemon=True
        ).start()

    def _await_print(self, command: KioskCommand, job: str) -> None:
        deadline = time.monotonic() + self.print_wait
        while time.monotonic() < deadline:
            result = self.link.print_result(job)
            if result is not None and result.status in ("printed", "failed", "waiting"):
                if result.status == "printed":
                    self._answer(command, "done", f"test page printed (job {job[:8]})")
                else:
                    self._answer(command, "failed", f"printer: {result.status} {result.detail}")
                return
            time.sleep(0.05)
        self._answer(command, "failed", "the printer did not answer in time")

    # --- answering -------------------------------------------------------------------------

    def _answer(self, command: KioskCommand, status: Status, detail: str) -> None:
        result = CommandResult(
            kiosk=self.link.kiosk,
            command_id=command.id,
            name=command.name,
            status=status,
            detail=detail[:200],
        )
        with self._lock:
            if command.id in self._seen:
                self._seen[command.id] = result
        self._publish(result)

    def _publish(self, result: CommandResult) -> None:
        # Through the outbox: the answer survives a restart and reaches the hub once.
        self.link.queue_event(COMMAND_RESULT, result)


def _load_config(path: Path | None) -> ConfigParams:
    """What ``config`` commands set before a restart; nothing if none or unreadable."""
    if path is None or not path.exists():
        return ConfigParams()
    try:
        return ConfigParams.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as err:
        _LOGGER.warning("pushed configuration in %s ignored: %s", path, err)
        return ConfigParams()


def _save_config(path: Path | None, config: ConfigParams) -> None:
    """Written whole or not at all (temporary file, fsync, rename): a restart shows the
    names and texts the hub pushed, not the hub's defaults."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as handle:
        handle.write(config.model_dump_json().encode())
        handle.flush()
        os.fsync(handle.fileno())
    temp.replace(path)


def check_slip(kiosk: str, command: KioskCommand, now: datetime) -> Receipt:
    """The slip ``print_test`` prints: which kiosk, when, who asked."""
    local = now.astimezone(CENTRE_TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")
    return [
        Text("终端测试页", align="center", scale=2, bold=True),
        Text(f"终端 {kiosk}", align="center"),
        Text(local, align="center"),
        Text(f"指令 {command.id[:12]}"),
        Text(f"发出人 {command.actor[:40]}"),
        Text("打印正常：中文、字号、切纸。", align="left"),
        Feed(2),
        Cut(),
    ]


def register(app: Flask, commands: KioskCommands) -> None:
    """Give the screens the pushed texts (``kiosk_text('welcome')``)."""
    app.extensions[EXTENSION] = commands
    app.jinja_env.globals["kiosk_text"] = lambda key: kiosk_commands().text(key)


def kiosk_commands() -> KioskCommands:
    return cast(KioskCommands, current_app.extensions[EXTENSION])
