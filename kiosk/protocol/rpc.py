"""Request/response over MQTT v5 between a kiosk and the hub (DESIGN.md §3).

The kiosk publishes an :class:`RpcRequest` on ``…/kiosk/{k}/rpc/{method}``; the hub answers
with an :class:`RpcReply` on ``…/kiosk/{k}/reply``. The correlation id travels both in the
JSON (survives any bridge) and in the v5 CorrelationData property.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import (
    RPC_METHODS,
    InvalidPayload,
    Params,
    RpcError,
    RpcReply,
    RpcRequest,
    decode,
    new_id,
)

_LOGGER = logging.getLogger(__name__)

R = TypeVar("R", bound=Params)


class RpcTimeout(TimeoutError):
    """The hub did not answer in time (down, or the uplink is cut)."""


class RpcFailed(RuntimeError):
    """The hub answered with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class RpcClient:
    """The kiosk's side: ``call()`` blocks the calling thread until the reply or a timeout."""

    def __init__(self, link: MqttLink, kiosk: str) -> None:
        self._link = link
        self._kiosk = kiosk
        self._pending: dict[str, tuple[threading.Event, list[RpcReply]]] = {}
        self._lock = threading.Lock()
        link.subscribe(topics.kiosk_reply(kiosk), self._on_reply)

    def call(self, method: str, params: Params, result_type: type[R], timeout: float) -> R:
        request = RpcRequest(corr=new_id(), params=params.model_dump(mode="json"))
        done: tuple[threading.Event, list[RpcReply]] = (threading.Event(), [])
        with self._lock:
            self._pending[request.corr] = done
        try:
            props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            props.ResponseTopic = topics.kiosk_reply(self._kiosk)
            props.CorrelationData = request.corr.encode()
            props.MessageExpiryInterval = max(1, int(timeout))
            self._link.publish(topics.kiosk_rpc(self._kiosk, method), request, properties=props)
            if not done[0].wait(timeout):
                raise RpcTimeout(f"no answer to {method} within {timeout:g} s")
        finally:
            with self._lock:
                self._pending.pop(request.corr, None)
        reply = done[1][0]
        if not reply.ok or reply.result is None:
            error = reply.error or RpcError(code="error", message="the hub gave no result")
            raise RpcFailed(error.code, error.message)
        try:
            return result_type.model_validate(reply.result)
        except ValidationError as err:
            raise RpcFailed("bad_reply", f"the hub's answer to {method} is malformed") from err

    def _on_reply(self, _topic: str, payload: bytes, _props: Properties | None) -> None:
        reply = decode(RpcReply, payload)
        with self._lock:
            waiter = self._pending.get(reply.corr)
        if waiter is None:
            _LOGGER.info("late or unknown rpc reply %s dropped", reply.corr)
            return
        waiter[1].append(reply)
        waiter[0].set()


class RpcRefused(Exception):
    """Raised by a method handler for an answer the kiosk should show (unknown service…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


MethodHandler = Callable[[str, Params], Params]


class RpcServer:
    """The hub's side: validates requests, runs the method handler, replies."""

    def __init__(self, link: MqttLink, topic_filter: str = topics.ALL_KIOSK_RPC) -> None:
        self._link = link
        self._handlers: dict[str, MethodHandler] = {}
        link.subscribe(topic_filter, self._on_request)

    def register(self, method: str, handler: MethodHandler) -> None:
        if method not in RPC_METHODS:
            raise ValueError(f"{method!r} is not in the contract (messages.RPC_METHODS)")
        self._handlers[method] = handler

    def _on_request(self, topic: str, payload: bytes, props: Properties | None) -> None:
        where = topics.parse_kiosk_topic(topic)
        request = decode(RpcRequest, payload)
        method = where.name or ""
        reply = self._answer(where.kiosk, method, request)
        out = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        correlation = getattr(props, "CorrelationData", None)
        if correlation:
            out.CorrelationData = correlation
        self._link.publish(topics.kiosk_reply(where.kiosk), reply, properties=out)

    def _answer(self, kiosk: str, method: str, request: RpcRequest) -> RpcReply:
        handler = self._handlers.get(method)
        if handler is None:
            return _error(request, "unknown_method", f"unknown method {method!r}")
        params_type, _ = RPC_METHODS[method]
        try:
            params = params_type.model_validate(request.params)
        except ValidationError as err:
            return _error(request, "bad_params", str(InvalidPayload(str(err))))
        try:
            result = handler(kiosk, params)
        except RpcRefused as err:
            return _error(request, err.code, str(err))
        except Exception:
            _LOGGER.exception("rpc %s from %s failed", method, kiosk)
            return _error(request, "internal", "the hub could not complete the request")
        return RpcReply(corr=request.corr, ok=True, result=result.model_dump(mode="json"))


def _error(request: RpcRequest, code: str, message: str) -> RpcReply:
    return RpcReply(corr=request.corr, ok=False, error=RpcError(code=code, message=message))
