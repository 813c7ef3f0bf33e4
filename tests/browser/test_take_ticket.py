"""A resident's finger on the touch page, a ticket on paper."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot
from tests.demo_client import receipt_files
from tests.waiting import eventually

pytestmark = pytest.mark.browser


def test_touching_a_service_prints_a_ticket(demo: dict[str, Any], kiosk_page: Page) -> None:
    requests: list[str] = []
    kiosk_page.on("request", lambda request: requests.append(request.url))
    kiosk_page.goto(demo["urls"]["touch"]["k1"])
    screenshot(kiosk_page, "touch-home-800x480")
    button = kiosk_page.locator("[data-service=social]")
    expect(button).to_contain_text("社保医保")
    box = button.bounding_box()
    assert box is not None and box["height"] >= 60 and box["width"] >= 60, "finger-sized"
    button.tap()
    number_text = kiosk_page.get_by_text(re.compile(r"A\d{3}")).first
    expect(number_text).to_be_visible()
    number = re.search(r"A\d{3}", number_text.inner_text())
    assert number is not None
    screenshot(kiosk_page, "touch-ticket-800x480")
    receipts = Path(demo["receipts"]) / "k1"
    txt = eventually(lambda: receipt_files(receipts, number.group()), "the receipt", 10)
    assert txt.with_suffix(".png").exists()
    assert all(url.startswith("http://127.0.0.1") for url in requests), requests
