"""A counter clerk calls the next number; the call display follows without reloading."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import screenshot
from tests.demo_client import http_json

pytestmark = pytest.mark.browser


def _login(page: Page, demo: dict[str, Any]) -> None:
    page.goto(demo["urls"]["console"] + "login")
    page.get_by_label("用户名").fill(demo["admin"]["username"])
    page.get_by_label("密码").fill(demo["admin"]["password"])
    page.get_by_role("button", name="登录").click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def test_wrong_password_is_refused(demo: dict[str, Any], browser: Browser) -> None:
    page = browser.new_page()
    page.goto(demo["urls"]["console"] + "login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill("not the password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("不正确")
    page.close()


def test_call_next_shows_on_the_call_display(demo: dict[str, Any], browser: Browser) -> None:
    status, ticket = http_json(demo["urls"]["touch"]["k1"] + "api/tickets", {"service": "general"})
    assert status == 201, ticket
    display = browser.new_page(viewport={"width": 1920, "height": 1080})
    display.goto(demo["urls"]["display"])
    clerk = browser.new_page(viewport={"width": 1280, "height": 800})
    _login(clerk, demo)
    expect(clerk.get_by_text(ticket["number"]).first).to_be_visible()  # on the dashboard
    screenshot(clerk, "console-dashboard")
    clerk.goto(demo["urls"]["console"] + "counter/demo/1")
    clerk.get_by_role("button", name=re.compile("叫号")).click()
    called = clerk.locator("#current").inner_text().strip()
    assert re.fullmatch(r"[A-D]\d{3}", called), called
    screenshot(clerk, "console-counter")
    # The display page was loaded before the call: it must update by itself.
    expect(display.get_by_text(f"请 {called} 号到 1 号窗口").first).to_be_visible(timeout=5000)
    screenshot(display, "call-display-1920x1080")
    display.close()
    clerk.close()
