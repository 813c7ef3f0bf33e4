"""A steady, bounded stream of what residents do at two kiosks, and what the kiosks confirmed.

One thread per kiosk posts to its touch app's JSON API in a fixed pattern (tickets, a call
for staff, a case when the touch app offers ``POST /api/cases``), each request with its
own event id where the API takes one. Only what the kiosk confirmed counts as created:
201 (202 for a call for staff) with the number or code in the answer. Everything else
(503 while the hub is away, a reset while the touch app dies) is tallied, not expected
at the hub.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

Kind = Literal["ticket", "help", "case"]
SERVICES = ("social", "civil", "party", "general")
TOUCH_OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "touch-openapi.yaml"
REQUEST_TIMEOUT = 10.0
CASE_EVERY = 4  # rounds of traffic per case


@dataclass(frozen=True, slots=True)
class Created:
    """Something a kiosk confirmed: a ticket number, a case code, a call for staff."""

    kind: Kind
    kiosk: str
    key: str  # ticket number, case tracking code, "help-<n>" for a call for staff
    event_id: str | None
    at: float  # time.monotonic() of the answer
    print_job: str | None = None


@dataclass
class Answer:
    status: int  # 0: no HTTP answer (connection refused or reset, timeout)
    body: dict[str, Any] = field(default_factory=dict)


def post(url: str, body: dict[str, Any], timeout: float = REQUEST_TIMEOUT) -> Answer:
    request = urllib.request.Request(  # noqa: S310 - loopback test target
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return Answer(int(response.status), _json(response.read()))
    except urllib.error.HTTPError as err:
        return Answer(err.code, _json(err.read()))
    except (OSError, ValueError):
        return Answer(0)


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def route_exists(url: str) -> bool:
    """Whether the touch app has this route (Flask answers OPTIONS for every route it has)."""
    request = urllib.request.Request(url, method="OPTIONS")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT):  # noqa: S310
            return True
    except urllib.error.HTTPError as err:
        return err.code != 404
    except OSError:
        return False


def documented_example(path: str) -> dict[str, Any] | None:
    """The request example of ``POST path`` in docs/touch-openapi.yaml, if it has one."""
    spec = yaml.safe_load(TOUCH_OPENAPI.read_text(encoding="utf-8"))
    try:
        content = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    except (KeyError, TypeError):
        return None
    example = content.get("example")
    if example is None and "examples" in content:
        example = next(iter(content["examples"].values())).get("value")
    return dict(example) if isinstance(example, dict) else None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the touch apps offer, found out once against a running kiosk."""

    ticket_event_field: str | None  # the body field that carries a ticket's event id
    case_body: dict[str, Any] | None  # a valid POST /api/cases body, None without cases
    cases_offered: bool = False  # the touch app has POST /api/cases

    @classmethod
    def probe(cls, touch_url: str) -> Capabilities:
        field_name: str | None = None
        for candidate in ("event_id", "idempotency_key"):
            answer = post(touch_url + "api/tickets", {"service": "general", candidate: _id()})
            if answer.status == 201:
                field_name = candidate
                break
        offered = route_exists(touch_url + "api/cases")
        return cls(field_name, _case_body(touch_url) if offered else None, offered)

    def pattern(self) -> list[Kind]:
        """One round of a kiosk's traffic: mostly tickets, a call for staff, maybe a case."""
        round_: list[Kind] = ["ticket", "ticket", "help", "ticket", "ticket"]
        if self.case_body is not None:
            round_.append("case")
        return round_


def _case_body(touch_url: str) -> dict[str, Any] | None:
    """The documented example of ``POST /api/cases``, with a category and a grid this
    centre has (the touch app lists both); None when even that is refused."""
    example = documented_example("/api/cases")
    categories = get(touch_url + "api/cases/categories").get("categories") or []
    tree = get(touch_url + "api/grids")
    grids = [
        grid["id"]
        for street in tree.get("streets", [])
        for community in street.get("communities", [])
        for grid in community.get("grids", [])
    ]
    ordinary = [c["id"] for c in categories if c.get("id") != "proposal"]
    if example is None or not ordinary or not grids:
        return None
    body = {**example, "category": ordinary[0], "grid": grids[0]}
    answer = post(touch_url + "api/cases", body)
    return body if answer.status == 201 else None


def get(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            return _json(response.read())
    except OSError:
        return {}


def _id() -> str:
    return uuid.uuid4().hex


class Traffic:
    """Posts to every kiosk's touch app every ``interval`` seconds until :meth:`stop`."""

    def __init__(
        self, touch_urls: dict[str, str], capabilities: Capabilities, interval: float = 0.25
    ) -> None:
        self._urls = touch_urls
        self._caps = capabilities
        self._interval = interval
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._in_flight: dict[str, bool] = dict.fromkeys(touch_urls, False)
        self._help_seq: Counter[str] = Counter()
        self.created: list[Created] = []
        self.unconfirmed: Counter[str] = Counter()  # "ticket 503", "case 0", …
        # Calls for staff without an answer (the touch app died): sent or not, nobody knows.
        self.unanswered_help: Counter[str] = Counter()

    def start(self) -> Traffic:
        for i, kiosk in enumerate(self._urls):
            thread = threading.Thread(
                target=self._run, args=(kiosk, i), name=f"traffic-{kiosk}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(REQUEST_TIMEOUT + 5)

    def in_flight(self, kiosk: str) -> bool:
        return self._in_flight[kiosk]

    def confirmed(self, kind: Kind | None = None) -> list[Created]:
        with self._lock:
            return [c for c in self.created if kind is None or c.kind == kind]

    def _run(self, kiosk: str, offset: int) -> None:
        pattern = self._caps.pattern()
        step = offset
        while not self._stopping.is_set():
            round_ = step // len(pattern)
            kind = pattern[step % len(pattern)]
            if kind == "case" and round_ % CASE_EVERY:
                kind = "ticket"  # the touch app takes 10 cases per 10 minutes: spread them
            service = SERVICES[(round_ + offset) % 2]
            self._one(kiosk, kind, service)
            step += 1
            self._stopping.wait(self._interval)

    def _one(self, kiosk: str, kind: Kind, service: str) -> None:
        url = self._urls[kiosk]
        event_id = _id()
        self._in_flight[kiosk] = True
        try:
            if kind == "ticket":
                body: dict[str, Any] = {"service": service}
                if self._caps.ticket_event_field:
                    body[self._caps.ticket_event_field] = event_id
                answer = post(url + "api/tickets", body)
            elif kind == "help":
                answer = post(url + "api/help", {})
            else:
                assert self._caps.case_body is not None
                case = dict(self._caps.case_body)
                if "event_id" in case:
                    case["event_id"] = event_id
                if "phone" in case:  # another resident each time: no per-person limit
                    case["phone"] = f"139{random.randrange(10**8):08d}"  # noqa: S311
                answer = post(url + "api/cases", case)
        finally:
            self._in_flight[kiosk] = False
        self._record(kiosk, kind, event_id, answer)

    def _record(self, kiosk: str, kind: Kind, event_id: str, answer: Answer) -> None:
        created: Created | None = None
        body = answer.body
        now = time.monotonic()
        if kind == "ticket" and answer.status == 201 and body.get("number"):
            sent = event_id if self._caps.ticket_event_field else None
            created = Created(
                "ticket",
                kiosk,
                str(body["number"]),
                str(body.get("event_id") or sent or "") or None,
                now,
                body.get("print_job"),
            )
        elif kind == "help" and answer.status in (201, 202):
            with self._lock:
                self._help_seq[kiosk] += 1
                n = self._help_seq[kiosk]
            created = Created("help", kiosk, f"help-{n}", body.get("event_id"), now)
        elif kind == "case" and answer.status == 201 and body.get("tracking_code"):
            created = Created(
                "case",
                kiosk,
                str(body["tracking_code"]),
                body.get("event_id"),
                now,
                body.get("print_job"),
            )
        with self._lock:
            if created is not None:
                self.created.append(created)
            else:
                self.unconfirmed[f"{kind} {answer.status}"] += 1
                if kind == "help" and answer.status == 0:
                    self.unanswered_help[kiosk] += 1
