"""The touch app's JSON API against real brokers and a stand-in hub behind the bridge."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient

from kiosk.domain.receipt import QrCode, Text
from kiosk.protocol import topics
from kiosk.protocol.messages import PrintJob, PrintResult, decode
from kiosk.settings import Settings
from kiosk.touch import create_app
from kiosk.touch.link import KioskLink
from tests.brokers import KIOSK, RunningBroker
from tests.touch.conftest import (
    CENTRE_NAME,
    DAY,
    WAIT,
    Listener,
    StandInHub,
    start_link,
    touch_settings,
)
from tests.waiting import eventually


def _take(
    client: FlaskClient, body: object = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    body = {"service": "social"} if body is None else body
    response = client.post("/api/tickets", json=body, headers=headers or {})
    return response.status_code, response.get_json()


def test_services_come_from_the_hub(client: FlaskClient) -> None:
    response = client.get("/api/services")
    assert response.status_code == 200
    assert response.get_json() == {
        "centre": "demo",
        "centre_name": CENTRE_NAME,
        "services": [
            {"code": "social", "name": "社保医保", "prefix": "A"},
            {"code": "civil", "name": "民政救助", "prefix": "B"},
        ],
    }


def test_services_are_cached(client: FlaskClient, hub: StandInHub) -> None:
    for _ in range(3):
        assert client.get("/api/services").status_code == 200
    assert hub.requests.count("k1:services.list") == 1


def test_a_ticket_is_issued_and_handed_to_the_printer(
    client: FlaskClient, printer_side: Listener
) -> None:
    response = client.post("/api/tickets", json={"service": "social"})
    assert response.status_code == 201
    ticket = response.get_json()
    assert ticket["number"] == "A001"
    assert ticket["service"] == "social" and ticket["service_name"] == "社保医保"
    assert ticket["waiting_ahead"] == 0
    assert datetime.fromisoformat(ticket["issued_at"]).tzinfo is not None
    raw = printer_side.first(lambda p: ticket["print_job"].encode() in p, "the print job")
    job = decode(PrintJob, raw)
    assert job.id == ticket["print_job"]
    number = [b for b in job.receipt if isinstance(b, Text) and b.text == "A001"]
    assert number and number[0].scale == 4, "the number is printed large"
    qr = [b for b in job.receipt if isinstance(b, QrCode)]
    assert [q.data for q in qr] == [f"TKT:demo:{DAY}:A001"]
    assert any(isinstance(b, Text) and b.text == CENTRE_NAME for b in job.receipt)


def test_numbers_follow_each_other(client: FlaskClient) -> None:
    numbers = [client.post("/api/tickets", json={"service": "civil"}).get_json() for _ in range(3)]
    assert [t["number"] for t in numbers] == ["B001", "B002", "B003"]
    assert [t["waiting_ahead"] for t in numbers] == [0, 1, 2]


def test_the_print_status_follows_the_bridge(
    client: FlaskClient, edge_broker: RunningBroker
) -> None:
    job = client.post("/api/tickets", json={"service": "social"}).get_json()["print_job"]
    status = client.get(f"/api/print-jobs/{job}")
    assert status.status_code == 200
    assert status.get_json() == {
        "job_id": job,
        "status": "pending",
        "message": "正在打印",
        "detail": "",
    }
    bridge = Listener(edge_broker, "bridge", "local/v1/unused")
    try:
        result = PrintResult(job_id=job, status="waiting", detail="paper out")
        bridge.link.publish(topics.PRINT_RESULT, result).wait_for_publish(WAIT)
        body = eventually(
            lambda: (
                (b := client.get(f"/api/print-jobs/{job}").get_json())["status"] == "waiting" and b
            ),
            "the print result",
            WAIT,
        )
    finally:
        bridge.close()
    assert body["message"] == "打印机缺纸，请联系工作人员" and body["detail"] == "paper out"


def test_an_unknown_print_job_is_404(client: FlaskClient) -> None:
    response = client.get("/api/print-jobs/nope")
    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown_print_job"


@pytest.mark.parametrize(
    ("data", "error", "says"),
    [
        (b"{not json", "bad_json", "JSON"),
        (b"\xff\xfe", "bad_json", "JSON"),
        (b"[]", "bad_json", "JSON object"),
        (b'"social"', "bad_json", "JSON object"),
        (b"{}", "bad_request", "'service' is missing"),
        (b'{"servce": "social"}', "bad_request", "'service' is missing"),
        (b'{"service": 5}', "bad_request", "'service' must be a string"),
        (b'{"service": null}', "bad_request", "'service' must be a string"),
        (b'{"service": ""}', "bad_request", "must not be empty"),
        (b'{"service": "' + b"x" * 33 + b'"}', "bad_request", "at most 32"),
        (b'{"service": "social", "extra": 1}', "bad_request", "'extra'"),
    ],
)
def test_bad_requests_get_400_with_a_clear_message(
    client: FlaskClient, hub: StandInHub, data: bytes, error: str, says: str
) -> None:
    response = client.post("/api/tickets", data=data, content_type="application/json")
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == error
    assert says in body["message"] and "请求" in body["message"], body["message"]
    assert "k1:ticket.take" not in hub.requests, "nothing was asked of the hub"


def test_an_unknown_service_is_404(client: FlaskClient) -> None:
    status, body = _take(client, {"service": "no-such-service"})
    assert status == 404
    assert body["error"] == "unknown_service"
    assert "没有这项业务" in body["message"] and "no such service" in body["message"]


def test_a_body_that_is_not_json_is_415(client: FlaskClient) -> None:
    response = client.post("/api/tickets", data={"service": "social"})  # a form post
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"
    response = client.post("/api/tickets", data='{"service": "social"}', content_type="text/plain")
    assert response.status_code == 415


def test_a_large_body_is_413(client: FlaskClient) -> None:
    padding = "x" * 4000
    response = client.post("/api/tickets", json={"service": "social", "padding": padding})
    assert response.status_code == 413
    assert response.get_json()["error"] == "too_large"
    assert "过长" in response.get_json()["message"]


def test_a_foreign_origin_is_refused(client: FlaskClient) -> None:
    status, body = _take(client, headers={"Origin": "http://evil.example"})
    assert status == 403 and body["error"] == "forbidden_origin"
    status, _ = _take(client, headers={"Origin": "http://localhost"})  # the test client's host
    assert status == 201


def test_wrong_methods_and_paths_answer_json(client: FlaskClient) -> None:
    response = client.get("/api/tickets")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_a_silent_hub_is_503_after_the_rpc_timeout(
    edge_broker: RunningBroker, hub: StandInHub
) -> None:
    link = start_link(touch_settings(edge_broker, rpc_timeout=0.5))
    try:
        client = create_app(touch_settings(edge_broker), link).test_client()
        hub.link.stop()  # gone without a word: no Will, the retained state still says online
        started = time.monotonic()
        status, body = _take(client)
        elapsed = time.monotonic() - started
    finally:
        link.stop()
    assert status == 503 and body["error"] == "hub_unreachable"
    assert "暂时无法连接服务中心" in body["message"] and "service desk" in body["message"]
    assert 0.4 < elapsed < 2.0
    assert not link.hub_online


def test_a_hub_known_offline_issues_a_fallback_ticket_at_once(
    client: FlaskClient, link: KioskLink, hub: StandInHub
) -> None:
    assert client.get("/api/services").status_code == 200  # cached now
    hub.say("offline")
    eventually(lambda: link.hub_known_offline, "the hub's Will to reach the kiosk", WAIT)
    started = time.monotonic()
    status, body = _take(client)
    assert time.monotonic() - started < 0.2, "no rpc round trip is attempted"
    # No lease was granted (the stand-in hub has none): the kiosk's own fallback number.
    assert status == 201, body
    assert body["number"] == f"A-{KIOSK}-001" and body["offline"] is True
    assert body["waiting_ahead"] is None
    pending = [json.loads(p) for p in link.outbox.pending("ticket.issued")]
    assert [(p["display_number"], p["number"]) for p in pending] == [(f"A-{KIOSK}-001", None)]
    # The services list still comes from the cache, however old.
    response = client.get("/api/services")
    assert response.status_code == 200 and response.get_json()["centre"] == "demo"
    hub.say("online")
    eventually(lambda: link.hub_online, "the hub's birth", WAIT)
    status, body = _take(client)
    assert status == 201 and body["offline"] is False and body["number"] == "A001"


def test_a_late_will_of_an_older_hub_process_is_ignored(link: KioskLink, hub: StandInHub) -> None:
    hub.say("offline", boot_id="an-older-boot")
    deadline = time.monotonic() + 1.0  # a bridged message takes milliseconds
    while time.monotonic() < deadline:
        assert link.hub_online, "a Will of another boot must not mark the running hub offline"
        time.sleep(0.02)
    hub.say("offline")  # the running hub's own Will does
    eventually(lambda: link.hub_known_offline, "the hub's own Will", WAIT)


def test_no_services_and_no_hub_is_503(
    edge_broker: RunningBroker, hub: StandInHub, settings: Settings
) -> None:
    hub.say("offline")
    link = KioskLink(settings)
    link.start()
    try:
        eventually(lambda: link.hub_known_offline and link.is_connected, "the hub's Will", WAIT)
        client = create_app(settings, link).test_client()
        response = client.get("/api/services")
    finally:
        link.stop()
    assert response.status_code == 503
    assert json.loads(response.data)["error"] == "hub_unreachable"


def test_a_retried_request_with_its_event_id_gets_the_same_ticket_and_one_slip(
    client: FlaskClient, link: KioskLink, hub: StandInHub
) -> None:
    key = "0123456789abcdef0123456789abcdef"
    first = _take(client, {"service": "social", "event_id": key})
    again = _take(client, {"service": "social", "event_id": key})
    assert first[0] == again[0] == 201
    assert (
        first[1]["number"] == again[1]["number"] and first[1]["print_job"] == again[1]["print_job"]
    )
    hub.say("offline")  # offline too: the kiosk remembers what that key got
    eventually(lambda: link.hub_known_offline, "the hub's Will", WAIT)
    assert _take(client, {"service": "social", "event_id": key})[1] == first[1]


@pytest.mark.parametrize("event_id", ["short", 42, "0123456789ABCDEF0123456789ABCDEF"])
def test_a_bad_event_id_is_refused_clearly(client: FlaskClient, event_id: object) -> None:
    status, body = _take(client, {"service": "social", "event_id": event_id})
    assert status == 400 and "event_id" in body["message"]


def test_two_taps_of_one_press_at_once_while_offline_make_one_ticket(
    client: FlaskClient, link: KioskLink, hub: StandInHub
) -> None:
    assert client.get("/api/services").status_code == 200
    hub.say("offline")
    eventually(lambda: link.hub_known_offline, "the hub's Will", WAIT)
    body = {"service": "civil", "event_id": "fedcba9876543210fedcba9876543210"}
    app = client.application
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: _take(app.test_client(), body), range(4)))
    assert {status for status, _ in answers} == {201}
    assert len({answer["number"] for _, answer in answers}) == 1
    assert len({answer["print_job"] for _, answer in answers}) == 1
    assert len(link.outbox.pending("ticket.issued")) == 1, "the hub hears of one ticket"
