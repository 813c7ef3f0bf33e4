"""A resident files a suggestion and later checks and rates it, by finger, in real Chromium.

Its own stack (the shared one's stand-in hub knows no ``case.*`` methods): real central and
edge Mosquitto, a stand-in hub on the central broker answering ``case.*`` with the domain's
rules (``tests/touch/cases_standin.py``), the touch app served by waitress. Screenshots of
every step land in test-artifacts/screens/.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from kiosk.domain.cases.codes import parse_code, rating_pin
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import new_id
from tests import brokers
from tests.browser.conftest import (
    AXE,
    BROWSER_UI,
    SMALL,
    PageFactory,
    Served,
    screenshot,
    serve,
    tap,
)
from tests.touch.cases_standin import SECRET, CaseHub
from tests.touch.conftest import WAIT, StandInHub, start_link, touch_settings
from tests.touch.test_cases import with_secret
from tests.waiting import eventually

pytestmark = pytest.mark.browser


@dataclass
class CaseStack:
    hub: StandInHub
    cases: CaseHub
    app: Served

    @property
    def url(self) -> str:
        return self.app.url


@pytest.fixture(scope="module")
def case_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaseStack]:
    directory = tmp_path_factory.mktemp("case-stack")
    with ExitStack() as stack:
        central = stack.enter_context(brokers.central_broker(directory / "central"))
        edge = stack.enter_context(brokers.edge_broker(directory / "edge", central))
        hub_link = MqttLink(f"hub-{new_id()[:8]}", central.mqtt_settings("hub"))
        hub = StandInHub(hub_link)
        server = hub.serve()
        cases = CaseHub(hub_link)
        cases.register(server)
        hub_link.start()
        stack.callback(hub_link.stop)
        assert hub_link.wait_connected(WAIT), "the stand-in hub could not connect"
        hub.say("online")
        settings = with_secret(touch_settings(edge, directory / "state"), directory / "secret")
        link = start_link(settings)
        stack.callback(link.stop)
        app = serve(settings, link, BROWSER_UI)
        stack.callback(app.close)
        yield CaseStack(hub, cases, app)


def _keyboard(page: Page) -> None:
    expect(page.locator("[data-keyboard][data-ready=true]")).to_be_attached()


def _keys(page: Page, keys: list[str]) -> None:
    for key in keys:
        page.locator(f'[data-keyboard] [data-skbtn="{key}"]').first.tap()


def _pick(page: Page, character: str) -> None:
    candidate = page.locator("li.hg-candidate-box-list-item", has_text=character)
    for _ in range(10):
        if candidate.count():
            candidate.first.tap()
            return
        page.locator(".hg-candidate-box-next").tap()
    raise AssertionError(f"{character} is not among the candidates")


def _pinyin(page: Page, *syllables: tuple[str, str]) -> None:
    for letters, character in syllables:
        _keys(page, list(letters))
        _pick(page, character)


def _axe_clean(page: Page) -> None:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
            .filter(v => v.impact === "serious" || v.impact === "critical").map(v => v.id)"""
    )
    assert found == [], found


def test_a_suggestion_is_filed_by_finger_then_checked_and_rated(
    case_stack: CaseStack, open_page: PageFactory
) -> None:
    page = open_page(SMALL)
    page.goto(case_stack.url + "/welcome")
    tap(page, "a.ability[href='/cases']")
    screenshot(page, "cases-start-800x480")
    tap(page, "a.case-tile[href='/cases/new/box']")
    expect(page.locator("h1")).to_have_text("反映哪方面的问题？")
    screenshot(page, "cases-category-800x480")
    tap(page, "button[data-choice=road]")
    expect(page.locator("button[data-choice=g-1]")).to_be_visible()
    screenshot(page, "cases-place-800x480")
    tap(page, "button[data-choice=g-2]")  # no buildings, nothing similar: on to the title
    _keyboard(page)
    _pinyin(page, ("lu", "路"), ("deng", "灯"), ("huai", "坏"))
    expect(page.locator("#title")).to_have_value("路灯坏")
    screenshot(page, "cases-title-800x480")
    tap(page, "form.entry button[type=submit]")
    _keyboard(page)
    expect(page.locator("#description")).to_be_visible()
    tap(page, "form.entry button[type=submit]")  # the description may stay empty
    tap(page, "button[data-choice=anonymous]")
    expect(page.locator("[data-title]")).to_have_text("路灯坏")
    screenshot(page, "cases-confirm-800x480")
    tap(page, "[data-submit-case]")
    code_text = page.locator("[data-code]").inner_text()
    code = parse_code(code_text)
    assert code.channel == "box"
    pin = page.locator("[data-rating-pin]").inner_text()
    assert pin == rating_pin(SECRET, str(code))  # the printed slip has it too
    screenshot(page, "cases-slip-800x480")
    eventually(lambda: str(code) in case_stack.cases.cases, "the case at the hub")
    case_stack.cases.staff(str(code))

    # Later: 查进度 with the code typed on the keyboard (letters, then digits).
    page.goto(case_stack.url + "/cases")
    tap(page, "a.case-tile[href='/cases/progress']")
    _keyboard(page)
    compact = str(code).replace("-", "").lower()
    _keys(page, ["{abc}", *compact[:2], "{digits}", *compact[2:-1], "{abc}", compact[-1]])
    expect(page.locator("#code")).to_have_value(compact)
    tap(page, "form.entry button[type=submit]")
    expect(page.locator("[data-status]")).to_have_text("已办结")
    expect(page.locator(".timeline")).to_contain_text("路灯已修好")
    expect(page.locator("body")).not_to_contain_text("内部备注")
    screenshot(page, "cases-timeline-800x480")
    tap(page, "[data-rate]")
    tap(page, "a[data-choice=unsatisfied]")
    tap(page, "a[data-choice=no]")
    _keyboard(page)
    tap(page, "[data-send-rating]")
    # The typed code proves nothing: the slip's rating PIN, on the big digits keyboard.
    _keyboard(page)
    expect(page.locator("#pin")).to_be_visible()
    screenshot(page, "cases-rate-pin-800x480")
    wrong = f"{(int(pin) + 1) % 1_000_000:06d}"
    _keys(page, list(wrong))
    expect(page.locator("#pin")).to_have_value(wrong)
    tap(page, "[data-send-rating]")
    expect(page.locator("[data-pin-problem]")).to_contain_text("评价码不对")
    assert str(case_stack.cases.cases[str(code)].state) == "resolved"
    _keyboard(page)
    _keys(page, list(pin))
    tap(page, "[data-send-rating]")
    expect(page.locator("[data-rework]")).to_be_visible()
    screenshot(page, "cases-rated-800x480")
    rated = case_stack.cases.cases[str(code)]
    assert rated.rating is not None and rated.rating.level == "unsatisfied"


def test_a_mistyped_code_is_answered_on_the_same_screen(
    case_stack: CaseStack, open_page: PageFactory
) -> None:
    page = open_page(SMALL)
    page.goto(case_stack.url + "/cases/progress")
    _keyboard(page)
    _keys(page, ["{abc}", "m", "q", "{digits}", *"202600421", "{abc}", "x"])
    tap(page, "form.entry button[type=submit]")
    expect(page.locator("#code-problem")).to_contain_text("查询码")
    expect(page.locator("#code")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "cases-progress-typo-800x480")


@pytest.mark.parametrize("path", ["/cases", "/cases/progress"])
def test_cases_screens_pass_axe(case_stack: CaseStack, open_page: PageFactory, path: str) -> None:
    page = open_page(SMALL, bypass_csp=True)
    page.goto(case_stack.url + path)
    _axe_clean(page)


def test_every_target_on_the_category_screen_is_big_enough(
    case_stack: CaseStack, open_page: PageFactory
) -> None:
    page = open_page(SMALL)
    page.goto(case_stack.url + "/cases/new/box")
    expect(page.locator("button[data-choice=road]")).to_be_visible()
    for box in page.locator(".case-tile").all():
        size = box.bounding_box()
        assert size is not None and size["width"] >= 60 and size["height"] >= 60
