"""The hub's operations as the MQTT worker and the staff console use them.

Each method is one transaction. Views and message handlers call these and nothing
below them, so a ticket taken at a kiosk and a call made at a counter follow the same
rules, and every change of the call board reaches the board listeners (the worker, which
publishes it retained over MQTT).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime

from kiosk.domain.queue import service_day
from kiosk.hub import audit, fleet, tickets
from kiosk.hub.catalogue import Catalogue, Centre
from kiosk.hub.db import Database
from kiosk.hub.fleet import KioskView
from kiosk.hub.tickets import IssuedTicket, ServiceSummary, TicketRow
from kiosk.protocol.messages import Board, Call, DeviceState, KioskState
from kiosk.protocol.rpc import RpcRefused

_LOGGER = logging.getLogger(__name__)

Clock = Callable[[], datetime]
BoardListener = Callable[[Board], None]


def utc_clock() -> datetime:
    return datetime.now(UTC)


class QueueDesk:
    def __init__(
        self,
        database: Database,
        catalogue: Catalogue,
        *,
        board_size: int = 8,
        clock: Clock = utc_clock,
    ) -> None:
        self.database = database
        self.catalogue = catalogue
        self.board_size = board_size
        self._clock = clock
        self._board_listeners: list[BoardListener] = []
        self._listeners_lock = threading.Lock()
        # kiosk → centre, read on every ticket; only kiosk_state() changes it (every hub
        # worker sees every state message, so each keeps its own copy current).
        self._centres: dict[str, str] = {}
        self._board_day: date | None = None

    def now(self) -> datetime:
        return self._clock()

    def today(self) -> date:
        return service_day(self.now())

    def on_board(self, listener: BoardListener) -> None:
        """Call ``listener`` with the new board after every change of a centre's calls."""
        with self._listeners_lock:
            self._board_listeners.append(listener)

    def announce_new_day(self) -> bool:
        """Send every centre's board again once the service day has turned (a periodic
        sweep calls this): call displays then drop yesterday's calls at midnight, not at
        the first call of the morning. True when it did."""
        today = self.today()
        last, self._board_day = self._board_day, today
        if last is None or last == today:
            return False  # at start the worker sends every board as it connects
        for centre in self.catalogue.centres:
            self._announce(centre.code)
        return True

    # --- kiosks ----------------------------------------------------------------------

    def kiosk_state(self, message: KioskState) -> bool:
        """Apply a state; False when stale. fleet.Refused: wrong centre, or revoked."""
        with self.database.write() as session:
            accepted = fleet.record_state(session, message, self.now())
        if accepted:
            self._centres[message.kiosk] = message.centre
        return accepted

    def device_state(self, message: DeviceState) -> bool:
        with self.database.write() as session:
            return fleet.record_device(session, message, self.now())

    def uplink(self, kiosk: str, up: bool) -> None:
        with self.database.write() as session:
            fleet.record_uplink(session, kiosk, up, self.now())

    def kiosks(
        self, centre: str | None = None, *, scope: frozenset[str] | None = None
    ) -> list[KioskView]:
        with self.database.read() as session:
            return fleet.list_kiosks(session, centre, scope=scope)

    def centre_of(self, kiosk: str) -> Centre:
        """The centre a kiosk announced; refused with ``unknown_kiosk`` before it did."""
        code = self._centres.get(kiosk)
        if code is None:
            with self.database.read() as session:
                code = fleet.kiosk_centre(session, kiosk)
        if code is None:
            raise RpcRefused(
                "unknown_kiosk",
                f"服务中心尚未登记此终端（unknown kiosk {kiosk!r}: no state received yet）",
            )
        self._centres[kiosk] = code
        return self.catalogue.centre(code)

    # --- queue -----------------------------------------------------------------------

    def take(self, kiosk: str, service: str, event_id: str) -> IssuedTicket:
        centre = self.centre_of(kiosk)
        with self.database.write() as session:
            return tickets.take_ticket(
                session, centre, service, event_id=event_id, kiosk=kiosk, now=self.now()
            )

    def lease(self, kiosk: str, service: str) -> tickets.Lease:
        """A block of numbers for ``kiosk`` to issue while the hub is unreachable."""
        centre = self.centre_of(kiosk)
        with self.database.write() as session:
            return tickets.lease_numbers(session, centre, service, kiosk=kiosk, now=self.now())

    def call_next(
        self, centre: str, counter: int, *, actor: str, remote_addr: str | None = None
    ) -> Call | None:
        """Call the next ticket to ``counter``; None when nobody waits. Audited."""
        where = self.catalogue.centre(centre)
        now = self.now()
        with self.database.write() as session:
            call = tickets.call_next(session, where, counter, now, actor=actor)
            audit.record(
                session,
                now,
                actor,
                "ticket.call_next",
                f"ticket:{call.number}" if call else "",
                centre=where.code,
                remote_addr=remote_addr,
                detail={"counter": counter},
                outcome="ok" if call else "empty",
            )
        if call is not None:
            self._announce(where.code)
        return call

    def latest_calls(self, centre: str, *, counter: int | None = None) -> list[Call]:
        code = self.catalogue.centre(centre).code
        with self.database.read() as session:
            return tickets.latest_calls(
                session, code, self.board_size, now=self.now(), counter=counter
            )

    def board(self, centre: str) -> Board:
        return Board(centre=centre, calls=self.latest_calls(centre))

    def summary(self, centre: str) -> list[ServiceSummary]:
        where = self.catalogue.centre(centre)
        with self.database.read() as session:
            return tickets.todays_summary(session, where, self.now())

    def tickets(self, centre: str, day: date | None = None) -> list[TicketRow]:
        code = self.catalogue.centre(centre).code
        with self.database.read() as session:
            return tickets.tickets_of_day(session, code, day or self.today())

    def _announce(self, centre: str) -> None:
        # The call is committed: a listener that fails (broker down) must not undo it in
        # the clerk's eyes. The worker republishes every board when it reconnects.
        board = self.board(centre)
        with self._listeners_lock:
            listeners = list(self._board_listeners)
        for listener in listeners:
            try:
                listener(board)
            except Exception:
                _LOGGER.exception("board listener failed for centre %s", centre)
