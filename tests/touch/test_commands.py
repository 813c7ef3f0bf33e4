"""Remote commands at the kiosk: through the real central and edge brokers and the bridge.

The stand-in hub publishes on the central broker, the edge bridge carries the command in,
the touch app runs it and its result goes back out to where the hub reads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from kiosk.protocol import topics
from kiosk.protocol.messages import (
    CommandResult,
    KioskCommand,
    KioskHealth,
    PrintJob,
    PrintResult,
    decode,
)
from kiosk.settings import Settings
from kiosk.touch import create_app
from kiosk.touch.app import CONFIG_FILE
from kiosk.touch.commands import EXTENSION, KioskCommands, config_problem
from kiosk.touch.link import KioskLink
from tests.brokers import KIOSK, RunningBroker
from tests.touch.conftest import WAIT, Listener, StandInHub
from tests.waiting import eventually


@pytest.fixture
def results(central_broker: RunningBroker) -> Iterator[Listener]:
    """Where the hub reads the kiosk's answers (read-only observer on the central broker)."""
    listener = Listener(
        central_broker, "observer", topics.kiosk_event(KIOSK, topics.COMMAND_RESULT)
    )
    yield listener
    listener.close()


@pytest.fixture
def commands(app: Flask) -> KioskCommands:
    runner: KioskCommands = app.extensions[EXTENSION]
    runner.print_wait = WAIT  # a loaded test machine may be slow; the answer comes when printed
    return runner


def command(
    name: str, *, kiosk: str = KIOSK, expires_in: float = 60, **params: Any
) -> KioskCommand:
    now = datetime.now(UTC)
    return KioskCommand(
        kiosk=kiosk,
        name=name,  # type: ignore[arg-type]
        params=params,
        expires_at=now + timedelta(seconds=expires_in),
        actor="user:boss",
        ts=now,
    )


def send(hub: StandInHub, message: KioskCommand | bytes, name: str | None = None) -> None:
    topic_name = name or (message.name if isinstance(message, KioskCommand) else "reload")
    topic = topics.kiosk_cmd(KIOSK, topic_name)
    hub.link.publish(topic, message, qos=1).wait_for_publish(WAIT)


def result_of(results: Listener, command_id: str) -> CommandResult:
    payload = results.first(
        lambda p: decode(CommandResult, p).command_id == command_id, f"the result of {command_id}"
    )
    return decode(CommandResult, payload)


def answer_prints(edge: RunningBroker, printer_side: Listener) -> Listener:
    """Stand in for the firmware bridge: every print job is reported printed."""
    answers = Listener(edge, "bridge", "local/v1/none")

    def on_job(_topic: str, payload: bytes, _props: object) -> None:
        job = decode(PrintJob, payload)
        answers.link.publish(
            topics.PRINT_RESULT, PrintResult(job_id=job.id, status="printed"), qos=1
        )

    answers.link.subscribe(topics.PRINT_JOB, on_job)
    return answers


def test_print_test_prints_a_slip_and_answers_done(
    hub: StandInHub,
    commands: KioskCommands,
    results: Listener,
    printer_side: Listener,
    edge_broker: RunningBroker,
) -> None:
    answers = answer_prints(edge_broker, printer_side)
    try:
        sent = command("print_test")
        send(hub, sent)
        job = decode(PrintJob, printer_side.first(lambda _p: True, "the test page's print job"))
        texts = [getattr(block, "text", "") for block in job.receipt]
        assert "终端测试页" in texts and f"终端 {KIOSK}" in texts
        answer = result_of(results, sent.id)
        assert (answer.kiosk, answer.name, answer.status) == (KIOSK, "print_test", "done")
    finally:
        answers.close()


def test_an_expired_command_is_refused_and_not_printed(
    hub: StandInHub, commands: KioskCommands, results: Listener, printer_side: Listener
) -> None:
    stale = command("print_test", expires_in=-3600)  # yesterday's: must not print today
    send(hub, stale)
    answer = result_of(results, stale.id)
    assert answer.status == "expired"
    # A later command's result proves the kiosk has handled the stale one by now.
    later = command("rebirth")
    send(hub, later)
    assert result_of(results, later.id).status == "done"
    assert printer_side.payloads() == []
    assert "print_test" not in commands.executed


def test_a_command_for_another_kiosk_is_refused(
    hub: StandInHub, commands: KioskCommands, results: Listener, printer_side: Listener
) -> None:
    foreign = command("print_test", kiosk="k2")
    send(hub, foreign)
    answer = result_of(results, foreign.id)
    assert (answer.kiosk, answer.status) == (KIOSK, "refused")
    assert "k1" in answer.detail
    assert printer_side.payloads() == [] and list(commands.executed) == []


def test_a_malformed_command_is_counted_and_dropped_and_the_kiosk_goes_on(
    hub: StandInHub, commands: KioskCommands, results: Listener, link: KioskLink
) -> None:
    send(hub, b"{not json", name="reload")
    named = json.dumps({"v": 1, "id": "c" * 32, "kiosk": KIOSK, "name": "reload"}).encode()
    send(hub, named, name="reload")  # no expires_at: refused by name, with the reason
    answer = result_of(results, "c" * 32)
    assert answer.status == "refused" and "expires_at" in answer.detail
    assert commands.malformed == 2 and list(commands.executed) == []
    fine = command("reload")
    send(hub, fine)
    assert result_of(results, fine.id).status == "done"
    assert link.is_connected and commands.reloads == 1


def test_a_command_delivered_twice_runs_once(
    hub: StandInHub,
    commands: KioskCommands,
    results: Listener,
    printer_side: Listener,
    edge_broker: RunningBroker,
) -> None:
    answers = answer_prints(edge_broker, printer_side)
    try:
        once = command("print_test")
        send(hub, once)
        assert result_of(results, once.id).status == "done"
        send(hub, once)  # a redelivery (QoS 1 is at least once): answered, not run again
        eventually(
            lambda: len([p for p in results.payloads() if once.id.encode() in p]) >= 2,
            "an answer to each delivery",
            WAIT,
        )
        after = command("reload")
        send(hub, after)
        result_of(results, after.id)
    finally:
        answers.close()
    assert len(printer_side.payloads()) == 1
    assert list(commands.executed) == ["print_test", "reload"]
    statuses = {
        decode(CommandResult, p).status for p in results.payloads() if once.id.encode() in p
    }
    assert statuses == {"done"}


def test_reload_changes_the_counter_the_screens_poll(
    hub: StandInHub, app: Flask, commands: KioskCommands, results: Listener
) -> None:
    client = app.test_client()
    before = client.get("/api/status").get_json()["reload"]
    page = client.get("/welcome").get_data(as_text=True)
    assert f'data-seq-reload="{before}"' in page
    sent = command("reload")
    send(hub, sent)
    assert result_of(results, sent.id).status == "done"
    assert client.get("/api/status").get_json()["reload"] == before + 1


def test_config_is_validated_and_applied_to_the_screens(
    hub: StandInHub, app: Flask, commands: KioskCommands, results: Listener
) -> None:
    bad = command("config", services={"Social Security!": "x"}, texts={"footer": "hi"})
    send(hub, bad)
    refused = result_of(results, bad.id)
    assert refused.status == "refused"
    assert "services" in refused.detail and "texts" in refused.detail
    good = command(
        "config", services={"social": "社保医保（新）"}, texts={"welcome": "欢迎来到社区中心"}
    )
    send(hub, good)
    assert result_of(results, good.id).status == "done"
    client = app.test_client()
    assert "欢迎来到社区中心" in client.get("/welcome").get_data(as_text=True)
    assert "社保医保（新）" in client.get("/").get_data(as_text=True)


def test_rebirth_announces_state_and_health_again(
    hub: StandInHub,
    commands: KioskCommands,
    results: Listener,
    central_broker: RunningBroker,
    observer: Listener,
) -> None:
    # (The link fixture connected before the app existed: no health was sent at connect.)
    health = Listener(central_broker, "observer", topics.kiosk_health(KIOSK))
    try:
        births = len(observer.first(lambda _p: True, "the kiosk's birth") and observer.payloads())
        sent = command("rebirth")
        send(hub, sent)
        assert result_of(results, sent.id).status == "done"
        payload = health.first(lambda _p: True, "health announced")
        eventually(lambda: len(observer.payloads()) > births, "the state announced again", WAIT)
    finally:
        health.close()
    assert decode(KioskHealth, payload).kiosk == KIOSK


def test_config_problems_are_named() -> None:
    assert config_problem({}) is None
    assert config_problem({"services": {"social": "社保"}, "texts": {"notice": "今天休息"}}) is None
    assert "at most 120" in (config_problem({"texts": {"welcome": "长" * 121}}) or "")
    assert (
        "unexpected" in (config_problem({"colour": "red"}) or "").lower()
        or "extra" in (config_problem({"colour": "red"}) or "").lower()
    )


def test_pushed_config_survives_a_restart_of_the_touch_app(
    hub: StandInHub, app: Flask, settings: Settings, link: KioskLink, results: Listener
) -> None:
    good = command("config", texts={"welcome": "重启后仍然欢迎您"})
    send(hub, good)
    assert result_of(results, good.id).status == "done"
    restarted = create_app(settings, link)  # a new process reads what the old one kept
    assert "重启后仍然欢迎您" in restarted.test_client().get("/welcome").get_data(as_text=True)
    (settings.state_dir / CONFIG_FILE).write_text("{not json")  # a torn or foreign file
    fresh = create_app(settings, link).test_client().get("/welcome").get_data(as_text=True)
    assert "重启后仍然欢迎您" not in fresh, "an unreadable file is ignored, not fatal"
