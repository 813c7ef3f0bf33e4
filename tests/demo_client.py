"""Helpers to talk to a running ``kiosk demo`` the way people and kiosks do."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def http_json(
    url: str, body: dict[str, Any] | None = None, timeout: float = 10
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback test target
        url, data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def receipt_files(receipts: Path, number: str) -> Path | None:
    """The .txt of the printed receipt that carries ``number`` on a line of its own."""
    for txt in sorted(receipts.glob("*.txt")):
        if number in (line.strip() for line in txt.read_text(encoding="utf-8").splitlines()):
            return txt
    return None


class Observer:
    """An MQTT client on the central broker with the demo's read-only observer account."""

    def __init__(self, port: int, username: str, password: str, topic: str = "svc/v1/#"):
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"observer-{time.time_ns()}",
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(username, password)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(topic, qos=1)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(p) for t, p, _ in self.messages if t == topic and p]

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class Console:
    """The staff console's JSON API, logged in with a session cookie like a browser."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        import http.cookiejar
        import urllib.parse

        self.base_url = base_url
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        with self._opener.open(base_url + "login", timeout=10) as response:
            page = response.read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if token is None:
            raise AssertionError("no CSRF token on the login page")
        form = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf_token": token.group(1)}
        ).encode()
        with self._opener.open(base_url + "login", data=form, timeout=10) as response:
            if "/login" in response.geturl():
                raise AssertionError("console login failed")

    def get(self, path: str) -> dict[str, Any]:
        with self._opener.open(self.base_url + path, timeout=10) as response:
            return dict(json.loads(response.read()))

    def kiosk(self, kiosk: str) -> dict[str, Any] | None:
        for row in self.get("api/kiosks")["kiosks"]:
            if row["id"] == kiosk:
                return dict(row)
        return None
