"""docs/asyncapi.yaml is the contract the code implements, not a hand-kept copy."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kiosk.protocol import messages, topics
from kiosk.protocol.asyncapi import CHANNELS, asyncapi_document, asyncapi_yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"


def test_published_document_matches_the_code() -> None:
    assert DOC.read_text(encoding="utf-8") == asyncapi_yaml(), (
        "docs/asyncapi.yaml is stale: run `kiosk asyncapi > docs/asyncapi.yaml`"
    )


def test_every_message_type_has_a_channel() -> None:
    documented = {channel.message for channel in CHANNELS}
    assert set(messages.MESSAGE_TYPES) <= documented


def test_every_rpc_method_is_documented() -> None:
    assert set(asyncapi_document()["x-rpc-methods"]) == set(messages.RPC_METHODS)


def _matches(template: str, topic: str) -> bool:
    pattern = re.sub(r"\\{\w+\\}", r"[^/]+", re.escape(template))
    return re.fullmatch(pattern, topic) is not None


def test_topic_builders_produce_documented_addresses() -> None:
    built = [
        topics.kiosk_state("k1"),
        topics.kiosk_device("k1", "printer"),
        topics.kiosk_rpc("k1", "ticket.take"),
        topics.kiosk_reply("k1"),
        topics.kiosk_event("k1", topics.HELP_REQUESTED),
        topics.kiosk_event("k1", topics.COMMAND_RESULT),
        topics.kiosk_cmd("k1", "print_test"),
        topics.centre_board("demo"),
        topics.HUB_STATE,
        topics.PRINT_JOB,
        topics.PRINT_RESULT,
        topics.CARD_EVENT,
        topics.GPIO_EVENT,
    ]
    addresses = [channel.address for channel in CHANNELS]
    for topic in built:
        assert any(_matches(a, topic) for a in addresses), topic


def test_document_is_valid_yaml_with_resolvable_refs() -> None:
    doc = yaml.safe_load(DOC.read_text(encoding="utf-8"))
    text = DOC.read_text(encoding="utf-8")
    for ref in re.findall(r"\$ref: '#/([^']+)'", text):
        node = doc
        for part in ref.split("/"):
            assert part in node, f"dangling $ref #{ref}"
            node = node[part]
