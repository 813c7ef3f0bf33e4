"""``run(settings)`` as its own process: serves, says online, stops cleanly on a signal."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.properties import Properties

from kiosk.hub.service import run
from kiosk.netutil import free_port
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import HubState, decode
from tests.brokers import RunningBroker
from tests.hub.conftest import CENTRE, WAIT, eventually, make_settings

ROOT = Path(__file__).resolve().parents[2]
RUN_HUB = (
    "import sys, logging; from pathlib import Path; "
    "from kiosk.settings import load_settings; from kiosk.hub.service import run; "
    "logging.basicConfig(level='INFO'); "
    "sys.exit(run(load_settings(Path(sys.argv[1]))))"
)


def _settings_file(tmp_path: Path, broker: RunningBroker, port: int) -> Path:
    settings = make_settings(
        tmp_path, port=port, threads=4, database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    )
    data = settings.model_dump(mode="json")
    data["mqtt"] = broker.mqtt_settings("hub").model_dump(mode="json")
    path = tmp_path / "hub.json"
    path.write_text(json.dumps(data, ensure_ascii=False))
    return path


def _get(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            body: dict[str, Any] = json.loads(response.read())
            return body
    except OSError:
        return None


@contextmanager
def _hub_states(broker: RunningBroker) -> Iterator[list[HubState]]:
    seen: list[HubState] = []
    lock = threading.Lock()

    def on_state(_topic: str, payload: bytes, _props: Properties | None) -> None:
        with lock:
            seen.append(decode(HubState, payload))

    link = MqttLink("observer-service", broker.mqtt_settings("observer"))
    link.subscribe(topics.HUB_STATE, on_state)
    link.start()
    try:
        yield seen
    finally:
        link.stop()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_the_hub_process_serves_and_stops_cleanly_on_a_signal(
    tmp_path: Path, central_broker: RunningBroker, stop_signal: signal.Signals
) -> None:
    port = free_port()
    config = _settings_file(tmp_path, central_broker, port)
    log = (tmp_path / "hub.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_HUB, str(config)], cwd=ROOT, stdout=log, stderr=log
    )
    try:
        with _hub_states(central_broker) as states:
            health = eventually(
                lambda: (h := _get(f"http://127.0.0.1:{port}/healthz")) and h["mqtt"] and h,
                "the console with MQTT up",
                timeout=20,
            )
            assert health == {"ok": True, "mqtt": True}
            calls = _get(f"http://127.0.0.1:{port}/display/{CENTRE}/calls.json")
            assert calls is not None and calls["calls"] == []
            online = eventually(lambda: [s for s in states if s.state == "online"], "online")
            process.send_signal(stop_signal)
            assert process.wait(WAIT) == 0
            offline = eventually(lambda: [s for s in states if s.state == "offline"], "offline")
        assert offline[-1].boot_id == online[-1].boot_id
        assert _get(f"http://127.0.0.1:{port}/healthz") is None, "the console is closed"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        log.close()
    assert b"Traceback" not in (tmp_path / "hub.log").read_bytes()


def test_run_returns_1_when_the_console_port_is_taken(
    tmp_path: Path, central_broker: RunningBroker
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = make_settings(tmp_path, port=port).model_copy(
            update={"mqtt": central_broker.mqtt_settings("hub")}
        )
        assert run(settings) == 1
