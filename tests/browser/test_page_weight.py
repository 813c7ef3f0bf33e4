"""Bytes on the wire per screen, as Chromium counts them (headers and body, compressed):
the first load of the start screen under 200 KB, every later screen under 50 KB with the
browser's cache on, and not one request to anywhere but the touch app on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SMALL, PageFactory, TouchStack, tap

pytestmark = pytest.mark.browser

FIRST_LOAD = 200_000
LATER_SCREEN = 50_000
REPORT = Path(__file__).resolve().parents[2] / "test-artifacts" / "page-weight.json"


class Wire:
    """Sums Network.loadingFinished.encodedDataLength: what actually came over the socket."""

    def __init__(self, page: Page) -> None:
        self.bytes = 0
        self.urls: list[str] = []
        session = page.context.new_cdp_session(page)
        session.send("Network.enable")
        session.on("Network.requestWillBeSent", self._sent)
        session.on("Network.loadingFinished", self._finished)

    def _sent(self, event: dict[str, Any]) -> None:
        self.urls.append(event["request"]["url"])

    def _finished(self, event: dict[str, Any]) -> None:
        self.bytes += int(event["encodedDataLength"])

    def measure(self, page: Page, go: Callable[[], None], ready: str) -> int:
        self.bytes = 0
        go()
        page.wait_for_load_state("load")
        expect(page.locator(ready).first).to_be_attached()
        page.wait_for_timeout(150)  # a status poll or two belongs to the screen's cost
        return self.bytes


def test_first_load_and_every_later_screen_stay_light(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page(SMALL)
    wire = Wire(page)
    weights: dict[str, int] = {}
    weights["home (first load)"] = wire.measure(
        page, lambda: page.goto(stack.url + "/"), "[data-service]"
    )
    steps: list[tuple[str, Callable[[], None], str]] = [
        ("identify", lambda: tap(page, "a.tile[href='/identify']"), "a.choice"),
        (
            "identify-phone (number pad)",
            lambda: tap(page, "a.choice[href='/identify/phone']"),
            "[data-keyboard][data-ready=true]",
        ),
        ("home again", lambda: tap(page, ".nav-home"), "[data-service]"),
        ("find (pinyin keyboard)", lambda: tap(page, "a.tile[href='/find']"), "[data-ready]"),
        ("find-results", lambda: page.goto(stack.url + "/find/results?q=社保"), "[data-service]"),
        ("ticket", lambda: tap(page, "[data-service=social]"), ".number"),
        ("welcome", lambda: page.goto(stack.url + "/welcome"), ".abilities"),
        ("identify-card", lambda: page.goto(stack.url + "/identify/card"), ".reader"),
        ("help", lambda: page.goto(stack.url + "/help?next=/"), ".called"),
    ]
    for name, go, ready in steps:
        weights[name] = wire.measure(page, go, ready)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(weights, indent=2, ensure_ascii=False) + "\n")
    assert weights["home (first load)"] < FIRST_LOAD, weights
    heavy = {name: size for name, size in weights.items() if size >= LATER_SCREEN}
    heavy.pop("home (first load)", None)
    assert not heavy, weights
    assert wire.urls and all(url.startswith(stack.url) for url in wire.urls), wire.urls
