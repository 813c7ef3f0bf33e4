"""Cases at the kiosk: the JSON API and the screens, against real brokers and a stand-in hub.

The stand-in hub (``cases_standin.py``) answers the ``case.*`` rpc methods with the domain's
own rules and acks ``case.submitted`` end to end; the kiosk reaches it only through its edge
broker's bridge and keeps what it files in its real SQLite outbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient

from kiosk.domain.cases.codes import make_code, parse_code, rating_pin
from kiosk.domain.receipt import QrCode, Text
from kiosk.protocol import topics
from kiosk.protocol.cases import CaseRated, SimilarCase
from kiosk.protocol.client import MqttLink
from kiosk.protocol.messages import IdentityCard, PrintJob, decode, new_id
from kiosk.protocol.topics import CASE_RATED
from kiosk.settings import Settings
from kiosk.touch import create_app
from kiosk.touch.cases import EXTENSION as CASES
from kiosk.touch.cases import PROBLEMS
from kiosk.touch.casework import CaseDesk
from kiosk.touch.context import EXTENSION, TouchContext
from kiosk.touch.link import KioskLink
from tests.brokers import RunningBroker
from tests.touch.cases_standin import SECRET, CaseHub
from tests.touch.conftest import WAIT, Listener, StandInHub, start_link, touch_settings
from tests.touch.test_openapi import SPEC
from tests.waiting import eventually

PHONE = "13812345678"


@dataclass
class Stack:
    hub: StandInHub
    cases: CaseHub
    settings: Settings
    link: KioskLink
    app: Flask
    client: FlaskClient
    printer: Listener

    @property
    def touch(self) -> TouchContext:
        return self.app.extensions[EXTENSION]  # type: ignore[no-any-return]

    @property
    def desk(self) -> CaseDesk:
        return self.app.extensions[CASES]  # type: ignore[no-any-return]

    def slip(self, code: str) -> list[Any]:
        """The blocks of the print job of ``code``'s slip, as the firmware bridge got them."""
        payload = self.printer.first(lambda p: code.encode() in p, f"the slip of {code}")
        return decode(PrintJob, payload).receipt

    def go_offline(self) -> None:
        """The hub goes away: its Will says offline, and nothing reaches it any more."""
        self.cases.acking = False
        self.hub.say("offline")
        eventually(lambda: self.link.hub_known_offline, "the hub's Will at the kiosk", WAIT)

    def come_back(self) -> None:
        self.cases.acking = True
        self.hub.say("online")
        eventually(lambda: self.link.hub_online, "the hub's birth at the kiosk", WAIT)


def with_secret(settings: Settings, path: Path) -> Settings:
    path.write_bytes(SECRET)
    kiosk = settings.kiosk.model_copy(update={"deployment_secret_file": path})
    return settings.model_copy(update={"kiosk": kiosk})


@pytest.fixture
def stack(
    central_broker: RunningBroker, edge_broker: RunningBroker, tmp_path: Path
) -> Iterator[Stack]:
    hub_link = MqttLink(f"hub-{new_id()[:8]}", central_broker.mqtt_settings("hub"))
    tickets = StandInHub(hub_link)
    server = tickets.serve()
    cases = CaseHub(hub_link)
    cases.register(server)
    hub_link.start()
    assert hub_link.wait_connected(WAIT), "the stand-in hub could not connect"
    tickets.say("online")
    settings = with_secret(touch_settings(edge_broker, tmp_path / "state"), tmp_path / "secret")
    link = start_link(settings)
    printer = Listener(edge_broker, "bridge", topics.PRINT_JOB)
    app = create_app(settings, link)
    yield Stack(tickets, cases, settings, link, app, app.test_client(), printer)
    printer.close()
    link.stop()
    hub_link.stop()


def case_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "box",
        "category": "road",
        "grid": "g-1",
        "title": "路灯坏了",
        "description": "3号楼门口的路灯晚上不亮，老人走路不方便。",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def submit(stack: Stack, **changes: Any) -> dict[str, Any]:
    response = stack.client.post("/api/cases", json=case_body(**changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def texts(blocks: list[Any]) -> list[str]:
    return [block.text for block in blocks if isinstance(block, Text)]


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no form token"
    return match.group(1)


# --- categories and the grid tree ---------------------------------------------------------


def test_categories_and_the_grid_tree_come_from_the_hub(stack: Stack) -> None:
    categories = stack.client.get("/api/cases/categories")
    assert categories.status_code == 200
    assert [c["id"] for c in categories.get_json()["categories"]] == ["road", "noise", "misc"]
    grids = stack.client.get("/api/grids").get_json()
    assert grids["community"] == "c-heping"
    assert grids["streets"][0]["communities"][0]["grids"][0]["buildings"] == ["1号楼", "2号楼"]


def test_categories_and_grids_are_kept_for_a_kiosk_restarted_offline(stack: Stack) -> None:
    assert stack.client.get("/api/cases/categories").status_code == 200
    assert stack.client.get("/api/grids").status_code == 200
    # Another process on the same file, never connected: the hub cannot be asked.
    offline_link = KioskLink(stack.settings)
    offline = create_app(stack.settings, offline_link).test_client()
    categories = offline.get("/api/cases/categories")
    assert categories.status_code == 200
    assert categories.get_json()["categories"][0]["name"] == "道路设施"
    assert offline.get("/api/grids").get_json()["community"] == "c-heping"


def test_no_categories_yet_and_no_hub_is_said_clearly(edge_broker: RunningBroker) -> None:
    link = KioskLink(touch_settings(edge_broker))  # never started: the hub cannot be asked
    client = create_app(touch_settings(edge_broker), link).test_client()
    response = client.get("/api/cases/categories")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "no_categories"
    assert "服务台" in body["message"] and "service desk" in body["message"]


# --- filing ----------------------------------------------------------------------------------


def test_an_anonymous_case_is_filed_delivered_and_printed(stack: Stack) -> None:
    before = datetime.now(UTC)
    answer = submit(stack)
    code = parse_code(answer["tracking_code"])
    assert code.channel == "box" and str(code) == answer["tracking_code"]
    due = datetime.fromisoformat(answer["accept_due"])
    assert before + timedelta(hours=8) <= due <= datetime.now(UTC) + timedelta(hours=8)
    assert answer["saved_offline"] is False
    # The hub gets the submitted event through the bridge and acks it: the outbox empties.
    message = eventually(lambda: stack.cases.received, "case.submitted at the hub")[0]
    assert message.code == answer["tracking_code"]
    assert message.record["submission"]["resident"] is None
    assert message.record["submission"]["place"]["grid"]["id"] == "g-1"
    eventually(lambda: not stack.desk.pending_codes(), "the hub's ack to empty the outbox")
    slip = stack.slip(answer["tracking_code"])
    words = texts(slip)
    assert answer["tracking_code"] in words
    pin = rating_pin(SECRET, answer["tracking_code"])
    assert [b.data for b in slip if isinstance(b, QrCode)] == [f"{answer['tracking_code']}#{pin}"]
    assert f"评价码 {pin}" in words
    assert "类别：道路设施" in words and "匿名提交" in words
    assert any(w.startswith("承诺受理：") for w in words)
    assert "已保存，联网后自动上传" not in words


def test_codes_come_from_a_leased_block_one_lease_for_many_cases(stack: Stack) -> None:
    codes = [submit(stack, title=f"问题{i}")["tracking_code"] for i in range(3)]
    assert len(set(codes)) == 3
    seqs = sorted(parse_code(code).seq for code in codes)
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    assert stack.cases.calls.count("case.code_block") == 1


def test_filing_works_with_the_hub_unreachable_and_is_delivered_later(stack: Stack) -> None:
    assert stack.client.get("/api/cases/categories").status_code == 200
    assert stack.client.get("/api/grids").status_code == 200
    stack.desk.lease("box", datetime.now(UTC).year + 0)  # what /cases does in the background
    stack.go_offline()
    answer = submit(stack)
    code = answer["tracking_code"]
    assert answer["saved_offline"] is True
    assert "已保存，联网后自动上传" in texts(stack.slip(code))
    # 查进度 at once: saved on this kiosk, not yet delivered; no question to the hub.
    lookups = stack.cases.calls.count("case.lookup")
    progress = stack.client.get(f"/api/cases/{code}")
    assert progress.status_code == 200
    assert progress.get_json()["delivered"] is False
    assert progress.get_json()["status"] == "待受理"
    assert stack.cases.calls.count("case.lookup") == lookups
    page = stack.client.get(f"/cases/progress?code={code}").get_data(as_text=True)
    assert "data-saved-offline" in page
    assert code in stack.desk.pending_codes()
    stack.come_back()
    eventually(lambda: code in stack.cases.cases, "the saved case to reach the hub", 30)
    eventually(lambda: not stack.desk.pending_codes(), "the hub's ack", 30)
    assert stack.client.get(f"/api/cases/{code}").get_json()["delivered"] is True


def test_without_codes_and_without_the_hub_filing_is_refused_clearly(stack: Stack) -> None:
    assert stack.client.get("/api/cases/categories").status_code == 200
    assert stack.client.get("/api/grids").status_code == 200
    stack.go_offline()
    response = stack.client.post("/api/cases", json=case_body())
    assert response.status_code == 503
    assert response.get_json()["error"] == "no_codes"
    assert not stack.desk.pending_codes()


def test_an_identified_resident_is_sent_as_a_key_and_masked_forms_only(stack: Stack) -> None:
    answer = submit(stack, phone=PHONE, contact_ok=True)
    message = eventually(lambda: stack.cases.received, "case.submitted at the hub")[0]
    resident = message.record["submission"]["resident"]
    assert resident["masked_phone"] == "138****5678" and resident["contact_ok"] is True
    assert re.fullmatch(r"[0-9a-f]{64}", resident["person_key"])
    assert PHONE not in message.model_dump_json()
    words = texts(stack.slip(answer["tracking_code"]))
    assert "登记人：138****5678" in words
    assert not any(PHONE in word for word in words)


def test_emoji_rare_characters_and_long_text_arrive_as_typed(stack: Stack) -> None:
    title = "路灯💡坏了👨‍👩‍👧𠀀"
    description = "𪚥" * 1999 + "。"
    answer = submit(stack, title=title, description=description)
    message = eventually(lambda: stack.cases.received, "case.submitted at the hub")[0]
    assert message.record["submission"]["title"] == title
    assert message.record["submission"]["description"] == description
    assert message.code == answer["tracking_code"]


def test_markup_in_a_case_is_shown_as_text(stack: Stack) -> None:
    title = "<script>alert(1)</script>"
    answer = submit(stack, title=title, description='<img src=x onerror="alert(2)">')
    code = answer["tracking_code"]
    eventually(lambda: code in stack.cases.cases, "the case at the hub")
    page = stack.client.get(f"/cases/progress?code={code}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page and "<img src=x" not in page
    # On paper the title is plain text too, exactly as typed.
    assert f"事项：{title}" in texts(stack.slip(code))


# --- bad input --------------------------------------------------------------------------------

BAD_BODIES = [
    pytest.param({"channel": "box"}, "bad_request", id="missing-fields"),
    pytest.param(case_body(title=7), "bad_request", id="title-not-a-string"),
    pytest.param(case_body(contact_ok="yes"), "bad_request", id="contact-not-a-boolean"),
    pytest.param(case_body(extra="x"), "bad_request", id="unknown-field"),
    pytest.param(case_body(channel="mail"), "bad_channel", id="bad-channel"),
    pytest.param(case_body(category="nope"), "unknown_category", id="unknown-category"),
    pytest.param(case_body(grid="g-404"), "unknown_grid", id="unknown-grid"),
    pytest.param(case_body(building="楼" * 41), "bad_building", id="long-building"),
    pytest.param(case_body(title="   "), "bad_text", id="empty-title"),
    pytest.param(case_body(title="坏"), "bad_text", id="short-title"),
    pytest.param(case_body(title="长" * 61), "bad_text", id="long-title"),
    pytest.param(case_body(description="长" * 2001), "bad_text", id="long-description"),
    pytest.param(case_body(phone="12345"), "bad_phone", id="bad-phone"),
    pytest.param(case_body(contact_ok=True), "contact_needs_phone", id="contact-without-phone"),
    pytest.param(case_body(channel="proposal"), "proposal_needs_card", id="proposal-anonymous"),
    pytest.param(
        case_body(channel="proposal", phone=PHONE), "proposal_needs_card", id="proposal-by-phone"
    ),
]


@pytest.mark.parametrize(("body", "error"), BAD_BODIES)
def test_bad_cases_are_refused_clearly_and_nothing_is_filed(
    stack: Stack, body: dict[str, Any], error: str
) -> None:
    response = stack.client.post("/api/cases", json=body)
    assert 400 <= response.status_code < 500
    answer = response.get_json()
    assert answer["error"] == error
    chinese, english = answer["message"].split(" / ", 1)
    assert re.search(r"[\u4e00-\u9fff]", chinese) and re.search(r"[a-z]{3}", english)
    assert not stack.desk.pending_codes()
    assert "case.code_block" not in stack.cases.calls  # refused before a number was used


@pytest.mark.parametrize(
    ("data", "content_type", "status", "error"),
    [
        ("not json", "application/json", 400, "bad_json"),
        ("[1, 2]", "application/json", 400, "bad_json"),
        ("channel=box", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ('{"title": "' + "x" * 70_000 + '"}', "application/json", 413, "too_large"),
    ],
)
def test_what_is_not_a_json_object_is_refused(
    stack: Stack, data: str, content_type: str, status: int, error: str
) -> None:
    response = stack.client.post("/api/cases", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.get_json()["error"] == error


def test_a_foreign_origin_cannot_file(stack: Stack) -> None:
    response = stack.client.post(
        "/api/cases", json=case_body(), headers={"Origin": "http://evil.example"}
    )
    assert response.status_code == 403


# --- 查进度 and rating ---------------------------------------------------------------------


def test_a_mistyped_code_is_answered_at_once_without_the_hub(stack: Stack) -> None:
    good = make_code("box", 2026, 42)
    typo = good[:-1] + ("A" if good[-1] != "A" else "B")
    for text in (typo, "hello", "MQ-2026-0024-" + good[-1]):
        response = stack.client.get(f"/api/cases/{text}")
        assert response.status_code == 400, text
        assert response.get_json()["error"] == "bad_code"
    assert "case.lookup" not in stack.cases.calls
    page = stack.client.get(f"/cases/progress?code={typo}")
    assert page.status_code == 400
    assert "aria-invalid" in page.get_data(as_text=True)


def test_an_unknown_code_is_not_found(stack: Stack) -> None:
    response = stack.client.get(f"/api/cases/{make_code('box', 2026, 9999)}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown_case"


def test_the_timeline_shows_no_internal_note_staff_or_identity(stack: Stack) -> None:
    answer = submit(stack, phone=PHONE, contact_ok=True)
    code = answer["tracking_code"]
    eventually(lambda: code in stack.cases.cases, "the case at the hub")
    stack.cases.staff(code, note="内部备注：举报人是老张")
    lookup = stack.client.get(f"/api/cases/{code}")
    page = stack.client.get(f"/cases/progress?code={code.lower().replace('-', '')}")
    assert page.status_code == 200
    for shown in (lookup.get_data(as_text=True), page.get_data(as_text=True)):
        assert "已办结" in shown and "路灯已修好" in shown
        for secret in ("举报人", "wang.clerk", "li.handler", PHONE, "138****5678"):
            assert secret not in shown
    assert "data-rate" in page.get_data(as_text=True)


def test_unsatisfied_goes_back_for_rework(stack: Stack) -> None:
    code = submit(stack)["tracking_code"]
    eventually(lambda: code in stack.cases.cases, "the case at the hub")
    stack.cases.staff(code)
    body = {"rating": "unsatisfied", "solved": False, "comment": "还是不亮"}
    body["pin"] = rating_pin(SECRET, code)
    response = stack.client.post(f"/api/cases/{code}/rating", json=body)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["rework"] is True
    case = stack.cases.cases[code]
    assert str(case.state) == "rated" and case.rating is not None
    assert case.rating.comment == "还是不亮"
    # Rated once: a second verdict is refused in words.
    again = stack.client.post(f"/api/cases/{code}/rating", json=body)
    assert again.status_code == 409
    assert again.get_json()["error"] == "cannot_rate"


@pytest.mark.parametrize(
    "body",
    [
        {"rating": "great", "solved": True},
        {"rating": "basic", "solved": "yes"},
        {"rating": "basic", "solved": True, "comment": 5},
        {"rating": "basic", "solved": True, "stars": 5},
        {"rating": "basic", "solved": True, "comment": "长" * 501},
        {"rating": ["basic"], "solved": True},
        {"rating": {"basic": 1}, "solved": True},
        {"rating": None, "solved": True},
        {"rating": "basic", "solved": True, "pin": 123456},
        {"rating": "basic", "solved": True, "pin": "12345"},
        {"rating": "basic", "solved": True, "pin": "１２３４５６"},
        {"rating": "basic", "solved": True, "pin": ["123456"]},
    ],
)
def test_bad_ratings_are_refused(stack: Stack, body: dict[str, Any]) -> None:
    code = make_code("box", 2026, 7)
    response = stack.client.post(f"/api/cases/{code}/rating", json=body)
    assert response.status_code == 400
    assert " / " in response.get_json()["message"]
    assert "case.rate" not in stack.cases.calls


def test_the_hubs_rate_limit_is_shown_clearly(stack: Stack) -> None:
    stack.cases.refuse["case.rate"] = ("rate_limited", "评价太频繁 / too many ratings")
    code = make_code("box", 2026, 7)
    body = {"rating": "basic", "solved": True, "comment": ""}
    response = stack.client.post(f"/api/cases/{code}/rating", json=body)
    assert response.status_code == 429
    assert "稍后" in response.get_json()["message"]
    page = stack.client.get(f"/cases/rate/{code}?rating=basic&solved=yes")
    form = {"csrf_token": csrf(page.get_data(as_text=True)), "rating": "basic", "solved": "yes"}
    form["pin"] = rating_pin(SECRET, code)
    refused = stack.client.post(f"/cases/rate/{code}", data=form)
    assert refused.status_code == 429
    assert "稍后" in refused.get_data(as_text=True)


# --- the screens ------------------------------------------------------------------------------


def _post(client: FlaskClient, path: str, page_path: str, **fields: str) -> str:
    page = client.get(page_path, follow_redirects=True)
    assert page.status_code == 200, (page_path, page.status_code)
    response = client.post(path, data={"csrf_token": csrf(page.get_data(as_text=True)), **fields})
    assert response.status_code == 303, (path, response.status_code)
    return response.headers["Location"]


def test_the_screens_file_a_case_one_decision_at_a_time(stack: Stack) -> None:
    client = stack.client
    assert client.get("/cases").status_code == 200
    assert client.get("/cases/new/box").headers["Location"].endswith("/cases/category")
    assert _post(client, "/cases/category", "/cases/category", category="noise").endswith(
        "/cases/place"
    )
    place = client.get("/cases/place").get_data(as_text=True)
    assert "第一网格" in place and "第二网格" in place and "第九网格" not in place
    assert _post(client, "/cases/place", "/cases/place", grid="g-1").endswith("/cases/building")
    assert _post(client, "/cases/building", "/cases/building", building="2号楼").endswith(
        "/cases/similar"
    )
    assert client.get("/cases/similar").headers["Location"].endswith("/cases/title")
    short = client.post(
        "/cases/title",
        data={"csrf_token": csrf(client.get("/cases/title").get_data(as_text=True)), "title": "吵"},
    )
    assert short.status_code == 422
    assert "at least 2" in short.get_data(as_text=True) or "至少" in short.get_data(as_text=True)
    _post(client, "/cases/title", "/cases/title", title="晚上广场舞太吵")
    _post(client, "/cases/description", "/cases/description", description="每晚十点后还在放音乐")
    assert _post(client, "/cases/identity", "/cases/identity", who="anonymous").endswith(
        "/cases/confirm"
    )
    confirm = client.get("/cases/confirm").get_data(as_text=True)
    assert "晚上广场舞太吵" in confirm and "2号楼" in confirm
    slip_at = _post(client, "/cases/submit", "/cases/confirm")
    slip = client.get(slip_at).get_data(as_text=True)
    code = slip_at.rsplit("/", 1)[-1]
    assert parse_code(code).channel == "box" and code in slip
    message = eventually(lambda: stack.cases.received, "case.submitted at the hub")[0]
    assert message.record["submission"]["place"]["building"] == "2号楼"
    assert message.record["submission"]["category"] == "noise"
    # The draft is gone: going back cannot file it twice.
    assert client.get("/cases/confirm").headers["Location"].endswith("/cases")


def test_a_resident_who_typed_a_phone_may_allow_a_call(stack: Stack) -> None:
    client = stack.client
    client.get("/cases/new/box")
    _post(client, "/cases/category", "/cases/category", category="road")
    _post(client, "/cases/place", "/cases/place", grid="g-2")
    _post(client, "/cases/title", "/cases/title", title="井盖松动")
    _post(client, "/cases/description", "/cases/description", description="")
    assert _post(client, "/cases/phone", "/cases/phone", phone=PHONE).endswith("/cases/contact")
    _post(client, "/cases/contact", "/cases/contact", contact="yes")
    confirm = client.get("/cases/confirm").get_data(as_text=True)
    assert "138****5678" in confirm and PHONE not in confirm
    _post(client, "/cases/submit", "/cases/confirm")
    message = eventually(lambda: stack.cases.received, "case.submitted at the hub")[0]
    assert message.record["submission"]["resident"]["contact_ok"] is True


def test_a_proposal_asks_for_the_card_first(stack: Stack) -> None:
    page = stack.client.get("/cases/new/proposal")
    assert page.status_code == 200
    assert 'data-on-identified="/cases/new/proposal"' in page.get_data(as_text=True)


def test_me_too_adds_support_instead_of_a_duplicate(stack: Stack) -> None:
    stack.cases.similar_cases = [
        SimilarCase(
            support_token="tok-1",  # noqa: S106 (an opaque token, not a password)
            category="道路设施",
            summary="和平路路灯不亮",
            status="处置中",
            submitted_on="2026-11-20",
            supporters=2,
        )
    ]
    client = stack.client
    client.get("/cases/new/box")
    _post(client, "/cases/category", "/cases/category", category="road")
    assert _post(client, "/cases/place", "/cases/place", grid="g-2").endswith("/cases/similar")
    similar = client.get("/cases/similar").get_data(as_text=True)
    assert "和平路路灯不亮" in similar
    event_id = re.search(r'name="event_id" value="([0-9a-f]{32})"', similar)
    assert event_id
    form = {"csrf_token": csrf(similar), "token": "tok-1", "event_id": event_id.group(1)}
    for _ in range(2):  # a double tap counts once
        done = client.post("/cases/support", data=form)
        assert done.status_code == 200
    assert stack.cases.supports == {"tok-1": 1}
    assert not stack.cases.received


def test_a_stale_form_is_refused_and_loses_nothing(stack: Stack) -> None:
    stack.client.get("/cases/new/box")
    response = stack.client.post("/cases/category", data={"category": "road"})
    assert response.status_code == 400
    assert stack.client.get("/cases/category").status_code == 200  # the draft is still there


def test_every_case_error_code_is_in_the_openapi_document() -> None:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    codes = set(spec["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    assert {problem.code for problem in PROBLEMS.values()} <= codes


def test_the_idle_reset_forgets_the_case_being_typed(stack: Stack) -> None:
    client = stack.client
    client.get("/cases/new/box")
    _post(client, "/cases/category", "/cases/category", category="road")
    _post(client, "/cases/place", "/cases/place", grid="g-2")
    assert client.get("/cases/title").status_code == 200
    assert client.delete("/api/session").status_code == 200  # what the idle timer does
    assert client.get("/cases/title").headers["Location"].endswith("/cases")
    assert client.get("/cases/confirm").headers["Location"].endswith("/cases")


def test_a_party_member_files_a_proposal_with_the_id_card(stack: Stack) -> None:
    card = IdentityCard(card_type="resident", name="张三", id_number="11010519491231002X")
    stack.touch.residents.identify_card(card)
    answer = submit(stack, channel="proposal", category="misc", title="建议增设老年食堂")
    assert answer["tracking_code"].startswith("TA-")
    message = eventually(lambda: stack.cases.received, "case.submitted at the hub")[0]
    resident = message.record["submission"]["resident"]
    assert resident["masked_name"] == "张*" and re.fullmatch(
        r"[0-9a-f]{64}", resident["person_key"]
    )
    assert "11010519491231002X" not in message.model_dump_json() and "张三" not in str(message)
    words = texts(stack.slip(answer["tracking_code"]))
    assert "党员提案" in words and "登记人：张* 110***********002X" in words


# --- who may rate: the slip's PIN, or the submitter's own ID card ------------------------------

CARD = IdentityCard(card_type="resident", name="张三", id_number="11010519491231002X")
NEIGHBOUR = IdentityCard(card_type="resident", name="李四", id_number="110105195001011234")


def resolved(stack: Stack, **changes: Any) -> str:
    code: str = submit(stack, **changes)["tracking_code"]
    eventually(lambda: code in stack.cases.cases, "the case at the hub")
    stack.cases.staff(code)
    return code


def rate_api(stack: Stack, code: str, **extra: Any) -> Any:
    body = {"rating": "unsatisfied", "solved": False, **extra}
    return stack.client.post(f"/api/cases/{code}/rating", json=body)


def test_the_api_asks_for_the_slips_pin_and_refuses_a_wrong_one(stack: Stack) -> None:
    code = resolved(stack)
    other = resolved(stack, title="井盖松动")
    missing = rate_api(stack, code)
    assert (missing.status_code, missing.get_json()["error"]) == (403, "pin_required")
    wrong = rate_api(stack, code, pin=rating_pin(SECRET, other))  # another slip's PIN
    assert (wrong.status_code, wrong.get_json()["error"]) == (403, "bad_pin")
    assert "评价码不对" in wrong.get_json()["message"] and " / " in wrong.get_json()["message"]
    assert str(stack.cases.cases[code].state) == "resolved"
    right = rate_api(stack, code, pin=rating_pin(SECRET, code))
    assert right.status_code == 200 and str(stack.cases.cases[code].state) == "rated"


def test_the_submitters_own_card_rates_without_the_pin_a_neighbours_does_not(
    stack: Stack,
) -> None:
    stack.touch.residents.identify_card(CARD)
    code = resolved(stack, channel="proposal", category="misc", title="建议增设老年食堂")
    stack.touch.residents.forget()
    stack.touch.residents.identify_card(NEIGHBOUR)
    assert rate_api(stack, code).get_json()["error"] == "pin_required"
    stack.touch.residents.forget()
    stack.touch.residents.identify_card(CARD)
    assert rate_api(stack, code).status_code == 200
    assert stack.cases.rate_calls[-1].pin is None


def test_a_typed_phone_is_no_proof_the_phone_filers_case_needs_the_pin(stack: Stack) -> None:
    code = resolved(stack, phone=PHONE)
    stack.touch.residents.identify_phone(PHONE)
    assert rate_api(stack, code).get_json()["error"] == "pin_required"
    assert stack.cases.rate_calls[-1].person_key is None  # only a card's key is sent


def _rate_on_screens(stack: Stack, code: str) -> str:
    """Level and solved on their screens, then the comment form; its answer's text."""
    page = stack.client.get(f"/cases/rate/{code}?rating=unsatisfied&solved=no")
    form = {"csrf_token": csrf(page.get_data(as_text=True)), "rating": "unsatisfied"}
    form |= {"solved": "no", "comment": "还是不亮", "event_id": new_id()}
    answer = stack.client.post(f"/cases/rate/{code}", data=form)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_the_screens_ask_for_the_pin_and_say_when_it_is_wrong(stack: Stack) -> None:
    code = resolved(stack)
    pin_page = _rate_on_screens(stack, code)
    assert 'name="pin"' in pin_page and 'data-keyboard="digits"' in pin_page
    assert "data-with-card" not in pin_page  # no card on the reader
    assert "case.rate" not in stack.cases.calls  # nothing sent without a PIN
    form = {"csrf_token": csrf(pin_page), "rating": "unsatisfied", "solved": "no"}
    form |= {"comment": "还是不亮", "event_id": new_id(), "pin": "000000"}
    if rating_pin(SECRET, code) == "000000":
        form["pin"] = "000001"
    wrong = stack.client.post(f"/cases/rate/{code}", data=form)
    assert wrong.status_code == 403 and 'name="pin"' in wrong.get_data(as_text=True)
    assert "评价码不对" in wrong.get_data(as_text=True)  # the screens speak Chinese by default
    assert str(stack.cases.cases[code].state) == "resolved"
    form["pin"] = rating_pin(SECRET, code)
    right = stack.client.post(f"/cases/rate/{code}", data=form)
    assert right.status_code == 200 and str(stack.cases.cases[code].state) == "rated"
    assert stack.cases.cases[code].rating.comment == "还是不亮"  # type: ignore[union-attr]


def test_a_scanned_slip_qr_carries_the_pin_to_the_rating(stack: Stack) -> None:
    code = resolved(stack)
    pin = rating_pin(SECRET, code)
    answer = _scan(stack, f"{code}#{pin}")
    assert answer.status_code == 303 and "%23" not in answer.headers["Location"]
    assert pin not in answer.headers["Location"]
    timeline = stack.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "data-rate" in timeline and pin not in timeline
    rated = _rate_on_screens(stack, code)  # no PIN screen: the QR had it
    assert 'name="pin"' not in rated and str(stack.cases.cases[code].state) == "rated"
    bad = _scan(stack, f"{code}#12")
    assert bad.status_code == 400 and "#12" not in bad.get_data(as_text=True)


def _scan(stack: Stack, typed: str) -> Any:
    """The 查进度 form posted (typed on the keyboard or a slip's QR scanned)."""
    form = stack.client.get("/cases/progress").get_data(as_text=True)
    assert 'method="post"' in form
    return stack.client.post("/cases/progress", data={"csrf_token": csrf(form), "code": typed})


def test_the_progress_form_posts_and_refuses_a_stale_form(stack: Stack) -> None:
    code = resolved(stack)
    typed = _scan(stack, code.lower().replace("-", ""))
    assert typed.status_code == 303 and typed.headers["Location"].endswith(f"code={code}")
    stale = stack.client.post("/cases/progress", data={"code": f"{code}#123456"})
    assert stale.status_code != 303  # no CSRF token: nothing kept
    with stack.client.session_transaction() as kept:
        assert "case_pin" not in kept


@pytest.mark.parametrize("how", ["clear button", "idle reset"])
def test_forgetting_the_resident_forgets_the_scanned_pin_and_the_filed_slip(
    stack: Stack, how: str
) -> None:
    client = stack.client
    client.get("/cases/new/box")
    _post(client, "/cases/category", "/cases/category", category="road")
    _post(client, "/cases/place", "/cases/place", grid="g-2")
    _post(client, "/cases/title", "/cases/title", title="路灯坏了")
    _post(client, "/cases/description", "/cases/description", description="")
    _post(client, "/cases/identity", "/cases/identity", who="anonymous")
    slip_at = _post(client, "/cases/submit", "/cases/confirm")
    filed = slip_at.rsplit("/", 1)[-1]
    assert rating_pin(SECRET, filed) in client.get(slip_at).get_data(as_text=True)
    code = resolved(stack)
    _scan(stack, f"{code}#{rating_pin(SECRET, code)}")
    client.get("/cases/new/box")  # a draft begun, left behind
    with client.session_transaction() as before:
        assert {"case_pin", "case_filed", "case_draft"} <= set(before)
    if how == "clear button":
        assert client.post("/identify/forget", data={"next": "/"}).status_code == 303
    else:
        assert client.delete("/api/session").status_code == 200
    with client.session_transaction() as after:
        assert not {"case_pin", "case_filed", "case_draft"} & set(after)
    assert rating_pin(SECRET, filed) not in client.get(slip_at).get_data(as_text=True)
    pin_page = _rate_on_screens(stack, code)  # the next person: asked for the PIN
    assert 'name="pin"' in pin_page and str(stack.cases.cases[code].state) == "resolved"


def test_the_card_holder_may_skip_the_pin_and_is_asked_for_it_if_not_the_filer(
    stack: Stack,
) -> None:
    code = resolved(stack)  # anonymous: a card proves nothing here
    stack.touch.residents.identify_card(CARD)
    pin_page = _rate_on_screens(stack, code)
    assert "data-with-card" in pin_page
    form = {"csrf_token": csrf(pin_page), "rating": "unsatisfied", "solved": "no"}
    form |= {"event_id": new_id(), "pin": "", "with_card": "yes"}
    refused = stack.client.post(f"/cases/rate/{code}", data=form)
    assert refused.status_code == 403
    assert "请输入小票上印的6位评价码" in refused.get_data(as_text=True)


def test_the_slip_page_shows_the_pin_only_to_who_filed(stack: Stack) -> None:
    client = stack.client
    client.get("/cases/new/box")
    _post(client, "/cases/category", "/cases/category", category="road")
    _post(client, "/cases/place", "/cases/place", grid="g-2")
    _post(client, "/cases/title", "/cases/title", title="路灯坏了")
    _post(client, "/cases/description", "/cases/description", description="")
    _post(client, "/cases/identity", "/cases/identity", who="anonymous")
    slip_at = _post(client, "/cases/submit", "/cases/confirm")
    code = slip_at.rsplit("/", 1)[-1]
    pin = rating_pin(SECRET, code)
    assert pin in client.get(slip_at).get_data(as_text=True)
    words = texts(stack.slip(code))
    assert f"评价码 {pin}" in words
    other = make_code("box", parse_code(code).year, parse_code(code).seq + 1)
    assert all(rating_pin(SECRET, other) not in word for word in words)
    assert client.delete("/api/session").status_code == 200  # the next resident
    assert pin not in client.get(slip_at).get_data(as_text=True)


def test_a_rating_with_the_hub_away_is_kept_in_the_outbox_and_a_wrong_pin_is_told_at_once(
    stack: Stack,
) -> None:
    code = resolved(stack)
    stack.go_offline()
    wrong = rate_api(stack, code, pin="000001" if rating_pin(SECRET, code) != "000001" else "0")
    assert (wrong.status_code, wrong.get_json()["error"]) == (403, "bad_pin")
    assert stack.link.outbox.pending(CASE_RATED) == []
    right = rate_api(stack, code, pin=rating_pin(SECRET, code), comment="还是不亮")
    assert right.status_code == 200 and right.get_json()["state"] == "saved_offline"
    (queued,) = [decode(CaseRated, p) for p in stack.link.outbox.pending(CASE_RATED)]
    assert (queued.kiosk, queued.rate.code, queued.rate.rating) == ("k1", code, "unsatisfied")
    assert queued.rate.event_id == queued.id, "the hub applies it once by that id"


def test_wrong_pins_with_the_hub_away_are_limited_at_the_kiosk(stack: Stack) -> None:
    """Pulling the uplink must not turn the kiosk into an unlimited PIN oracle."""
    codes = [resolved(stack, title=f"路灯坏了{n}") for n in range(3)]
    stack.go_offline()

    def wrong(code: str) -> Any:
        pin = rating_pin(SECRET, code)
        return rate_api(stack, code, pin=f"{(int(pin) + 1) % 1_000_000:06d}")

    for _ in range(5):  # per code
        assert wrong(codes[0]).get_json()["error"] == "bad_pin"
    locked = rate_api(stack, codes[0], pin=rating_pin(SECRET, codes[0]))
    assert (locked.status_code, locked.get_json()["error"]) == (429, "rate_limited")
    for _ in range(5):  # per kiosk: another code takes the rest of the kiosk's allowance
        assert wrong(codes[1]).get_json()["error"] == "bad_pin"
    fresh = rate_api(stack, codes[2], pin=rating_pin(SECRET, codes[2]))
    assert (fresh.status_code, fresh.get_json()["error"]) == (429, "rate_limited")
    assert stack.link.outbox.pending(CASE_RATED) == []
