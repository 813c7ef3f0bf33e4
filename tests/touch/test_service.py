"""``run()`` as its own process: it serves, says online, and says offline however it ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.netutil import free_port, wait_for_port
from kiosk.protocol.messages import KioskState, decode
from tests.brokers import RunningBroker
from tests.touch.conftest import WAIT, Listener, StandInHub

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = (
    "import logging, sys; from pathlib import Path;"
    "from kiosk.settings import load_settings; from kiosk.touch.service import run;"
    "logging.basicConfig(level='INFO');"
    "sys.exit(run(load_settings(Path(sys.argv[1]))))"
)


class TouchProcess:
    def __init__(self, tmp_path: Path, edge: RunningBroker) -> None:
        self.port = free_port()
        config = tmp_path / "touch.json"
        mqtt = edge.mqtt_settings("touch").model_dump(mode="json")
        config.write_text(
            json.dumps(
                {
                    "kiosk": {"id": "k1", "centre": "demo"},
                    "mqtt": mqtt,
                    "touch": {"port": self.port, "threads": 4, "rpc_timeout": 2},
                }
            )
        )
        self.log = tmp_path / "touch.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SCRIPT, str(config)],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        assert wait_for_port("127.0.0.1", self.port, WAIT), self.log.read_text()

    def get(self, path: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return int(response.status), response.read()

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT)


@pytest.fixture
def touch_process(
    tmp_path: Path, edge_broker: RunningBroker, hub: StandInHub
) -> Iterator[TouchProcess]:
    process = TouchProcess(tmp_path, edge_broker)
    yield process
    process.end()


def _state(observer: Listener, state: str, session: int | None = None) -> KioskState:
    def matches(payload: bytes) -> bool:
        if not payload:
            return False
        message = decode(KioskState, payload)
        return message.state == state and session in (None, message.session)

    return decode(KioskState, observer.first(matches, f"kiosk state {state} {session or ''}"))


def test_it_serves_and_its_will_says_offline_when_killed(
    touch_process: TouchProcess, observer: Listener, edge_broker: RunningBroker
) -> None:
    status, body = touch_process.get("/api/services")
    assert status == 200 and json.loads(body)["centre"] == "demo"
    online = _state(observer, "online", session=1)
    # A reconnect (here: the edge broker restarts) is a new session, with a Will to match.
    edge_broker.stop()
    edge_broker.start()
    again = _state(observer, "online", session=2)
    assert again.boot_id == online.boot_id
    os.kill(touch_process.process.pid, signal.SIGKILL)
    touch_process.process.wait(WAIT)
    # (The restart may already have sent the Will of session 1: that connection did end.)
    will = _state(observer, "offline", session=2)
    assert will.boot_id == online.boot_id


def test_sigterm_says_offline_and_exits_0(
    touch_process: TouchProcess, observer: Listener, central_broker: RunningBroker
) -> None:
    online = _state(observer, "online")
    touch_process.process.send_signal(signal.SIGTERM)
    assert touch_process.process.wait(WAIT) == 0, touch_process.log.read_text()
    offline = _state(observer, "offline")
    assert (offline.boot_id, offline.session) == (online.boot_id, online.session)
    late = Listener(central_broker, "observer", "svc/v1/kiosk/k1/state")
    try:
        retained = decode(KioskState, late.first(bool, "the retained state"))
    finally:
        late.close()
    assert retained.state == "offline" and retained.boot_id == online.boot_id
