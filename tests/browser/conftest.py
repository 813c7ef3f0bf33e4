"""Real headless Chromium (Debian's package) driven by Playwright, and a touch app to drive.

``touch`` is one touch app for the whole browser session, served by waitress in a thread
against real Mosquitto brokers (central and edge, bridged) and a stand-in hub on the
central broker: the kiosk reaches the hub only through its edge broker, as in production.
The firmware bridge is played by a client of user ``bridge`` on the edge broker, which
publishes card reads and GPIO events as the real bridge does.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    sync_playwright,
)
from waitress.server import create_server

from kiosk.protocol import topics
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import CardEvent, GpioEvent, IdentityCard, new_id
from kiosk.settings import Settings
from kiosk.touch import create_app
from kiosk.touch.context import EXTENSION, TouchContext
from kiosk.touch.link import KioskLink
from kiosk.touch.ui import TouchUi
from tests import brokers
from tests.brokers import RunningBroker
from tests.touch.conftest import WAIT, Listener, StandInHub, start_link, touch_settings
from tests.waiting import eventually

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"

# No background traffic: this machine (and a kiosk) has no network but loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Fast enough for tests, and far from the idle prompt: only the idle tests use short idles.
BROWSER_UI = TouchUi(status_every=0.2, activity_every=0.5, help_repeat_after=0.1)
SHORT_IDLE_UI = TouchUi(
    idle_prompt=1.0,
    idle_forget=1.0,
    status_every=0.2,
    activity_every=0.3,
    sleep_after=0.6,
    help_repeat_after=0.1,
)

PORTRAIT = {"width": 1080, "height": 1920}
SMALL = {"width": 800, "height": 480}  # the official 7-inch Pi display


def chromium_path() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        raise RuntimeError("Debian's chromium is required (bash .ci/setup test installs it)")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def kiosk_page(browser: Browser) -> Iterator[Page]:
    """The official 7-inch Pi display: 800×480, touch."""
    context = browser.new_context(
        viewport={"width": 800, "height": 480}, has_touch=True, locale="zh-CN"
    )
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- the touch app under test ---------------------------------------------------------


class Bridge:
    """Plays the firmware bridge: user ``bridge`` on the kiosk's edge broker."""

    def __init__(self, edge: RunningBroker) -> None:
        self.link = MqttLink(f"bridge-{new_id()[:8]}", edge.mqtt_settings("bridge"))
        self.link.start()
        assert self.link.wait_connected(WAIT), "the stand-in bridge could not connect"

    def place_card(self, name: str, id_number: str, card_type: str = "resident") -> None:
        card = IdentityCard(card_type=card_type, name=name, id_number=id_number)  # type: ignore[arg-type]
        self._send(topics.CARD_EVENT, CardEvent(event="placed", card=card))

    def gpio(self, event: str) -> None:
        self._send(topics.GPIO_EVENT, GpioEvent(event=event))  # type: ignore[arg-type]

    def _send(self, topic: str, message: CardEvent | GpioEvent) -> None:
        self.link.publish(topic, message).wait_for_publish(WAIT)

    def close(self) -> None:
        self.link.stop()


@dataclass
class Served:
    """One touch app served on loopback by waitress in a thread."""

    url: str
    context: TouchContext
    close: Callable[[], None]


def serve(settings: Settings, link: KioskLink, ui: TouchUi) -> Served:
    app = create_app(settings, link, ui)
    server: Any = create_server(app, host="127.0.0.1", port=0, threads=8, ident="kiosk-touch")
    thread = threading.Thread(target=server.run, name="touch-app", daemon=True)
    thread.start()
    return Served(
        f"http://127.0.0.1:{server.effective_port}", app.extensions[EXTENSION], server.close
    )


@dataclass
class TouchStack:
    central: RunningBroker
    edge: RunningBroker
    hub: StandInHub
    link: KioskLink
    app: Served
    bridge: Bridge
    help_events: Listener
    extra: list[Served] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.app.url

    def serve(self, ui: TouchUi) -> Served:
        """A second app on the same link, with other timers (the idle tests)."""
        served = serve(touch_settings(self.edge), self.link, ui)
        self.extra.append(served)
        return served

    def reset(self) -> None:
        """What one test leaves behind must not reach the next one."""
        for served in (self.app, *self.extra):
            served.context.residents.forget()
        if not self.link.hub_online:
            self.hub.say("online")
            eventually(lambda: self.link.hub_online, "the hub back online", WAIT)


@pytest.fixture(scope="session")
def touch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TouchStack]:
    directory = tmp_path_factory.mktemp("touch-stack")
    with ExitStack() as stack:
        central = stack.enter_context(brokers.central_broker(directory / "central"))
        edge = stack.enter_context(brokers.edge_broker(directory / "edge", central))
        hub_link = MqttLink(f"hub-{new_id()[:8]}", central.mqtt_settings("hub"))
        hub = StandInHub(hub_link)
        hub.serve()
        hub_link.start()
        stack.callback(hub_link.stop)
        assert hub_link.wait_connected(WAIT), "the stand-in hub could not connect"
        hub.say("online")
        settings = touch_settings(edge)
        link = start_link(settings)
        stack.callback(link.stop)
        bridge = Bridge(edge)
        stack.callback(bridge.close)
        help_events = Listener(central, "hub", topics.KIOSK_EVENT.format(kiosk="+", type="+"))
        stack.callback(help_events.close)
        app = serve(settings, link, BROWSER_UI)
        touch_stack = TouchStack(central, edge, hub, link, app, bridge, help_events)
        yield touch_stack
        for served in (app, *touch_stack.extra):
            served.close()


@pytest.fixture
def stack(touch: TouchStack) -> Iterator[TouchStack]:
    touch.reset()
    yield touch
    touch.reset()


# --- pages ------------------------------------------------------------------------------


@dataclass
class PageWatch:
    """What a page did that a test should know: requests, console errors, CSP reports."""

    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


PageFactory = Callable[..., Page]


@pytest.fixture
def open_page(browser: Browser) -> Iterator[PageFactory]:
    """``open_page(viewport, bypass_csp=False)``: a fresh touch context (no cache, no cookies).

    After the test: no JavaScript error, no console error (a CSP violation is one) and no
    request anywhere but the touch app on loopback.
    """
    opened: list[tuple[BrowserContext, PageWatch]] = []

    def factory(viewport: dict[str, int] = SMALL, *, bypass_csp: bool = False) -> Page:
        context = browser.new_context(
            viewport=viewport, has_touch=True, locale="zh-CN", bypass_csp=bypass_csp
        )
        watch = PageWatch()
        page = context.new_page()
        page.on("request", lambda request: watch.requests.append(request.url))
        page.on("console", lambda msg: _console(watch, msg))
        page.on("pageerror", lambda err: watch.problems.append(str(err)))
        page.on("response", lambda response: _failed(watch, response))
        opened.append((context, watch))
        return page

    yield factory
    for context, _ in opened:
        context.close()
    for _, watch in opened:
        assert not watch.problems, watch.problems
        assert all(url.startswith("http://127.0.0.1:") for url in watch.requests), watch.requests


def _console(watch: PageWatch, message: ConsoleMessage) -> None:
    # "Failed to load resource" repeats a status that _failed judges (a problem page is a
    # 404 on purpose); any other error, a CSP violation included, is a problem.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        watch.problems.append(message.text)


def _failed(watch: PageWatch, response: Response) -> None:
    if response.status >= 400 and response.request.resource_type != "document":
        watch.problems.append(f"{response.status} {response.url}")


def tap(page: Page, selector: str) -> None:
    """A finger on the first visible match (Playwright's tap sends touch events)."""
    page.locator(selector).first.tap()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core findings on the page as it is now (needs bypass_csp)."""
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
        }"""
    )
    return found
