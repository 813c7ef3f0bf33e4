"""Optional second factor for console admins: time-based one-time passwords (RFC 6238).

Plain ``hmac`` and ``hashlib``, no extra dependency. A secret is 20 random bytes (160 bits,
as RFC 4226 recommends), shown once as base32 and as an ``otpauth://`` URI for any
authenticator app. A code is accepted one 30-second step early or late (clocks drift),
and each step at most once per account: a code seen over a shoulder cannot log in twice.

``kiosk totp enable --user NAME`` turns it on for an admin; the login page then asks for
the 6-digit code after the password. Enabling, disabling and every code tried are audited.
"""

from __future__ import annotations

import base64
import getpass
import hmac
import secrets
import struct
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from sqlalchemy import select

from kiosk.hub import audit
from kiosk.hub.db import Database, migrate
from kiosk.hub.models import User

STEP = 30  # seconds per code (RFC 6238's default, what every app expects)
DIGITS = 6
WINDOW = 1  # steps accepted either side of now
ISSUER = "Community Kiosk Console"
SECRET_BYTES = 20


class TotpError(ValueError):
    """TOTP cannot be turned on or off for this account (unknown, not an admin)."""


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    padded = secret.strip().replace(" ", "").upper()
    padded += "=" * (-len(padded) % 8)
    return base64.b32decode(padded)


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: HMAC of the 8-byte counter, dynamically truncated to ``digits`` digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def step_of(at: float, step: int = STEP) -> int:
    return int(at // step)


def totp(
    secret: str, at: float, *, digits: int = DIGITS, step: int = STEP, digest: str = "sha1"
) -> str:
    return hotp(_key(secret), step_of(at, step), digits, digest)


def matching_step(
    secret: str, code: str, at: float, *, window: int = WINDOW, after: int | None = None
) -> int | None:
    """The time step ``code`` belongs to, within ``window`` steps of ``at`` and later than
    ``after`` (the step used last); None if it matches none."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    key = _key(secret)
    now = step_of(at)
    for candidate in range(now - window, now + window + 1):
        if after is not None and candidate <= after:
            continue
        if hmac.compare_digest(hotp(key, candidate), code):
            return candidate
    return None


def provisioning_uri(secret: str, username: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/…`` URI an authenticator app reads (as text or a QR code)."""
    label = quote(f"{issuer}:{username}")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP}
    )
    return f"otpauth://totp/{label}?{query}"


# --- accounts ------------------------------------------------------------------------------


def _admin(database: Database, username: str) -> None:
    with database.read() as session:
        role = session.scalar(select(User.role).where(User.username == username))
    if role is None:
        raise TotpError(f"no user {username!r}")
    if role != "admin":
        raise TotpError(f"{username!r} is {role}: the second factor is for admins")


def enable(database: Database, username: str, *, actor: str) -> str:
    """Give an admin a new secret (replacing any old one); returns it, to show once."""
    _admin(database, username)
    secret = new_secret()
    with database.write() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        user.totp_secret = secret
        user.totp_last_step = None
        user.session_version += 1  # sessions opened without the factor end now
        audit.record(session, datetime.now(UTC), actor, "user.totp_enable", f"user:{username}")
    return secret


def disable(
    database: Database, username: str, *, actor: str, remote_addr: str | None = None
) -> None:
    with database.write() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise TotpError(f"no user {username!r}")
        user.totp_secret = None
        user.totp_last_step = None
        audit.record(
            session,
            datetime.now(UTC),
            actor,
            "user.totp_disable",
            f"user:{username}",
            remote_addr=remote_addr,
        )


def required(database: Database, username: str) -> bool:
    with database.read() as session:
        secret = session.scalar(select(User.totp_secret).where(User.username == username))
    return secret is not None


def check(database: Database, username: str, code: str, at: float) -> bool:
    """True if ``code`` is the account's current code and was not used before; the step is
    then spent (in the same transaction, so two logins cannot both use it)."""
    with database.write() as session:
        user = session.scalars(
            select(User).where(User.username == username).with_for_update()
        ).first()
        if user is None or user.totp_secret is None or user.disabled:
            return False
        step = matching_step(user.totp_secret, code, at, after=user.totp_last_step)
        if step is None:
            return False
        user.totp_last_step = step
        return True


def cli_totp(database_url: str, action: str, username: str) -> str:
    """``kiosk totp enable|disable --user NAME``: what to print."""
    migrate(database_url)
    database = Database(database_url)
    actor = f"cli:{getpass.getuser()}"
    try:
        if action == "disable":
            disable(database, username, actor=actor)
            return f"second factor of {username} turned off"
        secret = enable(database, username, actor=actor)
    finally:
        database.dispose()
    return (
        f"second factor of {username} turned on; add it to an authenticator app:\n"
        f"secret: {secret}\n"
        f"uri:    {provisioning_uri(secret, username)}\n"
        "(shown once; run the command again for a new secret)"
    )
