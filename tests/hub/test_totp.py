"""The admins' second factor: RFC 4226/6238 codes, and the console login that asks for them."""

from __future__ import annotations

import base64
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from kiosk.hub import totp
from kiosk.hub.app import create_app
from kiosk.hub.desk import QueueDesk
from kiosk.hub.models import AuditEntry
from kiosk.hub.ratelimit import LoginLimiter
from kiosk.hub.users import add_user
from kiosk.settings import Settings
from tests.hub.conftest import CENTRE, FakeClock

PASSWORD = "correct horse battery"  # noqa: S105 - a test account


def _b32(key: bytes) -> str:
    return base64.b32encode(key).decode()


RFC4226_KEY = b"12345678901234567890"
RFC4226_CODES = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]


def test_hotp_matches_the_rfc_4226_vectors() -> None:
    assert [totp.hotp(RFC4226_KEY, n) for n in range(10)] == RFC4226_CODES


# RFC 6238 appendix B: time, and the 8-digit code for SHA-1, SHA-256 and SHA-512.
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]
KEYS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890" * 6 + b"1234",
}


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_totp_matches_the_rfc_6238_vectors(at: int, sha1: str, sha256: str, sha512: str) -> None:
    for digest, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp.totp(_b32(KEYS[digest]), at, digits=8, digest=digest) == expected


def test_a_code_is_taken_one_step_either_side_and_each_step_once() -> None:
    secret = totp.new_secret()
    now = 1_700_000_000.0
    step = totp.step_of(now)
    assert totp.matching_step(secret, totp.totp(secret, now), now) == step
    assert totp.matching_step(secret, totp.totp(secret, now - 30), now) == step - 1
    assert totp.matching_step(secret, totp.totp(secret, now + 30), now) == step + 1
    assert totp.matching_step(secret, totp.totp(secret, now - 60), now) is None, "expired"
    assert totp.matching_step(secret, totp.totp(secret, now), now, after=step) is None, "reused"
    assert totp.matching_step(secret, "12345", now) is None
    assert totp.matching_step(secret, "abcdef", now) is None


def test_the_uri_is_what_authenticator_apps_read() -> None:
    uri = totp.provisioning_uri("JBSWY3DPEHPK3PXP", "boss")
    assert uri.startswith("otpauth://totp/Community%20Kiosk%20Console%3Aboss?")
    assert "secret=JBSWY3DPEHPK3PXP" in uri and "digits=6" in uri and "period=30" in uri


def test_only_admins_get_a_second_factor(desk: QueueDesk) -> None:
    add_user(desk.database, "clerk", PASSWORD, role="staff", centres=[CENTRE])
    with pytest.raises(totp.TotpError, match="for admins"):
        totp.enable(desk.database, "clerk", actor="cli:root")
    with pytest.raises(totp.TotpError, match="no user"):
        totp.enable(desk.database, "nobody", actor="cli:root")


def test_the_cli_prints_the_secret_and_uri_once(settings: Settings, desk: QueueDesk) -> None:
    add_user(desk.database, "boss", PASSWORD, role="admin")
    shown = totp.cli_totp(settings.hub.database_url, "enable", "boss")
    secret = re.search(r"secret: ([A-Z2-7]{32})", shown)
    assert secret and f"secret={secret.group(1)}" in shown and "otpauth://totp/" in shown
    assert totp.required(desk.database, "boss")
    assert "turned off" in totp.cli_totp(settings.hub.database_url, "disable", "boss")
    assert not totp.required(desk.database, "boss")


# --- the console login ---------------------------------------------------------------------


@pytest.fixture
def secret(desk: QueueDesk) -> str:
    add_user(desk.database, "boss", PASSWORD, role="admin")
    return totp.enable(desk.database, "boss", actor="cli:root")


@pytest.fixture
def app(settings: Settings, desk: QueueDesk, secret: str) -> Flask:
    limiter = LoginLimiter(per_account=3, per_address=10, window=60, clock=lambda: 0.0)
    return create_app(settings, desk, secret_key=b"k" * 32, limiter=limiter)


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _password(client: FlaskClient) -> str:
    """Log in with the password; returns the code page."""
    token = _token(client.get("/login").get_data(as_text=True))
    answer = client.post(
        "/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def _code(client: FlaskClient, page: str, code: str) -> int:
    data = {"code": code, "csrf_token": _token(page)}
    return client.post("/login/totp", data=data).status_code


def _logins(desk: QueueDesk) -> list[tuple[str, str, dict[str, object]]]:
    with desk.database.read() as session:
        query = select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.id)
        return [(e.actor, e.outcome, dict(e.detail)) for e in session.scalars(query)]


def test_an_admin_with_a_second_factor_gives_the_code_after_the_password(
    app: Flask, desk: QueueDesk, secret: str, clock: FakeClock
) -> None:
    client = app.test_client()
    page = _password(client)
    assert 'name="code"' in page and 'autocomplete="one-time-code"' in page
    assert client.get("/fleet").status_code in (302, 401), "not logged in before the code"
    right = totp.totp(secret, clock.now.timestamp())
    assert _code(client, page, f"{(int(right) + 1) % 1_000_000:06d}") == 401
    assert _code(client, page, right) == 302
    assert client.get("/fleet").status_code == 200
    assert _logins(desk) == [
        ("user:boss", "failed", {"factor": "totp"}),
        ("user:boss", "ok", {"factor": "totp"}),
    ]


def test_a_used_or_expired_code_is_refused(
    app: Flask, desk: QueueDesk, secret: str, clock: FakeClock
) -> None:
    code = totp.totp(secret, clock.now.timestamp())
    first = app.test_client()
    assert _code(first, _password(first), code) == 302
    again = app.test_client()
    assert _code(again, _password(again), code) == 401, "one code logs in once"
    clock.advance(seconds=90)  # three steps later: the old code is out of the window
    late = app.test_client()
    assert _code(late, _password(late), code) == 401
    assert _code(late, _password(late), totp.totp(secret, clock.now.timestamp())) == 302


def test_the_code_must_follow_the_password_within_five_minutes(
    app: Flask, secret: str, clock: FakeClock
) -> None:
    client = app.test_client()
    page = _password(client)
    clock.advance(seconds=301)
    assert _code(client, page, totp.totp(secret, clock.now.timestamp())) == 401
    assert client.get("/fleet").status_code != 200
    stranger = app.test_client()  # no password given at all
    token = _token(stranger.get("/login").get_data(as_text=True))
    answer = stranger.post("/login/totp", data={"code": "123456", "csrf_token": token})
    assert answer.status_code == 401


def test_wrong_codes_are_rate_limited_like_passwords(
    app: Flask, desk: QueueDesk, secret: str, clock: FakeClock
) -> None:
    client = app.test_client()
    page = _password(client)
    right = totp.totp(secret, clock.now.timestamp())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(3):
        assert _code(client, page, wrong) == 401
    answer = client.post("/login/totp", data={"code": right, "csrf_token": _token(page)})
    assert answer.status_code == 429 and "Retry-After" in answer.headers
    assert [outcome for _, outcome, _ in _logins(desk)] == ["failed"] * 3 + ["limited"]
