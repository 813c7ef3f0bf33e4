"""Alerts POSTed to an outgoing webhook (a chat bot, a paging service), off the hot path.

Deliveries run on a thread of their own: a slow or dead webhook must never hold up the
MQTT network thread that raised the alert. Each delivery is tried a few times with a
bounded timeout; the alert row records whether it went out. With a secret, the body is
signed: ``X-Kiosk-Signature: sha256=<hex HMAC-SHA256 of the body>``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_LOGGER = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF = (1.0, 3.0)  # seconds before the 2nd and 3rd attempt
QUEUE_SIZE = 1000
SIGNATURE_HEADER = "X-Kiosk-Signature"

ResultListener = Callable[[int, bool], None]


@dataclass(frozen=True, slots=True)
class _Delivery:
    alert_id: int
    body: bytes


class WebhookNotifier:
    """POSTs JSON bodies to ``url`` in the background; ``on_result(alert_id, ok)``."""

    def __init__(
        self,
        url: str,
        *,
        secret: bytes | None = None,
        timeout: float = 5.0,
        on_result: ResultListener | None = None,
        backoff: tuple[float, ...] = BACKOFF,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the alert webhook must be an http(s) URL, not {url!r}")
        self.url = url
        self._secret = secret
        self._timeout = timeout
        self._backoff = backoff
        self._on_result = on_result
        self._queue: queue.Queue[_Delivery | None] = queue.Queue(QUEUE_SIZE)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="alert-webhook", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the delivery in progress; deliveries still queued are dropped."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def notify(self, alert_id: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
        try:
            self._queue.put_nowait(_Delivery(alert_id, body))
        except queue.Full:
            _LOGGER.error("alert webhook queue full; alert %s not sent", alert_id)
            self._report(alert_id, False)

    def _run(self) -> None:
        while not self._stopping.is_set():
            delivery = self._queue.get()
            if delivery is None:
                return
            self._report(delivery.alert_id, self._deliver(delivery))

    def _deliver(self, delivery: _Delivery) -> bool:
        for attempt in range(ATTEMPTS):
            if attempt and self._stopping.wait(self._backoff[min(attempt, len(self._backoff)) - 1]):
                return False
            error = self._post(delivery.body)
            if error is None:
                return True
            _LOGGER.warning(
                "alert webhook attempt %d for alert %s failed: %s",
                attempt + 1,
                delivery.alert_id,
                error,
            )
        return False

    def _post(self, body: bytes) -> str | None:
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "kiosk-hub"}
        if self._secret:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only, checked above
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                status = int(response.status)
        except urllib.error.HTTPError as err:
            return f"HTTP {err.code}"
        except (OSError, ValueError) as err:
            return str(err)
        return None if 200 <= status < 300 else f"HTTP {status}"

    def _report(self, alert_id: int, ok: bool) -> None:
        if ok:
            self.sent += 1
        else:
            self.failed += 1
        if self._on_result is not None:
            try:
                self._on_result(alert_id, ok)
            except Exception:
                _LOGGER.exception("recording the webhook result of alert %s failed", alert_id)
