"""Remote commands: sent to a kiosk with a deadline, their result recorded, all audited.

The hub publishes a :class:`~kiosk.hub.events.KioskCommand` on
``svc/v1/kiosk/{kiosk}/cmd/{name}`` at QoS 1 with the MQTT v5 message expiry: the broker
(and the kiosk's edge broker, over a v5 bridge) holds it while the kiosk is away and drops
it at the deadline, so a reload asked for this morning does not fire tonight. The kiosk
answers with the event ``command.result``; a command with no answer by its deadline is
marked ``expired`` by the monitor's sweep.

A ``config`` command is checked here with the kiosk's own rules
(:mod:`kiosk.protocol.pushed_config`) before it is recorded: a configuration the kiosk
would refuse is refused at once, to the person who typed it, and never sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from kiosk.hub import audit, fleet
from kiosk.hub.db import Database
from kiosk.hub.events import CommandResult, KioskCommand
from kiosk.hub.models import COMMAND_NAMES
from kiosk.hub.models import KioskCommand as CommandRow
from kiosk.protocol.pushed_config import config_problem

_LOGGER = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Publishes the command with the given expiry in seconds; False if it could not be sent.
Publisher = Callable[[KioskCommand, int], bool]
MAX_LISTED = 50
# Commands a person may send with the console's command list; "config" has a form of its
# own for its params (the console's kiosk page) besides the API.
FORM_COMMANDS = ("print_test", "reload", "rebirth")
LABELS = {
    "print_test": "打印测试页",
    "reload": "重新载入",
    "rebirth": "重新上报状态",
    "config": "推送配置",
}


class CommandError(ValueError):
    """The command cannot be sent: unknown kiosk (or outside scope), revoked, bad name."""


class InvalidParams(CommandError):
    """The command's params are refused (a ``config`` the kiosk would refuse)."""


@dataclass(frozen=True, slots=True)
class CommandView:
    id: str
    kiosk: str
    name: str
    params: dict[str, Any]
    actor: str
    created_at: datetime
    expires_at: datetime
    status: str
    detail: str
    finished_at: datetime | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kiosk": self.kiosk,
            "name": self.name,
            "params": self.params,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "status": self.status,
            "detail": self.detail,
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
        }


def _view(row: CommandRow) -> CommandView:
    return CommandView(
        row.id,
        row.kiosk,
        row.name,
        dict(row.params),
        row.actor,
        row.created_at,
        row.expires_at,
        row.status,
        row.detail,
        row.finished_at,
    )


class CommandDesk:
    def __init__(
        self,
        database: Database,
        *,
        clock: Clock,
        expiry: int = 300,
        publisher: Publisher | None = None,
    ) -> None:
        self.database = database
        self._clock = clock
        self.expiry = expiry
        self.publisher = publisher

    def send(
        self,
        kiosk: str,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        actor: str,
        scope: frozenset[str] | None,
        remote_addr: str | None = None,
        expiry: int | None = None,
    ) -> CommandView:
        """Record, audit and publish a command. :class:`CommandError` when it cannot go."""
        if name not in COMMAND_NAMES:
            raise CommandError(f"unknown command {name!r}; one of {', '.join(COMMAND_NAMES)}")
        if name == "config" and (problem := config_problem(params or {})) is not None:
            raise InvalidParams(f"invalid configuration: {problem}")
        seconds = expiry or self.expiry
        now = self._clock()
        with self.database.write() as session:
            target = fleet.get_kiosk(session, kiosk)
            if target is None or (scope is not None and target.home not in scope):
                raise CommandError(f"no kiosk {kiosk!r}")
            if target.revoked_at is not None:
                raise CommandError(f"kiosk {kiosk!r} is revoked")
            message = KioskCommand(
                kiosk=kiosk,
                name=name,  # checked against COMMAND_NAMES above
                params=params or {},
                expires_at=now + timedelta(seconds=seconds),
                actor=actor,
                ts=now,
            )
            row = CommandRow(
                id=message.id,
                kiosk=kiosk,
                centre=target.home,
                name=name,
                params=message.params,
                actor=actor,
                created_at=now,
                expires_at=message.expires_at,
                status="sent",
                detail="",
                finished_at=None,
            )
            session.add(row)
            audit.record(
                session,
                now,
                actor,
                "kiosk.command",
                f"kiosk:{kiosk}",
                centre=target.home,
                remote_addr=remote_addr,
                detail={"command": name, "id": message.id},
            )
            result = _view(row)
        # Published after the commit: a result can then never arrive for an unknown row.
        if self.publisher is None or not self.publisher(message, seconds):
            self._finish(message.id, kiosk, "failed", "the hub is not connected to the broker")
            return self.get(message.id) or result
        return result

    def result(self, message: CommandResult) -> bool:
        """A kiosk's answer; False if it names no command of that kiosk still waiting."""
        return self._finish(message.command_id, message.kiosk, message.status, message.detail)

    def _finish(self, command_id: str, kiosk: str, status: str, detail: str) -> bool:
        now = self._clock()
        with self.database.write() as session:
            row = session.get(CommandRow, command_id, with_for_update=True)
            if row is None or row.kiosk != kiosk or row.status != "sent":
                return False
            row.status, row.detail, row.finished_at = status, detail[:200], now
            audit.record(
                session,
                now,
                f"kiosk:{kiosk}",
                "kiosk.command_result",
                f"command:{command_id}",
                centre=row.centre,
                outcome=status,
                detail={"command": row.name},
            )
        return True

    def expire_overdue(self) -> int:
        """Mark commands past their deadline without an answer as expired."""
        now = self._clock()
        with self.database.write() as session:
            result = session.execute(
                update(CommandRow)
                .where(CommandRow.status == "sent", CommandRow.expires_at < now)
                .values(status="expired", finished_at=now, detail="no answer before the deadline")
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def get(self, command_id: str) -> CommandView | None:
        with self.database.read() as session:
            row = session.get(CommandRow, command_id)
            return None if row is None else _view(row)

    def of_kiosk(self, kiosk: str, limit: int = MAX_LISTED) -> list[CommandView]:
        with self.database.read() as session:
            query = (
                select(CommandRow)
                .where(CommandRow.kiosk == kiosk)
                .order_by(CommandRow.created_at.desc())
                .limit(limit)
            )
            return [_view(row) for row in session.scalars(query)]
