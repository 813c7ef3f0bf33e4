"""The demo under faults: a kiosk or the hub dies, rubbish arrives on the hub's topics.

These tests break parts on purpose, so they run a demo of their own. The demo supervises
its children like systemd: to observe a part while it is down, the supervisor is paused
(SIGSTOP) and resumed (SIGCONT) around the check.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from kiosk.demo import launch_demo
from kiosk.netutil import free_port_block
from tests.demo_client import Console, http_json
from tests.waiting import eventually


@pytest.fixture(scope="module")
def faulty_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("faulty-demo")
    process, info = launch_demo(state_dir, port_base=free_port_block(40), kiosks=1)
    info["process"] = process
    info["state_dir"] = state_dir
    try:
        yield info
    finally:
        os.kill(process.pid, signal.SIGCONT)
        process.terminate()
        process.wait(30)


@contextmanager
def supervisor_paused(demo: dict[str, Any]) -> Iterator[None]:
    process: subprocess.Popen[str] = demo["process"]
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


def _pids(demo: dict[str, Any]) -> dict[str, int]:
    return dict(json.loads((Path(demo["state_dir"]) / "demo.json").read_text())["pids"])


def _console(demo: dict[str, Any]) -> Console:
    return Console(demo["urls"]["console"], demo["admin"]["username"], demo["admin"]["password"])


def _take(demo: dict[str, Any], service: str = "social") -> tuple[int, dict[str, Any]]:
    return http_json(demo["urls"]["touch"]["k1"] + "api/tickets", {"service": service})


def _take_until(
    demo: dict[str, Any], status: int, timeout: float, service: str = "social"
) -> dict[str, Any]:
    """Take tickets until one gets ``status``; returns that answer's body."""
    answers: list[dict[str, Any]] = []

    def probe() -> bool:
        got, body = _take(demo, service)
        answers.append(body)
        return got == status

    eventually(probe, f"a ticket request answered {status}", timeout)
    return answers[-1]


def test_a_stopped_kiosk_shows_offline_within_ten_seconds(faulty_demo: dict[str, Any]) -> None:
    console = _console(faulty_demo)
    eventually(lambda: (console.kiosk("k1") or {}).get("state") == "online", "k1 online", 10)
    touch_pid = _pids(faulty_demo)["k1-touch"]
    with supervisor_paused(faulty_demo):
        os.kill(touch_pid, signal.SIGKILL)
        started = time.monotonic()
        eventually(
            lambda: (console.kiosk("k1") or {}).get("state") == "offline",
            "the console to show k1 offline",
            10,
        )
        assert time.monotonic() - started < 10
    # The supervisor restarts it, rewrites demo.json, and the kiosk comes back online.
    eventually(lambda: _pids(faulty_demo)["k1-touch"] != touch_pid, "a new touch PID", 10)
    eventually(lambda: (console.kiosk("k1") or {}).get("state") == "online", "k1 back", 20)


def test_hub_down_gets_a_clear_answer_and_tickets_survive_its_restart(
    faulty_demo: dict[str, Any],
) -> None:
    before = _take_until(faulty_demo, 201, 20)
    with supervisor_paused(faulty_demo):
        os.kill(_pids(faulty_demo)["hub"], signal.SIGKILL)
        body = _take_until(faulty_demo, 503, 10)
        assert body["error"] == "hub_unreachable"
        assert "服务台" in body["message"]
    after = _take_until(faulty_demo, 201, 30)
    assert int(after["number"][1:]) == int(before["number"][1:]) + 1
    day_tickets = _console(faulty_demo).get("api/centres/demo/tickets")["tickets"]
    assert before["number"] in {t["number"] for t in day_tickets}


def test_rubbish_on_the_hubs_topics_is_dropped_and_counted(faulty_demo: dict[str, Any]) -> None:
    secrets = json.loads((Path(faulty_demo["state_dir"]) / "secrets.json").read_text())
    # Pretend to be kiosk k1's bridge on the central broker: the ACL lets k1 write here.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="rubbish", protocol=mqtt.MQTTv5)
    client.username_pw_set("k1", secrets["k1"])
    client.connect("127.0.0.1", faulty_demo["ports"]["central_broker"])
    client.loop_start()
    for topic, payload in [
        ("svc/v1/kiosk/k1/rpc/ticket.take", b"\xff\xfe not json"),
        ("svc/v1/kiosk/k1/rpc/ticket.take", b'{"v": 1, "corr": 5}'),
        ("svc/v1/kiosk/k1/device/printer", b"[]"),
        ("svc/v1/kiosk/k1/rpc/no.such.method", b"{}"),
    ]:
        client.publish(topic, payload, qos=1).wait_for_publish(5)
    client.loop_stop()
    client.disconnect()
    _take_until(faulty_demo, 201, 20, service="civil")
    log = Path(faulty_demo["logs"]) / "hub.log"
    eventually(
        lambda: log.read_text().count("dropped message on svc/v1/kiosk/k1/") >= 3,
        "the hub to log the dropped messages",
        5,
    )
