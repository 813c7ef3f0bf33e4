"""On the whole demo: a card on the reader simulator reaches the screen masked, and the
receipts a kiosk printed can be seen in the staff console."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from firmware_bridge.sim.control import control
from tests.browser.conftest import screenshot
from tests.browser.test_console import _login
from tests.demo_client import http_json

pytestmark = pytest.mark.browser


def _state_dir(demo: dict[str, Any]) -> Path:
    return Path(demo["receipts"]).parent


def test_a_card_on_the_reader_simulator_shows_masked(
    demo: dict[str, Any], kiosk_page: Page
) -> None:
    kiosk_page.goto(demo["urls"]["touch"]["k2"] + "identify/card")
    expect(kiosk_page.get_by_text("正在等待读卡")).to_be_visible()
    try:
        control(_state_dir(demo), "k2", "card-place", "resident")
        expect(kiosk_page).to_have_url(re.compile(r"/identify/done$"), timeout=10_000)
        expect(kiosk_page.locator(".who-number")).to_have_text(re.compile(r"^\d{3}\*+\d{3}[\dX]$"))
        name = kiosk_page.locator(".who-name").inner_text()
        assert re.fullmatch(r".\*+", name), name
        screenshot(kiosk_page, "demo-card-done-800x480")
    finally:
        control(_state_dir(demo), "k2", "card-remove")


def test_the_console_shows_the_receipts_a_kiosk_printed(
    demo: dict[str, Any], browser: Browser
) -> None:
    status, ticket = http_json(demo["urls"]["touch"]["k1"] + "api/tickets", {"service": "social"})
    assert status == 201, ticket
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _login(page, demo)
    page.goto(demo["urls"]["console"] + "fleet/k1")
    image = page.locator(".receipts img").first
    expect(image).to_be_visible(timeout=10_000)
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 100", arg=image.element_handle()
    )
    screenshot(page, "console-kiosk-receipts")
    page.close()
