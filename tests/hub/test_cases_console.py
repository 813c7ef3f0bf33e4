"""诉求 in the staff console and the JSON API: pages, actions with CSRF, per-unit
visibility, text shown as text, the public board, CSV, tokens and Open311."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.domain.cases.metrics import Period, case_metrics
from kiosk.domain.cases.states import Accept, Claim, Dispatch, Note, Resolve
from kiosk.domain.identity import check_char, person_key
from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub.app import create_app
from kiosk.hub.cases.setup import build_store
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.cases.tokens import create_token, revoke_tokens
from kiosk.hub.console import cases_board
from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import ApiToken, CaseRow, CaseUnitMember, KioskEventRecord, User
from kiosk.hub.users import UserError, add_user
from kiosk.settings import Settings
from tests.hub.cases_helpers import STAFF_COMMUNITY, STAFF_GRID, submit, submitted_record
from tests.hub.conftest import FakeClock
from tests.hub.console_client import csrf_token
from tests.hub.test_openapi import SPEC

PASSWORD = "correct horse battery"  # noqa: S105 - a test account
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def store(settings: Settings, desk: QueueDesk, clock: FakeClock) -> CaseStore:
    return build_store(settings.hub.cases, desk.database, clock)


def _member(store: CaseStore, username: str, *units: str) -> None:
    with store.database.write() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        for unit in units:
            session.add(CaseUnitMember(user_id=user_id, unit=unit))


@pytest.fixture
def app(settings: Settings, desk: QueueDesk, store: CaseStore) -> Flask:
    add_user(desk.database, "clerk", PASSWORD, role="case_handler")
    add_user(desk.database, "gridder", PASSWORD, role="case_handler")
    add_user(desk.database, "westie", PASSWORD, role="case_handler")
    add_user(desk.database, "admin", PASSWORD, role="admin")
    _member(store, "clerk", "sq-dongfeng")
    _member(store, "gridder", "wg-df1")
    _member(store, "westie", "sq-xihu")
    return create_app(settings, desk, secret_key=b"k" * 32, cases=store)


def _login(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 302
    return client


def test_the_inbox_shows_sla_clocks_and_overdue_in_red(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    late = submit(store, 1, at=clock.now - timedelta(hours=10))
    fresh = submit(store, 2, at=clock.now, title="新的诉求")
    page = _login(app, "clerk").get("/cases").get_data(as_text=True)
    assert late in page and fresh in page
    assert page.index(late) < page.index(fresh), "the most urgent first"
    row = re.search(rf'<tr class="case ([^"]*)" data-case="{late}"', page)
    assert row and "overdue" in row.group(1)
    assert "超期 2 小时" in page and "剩 8 小时" in page
    overdue_only = _login(app, "clerk").get("/cases?state=overdue").get_data(as_text=True)
    assert late in overdue_only and fresh not in overdue_only
    searched = _login(app, "clerk").get("/cases?q=新的").get_data(as_text=True)
    assert fresh in searched and late not in searched


def test_staff_see_only_the_cases_of_their_units(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    east = submit(store, 1, at=clock.now)
    west = submit(store, 2, at=clock.now, grid="wg-xh1")
    westie = _login(app, "westie")
    page = westie.get("/cases").get_data(as_text=True)
    assert west in page and east not in page
    assert westie.get(f"/cases/{east}").status_code == 404
    gridder = _login(app, "gridder")
    assert east in gridder.get("/cases").get_data(as_text=True)  # the grid of the place
    admin_page = _login(app, "admin").get("/cases").get_data(as_text=True)
    assert east in admin_page and west in admin_page


def test_actions_need_csrf_and_are_events_with_actor_unit_and_reason(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    code = submit(store, 1, at=clock.now)
    clerk = _login(app, "clerk")
    assert clerk.post(f"/cases/{code}/accept", data={}).status_code == 400  # no CSRF token
    token = csrf_token(clerk, f"/cases/{code}")
    clerk.post(f"/cases/{code}/accept", data={"csrf_token": token, "summary": "路灯维修"})
    refused = clerk.post(
        f"/cases/{code}/not_admissible", data={"csrf_token": token}, follow_redirects=True
    )
    assert "cannot not_admissible a case that is accepted" in refused.get_data(as_text=True)
    clerk.post(
        f"/cases/{code}/dispatch",
        data={"csrf_token": token, "lead": "wg-df1", "co_handlers": ["bm-city"]},
    )
    gridder = _login(app, "gridder")
    gtoken = csrf_token(gridder, f"/cases/{code}")
    gridder.post(f"/cases/{code}/claim", data={"csrf_token": gtoken})
    gridder.post(f"/cases/{code}/escalate", data={"csrf_token": gtoken, "reason": "需社区协调"})
    case = store.get(code).case
    assert [str(e.kind) for e in case.events] == [
        "submitted",
        "accepted",
        "dispatched",
        "claimed",
        "escalated",
    ]
    escalated = case.events[-1]
    assert (escalated.actor.id, escalated.actor.unit, escalated.reason) == (
        "gridder",
        "wg-df1",
        "需社区协调",
    )
    assert case.unit.id == "sq-dongfeng"
    westie = _login(app, "westie")
    assert (
        westie.post(
            f"/cases/{code}/note", data={"csrf_token": csrf_token(westie, "/cases")}
        ).status_code
        == 404
    )


def test_a_description_with_markup_is_shown_as_text_everywhere(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    code = submit(store, 1, at=clock.now, title="脚本" + XSS[:50], description=XSS)
    store.act(code, Accept(actor=STAFF_COMMUNITY, summary="<b>摘要</b>"))
    store.act(code, Note(actor=STAFF_COMMUNITY, text=XSS))
    admin = _login(app, "admin")
    for path in (f"/cases/{code}", "/cases", "/board/sq-dongfeng"):
        page = admin.get(path).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page, path
    page = admin.get(f"/cases/{code}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    board = app.test_client().get("/board/sq-dongfeng").get_data(as_text=True)
    assert "&lt;b&gt;摘要&lt;/b&gt;" in board
    csv_text = admin.get("/cases/export.csv").get_data(as_text=True)
    assert code in csv_text


def test_long_emoji_and_rare_characters_survive(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    title = "🚰 水管漏水 𠀀𪚥 " + "长" * 45
    code = submit(store, 1, at=clock.now, title=title, description="描述" * 999)
    page = _login(app, "admin").get(f"/cases/{code}").get_data(as_text=True)
    assert "🚰 水管漏水 𠀀𪚥" in page and "描述" * 999 in page


def test_the_public_board_has_no_personal_data_no_codes_no_notes(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    code = submit(store, 1, at=clock.now, person_key="pk-secret", title="王大妈家漏水")
    store.act(code, Accept(actor=STAFF_COMMUNITY, summary="楼道漏水维修"))
    store.act(code, Note(actor=STAFF_COMMUNITY, text="NOTE-MARKER"))
    store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=store.directory.unit("wg-df1")))
    hidden = submit(store, 2, at=clock.now, title="未受理的")
    board = app.test_client().get("/board/sq-dongfeng")
    text = board.get_data(as_text=True)
    assert board.status_code == 200 and "楼道漏水维修" in text
    for secret in (code, hidden, "王大妈", "NOTE-MARKER", "pk-secret", "clerk", "未受理的"):
        assert secret not in text
    assert app.test_client().get("/board/nowhere").status_code == 404


def test_the_board_shows_the_newest_cases_it_may_show_up_to_its_size(
    app: Flask, store: CaseStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases_board, "MAX_ROWS", 2)
    for seq, summary in enumerate(["最早的一件", "中间的一件", "最新的一件"], start=1):
        code = submit(store, seq, at=clock.advance(hours=1))
        store.act(code, Accept(actor=STAFF_COMMUNITY, summary=summary))
    submit(store, 4, at=clock.advance(hours=1), title="还没受理的")  # newer, not shown
    text = app.test_client().get("/board/sq-dongfeng").get_data(as_text=True)
    assert "最新的一件" in text and "中间的一件" in text
    assert "最早的一件" not in text and "还没受理的" not in text


def test_filing_on_behalf_needs_a_reason_and_is_audited(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    clerk = _login(app, "clerk")
    token = csrf_token(clerk, "/cases/new")
    form = {
        "csrf_token": token,
        "channel": "box",
        "category": "environment",
        "grid": "wg-df2",
        "title": "垃圾桶满了",
        "description": "",
        "as_unit": "sq-dongfeng",
    }
    refused = clerk.post("/cases/new", data=form, follow_redirects=True).get_data(as_text=True)
    assert "needs a reason" in refused
    form["reason"] = "老人不会用终端，电话反映"
    done = clerk.post("/cases/new", data=form)
    assert done.status_code == 302
    code = done.headers["Location"].rsplit("/", 1)[1]
    case = store.get(code).case
    assert case.events[0].on_behalf and case.events[0].reason == "老人不会用终端，电话反映"
    assert code.startswith(f"MQ-{clock.now.year}-0001")


def test_metrics_page_draws_svg_without_scripts(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    code = submit(store, 1, at=clock.now)
    store.act(code, Accept(actor=STAFF_COMMUNITY))
    page = _login(app, "admin").get(f"/cases/metrics?month={clock.now:%Y-%m}").get_data(True)
    assert "<svg" in page and "受理及时率" in page and "100.0% (1/1)" in page
    assert "<script>" not in page.split("</head>", 1)[1]
    assert _login(app, "admin").get("/cases/metrics?month=2024-13").status_code == 400


def test_metrics_load_only_the_cases_of_their_period_and_lose_no_fact(
    store: CaseStore, clock: FakeClock
) -> None:
    local = clock.now.astimezone(CENTRE_TIMEZONE)
    period = Period.month(local.year, local.month)

    def handled(seq: int, at: datetime, resolved_after: timedelta | None) -> str:
        clock.now = at
        code = submit(store, seq, at=at)
        store.act(code, Accept(actor=STAFF_COMMUNITY))
        store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=store.directory.unit("wg-df1")))
        if resolved_after is not None:
            clock.now = at + resolved_after
            store.act(code, Claim(actor=STAFF_GRID))
            store.act(code, Resolve(actor=STAFF_GRID, reply="已处理"))
        return code

    handled(1, period.start - timedelta(days=200), timedelta(hours=1))  # long done
    term = timedelta(hours=store.directory.sla.tiers["normal"])
    # Dispatched half a term before the month and resolved before it, on time: its round
    # still falls due inside the month, so it counts there (overdue rate's denominator).
    handled(2, period.start - term / 2, timedelta(hours=1))
    handled(3, period.start + timedelta(days=1), None)
    loaded = store.logs_for_period(period.start, period.end)
    assert len(loaded) == 2 and len(store.logs()) == 3
    as_of = period.end
    assert case_metrics(loaded, period, as_of) == case_metrics(store.logs(), period, as_of)
    # Both rounds fell due in the month: case 2's resolved in time, case 3's still open.
    overdue = case_metrics(loaded, period, as_of).overdue
    assert (overdue.numerator, overdue.denominator) == (1, 2)


def test_a_case_filed_under_longer_terms_still_counts_when_its_round_falls_due(
    settings: Settings, desk: QueueDesk, store: CaseStore, clock: FakeClock
) -> None:
    """Its last event may lie further back than today's longest term: its running round's
    due time still brings it into the month's figures."""
    long_terms = settings.hub.cases.model_copy(
        update={"tiers": {tier: 200 * 24 for tier in settings.hub.cases.tiers}}
    )
    then = build_store(long_terms, desk.database, clock)
    local = clock.now.astimezone(CENTRE_TIMEZONE)
    period = Period.month(local.year, local.month)
    clock.now = period.start - timedelta(days=190)  # due 200 days later: in the month
    code = submit(then, 1, at=clock.now)
    then.act(code, Accept(actor=STAFF_COMMUNITY))
    then.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=then.directory.unit("wg-df1")))
    today = build_store(settings.hub.cases, desk.database, clock)
    assert today.longest_term() < timedelta(days=190)
    loaded = today.logs_for_period(period.start, period.end)
    assert len(loaded) == 1
    overdue = case_metrics(loaded, period, period.end).overdue
    assert (overdue.numerator, overdue.denominator) == (1, 1)


# --- tokens and the JSON API ----------------------------------------------------------


def test_a_token_is_shown_once_stored_hashed_and_revocable(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    code = submit(store, 1, at=clock.now)
    token = create_token(store.database, "clerk", "12345 platform", actor="cli:test")
    with store.database.read() as session:
        hashes = list(session.scalars(select(ApiToken.token_hash)))
    assert token not in hashes and len(hashes[0]) == 64
    api = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert api.get("/open311/v2/requests.json").status_code == 401
    assert (
        api.get(
            "/open311/v2/requests.json", headers={"Authorization": "Bearer kst_nope"}
        ).status_code
        == 401
    )
    (one,) = api.get("/open311/v2/requests.json", headers=auth).get_json()
    assert one["service_request_id"] == code
    revoke_tokens(store.database, "clerk", actor="cli:test")
    assert api.get("/open311/v2/requests.json", headers=auth).status_code == 401


def _admin_token(store: CaseStore) -> str:
    return create_token(store.database, "admin", actor="t", allow_admin=True)


def test_open311_shape(app: Flask, store: CaseStore, clock: FakeClock) -> None:
    code = submit(store, 1, at=clock.now)
    closed = submit(store, 2, at=clock.now)
    store.act(code, Accept(actor=STAFF_COMMUNITY))
    store.act(code, Dispatch(actor=STAFF_COMMUNITY, lead=store.directory.unit("wg-df1")))
    store.act(code, Claim(actor=STAFF_GRID))
    store.act(code, Note(actor=STAFF_GRID, text="NOTE-MARKER"))
    store.act(code, Resolve(actor=STAFF_GRID, reply="已更换灯泡"))
    from kiosk.domain.cases.states import NotAdmissible

    store.act(closed, NotAdmissible(actor=STAFF_COMMUNITY, reason="重复诉求"))
    auth = {"Authorization": f"Bearer {_admin_token(store)}"}
    api = app.test_client()
    services = api.get("/open311/v2/services.json", headers=auth).get_json()
    assert {"service_code", "service_name", "description", "metadata", "type"} <= set(services[0])
    (one,) = api.get(f"/open311/v2/requests/{code}.json", headers=auth).get_json()
    assert one["status"] == "open" and one["agency_responsible"] == "东风第一网格"
    assert one["status_notes"] == "已办结：办理结果：已更换灯泡"
    assert one["extended_attributes"]["state"] == "resolved"
    assert one["requested_datetime"].endswith("+00:00") and one["expected_datetime"]
    assert "NOTE-MARKER" not in str(one)
    schemas = yaml.safe_load(SPEC.read_text(encoding="utf-8"))["components"]["schemas"]
    request_schema = schemas["Open311Request"]
    assert set(one) == set(request_schema["required"])
    extended = request_schema["properties"]["extended_attributes"]["required"]
    assert set(one["extended_attributes"]) == set(extended)
    assert set(services[0]) == set(schemas["Open311Service"]["required"])
    open_only = api.get("/open311/v2/requests.json?status=open", headers=auth).get_json()
    assert [r["service_request_id"] for r in open_only] == [code]
    closed_only = api.get("/open311/v2/requests.json?status=closed", headers=auth).get_json()
    assert [r["service_request_id"] for r in closed_only] == [closed]
    by_service = api.get("/open311/v2/requests.json?service_code=water", headers=auth).get_json()
    assert by_service == []
    bad = api.get("/open311/v2/requests.json?start_date=yesterday", headers=auth)
    assert bad.status_code == 400 and bad.get_json()["error"] == "bad_request"
    assert api.get("/open311/v2/requests/MQ-2024-9999-A.json", headers=auth).status_code == 404


def test_staff_actions_as_json_with_a_token(app: Flask, store: CaseStore, clock: FakeClock) -> None:
    code = submit(store, 1, at=clock.now)
    auth = {"Authorization": f"Bearer {create_token(store.database, 'clerk', actor='t')}"}
    api = app.test_client()
    done = api.post(f"/api/cases/{code}/actions/accept", json={"summary": "路灯"}, headers=auth)
    assert done.status_code == 200 and done.get_json()["extended_attributes"]["state"] == "accepted"
    refused = api.post(f"/api/cases/{code}/actions/claim", json={}, headers=auth)
    assert refused.status_code == 409 and "claim" in refused.get_json()["message"]
    invalid = api.post(f"/api/cases/{code}/actions/note", json={"text": ""}, headers=auth)
    assert invalid.status_code == 400
    unknown = api.post(f"/api/cases/{code}/actions/fly", json={}, headers=auth)
    assert unknown.status_code == 400 and "unknown action" in unknown.get_json()["message"]
    detail = api.get(f"/api/cases/{code}", headers=auth).get_json()
    assert [e["kind"] for e in detail["events"]] == ["submitted", "accepted"]
    assert "dispatch" in detail["actions"]
    westie = {"Authorization": f"Bearer {create_token(store.database, 'westie', actor='t')}"}
    assert (
        api.post(f"/api/cases/{code}/actions/note", json={"text": "x"}, headers=westie).status_code
        == 404
    )


# --- needs review and refused events ---------------------------------------------------


def test_cases_filed_differently_from_their_slip_have_a_filter_and_a_badge(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    plain = submit(store, 1, at=clock.now)
    record = submitted_record(store, 77, at=clock.now, title="未领编号")  # no lease for it
    with store.database.write() as session:
        flagged = store.submit_event(session, "k1", "evt-unleased", record).code
    clerk = _login(app, "clerk")
    review = clerk.get("/cases?state=review").get_data(as_text=True)
    assert flagged in review and plain not in review and "待核查" in review
    page = clerk.get(f"/cases/{record['code']}", follow_redirects=True).get_data(as_text=True)
    assert "needs-review" in page and "code not leased" in page


def test_refused_kiosk_events_are_listed_for_admins_only(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    with store.database.write() as session:
        session.add(
            KioskEventRecord(
                event_id="evt-refused-1",
                kiosk="k7",
                type="case.submitted",
                received_at=clock.now,
                status="refused",
                detail="case of kiosk 'k9' sent by 'k7'",
                payload="{}",
            )
        )
    page = _login(app, "admin").get("/fleet/refused-events")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "evt-refused-1" in text and "k7" in text and "case.submitted" in text
    assert "sent by" in text  # the reason, escaped as text
    assert _login(app, "clerk").get("/fleet/refused-events").status_code == 403


def test_a_merge_target_outside_the_handler_s_units_is_as_missing(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    east = submit(store, 1, at=clock.now)
    east_too = submit(store, 2, at=clock.now, title="同一盏灯")
    west = submit(store, 3, at=clock.now, grid="wg-xh1")
    auth = {"Authorization": f"Bearer {create_token(store.database, 'clerk', actor='t')}"}
    api = app.test_client()
    merge = f"/api/cases/{east}/actions/merge"
    hidden = api.post(merge, json={"target": west, "reason": "重复"}, headers=auth)
    missing = api.post(merge, json={"target": "MQ-2024-9999-A", "reason": "重复"}, headers=auth)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"] == missing.get_json()["error"] == "unknown_case"
    assert store.get(west).case.absorbed == () and store.get(east).row.state == "submitted"
    clerk = _login(app, "clerk")
    form = {"csrf_token": csrf_token(clerk, f"/cases/{east}"), "target": west, "reason": "重复"}
    page = clerk.post(f"/cases/{east}/merge", data=form, follow_redirects=True)
    assert "未能合并" in page.get_data(as_text=True)
    assert store.get(west).case.absorbed == ()
    done = api.post(merge, json={"target": east_too, "reason": "重复"}, headers=auth)
    assert done.status_code == 200 and store.get(east_too).case.absorbed == (east,)


def test_a_token_opens_only_the_cases_api_and_open311(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    """A leaked token must not run the console: fleet, users, queue need a login + TOTP."""
    submit(store, 1, at=clock.now)
    auth = {
        "Authorization": f"Bearer {_admin_token(store)}",
        "Accept": "application/json",
    }
    api = app.test_client()
    assert api.get("/open311/v2/requests.json", headers=auth).status_code == 200
    assert api.get("/api/cases/MQ-2024-9999-A", headers=auth).status_code == 404  # let in
    for path in ("/fleet", "/api/fleet", "/audit", "/cases", "/"):
        answer = api.get(path, headers=auth)
        assert answer.status_code in (302, 401), (path, answer.status_code)


def test_tokens_expire_note_their_use_and_are_refused_for_admins_and_totp_users(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    with pytest.raises(UserError, match="second factor"):
        create_token(store.database, "admin", actor="t")
    enable = store.database.write()
    with enable as session:
        user = session.scalar(select(User).where(User.username == "clerk"))
        assert user is not None
        user.totp_secret = "JBSWY3DPEHPK3PXP"  # noqa: S105 - a test secret
    with pytest.raises(UserError, match="second factor"):
        create_token(store.database, "clerk", actor="t")
    with pytest.raises(UserError, match="1-365 days"):
        create_token(store.database, "gridder", actor="t", days=0)
    token = create_token(store.database, "gridder", actor="t", days=1)
    auth = {"Authorization": f"Bearer {token}"}
    api = app.test_client()
    assert api.get("/open311/v2/requests.json", headers=auth).status_code == 200
    with store.database.write() as session:
        row = session.scalar(select(ApiToken))
        assert row is not None and row.last_used_at is not None
        assert row.expires_at - row.created_at == timedelta(days=1)
        row.expires_at = row.created_at - timedelta(seconds=1)  # as if a day went by
    assert api.get("/open311/v2/requests.json", headers=auth).status_code == 401


def _id_number() -> str:
    first17 = "11010519491231002"
    return first17 + check_char(first17)


def test_filing_on_behalf_keeps_no_raw_identity_in_the_database_or_logs(
    settings: Settings,
    desk: QueueDesk,
    store: CaseStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = tmp_path / "deployment.secret"
    secret.write_text("s" * 32)
    hub = settings.hub.model_copy(update={"deployment_secret_file": secret})
    app = create_app(
        settings.model_copy(update={"hub": hub}), desk, secret_key=b"k" * 32, cases=store
    )
    add_user(desk.database, "clerk", PASSWORD, role="case_handler")
    _member(store, "clerk", "sq-dongfeng")
    caplog.set_level(logging.DEBUG)
    clerk = _login(app, "clerk")
    number, phone, name = _id_number(), "13812345678", "张三丰"
    form = {
        "csrf_token": csrf_token(clerk, "/cases/new"),
        "channel": "proposal",
        "category": "environment",
        "grid": "wg-df2",
        "title": "垃圾桶满了",
        "description": "",
        "as_unit": "sq-dongfeng",
        "reason": "老人来电",
        "id_number": number[:-1] + "0" if number[-1] != "0" else number[:-1] + "1",
        "name": name,
        "phone": phone,
        "contact_ok": "1",
    }
    refused = clerk.post("/cases/new", data=form, follow_redirects=True).get_data(as_text=True)
    assert "check digit" in refused and form["id_number"] not in refused
    form["id_number"] = number.lower()  # the check X or digit, typed as it comes
    done = clerk.post("/cases/new", data=form)
    assert done.status_code == 302
    code = done.headers["Location"].rsplit("/", 1)[1]
    resident = store.get(code).case.submission.resident
    assert resident is not None
    assert resident.person_key == person_key(b"s" * 32, number)  # the kiosk's key
    assert resident.masked_name == "张**" and resident.masked_phone == "138****5678"
    desk.database.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("hub.sqlite3*"))
    assert resident.person_key.encode() in stored  # the files read are the case's
    for raw in (number, phone, name, number[6:14] + number[14:]):
        assert raw.encode() not in stored, raw
        assert raw not in caplog.text, raw
    assert (
        clerk.post(
            "/cases/new", data={**form, "id_number": "", "phone": "", "channel": "proposal"}
        ).status_code
        == 302
    )  # refused with a message, redirected back
    assert len(store.rows(CaseRow.channel == "proposal")) == 1


def test_the_console_s_phone_key_is_the_kiosk_s() -> None:
    from kiosk.hub.console.cases import phone_key as hub_key
    from kiosk.touch.casework import phone_key as kiosk_key

    assert hub_key(b"s" * 32, "13812345678") == kiosk_key(b"s" * 32, "138 1234 5678")


def test_an_event_id_of_another_case_is_a_conflict_not_a_silent_no_op(
    app: Flask, store: CaseStore, clock: FakeClock
) -> None:
    first = submit(store, 1, at=clock.now)
    second = submit(store, 2, at=clock.now)
    auth = {"Authorization": f"Bearer {create_token(store.database, 'clerk', actor='t')}"}
    api = app.test_client()
    body = {"summary": "路灯", "event_id": "platform-42"}
    assert (
        api.post(f"/api/cases/{first}/actions/accept", json=body, headers=auth).status_code == 200
    )
    again = api.post(f"/api/cases/{first}/actions/accept", json=body, headers=auth)
    assert again.status_code == 200  # a retry on the same case: a no-op
    taken = api.post(f"/api/cases/{second}/actions/accept", json=body, headers=auth)
    assert taken.status_code == 409 and taken.get_json()["error"] == "event_id_taken"
    assert store.get(second).row.state == "submitted"
    note = {"text": "x", "event_id": "platform-42"}
    assert api.post(f"/api/cases/{second}/actions/note", json=note, headers=auth).status_code == 409
