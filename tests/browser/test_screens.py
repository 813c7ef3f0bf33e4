"""Every screen at the kiosk's display sizes: a screenshot, finger-sized targets, nothing cut
off sideways, and no serious or critical accessibility finding (axe-core, vendored)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PORTRAIT,
    SMALL,
    PageFactory,
    TouchStack,
    axe_violations,
    screenshot,
    tap,
)

pytestmark = pytest.mark.browser

PHONE = "13812345678"

# Everything a finger may need to hit, as it is on screen now.
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
        "a, button, input:not([type=hidden]), li.hg-candidate-box-list-item"))
    .filter(e => e.getClientRects().length > 0 && !e.closest("dialog:not([open])"))
    .map(e => { const r = e.getBoundingClientRect();
                return {w: Math.round(r.width), h: Math.round(r.height),
                        what: e.outerHTML.slice(0, 90)}; })
    .filter(t => t.w < 60 || t.h < 60)"""

OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def _to_ticket(page: Page, stack: TouchStack) -> None:
    page.goto(stack.url + "/")
    tap(page, "[data-service=social]")
    expect(page.locator(".number")).to_be_visible()


def _to_done(page: Page, stack: TouchStack) -> None:
    page.goto("about:blank")  # an identify screen would go to "done" by itself: no race
    stack.app.context.residents.identify_phone(PHONE)
    page.goto(stack.url + "/identify/done")


def _to_keyboard(path: str) -> Callable[[Page, TouchStack], None]:
    def go(page: Page, stack: TouchStack) -> None:
        page.goto(stack.url + path)
        expect(page.locator("[data-keyboard][data-ready=true]")).to_be_attached()

    return go


def _to(path: str) -> Callable[[Page, TouchStack], None]:
    def go(page: Page, stack: TouchStack) -> None:
        page.goto(stack.url + path)

    return go


SCREENS: list[tuple[str, Callable[[Page, TouchStack], None]]] = [
    ("welcome", _to("/welcome")),
    ("home", _to("/")),
    ("ticket", _to_ticket),
    ("identify", _to("/identify")),
    ("identify-card", _to("/identify/card")),
    ("identify-phone", _to_keyboard("/identify/phone")),
    ("identify-done", _to_done),
    ("find", _to_keyboard("/find")),
    ("find-results", _to("/find/results?q=社保")),
    ("help", _to("/help?next=/")),
    ("problem", _to("/tickets/Z999")),
]

SIZES = [
    pytest.param(SMALL, True, id="800x480"),
    pytest.param(PORTRAIT, True, id="1080x1920"),
    pytest.param({"width": 1024, "height": 600}, False, id="1024x600"),
    pytest.param({"width": 1920, "height": 1080}, False, id="1920x1080"),
]


@pytest.mark.parametrize(("viewport", "audit"), SIZES)
def test_every_screen_fits_fingers_and_passes_axe(
    stack: TouchStack, open_page: PageFactory, viewport: dict[str, int], audit: bool
) -> None:
    page = open_page(viewport, bypass_csp=audit)  # axe is injected as a script of the page
    size = f"{viewport['width']}x{viewport['height']}"
    findings: dict[str, Any] = {}
    for name, go in SCREENS:
        go(page, stack)
        page.wait_for_load_state("load")
        screenshot(page, f"{name}-{size}")
        small = page.evaluate(SMALL_TARGETS)
        assert not small, f"{name}: targets under 60 px: {small}"
        assert page.evaluate(OVERFLOW) <= 0, f"{name}: wider than the screen"
        if audit and (violations := axe_violations(page)):
            findings[name] = violations
        stack.app.context.residents.forget()
    assert not findings, findings
