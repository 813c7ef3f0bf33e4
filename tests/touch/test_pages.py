"""The touchscreen pages: big service buttons, a form post, the number, calm failures."""

from __future__ import annotations

import html
import re
import time

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kiosk.protocol import topics
from kiosk.protocol.messages import PrintJob, PrintResult, decode
from kiosk.settings import Settings
from kiosk.touch import create_app
from kiosk.touch.link import KioskLink
from tests.brokers import KIOSK, RunningBroker
from tests.touch.conftest import WAIT, Listener, StandInHub
from tests.waiting import eventually


def _text(response: TestResponse) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed."""
    body = response.get_data(as_text=True)
    body = re.sub(r"<(script|style|head)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _form_fields(page: str, service: str) -> dict[str, str]:
    """The hidden inputs of the form whose button has ``data-service=service``."""
    for form in re.findall(r"<form\b.*?</form>", page, flags=re.S):
        if f'data-service="{service}"' in form:
            return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))
    raise AssertionError(f"no form for {service}")


def _press(client: FlaskClient, service: str) -> TestResponse:
    fields = _form_fields(client.get("/").get_data(as_text=True), service)
    return client.post("/tickets", data=fields)


def _assert_calm(response: TestResponse) -> None:
    page = response.get_data(as_text=True)
    assert "Traceback" not in page and "Error" not in page
    assert 'href="/"' in page and "返回首页" in page


def test_home_shows_one_big_button_per_service(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "请选择办理业务" in _text(response)
    buttons = re.findall(r'<button[^>]*data-service="([^"]+)"[^>]*>([^<]+)</button>', page)
    assert buttons == [("social", "社保医保"), ("civil", "民政救助")]
    assert page.count('method="post" action="/tickets"') == 2, "plain forms, no JavaScript"
    fields = _form_fields(page, "social")
    assert fields["service"] == "social" and len(fields["csrf_token"]) >= 32
    assert re.fullmatch(r"[0-9a-f]{32}", fields["event_id"])


def test_pages_load_nothing_from_elsewhere(client: FlaskClient) -> None:
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    for asset in ("/static/touch.css", "/static/touch.js"):
        text = client.get(asset).get_data(as_text=True)
        assert "http" not in text and "@import" not in text and "url(" not in text


def test_text_and_targets_are_elder_sized(client: FlaskClient) -> None:
    css = client.get("/static/touch.css").get_data(as_text=True)
    assert re.search(r"html \{[^}]*font-size: 24px", css), "18 pt body text"
    heights = [int(h) for h in re.findall(r"min-height: (\d+)px", css)]
    assert heights and min(heights) >= 60, "every touch target is at least 60 px"
    sizes = [int(s) for s in re.findall(r"font-size: (\d+)px", css)]
    assert min(sizes) >= 24


def test_pressing_a_service_shows_the_number(client: FlaskClient, printer_side: Listener) -> None:
    response = _press(client, "social")
    assert response.status_code == 303
    assert response.headers["Location"] == "/tickets/A001"
    page = client.get("/tickets/A001")
    assert page.status_code == 200
    text = _text(page)
    for words in ("您的号码 A001", "社保医保", "前面还有 0 人", "请取走小票", "正在打印"):
        assert words in text
    assert 'href="/"' in page.get_data(as_text=True) and "返回首页" in text
    job = decode(PrintJob, printer_side.first(lambda p: b"A001" in p, "the print job"))
    assert job.label == "ticket A001"


def test_the_ticket_page_shows_the_printer_status(
    client: FlaskClient, link: KioskLink, edge_broker: RunningBroker
) -> None:
    _press(client, "civil")
    job = re.search(r'data-print-job="([^"]+)"', client.get("/tickets/B001").get_data(as_text=True))
    assert job is not None
    bridge = Listener(edge_broker, "bridge", "local/v1/unused")
    try:
        paper_out = PrintResult(job_id=job.group(1), status="waiting")
        bridge.link.publish(topics.PRINT_RESULT, paper_out).wait_for_publish(WAIT)
        eventually(lambda: link.print_result(job.group(1)), "the print result", WAIT)
    finally:
        bridge.close()
    assert "打印机缺纸，请联系工作人员" in _text(client.get("/tickets/B001"))


def test_a_double_tap_takes_one_ticket_and_prints_one_slip(
    client: FlaskClient, hub: StandInHub, printer_side: Listener
) -> None:
    fields = _form_fields(client.get("/").get_data(as_text=True), "social")
    first = client.post("/tickets", data=fields)
    second = client.post("/tickets", data=fields)
    assert first.headers["Location"] == second.headers["Location"] == "/tickets/A001"
    printer_side.first(lambda p: b"A001" in p, "the print job")
    time.sleep(0.3)  # a second job would have arrived by now
    assert len(printer_side.payloads()) == 1
    # A new page view is a new resident: the next tap is a new ticket.
    assert _press(client, "social").headers["Location"] == "/tickets/A002"


def test_a_form_without_the_session_token_is_refused(client: FlaskClient, hub: StandInHub) -> None:
    client.get("/")
    response = client.post("/tickets", data={"service": "social", "csrf_token": "forged"})
    assert response.status_code == 400
    assert "页面已过期" in _text(response)
    _assert_calm(response)
    assert "k1:ticket.take" not in hub.requests
    other_browser = client.application.test_client()
    fields = _form_fields(client.get("/").get_data(as_text=True), "social")
    assert other_browser.post("/tickets", data=fields).status_code == 400


def test_an_unknown_service_gets_a_calm_page(client: FlaskClient) -> None:
    fields = _form_fields(client.get("/").get_data(as_text=True), "social")
    response = client.post("/tickets", data={**fields, "service": "gone"})
    assert response.status_code == 404
    assert "没有这项业务" in _text(response)
    _assert_calm(response)


def test_an_unknown_ticket_number_gets_a_calm_page(client: FlaskClient) -> None:
    response = client.get("/tickets/Z999")
    assert response.status_code == 404
    _assert_calm(response)


def test_a_hub_offline_still_gives_a_ticket_and_says_so(
    client: FlaskClient, link: KioskLink, hub: StandInHub
) -> None:
    client.get("/")  # the services list is cached from here on
    hub.say("offline")
    eventually(lambda: link.hub_known_offline, "the hub's Will", WAIT)
    home = client.get("/")
    assert home.status_code == 200, "the buttons stay: the kiosk issues tickets itself"
    fields = _form_fields(home.get_data(as_text=True), "social")
    response = client.post("/tickets", data=fields)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    text = _text(page)
    assert f"A-{KIOSK}-001" in text and "网络中断时取的号" in text
    assert "前面" not in text, "nobody can know the queue ahead while the hub is away"
    _assert_calm(page)


def test_a_hub_offline_before_any_services_list_says_go_to_the_service_desk(
    edge_broker: RunningBroker, hub: StandInHub, settings: Settings
) -> None:
    hub.say("offline")
    link = KioskLink(settings)
    link.start()
    try:
        eventually(lambda: link.hub_known_offline and link.is_connected, "the hub's Will", WAIT)
        response = create_app(settings, link).test_client().get("/")
    finally:
        link.stop()
    assert response.status_code == 503
    text = _text(response)
    assert "暂时无法连接服务中心" in text and "服务台" in text
    _assert_calm(response)
    # It retries by itself: the page follows /api/status and goes back to the start when
    # the hub answers (no timed meta refresh: axe-core rates one critical, 适老化 says no
    # time pressure).
    page = response.get_data(as_text=True)
    assert 'data-retry-when-hub-back="/"' in page and 'http-equiv="refresh"' not in page


def test_an_unexpected_failure_never_shows_a_trace(
    client: FlaskClient, link: KioskLink, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(link, "services", broken)
    response = client.get("/")
    assert response.status_code == 500
    assert "secret internals" not in response.get_data(as_text=True)
    assert "服务台" in _text(response)
    _assert_calm(response)
    api = client.get("/api/services")
    assert api.status_code == 500 and api.get_json()["error"] == "internal"
