"""The running central broker: make it reread its files (SIGHUP), try a login on it, and
clear a revoked kiosk's retained topics."""

from __future__ import annotations

import os
import secrets
import signal
import ssl
import threading
import time
from pathlib import Path
from typing import Any, get_args

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from kiosk.ca import CertPair
from kiosk.enroll.targets import CentralBrokerFiles, Endpoint, EnrolError
from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import DeviceState
from kiosk.settings import MqttSettings

CHECK_TIMEOUT = 5.0  # seconds to wait for the broker to accept (or refuse) a login


def reload_broker(broker: CentralBrokerFiles) -> int:
    """SIGHUP to the central Mosquitto (it rereads password and ACL files, and drops
    connected clients whose login no longer passes). Returns the PID signalled."""
    pid = broker.broker_pid()
    if pid is None:
        where = broker.pid_file or "demo.json"
        raise EnrolError(
            f"cannot find the central broker's PID ({where}); reload it yourself "
            "(systemctl reload mosquitto) or give --pid-file"
        )
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError as err:
        raise EnrolError(f"the central broker (PID {pid}) is not running") from err
    # A PID file outlives its process, and PIDs are reused: signal only a Mosquitto.
    if not argv or not argv[0].endswith(b"mosquitto"):
        raise EnrolError(f"PID {pid} is not a mosquitto process; not signalling it")
    os.kill(pid, signal.SIGHUP)
    return pid


def check_login(
    endpoint: Endpoint,
    username: str,
    password: str,
    *,
    cert: CertPair | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> str | None:
    """None if the broker accepts this login, else why not (refused, TLS failure, no answer).

    Connects with a clean session under a client id of its own. On a TLS listener with
    ``use_username_as_clientid`` the id becomes the username, so do not check a kiosk whose
    bridge is connected: the check would take over (and end) its session.
    """
    answer: list[str | None] = []
    done = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"{username}-check-{secrets.token_hex(3)}",
        protocol=mqtt.MQTTv5,
    )
    client.username_pw_set(username, password)
    if endpoint.ca_file is not None:
        client.tls_set(
            ca_certs=str(endpoint.ca_file),
            certfile=str(cert.cert) if cert else None,
            keyfile=str(cert.key) if cert else None,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )

    def on_connect(*args: Any) -> None:
        reason: ReasonCode = args[3]
        answer.append(f"refused: {reason}" if reason.is_failure else None)
        done.set()

    def on_disconnect(*args: Any) -> None:
        if not done.is_set():
            answer.append(f"disconnected before CONNACK: {args[3]}")
            done.set()

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=10)
    except (OSError, ssl.SSLError) as err:
        return f"cannot connect: {err}"
    client.loop_start()
    try:
        if not done.wait(timeout):
            return f"no answer within {timeout:g} s"
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0]


def wait_for_login(
    endpoint: Endpoint,
    username: str,
    password: str,
    *,
    accepted: bool,
    cert: CertPair | None = None,
    timeout: float = CHECK_TIMEOUT,
) -> str | None:
    """Poll until the broker accepts (``accepted``) or refuses the login; the SIGHUP is
    handled by the broker's loop a moment after it is sent. Returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check_login(endpoint, username, password, cert=cert, timeout=timeout)
        if (answer is None) == accepted or time.monotonic() >= deadline:
            return answer
        time.sleep(0.1)


def clear_retained(mqtt_settings: MqttSettings, kiosk: str, timeout: float = 5.0) -> bool:
    """Publish empty retained payloads on the kiosk's state, health and device topics (as
    the hub's user), so a revoked kiosk does not come back from the broker's memory."""
    link = MqttLink(f"hub-revoke-{secrets.token_hex(4)}", mqtt_settings)
    link.start()
    try:
        if not link.wait_connected(timeout):
            return False
        devices: tuple[str, ...] = get_args(DeviceState.model_fields["device"].annotation)
        for topic in (
            topics.kiosk_state(kiosk),
            topics.kiosk_health(kiosk),
            *(topics.kiosk_device(kiosk, device) for device in devices),
        ):
            link.publish(topic, b"", retain=True).wait_for_publish(timeout)
        return True
    finally:
        link.stop()
