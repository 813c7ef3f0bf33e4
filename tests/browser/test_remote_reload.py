"""A remote ``reload`` from the hub reloads the screen Chromium shows, by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from kiosk.protocol import topics
from kiosk.protocol.messages import KioskCommand
from tests.brokers import KIOSK
from tests.browser.conftest import PageFactory, TouchStack
from tests.touch.conftest import WAIT

pytestmark = pytest.mark.browser


def test_a_remote_reload_reloads_the_open_screen(stack: TouchStack, open_page: PageFactory) -> None:
    page = open_page()
    page.goto(stack.url + "/welcome")
    expect(page.locator("h1")).to_be_visible()
    page.evaluate("window.beforeReload = true")  # gone once the page has loaded again
    now = datetime.now(UTC)
    command = KioskCommand(
        kiosk=KIOSK,
        name="reload",
        expires_at=now + timedelta(minutes=1),
        actor="user:boss",
        ts=now,
    )
    stack.hub.link.publish(topics.kiosk_cmd(KIOSK, "reload"), command).wait_for_publish(WAIT)
    page.wait_for_function("() => window.beforeReload === undefined", timeout=WAIT * 1000)
    expect(page.locator("h1")).to_be_visible()
