"""推送配置: the kiosk page's form for the ``config`` command, checked before it is sent."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.hub.app import create_app
from kiosk.hub.commands import CommandDesk
from kiosk.hub.db import Database
from kiosk.hub.desk import QueueDesk
from kiosk.hub.enrolment import record
from kiosk.hub.events import KioskCommand
from kiosk.hub.models import AuditEntry
from kiosk.hub.models import KioskCommand as CommandRow
from kiosk.hub.users import add_user
from kiosk.settings import Settings
from tests.hub.conftest import CENTRE, FakeClock, kiosk_state
from tests.hub.console_client import log_in

PASSWORD = "correct horse battery"  # noqa: S105 - test accounts


class Published:
    def __init__(self) -> None:
        self.sent: list[KioskCommand] = []

    def __call__(self, command: KioskCommand, expiry: int) -> bool:
        self.sent.append(command)
        return True


@pytest.fixture
def published() -> Published:
    return Published()


@pytest.fixture
def app(
    settings: Settings, desk: QueueDesk, database: Database, clock: FakeClock, published: Published
) -> Flask:
    add_user(database, "boss", PASSWORD, role="admin")
    add_user(database, "clerk", PASSWORD, role="staff", centres=[CENTRE])
    desk.kiosk_state(kiosk_state("k1", ts=desk.now()))
    desk.kiosk_state(kiosk_state("k3", centre="north", ts=desk.now()))  # not in the catalogue
    commands = CommandDesk(database, clock=clock, expiry=120, publisher=published)
    return create_app(settings, desk, secret_key=b"k" * 32, commands=commands)


def login(app: Flask, username: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, log_in(client, username, PASSWORD)


@pytest.fixture
def boss(app: Flask) -> tuple[FlaskClient, str]:
    return login(app, "boss")


def config_rows(database: Database) -> list[CommandRow]:
    with database.read() as session:
        query = select(CommandRow).where(CommandRow.name == "config")
        return list(session.scalars(query))


def test_the_kiosk_page_has_a_field_per_service_of_its_centre_and_the_two_texts(
    boss: tuple[FlaskClient, str],
) -> None:
    client, _token = boss
    page = client.get("/fleet/k1").get_data(as_text=True)
    form = page[page.index('action="/fleet/k1/config') :]
    form = form[: form.index("</form>")]
    assert 'name="csrf_token"' in form
    assert re.findall(r'<input name="([^"]+)"', form) == [
        "service.social",
        "service.civil",
        "welcome",
        "notice",
    ]
    assert 'placeholder="社保医保"' in form and 'maxlength="20"' in form
    assert "<script" not in page.replace('<script src="/static/console.js" defer></script>', "")


def test_the_form_sends_exactly_the_fields_filled_in_audited_and_listed(
    boss: tuple[FlaskClient, str], published: Published, database: Database
) -> None:
    client, token = boss
    form = {
        "csrf_token": token,
        "service.social": " 社保医保（新） ",
        "service.civil": "",
        "welcome": "",
        "notice": "今天 17:00 下班",
    }
    answer = client.post("/fleet/k1/config", data=form)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/fleet/k1")
    (sent,) = published.sent
    assert (sent.kiosk, sent.name) == ("k1", "config")
    assert sent.params == {
        "services": {"social": "社保医保（新）"},
        "texts": {"notice": "今天 17:00 下班"},
    }
    assert (sent.expires_at - sent.ts).total_seconds() == 120
    (row,) = config_rows(database)
    assert (row.id, row.params, row.actor, row.status) == (
        sent.id,
        sent.params,
        "user:boss",
        "sent",
    )
    with database.read() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "kiosk.command"))
        assert [(e.actor, e.target, e.detail) for e in entries] == [
            ("user:boss", "kiosk:k1", {"command": "config", "id": sent.id})
        ]
    page = client.get("/fleet/k1").get_data(as_text=True)
    assert "已发出：推送配置（2 项）" in page
    assert f'data-command="{sent.id}"><b>推送配置</b> · sent' in page


def test_texts_alone_are_pushed_without_services(
    boss: tuple[FlaskClient, str], published: Published
) -> None:
    client, token = boss
    answer = client.post("/fleet/k1/config", data={"csrf_token": token, "welcome": "欢迎您"})
    assert answer.status_code == 302
    assert [c.params for c in published.sent] == [{"texts": {"welcome": "欢迎您"}}]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"service.social": " ", "welcome": "", "notice": "  "}, "没有填写任何内容"),
        ({"service.passport": "护照"}, "本中心没有这些业务：passport"),
        ({"service.social": "社" * 21}, "the name of 'social' must be 1-20 characters"),
        ({"welcome": "长" * 121}, "text 'welcome' must be at most 120 characters"),
        ({"notice": "第一行\n第二行"}, "text 'notice' contains the control character U+000A"),
        ({"service.civil": "民政\x1b[2J"}, "the name of 'civil' contains the control character"),
    ],
)
def test_bad_input_gets_a_message_keeps_what_was_typed_and_sends_nothing(
    boss: tuple[FlaskClient, str],
    published: Published,
    database: Database,
    form: dict[str, str],
    message: str,
) -> None:
    client, token = boss
    typed = {"notice": "下午停电检修", **form} if "notice" not in form else dict(form)
    answer = client.post("/fleet/k1/config", data={"csrf_token": token, **typed})
    assert answer.status_code == 400
    page = html.unescape(answer.get_data(as_text=True))
    assert message in page and "未发出" in page
    # What was typed is back in the fields (the unknown service has no field to go to).
    for field, value in typed.items():
        if field != "service.passport":
            assert f'name="{field}" ' in page
            assert f'value="{value}"' in page
    assert published.sent == [] and config_rows(database) == []
    with database.read() as session:
        actions = session.scalars(select(AuditEntry.action))
        assert "kiosk.command" not in list(actions)


def test_a_kiosk_whose_centre_has_no_services_can_only_be_sent_texts(
    boss: tuple[FlaskClient, str], published: Published
) -> None:
    client, token = boss
    page = client.get("/fleet/k3").get_data(as_text=True)
    assert "只能推送文字" in page and 'name="service.' not in page
    refused = client.post("/fleet/k3/config", data={"csrf_token": token, "service.social": "x"})
    assert refused.status_code == 400 and "本中心没有这些业务" in refused.get_data(as_text=True)
    sent = client.post("/fleet/k3/config", data={"csrf_token": token, "notice": "周末开放"})
    assert sent.status_code == 302
    assert [(c.kiosk, c.params) for c in published.sent] == [
        ("k3", {"texts": {"notice": "周末开放"}})
    ]


def test_the_form_needs_the_command_permission_and_the_csrf_token(
    app: Flask, boss: tuple[FlaskClient, str], published: Published, database: Database
) -> None:
    clerk, clerk_token = login(app, "clerk")
    assert "推送配置" not in clerk.get("/fleet/k1").get_data(as_text=True)
    refused = clerk.post("/fleet/k1/config", data={"csrf_token": clerk_token, "welcome": "hi"})
    assert refused.status_code == 403
    client, _token = boss
    forged = client.post("/fleet/k1/config", data={"welcome": "hi"})
    assert forged.status_code == 400 and "CSRF" in forged.get_data(as_text=True)
    wrong = client.post("/fleet/k1/config", data={"csrf_token": "x" * 43, "welcome": "hi"})
    assert wrong.status_code == 400
    assert published.sent == [] and config_rows(database) == []


def test_unknown_and_revoked_kiosks_get_nothing(
    boss: tuple[FlaskClient, str], published: Published, database: Database
) -> None:
    client, token = boss
    unknown = client.post("/fleet/k9/config", data={"csrf_token": token, "welcome": "hi"})
    assert unknown.status_code == 404
    record(database.url, "kiosk.revoke", "k1", CENTRE, "cli:root")
    assert 'action="/fleet/k1/config' not in client.get("/fleet/k1").get_data(as_text=True)
    revoked = client.post("/fleet/k1/config", data={"csrf_token": token, "welcome": "hi"})
    assert revoked.status_code == 409
    assert published.sent == [] and config_rows(database) == []


def test_the_api_refuses_a_configuration_the_kiosk_would_refuse(
    boss: tuple[FlaskClient, str], published: Published, database: Database
) -> None:
    client, token = boss
    headers = {"X-CSRF-Token": token}
    for params, words in (
        ({"texts": {"welcome": "a\tb"}}, "control character U+0009"),
        ({"texts": {"footer": "hi"}}, "texts.footer"),
        ({"services": {"passport": "护照"}}, "passport"),
    ):
        answer = client.post(
            "/api/kiosks/k1/commands", json={"name": "config", "params": params}, headers=headers
        )
        assert answer.status_code == 400, params
        assert words in answer.get_data(as_text=True)
    assert published.sent == [] and config_rows(database) == []
    good = client.post(
        "/api/kiosks/k1/commands",
        json={"name": "config", "params": {"services": {"civil": "民政"}}},
        headers=headers,
    )
    assert good.status_code == 202 and len(published.sent) == 1
