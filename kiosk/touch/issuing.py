"""Taking a ticket: ask the hub, lay out the slip, hand it to the printer. No Flask here."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from kiosk.domain.receipt import TicketSlip, ticket_qr_data, ticket_receipt
from kiosk.protocol.messages import TicketTakeResult
from kiosk.touch.link import KioskLink

MAX_SERVICE_CODE = 32  # TicketTakeParams.service
RECENT_TICKETS = 200  # what the ticket page can show again; more than a busy day's share


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    ticket: TicketTakeResult
    print_job: str


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

    def issue(self, service: str, event_id: str | None = None) -> IssuedTicket:
        """Take a number from the hub and send its slip to the printer (not waiting for paper).

        A repeated ``event_id`` (a double tap on the same page) returns the ticket already
        issued for it without printing a second slip.
        Raises RpcTimeout (HubOffline) when the hub cannot be reached, RpcFailed when it refuses.
        """
        if event_id and (earlier := self._earlier(event_id)):
            return earlier
        ticket = self._link.take_ticket(service, event_id)
        with self._lock:
            # Two taps in flight at once get the same ticket from the hub: print it once.
            # (Publishing only queues the job, so holding the lock here costs microseconds.)
            if event_id and event_id in self._by_event:
                return self._by_event[event_id]
            receipt = ticket_receipt(self._slip(ticket))
            job = self._link.print(receipt, label=f"ticket {ticket.number}")
            issued = IssuedTicket(ticket, print_job=job)
            _put(self._by_number, ticket.number, issued, self._recent_size)
            if event_id:
                _put(self._by_event, event_id, issued, self._recent_size)
        return issued

    def recent(self, number: str) -> IssuedTicket | None:
        """The latest ticket with this number that this kiosk issued, if still remembered."""
        with self._lock:
            return self._by_number.get(number)

    def _earlier(self, event_id: str) -> IssuedTicket | None:
        with self._lock:
            return self._by_event.get(event_id)

    def _slip(self, ticket: TicketTakeResult) -> TicketSlip:
        return TicketSlip(
            centre_name=ticket.centre_name,
            service_name=ticket.service_name,
            number=ticket.number,
            waiting_ahead=ticket.waiting_ahead,
            issued_at=ticket.issued_at,
            qr_data=ticket_qr_data(self._link.centre, ticket.day, ticket.number),
        )


def _put(store: OrderedDict[str, IssuedTicket], key: str, value: IssuedTicket, size: int) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > size:
        store.popitem(last=False)
