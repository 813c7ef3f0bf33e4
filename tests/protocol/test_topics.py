from __future__ import annotations

import pytest

from kiosk.protocol import topics
from kiosk.protocol.topics import TopicError, parse_kiosk_topic


def test_builders() -> None:
    assert topics.kiosk_state("k1") == "svc/v1/kiosk/k1/state"
    assert topics.kiosk_rpc("k1", "ticket.take") == "svc/v1/kiosk/k1/rpc/ticket.take"
    assert topics.centre_board("demo") == "svc/v1/centre/demo/board"


@pytest.mark.parametrize("bad", ["", "K1", "k/1", "k+", "#", "a" * 33, "k 1"])
def test_ids_that_would_break_topic_levels_are_refused(bad: str) -> None:
    with pytest.raises(TopicError):
        topics.kiosk_state(bad)


def test_parse_round_trip() -> None:
    parsed = parse_kiosk_topic(topics.kiosk_device("k2", "printer"))
    assert (parsed.kiosk, parsed.kind, parsed.name) == ("k2", "device", "printer")
    assert parse_kiosk_topic(topics.kiosk_state("k2")).name is None


@pytest.mark.parametrize(
    "bad",
    [
        "svc/v1/kiosk/k1",
        "svc/v1/kiosk/k1/state/extra",
        "svc/v1/kiosk/k1/rpc",
        "svc/v1/kiosk/k1/unknown",
        "svc/v1/centre/demo/board",
        "svc/v1/kiosk/K1/state",
    ],
)
def test_parse_refuses_topics_outside_the_contract(bad: str) -> None:
    with pytest.raises(TopicError):
        parse_kiosk_topic(bad)
