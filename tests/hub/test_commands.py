"""Remote commands: recorded, audited, published with an expiry, answered or expired."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from paho.mqtt.properties import Properties
from sqlalchemy import select

from kiosk.hub.app import create_app
from kiosk.hub.commands import CommandDesk, CommandError
from kiosk.hub.db import Database
from kiosk.hub.desk import QueueDesk
from kiosk.hub.enrolment import record
from kiosk.hub.events import CommandResult, KioskCommand
from kiosk.hub.models import AuditEntry
from kiosk.hub.users import add_user
from kiosk.hub.worker import HubWorker
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import decode
from kiosk.settings import Settings
from tests.brokers import RunningBroker
from tests.demo_client import Console
from tests.hub.conftest import CENTRE, WAIT, FakeClock, eventually, kiosk_state
from tests.hub.console_client import log_in

PASSWORD = "correct horse battery"  # noqa: S105 - a test account


class Published:
    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.sent: list[tuple[KioskCommand, int]] = []

    def __call__(self, command: KioskCommand, expiry: int) -> bool:
        self.sent.append((command, expiry))
        return self.ok


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def commands(database: Database, clock: FakeClock, published: Published) -> CommandDesk:
    return CommandDesk(database, clock=clock, expiry=120, publisher=published)


def test_a_command_is_recorded_audited_and_published_with_its_deadline(
    desk: QueueDesk, commands: CommandDesk, published: Published, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    sent = commands.send("k1", "print_test", actor="user:boss", scope=None, remote_addr="10.0.0.9")
    ((message, expiry),) = published.sent
    assert (message.id, message.kiosk, message.name, expiry) == (sent.id, "k1", "print_test", 120)
    assert (message.expires_at - clock.now).total_seconds() == 120
    assert sent.status == "sent"
    answer = CommandResult(kiosk="k1", command_id=sent.id, name="print_test", status="done")
    assert commands.result(answer)
    assert not commands.result(answer), "a repeat changes nothing"
    done = commands.get(sent.id)
    assert done is not None and (done.status, done.finished_at) == ("done", clock.now)
    with desk.database.read() as session:
        entries = [(e.actor, e.action, e.remote_addr) for e in session.scalars(select(AuditEntry))]
    assert entries == [
        ("user:boss", "kiosk.command", "10.0.0.9"),
        ("kiosk:k1", "kiosk.command_result", None),
    ]


def test_an_unanswered_command_expires_and_a_late_answer_is_ignored(
    desk: QueueDesk, commands: CommandDesk, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    sent = commands.send("k1", "reload", actor="user:boss", scope=None)
    clock.advance(seconds=119)
    assert commands.expire_overdue() == 0
    clock.advance(seconds=2)
    assert commands.expire_overdue() == 1
    late = CommandResult(kiosk="k1", command_id=sent.id, name="reload", status="done")
    assert not commands.result(late)
    assert [c.status for c in commands.of_kiosk("k1")] == ["expired"]


def test_another_kiosk_cannot_answer_for_a_command(
    desk: QueueDesk, commands: CommandDesk, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    sent = commands.send("k1", "rebirth", actor="user:boss", scope=None)
    forged = CommandResult(kiosk="k2", command_id=sent.id, name="rebirth", status="failed")
    assert not commands.result(forged)
    assert commands.get(sent.id).status == "sent"  # type: ignore[union-attr]


def test_commands_only_to_known_kiosks_in_scope_and_not_revoked(
    database: Database, desk: QueueDesk, commands: CommandDesk, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    with pytest.raises(CommandError, match="no kiosk"):
        commands.send("k9", "reload", actor="user:boss", scope=None)
    with pytest.raises(CommandError, match="no kiosk"):
        commands.send("k1", "reload", actor="user:x", scope=frozenset({"north"}))
    with pytest.raises(CommandError, match="unknown command"):
        commands.send("k1", "format_disk", actor="user:boss", scope=None)
    record(database.url, "kiosk.revoke", "k1", CENTRE, "cli:root")
    with pytest.raises(CommandError, match="revoked"):
        commands.send("k1", "reload", actor="user:boss", scope=None)


def test_without_a_broker_the_command_fails_at_once(
    desk: QueueDesk, database: Database, clock: FakeClock
) -> None:
    desk.kiosk_state(kiosk_state("k1", ts=clock.now))
    offline = CommandDesk(database, clock=clock, publisher=Published(ok=False))
    sent = offline.send("k1", "reload", actor="user:boss", scope=None)
    assert (sent.status, sent.detail) == ("failed", "the hub is not connected to the broker")


def test_the_console_sends_commands_for_admins_only(
    settings: Settings, desk: QueueDesk, commands: CommandDesk, published: Published
) -> None:
    add_user(desk.database, "boss", PASSWORD, role="admin")
    add_user(desk.database, "clerk", PASSWORD, role="staff", centres=[CENTRE])
    desk.kiosk_state(kiosk_state("k1", ts=desk.now()))
    app = create_app(settings, desk, secret_key=b"k" * 32, commands=commands)
    boss, clerk = app.test_client(), app.test_client()
    token = log_in(boss, "boss", PASSWORD)
    page = boss.get("/fleet/k1").get_data(as_text=True)
    assert "远程指令" in page and 'data-confirm="' in page
    assert (
        boss.post("/fleet/k1/commands", data={"name": "reload", "csrf_token": token}).status_code
        == 302
    )
    assert "已发出：重新载入" in boss.get("/fleet/k1").get_data(as_text=True)
    api = boss.post(
        "/api/kiosks/k1/commands",
        json={"name": "config", "params": {"texts": {"welcome": "欢迎"}}},
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 202 and api.get_json()["command"]["params"]["texts"]
    assert [m.name for m, _ in published.sent] == ["reload", "config"]
    listed = boss.get("/api/kiosks/k1/commands").get_json()["commands"]
    assert [c["name"] for c in listed] == ["config", "reload"]
    bad = boss.post("/api/kiosks/k1/commands", json={"name": "x"}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 404
    clerk_token = log_in(clerk, "clerk", PASSWORD)
    assert "远程指令" not in clerk.get("/fleet/k1").get_data(as_text=True)
    refused = clerk.post("/fleet/k1/commands", data={"name": "reload", "csrf_token": clerk_token})
    assert refused.status_code == 403


def test_a_command_reaches_the_kiosk_with_its_expiry_and_the_result_comes_back(
    central_broker: RunningBroker, live_desk: QueueDesk, database: Database
) -> None:
    commands = CommandDesk(database, clock=live_desk.now, expiry=90)
    hub = HubWorker(
        central_broker.mqtt_settings("hub"), live_desk, client_id="hub-cmd", commands=commands
    )
    commands.publisher = hub.publish_command
    hub.start()
    got: list[tuple[bytes, int | None]] = []
    arrived = threading.Event()

    def on_command(_topic: str, payload: bytes, props: Properties | None) -> None:
        got.append((payload, getattr(props, "MessageExpiryInterval", None)))
        arrived.set()

    kiosk = MqttLink(f"k1-{uuid.uuid4().hex[:6]}", central_broker.mqtt_settings("k1"))
    kiosk.subscribe("svc/v1/kiosk/k1/cmd/+", on_command)
    kiosk.start()
    try:
        assert hub.wait_connected(WAIT) and kiosk.wait_connected(WAIT)
        kiosk.publish(topics.kiosk_state("k1"), kiosk_state("k1"), retain=True)
        eventually(live_desk.kiosks, "k1 known")
        sent = commands.send("k1", "print_test", actor="user:boss", scope=None)
        assert arrived.wait(WAIT)
        payload, expiry = got[0]
        message = decode(KioskCommand, payload)
        assert (message.id, message.name) == (sent.id, "print_test")
        assert expiry is not None and 85 <= expiry <= 90
        result = CommandResult(
            kiosk="k1", command_id=sent.id, name="print_test", status="failed", detail="缺纸"
        )
        kiosk.publish(topics.kiosk_event("k1", "command.result"), result)
        eventually(lambda: commands.get(sent.id).status == "failed", "the result")  # type: ignore[union-attr]
    finally:
        kiosk.stop()
        hub.stop()
    assert commands.get(sent.id).detail == "缺纸"  # type: ignore[union-attr]


def test_end_to_end_the_console_prints_a_test_page_on_a_demo_kiosk(
    demo: dict[str, Any],
) -> None:
    """Console → hub → central broker → edge bridge → touch app → firmware bridge → printer
    simulator, and the result back: done in the console and in the audit log."""
    admin = demo["admin"]
    console = Console(demo["urls"]["console"], admin.get("username", "admin"), admin["password"])
    eventually(lambda: (console.kiosk("k1") or {}).get("online"), "k1 online in the console")
    health = eventually(lambda: (console.kiosk("k1") or {}).get("health"), "k1's health report")
    assert health["kiosk"] == "k1" and health["disk_total_bytes"] > 0
    sent = _post_json(console, "api/kiosks/k1/commands", {"name": "print_test"})
    command_id = sent["command"]["id"]
    receipts = Path(demo["receipts"]) / "k1"

    def printed() -> Path | None:
        for txt in sorted(receipts.glob("*.txt")):
            text = txt.read_text(encoding="utf-8")
            if "终端测试页" in text and command_id[:12] in text:
                return txt
        return None

    slip = eventually(printed, "the test page from the printer simulator", timeout=20)
    assert "终端 k1" in slip.read_text(encoding="utf-8")

    def finished() -> dict[str, Any] | None:
        listed = console.get("api/kiosks/k1/commands")["commands"]
        mine = next(c for c in listed if c["id"] == command_id)
        return mine if mine["status"] != "sent" else None

    result = eventually(finished, "the kiosk's answer", timeout=20)
    assert result["status"] == "done", result
    page = _get_text(console, "fleet/k1")
    assert f'data-command="{command_id}"' in page
    entries = console.get("api/audit")["entries"]
    trail = [(e["action"], e["outcome"]) for e in entries if command_id in str(e)]
    assert ("kiosk.command", "ok") in trail
    assert ("kiosk.command_result", "done") in trail


def _get_text(console: Console, path: str) -> str:
    opener = console._opener  # the logged-in session, as a browser has it
    with opener.open(console.base_url + path, timeout=10) as response:
        return str(response.read().decode())


def _post_json(console: Console, path: str, body: dict[str, Any]) -> dict[str, Any]:
    token = re.search(r'name="csrf-token" content="([^"]+)"', _get_text(console, ""))
    assert token, "no CSRF token on the console's pages"
    request = urllib.request.Request(  # noqa: S310 - the demo console on loopback
        console.base_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-CSRF-Token": token.group(1)},
        method="POST",
    )
    with console._opener.open(request, timeout=10) as response:
        assert response.status == 202
        return dict(json.loads(response.read()))
