"""No duplicate or lost number when kiosks press at once, and none after a restart."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

from kiosk.hub.catalogue import Catalogue
from kiosk.hub.db import Database, migrate
from kiosk.hub.desk import QueueDesk
from kiosk.settings import Settings
from tests.hub.conftest import CENTRE, FakeClock, kiosk_state


def _desk(settings: Settings, clock: FakeClock) -> QueueDesk:
    database = Database(settings.hub.database_url)
    return QueueDesk(database, Catalogue.from_settings(settings.hub), clock=clock)


def test_fifty_tickets_at_once_from_two_kiosks_are_distinct_and_consecutive(
    settings: Settings, clock: FakeClock
) -> None:
    migrate(settings.hub.database_url)
    # Two engines, as two hub processes would have: each with its own connection pool.
    desks = [_desk(settings, clock), _desk(settings, clock)]
    for kiosk in ("k1", "k2"):
        desks[0].kiosk_state(kiosk_state(kiosk))
    start = threading.Barrier(50)

    def take(i: int) -> str:
        start.wait(timeout=10)  # all fifty press together
        return desks[i % 2].take(f"k{i % 2 + 1}", "social", uuid.uuid4().hex).number

    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            numbers = list(pool.map(take, range(50)))
    finally:
        for desk in desks:
            desk.database.dispose()
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 51)]


def test_retries_of_one_request_racing_each_other_get_one_ticket(
    settings: Settings, clock: FakeClock
) -> None:
    migrate(settings.hub.database_url)
    desk = _desk(settings, clock)
    desk.kiosk_state(kiosk_state("k1"))
    event_id = uuid.uuid4().hex
    start = threading.Barrier(10)

    def take(_i: int) -> str:
        start.wait(timeout=10)
        return desk.take("k1", "social", event_id).number

    try:
        with ThreadPoolExecutor(max_workers=10) as pool:
            numbers = set(pool.map(take, range(10)))
        assert numbers == {"A001"}
        assert desk.take("k1", "social", uuid.uuid4().hex).number == "A002"
    finally:
        desk.database.dispose()


def test_tickets_survive_a_restart_and_numbering_continues(
    settings: Settings, clock: FakeClock
) -> None:
    migrate(settings.hub.database_url)
    before = _desk(settings, clock)
    before.kiosk_state(kiosk_state("k1"))
    taken = [before.take("k1", "social", uuid.uuid4().hex).number for _ in range(3)]
    before.database.dispose()

    migrate(settings.hub.database_url)  # the next start migrates again: a no-op
    after = _desk(settings, clock)
    try:
        assert [t.number for t in after.tickets(CENTRE)] == taken == ["A001", "A002", "A003"]
        assert after.take("k1", "social", uuid.uuid4().hex).number == "A004", (
            "the kiosk's centre is remembered in the database too"
        )
    finally:
        after.database.dispose()
