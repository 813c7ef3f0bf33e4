"""Writers of one hub process take turns in the order they came (kiosk/hub/db.py)."""

from __future__ import annotations

import threading

from kiosk.hub.db import Database
from tests.waiting import eventually


def test_a_writer_in_a_loop_lets_the_one_waiting_go_first(database: Database) -> None:
    order: list[str] = []
    turns = database._turns
    assert turns is not None, "SQLite databases queue their writers"

    def waiting_writer() -> None:
        with database.write():
            order.append("waiting writer")

    with database.write():
        order.append("loop, first round")
        other = threading.Thread(target=waiting_writer)
        other.start()
        eventually(lambda: turns._next == 2, "the other writer in the queue")
    with database.write():  # the loop comes straight back for its next round
        order.append("loop, second round")
    other.join(5)
    assert order == ["loop, first round", "waiting writer", "loop, second round"]


def test_a_thread_that_holds_a_turn_is_not_queued_behind_itself(database: Database) -> None:
    """SQLite answers a nested write as it always did; the queue must not make it a hang."""
    turns = database._turns
    assert turns is not None
    done = threading.Event()

    def nested() -> None:
        with database.write(), turns.turn():
            done.set()

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    thread.join(5)
    assert done.is_set()
