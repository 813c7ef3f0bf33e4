"""Language and elder mode: chosen on every screen, kept in the session, back to the screen."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from flask.testing import FlaskClient


def test_languages_switch_and_stay(bare: FlaskClient) -> None:
    assert "请选择识别方式" in bare.get("/identify").get_data(as_text=True)
    response = bare.post("/language", data={"lang": "en", "next": "/identify"})
    assert response.status_code == 303 and response.headers["Location"] == "/identify"
    page = bare.get("/identify").get_data(as_text=True)
    assert '<html lang="en"' in page and "How would you like to identify yourself?" in page
    assert "Call staff" in bare.get("/find").get_data(as_text=True)
    bare.post("/language", data={"lang": "zh_Hant", "next": "/"})
    assert "請選擇識別方式" in bare.get("/identify").get_data(as_text=True)
    bare.post("/language", data={"lang": "klingon", "next": "/"})
    assert "請選擇識別方式" in bare.get("/identify").get_data(as_text=True), "unknown: ignored"


def test_every_screen_has_the_switches_and_back_home_help(bare: FlaskClient) -> None:
    for path in ("/welcome", "/identify", "/identify/card", "/identify/phone", "/find", "/nope"):
        page = bare.get(path).get_data(as_text=True)
        for part in (
            'action="/language"',
            'name="lang" value="zh_Hant"',
            'action="/elder-mode"',
            'role="switch" aria-checked="true"',
            "nav-back",
            'class="nav nav-home" href="/"',
            'action="/help"',
        ):
            assert part in page, (path, part)


def test_elder_mode_is_on_until_turned_off(bare: FlaskClient) -> None:
    assert 'class="elder"' in bare.get("/identify").get_data(as_text=True)
    bare.post("/elder-mode", data={"elder": "off", "next": "/identify"})
    page = bare.get("/identify").get_data(as_text=True)
    assert 'class="elder"' not in page and 'aria-checked="false"' in page
    bare.post("/elder-mode", data={"elder": "on", "next": "/identify"})
    assert 'class="elder"' in bare.get("/identify").get_data(as_text=True)


@pytest.mark.parametrize(
    ("asked", "sent_to"),
    [
        ("/find/results?q=社保", "/find/results?q=社保"),
        ("//evil.example/", "/"),
        ("http://evil.example/", "/"),
        ("/api/session", "/"),
        ("/tickets", "/"),  # POST only: a GET would be an error page
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
def test_next_only_goes_to_a_screen_of_this_app(
    bare: FlaskClient, asked: str, sent_to: str
) -> None:
    response = bare.post("/language", data={"lang": "en", "next": asked})
    assert unquote(response.headers["Location"]) == sent_to
