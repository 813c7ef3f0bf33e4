"""Identity at the kiosk: phone form, card from the bridge, masked answers, forgetting."""

from __future__ import annotations

import logging
import re
import time

import pytest
from flask.testing import FlaskClient

from kiosk.protocol import topics
from kiosk.protocol.messages import CardEvent, IdentityCard
from kiosk.touch.context import EXTENSION, TouchContext
from kiosk.touch.ui import TouchUi
from tests.brokers import RunningBroker
from tests.touch.conftest import WAIT, Listener, bare_app
from tests.waiting import eventually

ID_NUMBER = "11010519491231002X"
NAME = "张三"


def _token(client: FlaskClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def _context(client: FlaskClient) -> TouchContext:
    context = client.application.extensions[EXTENSION]
    assert isinstance(context, TouchContext)
    return context


def test_a_typed_phone_number_identifies_and_shows_only_masked(bare: FlaskClient) -> None:
    token = _token(bare, "/identify/phone")
    response = bare.post("/identify/phone", data={"csrf_token": token, "phone": "13812345678"})
    assert response.status_code == 303 and response.headers["Location"] == "/identify/done"
    page = bare.get("/identify/done").get_data(as_text=True)
    assert "138****5678" in page and "13812345678" not in page
    assert "第 3 步，共 3 步" in page
    assert bare.get("/api/session").get_json() == {
        "identified": True,
        "method": "phone",
        "phone_masked": "138****5678",
    }
    home = bare.get("/identify").get_data(as_text=True)
    assert "138****5678" in home and "清除我的信息" in home, "the strip on every screen"


def test_a_wrong_phone_number_is_explained_at_the_field(bare: FlaskClient) -> None:
    token = _token(bare, "/identify/phone")
    response = bare.post("/identify/phone", data={"csrf_token": token, "phone": "2345"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "11 位数字" in page and 'aria-invalid="true"' in page and 'value="2345"' in page
    assert bare.get("/api/session").get_json() == {"identified": False}


def test_a_phone_form_without_its_token_is_refused(bare: FlaskClient) -> None:
    response = bare.post("/identify/phone", data={"phone": "13812345678"})
    assert response.status_code == 400
    assert bare.get("/api/session").get_json() == {"identified": False}


def test_done_without_a_resident_goes_back_to_the_choice(bare: FlaskClient) -> None:
    assert bare.get("/identify/done").headers["Location"] == "/identify"


def test_clear_my_information_forgets_and_says_so(bare: FlaskClient) -> None:
    _context(bare).residents.identify_phone("13812345678")
    response = bare.post("/identify/forget", data={"next": "/identify"})
    assert response.headers["Location"] == "/identify"
    page = bare.get("/identify").get_data(as_text=True)
    assert "已清除您在这台机器上的信息" in page and "138****5678" not in page
    assert bare.get("/api/session").get_json() == {"identified": False}


def test_the_idle_reset_forgets_the_resident_and_the_choices(bare: FlaskClient) -> None:
    bare.post("/language", data={"lang": "en", "next": "/"})
    bare.post("/elder-mode", data={"elder": "off", "next": "/"})
    _context(bare).residents.identify_phone("13812345678")
    response = bare.delete("/api/session")
    assert response.status_code == 200 and response.get_json() == {"identified": False}
    page = bare.get("/welcome").get_data(as_text=True)
    assert '<html lang="zh-Hans" class="elder">' in page
    assert bare.delete("/api/session", headers={"Origin": "http://evil.example"}).status_code == 403


def test_touches_keep_the_server_from_forgetting() -> None:
    client = bare_app(TouchUi(idle_prompt=0.2, idle_forget=0.1)).test_client()
    _context(client).residents.identify_phone("13812345678")
    for _ in range(3):
        time.sleep(0.15)
        assert client.post("/api/activity", json={}).status_code == 204
    assert client.get("/api/session").get_json()["identified"] is True
    assert client.post("/api/activity", data="{}").status_code == 415
    time.sleep(0.4)
    assert client.get("/api/session").get_json() == {"identified": False}


def test_status_counts_what_pages_must_notice(bare: FlaskClient) -> None:
    before = bare.get("/api/status").get_json()
    assert before["hub"] == "unreachable", "this link never connected"
    assert set(before) == {
        "hub",
        "identified",
        "resident",
        "card_rejected",
        "motion",
        "help",
        "reload",
    }
    _context(bare).residents.identify_phone("13812345678")
    after = bare.get("/api/status").get_json()
    assert after["identified"] is True and after["resident"] == before["resident"] + 1


def test_a_card_on_the_reader_identifies_and_is_never_logged(
    client: FlaskClient, edge_broker: RunningBroker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bridge = Listener(edge_broker, "bridge", "local/v1/unused")
    try:
        card = IdentityCard(card_type="resident", name=NAME, id_number=ID_NUMBER)
        bridge.link.publish(topics.CARD_EVENT, CardEvent(event="placed", card=card))
        eventually(lambda: client.get("/api/session").get_json()["identified"], "the card", WAIT)
        refused = card.model_copy(update={"id_number": ID_NUMBER[:-1] + "1", "name": "李四"})
        bridge.link.publish(topics.CARD_EVENT, CardEvent(event="placed", card=refused))
        eventually(lambda: client.get("/api/status").get_json()["card_rejected"], "refusal", WAIT)
        bridge.link.publish(topics.CARD_EVENT, b'{"v": 1, "event": "placed", "card": {"x": 1}}')
        time.sleep(0.2)
    finally:
        bridge.close()
    assert client.get("/api/session").get_json() == {
        "identified": True,
        "method": "card",
        "name": "张*",
        "id_masked": "110***********002X",
        "card_type": "resident",
    }
    page = client.get("/identify/done").get_data(as_text=True)
    assert "张*" in page and "居民身份证" in page
    logged = "\n".join(r.getMessage() + str(r.args) for r in caplog.records)
    for secret in (ID_NUMBER, ID_NUMBER[:-1] + "1", NAME, "李四"):
        assert secret not in logged and secret not in page
    assert "refused" in logged, "a refusal is logged, without the number"
