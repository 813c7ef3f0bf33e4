"""A paho-mqtt 2.x client set up the way the contract wants it.

MQTT v5, TCP_NODELAY on the socket, a Will, re-subscription and re-announcement on every
(re)connect, reconnect back-off with jitter, and handlers that can never crash the network
loop: a payload that fails validation is logged with its topic, counted and dropped.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from kiosk.protocol.messages import Envelope, InvalidPayload
from kiosk.settings import MqttSettings

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[str, bytes, Properties | None], None]


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    retain: bool = True


class MqttLink:
    """One MQTT connection of one process (client ids are unique per process)."""

    def __init__(
        self,
        client_id: str,
        settings: MqttSettings,
        *,
        will: Will | None = None,
        on_connected: Callable[[], None] | None = None,
        session_expiry: int = 0,
    ) -> None:
        self.client_id = client_id
        self.rejected = 0  # payloads dropped because they failed validation
        self.handler_errors = 0
        self._settings = settings
        self._on_connected = on_connected
        self._session_expiry = session_expiry
        self._subscriptions: dict[str, int] = {}
        self._resubscribe_mid: int | None = None
        self._connected = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if settings.username:
            self._client.username_pw_set(settings.username, settings.password)
        if settings.tls_ca_file:
            self._client.tls_set(
                ca_certs=str(settings.tls_ca_file), tls_version=ssl.PROTOCOL_TLS_CLIENT
            )
        if will:
            self._client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        # No lock-step reconnect storm of a whole fleet after a central restart.
        self._client.reconnect_delay_set(min_delay=1, max_delay=random.randint(20, 40))  # noqa: S311
        self._client.on_socket_open = _nodelay
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_subscribe = self._handle_subscribe

    @property
    def is_connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; keeps retrying until the broker answers."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self._session_expiry
        self._client.connect_async(
            self._settings.host,
            self._settings.port,
            keepalive=self._settings.keepalive,
            # A persistent session (hub) keeps its queued QoS 1 messages across restarts.
            clean_start=self._session_expiry == 0,
            properties=props,
        )
        self._client.loop_start()

    def set_will(self, will: Will) -> None:
        """Replace the Will sent with the next CONNECT (e.g. a new session number)."""
        self._client.will_set(will.topic, will.payload, qos=1, retain=will.retain)

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def stop(self, farewell: list[tuple[str, Envelope]] | None = None) -> None:
        """Publish the farewell messages (retained), then disconnect cleanly.

        A clean v5 DISCONNECT suppresses the Will, so the offline state is sent here.
        """
        for topic, message in farewell or []:
            if self.is_connected:
                info = self.publish(topic, message, retain=True)
                info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    def subscribe(self, topic_filter: str, handler: Handler, qos: int = 1) -> None:
        self._client.message_callback_add(topic_filter, self._guarded(handler))
        self._subscriptions[topic_filter] = qos
        if self.is_connected:
            self._client.subscribe(topic_filter, qos)

    def publish(
        self,
        topic: str,
        message: Envelope | bytes,
        *,
        retain: bool = False,
        qos: int = 1,
        properties: Properties | None = None,
    ) -> mqtt.MQTTMessageInfo:
        payload = message if isinstance(message, bytes) else message.to_bytes()
        return self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)

    def _guarded(self, handler: Handler) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
        def on_message(_client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
            try:
                handler(msg.topic, bytes(msg.payload), getattr(msg, "properties", None))
            except InvalidPayload as err:
                self.rejected += 1
                _LOGGER.warning("dropped message on %s: %s", msg.topic, err)
            except Exception:
                self.handler_errors += 1
                _LOGGER.exception("handler failed on %s; message dropped", msg.topic)

        return on_message

    def _handle_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        if reason.is_failure:
            _LOGGER.error("%s: broker refused the connection: %s", self.client_id, reason)
            return
        _LOGGER.info(
            "%s connected to %s:%s", self.client_id, self._settings.host, self._settings.port
        )
        if self._subscriptions:
            # Connected counts from the SUBACK: a caller that waits for the connection and
            # then triggers a message it should hear must not race its own subscription.
            _result, self._resubscribe_mid = client.subscribe(list(self._subscriptions.items()))
        else:
            self._connected.set()
        if self._on_connected:
            try:
                self._on_connected()
            except Exception:
                _LOGGER.exception("%s: re-announce failed", self.client_id)

    def _handle_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        _reasons: list[ReasonCode],
        _props: Properties | None,
    ) -> None:
        if mid == self._resubscribe_mid:
            self._connected.set()

    def _handle_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        _props: Properties | None,
    ) -> None:
        self._connected.clear()
        if reason != 0:
            _LOGGER.warning("%s lost the broker: %s", self.client_id, reason)


def _nodelay(_client: mqtt.Client, _userdata: Any, sock: Any) -> None:
    # Nagle plus delayed ACKs turns a 0.6 ms request/response into ~78 ms (DESIGN.md §3).
    with contextlib.suppress(OSError):  # a unix socket has no Nagle
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
