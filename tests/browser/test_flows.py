"""Every touch flow as a finger does it: keyboards, languages, elder mode, identity, the hub
banner, calling staff, idle safety and the motion sensor. A screenshot of each step lands in
test-artifacts/screens/."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    PORTRAIT,
    SHORT_IDLE_UI,
    SMALL,
    PageFactory,
    TouchStack,
    screenshot,
    tap,
)
from tests.touch.conftest import WAIT
from tests.waiting import eventually

pytestmark = pytest.mark.browser

ID_NUMBER = "11010519491231002X"  # the GB 11643 example: a valid check digit
NAME = "张三"


def _keyboard(page: Page) -> None:
    expect(page.locator("[data-keyboard][data-ready=true]")).to_be_attached()


def _key(page: Page, key: str) -> None:
    page.locator(f'[data-keyboard] [data-skbtn="{key}"]').first.tap()


def _type(page: Page, keys: str) -> None:
    for key in keys:
        _key(page, key)


def _pick(page: Page, character: str) -> None:
    """Tap a candidate character (paging on when it is not on the first page)."""
    candidate = page.locator("li.hg-candidate-box-list-item", has_text=character)
    for _ in range(10):
        if candidate.count():
            candidate.first.tap()
            return
        page.locator(".hg-candidate-box-next").tap()
    raise AssertionError(f"{character} is not among the candidates")


def _session(page: Page, base: str) -> dict[str, object]:
    answer = page.request.get(base + "/api/session")
    body: dict[str, object] = answer.json()
    return body


def _help_events(stack: TouchStack, source: str) -> list[dict[str, object]]:
    events = [json.loads(p) for p in stack.help_events.payloads()]
    return [e for e in events if e.get("source") == source]


@pytest.mark.parametrize("viewport", [SMALL, PORTRAIT], ids=["800x480", "1080x1920"])
def test_a_phone_number_typed_on_the_number_pad_identifies_the_resident(
    stack: TouchStack, open_page: PageFactory, viewport: dict[str, int]
) -> None:
    size = f"{viewport['width']}x{viewport['height']}"
    page = open_page(viewport)
    page.goto(stack.url + "/identify")
    tap(page, "a.choice[href='/identify/phone']")
    _keyboard(page)
    expect(page.get_by_text("第 2 步，共 3 步")).to_be_visible()
    _type(page, "1381234567")
    _key(page, "9")
    _key(page, "{bksp}")  # a wrong last digit, taken back
    _key(page, "8")
    expect(page.locator("#phone")).to_have_value("13812345678")
    screenshot(page, f"flow-phone-typed-{size}")
    tap(page, "form.entry button[type=submit]")
    expect(page).to_have_url(re.compile(r"/identify/done$"))
    expect(page.locator(".who-number")).to_have_text("138****5678")
    assert "13812345678" not in page.content()
    assert _session(page, stack.url) == {
        "identified": True,
        "method": "phone",
        "phone_masked": "138****5678",
    }
    screenshot(page, f"flow-phone-done-{size}")
    tap(page, "form button.clear-me")
    expect(page.locator(".notice")).to_contain_text("已清除")
    assert _session(page, stack.url) == {"identified": False}


def test_a_wrong_phone_number_is_explained_next_to_the_field(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page()
    page.goto(stack.url + "/identify/phone")
    _keyboard(page)
    _type(page, "12345")
    tap(page, "form.entry button[type=submit]")
    expect(page.locator("#phone-problem")).to_contain_text("11 位数字")
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "flow-phone-wrong-800x480")


def test_pinyin_with_candidates_finds_a_service_and_takes_its_ticket(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page()
    page.goto(stack.url + "/find")
    _keyboard(page)
    _type(page, "she")
    expect(page.locator(".hg-candidate-box")).to_be_visible()
    screenshot(page, "flow-pinyin-candidates-800x480")
    _pick(page, "社")
    _type(page, "bao")
    _pick(page, "保")
    expect(page.locator("#q")).to_have_value("社保")
    screenshot(page, "flow-pinyin-typed-800x480")
    tap(page, "form.entry button[type=submit]")
    button = page.locator("[data-service=social]")
    expect(button).to_have_text("社保医保")
    expect(page.locator("[data-service=civil]")).to_have_count(0)
    screenshot(page, "flow-pinyin-results-800x480")
    button.tap()
    expect(page.locator(".number")).to_have_text(re.compile(r"^A\d{3}$"))


def test_english_letters_and_digits_type_too(stack: TouchStack, open_page: PageFactory) -> None:
    page = open_page(PORTRAIT)
    page.goto(stack.url + "/find")
    _keyboard(page)
    _key(page, "{abc}")
    expect(page.locator('[data-skbtn="{abc}"]')).to_have_attribute("aria-pressed", "true")
    _type(page, "civil")
    expect(page.locator(".hg-candidate-box")).to_have_count(0)  # letters are letters here
    _key(page, "{digits}")
    _type(page, "12")
    _key(page, "{bksp}")
    _key(page, "{bksp}")
    expect(page.locator("#q")).to_have_value("civil")
    screenshot(page, "flow-letters-1080x1920")
    tap(page, "form.entry button[type=submit]")
    expect(page.locator("[data-service=civil]")).to_have_text("民政救助")


def test_the_language_switch_is_on_every_screen_and_is_kept(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page()
    page.goto(stack.url + "/")
    expect(page.locator("h1")).to_have_text("请选择办理业务")
    tap(page, "button[name=lang][value=en]")
    expect(page.locator("h1")).to_have_text("Choose a service")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page, "flow-language-en-home-800x480")
    tap(page, "a.tile[href='/identify']")
    expect(page.locator("h1")).to_have_text("How would you like to identify yourself?")
    expect(page.locator(".nav-help")).to_contain_text("Call staff")
    tap(page, "button[name=lang][value=zh_Hant]")
    expect(page.locator("h1")).to_have_text("請選擇識別方式")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant")
    screenshot(page, "flow-language-zh-hant-identify-800x480")
    tap(page, "button[name=lang][value=zh_Hans]")
    expect(page.locator("h1")).to_have_text("请选择识别方式")


def test_elder_mode_is_on_by_default_and_can_be_turned_off(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page()
    page.goto(stack.url + "/")
    switch = page.locator("button[role=switch]")
    expect(switch).to_have_attribute("aria-checked", "true")
    elder_size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
    switch.tap()
    expect(page.locator("button[role=switch]")).to_have_attribute("aria-checked", "false")
    plain_size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert float(elder_size[:-2]) > float(plain_size[:-2]) >= 24
    screenshot(page, "flow-elder-off-home-800x480")
    tap(page, "a.tile[href='/find']")  # the choice holds on the next screen
    expect(page.locator("button[role=switch]")).to_have_attribute("aria-checked", "false")
    page.locator("button[role=switch]").tap()
    expect(page.locator("html")).to_have_class("elder")


def test_swiping_an_id_card_shows_only_the_masked_name_and_number(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page()
    page.goto(stack.url + "/identify/card")
    expect(page.get_by_text("正在等待读卡")).to_be_visible()
    screenshot(page, "flow-card-waiting-800x480")
    stack.bridge.place_card(NAME, ID_NUMBER)
    expect(page).to_have_url(re.compile(r"/identify/done$"))
    expect(page.locator(".who-name")).to_have_text("张*")
    expect(page.locator(".who-number")).to_have_text("110***********002X")
    expect(page.locator(".who-kind")).to_have_text("居民身份证")
    content = page.content()
    assert ID_NUMBER not in content and NAME not in content
    screenshot(page, "flow-card-done-800x480")
    # On any other screen the strip says who is identified, with the button to clear it.
    tap(page, "a.button.primary")
    strip = page.locator("[data-identity]")
    expect(strip).to_contain_text("张*")
    expect(strip).to_contain_text("110***********002X")
    screenshot(page, "flow-card-strip-home-800x480")
    strip.locator("button.clear-me").tap()
    expect(page.locator("[data-identity]")).to_be_hidden()
    assert _session(page, stack.url) == {"identified": False}


def test_a_card_that_fails_its_check_is_refused_calmly(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page()
    page.goto(stack.url + "/identify/card")
    expect(page.locator("[data-card-rejected]")).to_be_hidden()
    stack.bridge.place_card(NAME, ID_NUMBER[:-1] + "1")
    expect(page.locator("[data-card-rejected]")).to_be_visible()
    screenshot(page, "flow-card-refused-800x480")
    assert _session(page, stack.url) == {"identified": False}


def test_the_hub_banner_comes_and_goes_with_the_hub(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page()
    page.goto(stack.url + "/")  # the kiosk now knows its services
    page.goto(stack.url + "/identify")
    banner = page.locator("[data-hub-banner]")
    expect(banner).to_be_hidden()
    stack.hub.say("offline")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("服务台")
    screenshot(page, "flow-hub-banner-800x480")
    expect(banner).to_contain_text("仍可在本机取号")
    page.goto(stack.url + "/")  # tickets still come, from the kiosk's lease: buttons stay
    expect(page.locator("[data-service=social]")).to_be_visible()
    expect(page.locator("[data-hub-banner]")).to_be_visible()
    screenshot(page, "flow-hub-down-home-800x480")
    stack.hub.say("online")
    expect(page.locator("[data-hub-banner]")).to_be_hidden()  # gone by itself


def test_call_staff_on_screen_and_on_the_gpio_button(
    stack: TouchStack, open_page: PageFactory
) -> None:
    page = open_page()
    page.goto(stack.url + "/find")
    _keyboard(page)
    _type(page, "ab")
    tap(page, ".nav-help")
    dialog = page.locator("#help-called")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("已通知工作人员，请稍候")
    expect(page.locator("#q")).to_have_value("ab")  # nothing typed is lost
    screenshot(page, "flow-help-800x480")
    event = eventually(
        lambda: _help_events(stack, "screen"), "help.requested from the screen", WAIT
    )
    assert event[-1]["kiosk"] == "k1" and event[-1]["seq"] >= 1
    dialog.locator("[data-close]").tap()
    expect(dialog).to_be_hidden()
    stack.bridge.gpio("help_pressed")
    expect(dialog).to_be_visible()
    eventually(lambda: _help_events(stack, "button"), "help.requested from the button", WAIT)


def test_idle_asks_then_forgets_everything_and_shows_the_attract_screen(
    stack: TouchStack, open_page: PageFactory
) -> None:
    short = stack.serve(SHORT_IDLE_UI)
    short.context.residents.identify_phone("13812345678")  # before the page: it stays put
    page = open_page()
    page.goto(short.url + "/identify/phone")
    tap(page, "button[name=lang][value=en]")
    _keyboard(page)
    _type(page, "138")
    prompt = page.locator("#idle-prompt")
    expect(prompt).to_be_visible(timeout=4000)
    expect(prompt).to_contain_text("Are you still there?")
    screenshot(page, "flow-idle-prompt-800x480")
    prompt.locator("[data-close]").tap()  # "yes": nothing is lost
    expect(prompt).to_be_hidden()
    expect(page.locator("#phone")).to_have_value("138")
    expect(page).to_have_url(re.compile(r"/welcome$"), timeout=8000)
    assert short.context.residents.current() is None
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")  # the next resident's
    expect(page.locator("h1")).to_have_text("您好！请问您要办什么？")
    screenshot(page, "flow-idle-attract-800x480")


def test_motion_wakes_the_dimmed_attract_screen(stack: TouchStack, open_page: PageFactory) -> None:
    short = stack.serve(SHORT_IDLE_UI)
    page = open_page(PORTRAIT)
    page.goto(short.url + "/welcome")
    sleeper = page.locator("[data-sleeper]")
    expect(sleeper).to_be_visible(timeout=4000)
    screenshot(page, "flow-attract-asleep-1080x1920")
    stack.bridge.gpio("motion")
    expect(sleeper).to_be_hidden()
    screenshot(page, "flow-attract-awake-1080x1920")
