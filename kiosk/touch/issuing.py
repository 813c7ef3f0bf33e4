"""Taking a ticket: ask the hub, lay out the slip, hand it to the printer. No Flask here.

When the hub cannot be reached the kiosk still hands out a ticket: a number from the block
the hub leased to it ahead of need, or, once that is used up, a fallback number of its own
(``kiosk.domain.queue`` has the rule). The ticket is taken from the lease and queued for
the hub in one transaction of the kiosk's outbox, so it reaches the hub exactly once.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date

from kiosk.domain.queue import format_fallback_number, format_ticket_number, service_day
from kiosk.domain.receipt import TicketSlip, ticket_qr_data, ticket_receipt
from kiosk.protocol import topics
from kiosk.protocol.messages import TicketIssued, TicketTakeResult, new_id, utcnow
from kiosk.protocol.rpc import RpcFailed, RpcTimeout
from kiosk.touch.leases import LOW_WATER, LeaseBook, LeasedService
from kiosk.touch.link import KioskLink

_LOGGER = logging.getLogger(__name__)
TOP_UP_EVERY = 60.0  # seconds between checks of every service's lease from the home page

MAX_SERVICE_CODE = 32  # TicketTakeParams.service
RECENT_TICKETS = 200  # what the ticket page can show again; more than a busy day's share


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: TicketTakeResult
    print_job: str
    offline: bool = False  # issued from a lease or a fallback count: waiting_ahead unknown


def service_code_problem(value: object) -> str | None:
    """Why ``value`` cannot be a service code, or None when it can."""
    if not isinstance(value, str):
        return "'service' must be a string."
    if not value.strip():
        return "'service' must not be empty."
    if len(value) > MAX_SERVICE_CODE:
        return f"'service' is at most {MAX_SERVICE_CODE} characters."
    return None


class TicketDesk:
    """Issues tickets through the kiosk's link and remembers the recent ones for their page."""

    def __init__(self, link: KioskLink, recent: int = RECENT_TICKETS) -> None:
        self._link = link
        self._recent_size = recent
        self._lock = threading.Lock()
        self._by_number: OrderedDict[str, IssuedTicket] = OrderedDict()
        self._by_event: OrderedDict[str, IssuedTicket] = OrderedDict()
        self._presses: dict[str, _Press] = {}
        self._leases: LeaseBook | None = None
        self._topping_up: set[str] = set()
        self._full: dict[str, date] = {}  # service → the day its lease was last seen full
        self._offline_issued: dict[str, int] = {}  # service → offline tickets so far
        self._last_top_up = 0.0

    @property
    def leases(self) -> LeaseBook:
        with self._lock:
            if self._leases is None:
                self._leases = LeaseBook(self._link.outbox)
            return self._leases

    def issue(self, service: str, event_id: str | None = None) -> IssuedTicket:
        """Take a number and send its slip to the printer (not waiting for paper).

        From the hub when it answers; otherwise from this kiosk's lease (or fallback count).
        A repeated ``event_id`` (a double tap on the same page) returns the ticket already
        issued for it without printing a second slip.
        Raises RpcFailed when the hub refuses, RpcTimeout (HubOffline) when it cannot be
        reached and the kiosk does not know the service well enough to issue offline.
        """
        if not event_id:
            return self._issue(service, new_id())
        # Two taps of one press at once wait for each other: offline, both would otherwise
        # take a number from the lease (only one slip prints, but the hub would file both).
        with self._lock:
            press = self._presses.setdefault(event_id, _Press())
            press.taps += 1
        try:
            with press.lock:
                return self._earlier(event_id) or self._issue(service, event_id)
        finally:
            with self._lock:
                press.taps -= 1
                if not press.taps:  # the last tap of this press is done
                    del self._presses[event_id]

    def _issue(self, service: str, event_id: str) -> IssuedTicket:
        try:
            ticket = self._link.take_ticket(service, event_id)
            offline = False
        except RpcTimeout as err:
            ticket = self._issue_offline(service, event_id, err)
            offline = True
        else:
            self.top_up(service)
        with self._lock:
            # (Publishing only queues the job, so holding the lock here costs microseconds.)
            if event_id in self._by_event:
                return self._by_event[event_id]
            receipt = ticket_receipt(self._slip(ticket, offline))
            job = self._link.print(receipt, label=f"ticket {ticket.number}")
            issued = IssuedTicket(ticket, print_job=job, offline=offline)
            _put(self._by_number, ticket.number, issued, self._recent_size)
            _put(self._by_event, event_id, issued, self._recent_size)
        return issued

    # --- offline -----------------------------------------------------------------------

    def _issue_offline(self, service: str, request_id: str, err: RpcTimeout) -> TicketTakeResult:
        now = utcnow()
        today = service_day(now)
        day = today.isoformat()
        known = self._known_service(service, day)
        if known is None:
            raise err  # nothing to print the slip with: the page says the hub is away
        kiosk = self._link.kiosk

        def issue(db: sqlite3.Connection) -> TicketIssued:
            number = LeaseBook.take(db, service, day)
            if number is None:
                count = LeaseBook.next_fallback(db, service, day)
                display = format_fallback_number(known.prefix, kiosk, count)
            else:
                display = format_ticket_number(known.prefix, number)
            event = TicketIssued(
                kiosk=kiosk,
                centre=self._link.centre,
                service=service,
                day=today,
                number=number,
                display_number=display,
                issued_at=now,
                request_id=request_id,
            )
            self._link.outbox.put(db, topics.TICKET_ISSUED, event)
            return event

        with self._link.outbox.transaction() as db:
            event = issue(db)
        with self._lock:
            self._full.pop(service, None)  # a number went: look at the lease again
            self._offline_issued[service] = self._offline_issued.get(service, 0) + 1
        _LOGGER.info("ticket %s issued offline (hub unreachable: %s)", event.display_number, err)
        return TicketTakeResult(
            number=event.display_number,
            service=service,
            service_name=known.service_name,
            centre_name=known.centre_name,
            day=day,
            waiting_ahead=0,
            issued_at=now,
        )

    def _known_service(self, service: str, day: str) -> LeasedService | None:
        leased = self.leases.service(service, day)
        if leased is not None:
            return leased
        listing = self._link.cached_services
        for info in listing.services if listing else ():
            if info.code == service:
                return LeasedService(info.prefix, info.name, listing.centre_name if listing else "")
        return None

    def top_up(self, service: str) -> None:
        """In the background: lease another block of ``service`` if few numbers are left.

        Online tickets do not use the lease, so once a service's lease is full for the day
        nothing is checked again until an offline ticket uses it (a thread and a query per
        ticket cost 2–3 ms of every answer, measured with bench/tickets.py)."""
        today = service_day(utcnow())
        with self._lock:
            if service in self._topping_up or self._full.get(service) == today:
                return
            self._topping_up.add(service)
        threading.Thread(target=self._top_up, args=(service,), daemon=True).start()

    def top_up_all(self, services: list[str]) -> None:
        """Every service's lease, at most every TOP_UP_EVERY seconds (the home page asks)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last_top_up < TOP_UP_EVERY:
                return
            self._last_top_up = now
        for service in services:
            self.top_up(service)

    def _top_up(self, service: str) -> None:
        with self._lock:
            issued_before = self._offline_issued.get(service, 0)
        try:
            today = service_day(utcnow())
            if self.leases.remaining(service, today.isoformat()) < LOW_WATER:
                self.leases.add(self._link.lease_tickets(service))
            with self._lock:
                # Full, unless an offline ticket took a number while we looked.
                if self._offline_issued.get(service, 0) == issued_before:
                    self._full[service] = today
        except (RpcTimeout, RpcFailed) as err:
            _LOGGER.info("no lease of %s numbers now: %s", service, err)
        finally:
            with self._lock:
                self._topping_up.discard(service)

    def recent(self, number: str) -> IssuedTicket | None:
        """The latest ticket with this number that this kiosk issued, if still remembered."""
        with self._lock:
            return self._by_number.get(number)

    def _earlier(self, event_id: str) -> IssuedTicket | None:
        with self._lock:
            return self._by_event.get(event_id)

    def _slip(self, ticket: TicketTakeResult, offline: bool) -> TicketSlip:
        return TicketSlip(
            centre_name=ticket.centre_name,
            service_name=ticket.service_name,
            number=ticket.number,
            waiting_ahead=None if offline else ticket.waiting_ahead,
            issued_at=ticket.issued_at,
            qr_data=ticket_qr_data(self._link.centre, ticket.day, ticket.number),
        )


@dataclass(slots=True)
class _Press:
    """The taps of one button press (one event id) in flight: they take turns."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    taps: int = 0


def _put(store: OrderedDict[str, IssuedTicket], key: str, value: IssuedTicket, size: int) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > size:
        store.popitem(last=False)
