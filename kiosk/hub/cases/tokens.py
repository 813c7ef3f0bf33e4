"""Staff API tokens: ``kiosk token create --user NAME`` prints one once; only its SHA-256
is stored. Sent as ``Authorization: Bearer <token>`` to the hub's JSON endpoints."""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from kiosk.hub import audit
from kiosk.hub.db import Database, migrate
from kiosk.hub.models import ApiToken, CaseUnit, CaseUnitMember, User
from kiosk.hub.users import StaffUser, UserError, load_user

DEFAULT_DAYS = 90
MAX_DAYS = 365
PREFIX = "kst_"  # recognisable in a leaked config file or a secret scanner


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    database: Database,
    username: str,
    label: str = "",
    *,
    actor: str,
    days: int = DEFAULT_DAYS,
    allow_admin: bool = False,
) -> str:
    """A new token for ``username``; the caller shows it once, the hub keeps the hash.

    A token skips the login's second factor, so admins and users with TOTP get one only
    with ``allow_admin`` (``--allow-admin``). It expires after ``days`` (1-365)."""
    if not 1 <= days <= MAX_DAYS:
        raise UserError(f"a token lasts 1-{MAX_DAYS} days, not {days}")
    token = PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with database.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise UserError(f"no user {username!r}")
        if (user.role == "admin" or user.totp_secret) and not allow_admin:
            raise UserError(
                f"{username} is an admin or uses TOTP: a token would skip the second factor "
                "(give --allow-admin if that is really meant)"
            )
        session.add(
            ApiToken(
                user_id=user.id,
                token_hash=_digest(token),
                label=label[:80],
                created_at=now,
                expires_at=now + timedelta(days=days),
                allow_admin=allow_admin,
            )
        )
        detail = {"label": label[:80], "days": days, "privileged": allow_admin}
        audit.record(session, now, actor, "token.create", username, detail=detail)
    return token


def revoke_tokens(database: Database, username: str, *, actor: str) -> int:
    now = datetime.now(UTC)
    with database.write() as session:
        rows = session.scalars(
            select(ApiToken)
            .join(User, User.id == ApiToken.user_id)
            .where(User.username == username, ApiToken.revoked_at.is_(None))
        ).all()
        for row in rows:
            row.revoked_at = now
        audit.record(session, now, actor, "token.revoke", username, detail={"count": len(rows)})
    return len(rows)


def user_for_token(database: Database, token: str) -> StaffUser | None:
    """The enabled user the token belongs to, or None (unknown, revoked, expired,
    disabled, or the user is now an admin or uses TOTP and the token was not made with
    ``--allow-admin``: the creation rule holds at every use). Notes ``last_used_at`` (at
    most once a minute: no write per request)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    now = datetime.now(UTC)
    with database.read() as session:
        found = session.execute(
            select(
                ApiToken.id,
                ApiToken.last_used_at,
                ApiToken.allow_admin,
                User.username,
                User.role,
                User.totp_secret,
            )
            .join(User, ApiToken.user_id == User.id)
            .where(
                ApiToken.token_hash == _digest(token),
                ApiToken.revoked_at.is_(None),
                ApiToken.expires_at > now,
            )
        ).first()
    if found is None:
        return None
    token_id, last_used, allow_admin, username, role, totp_secret = found
    if (role == "admin" or totp_secret) and not allow_admin:
        return None  # a token would skip the second factor the user has now
    if last_used is None or now - last_used > timedelta(minutes=1):
        with database.write() as session:
            row = session.get(ApiToken, token_id)
            if row is not None:
                row.last_used_at = now
    return load_user(database, username)


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def grant_unit(database: Database, username: str, unit: str, *, actor: str) -> None:
    """Make ``username`` a member of case unit ``unit``: they see and act on its cases."""
    now = datetime.now(UTC)
    with database.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise UserError(f"no user {username!r}")
        if session.get(CaseUnit, unit) is None:
            raise UserError(f"no case unit {unit!r} (settings hub.cases.units; start the hub once)")
        if session.get(CaseUnitMember, (user.id, unit)) is None:
            session.add(CaseUnitMember(user_id=user.id, unit=unit))
        audit.record(session, now, actor, "cases.grant_unit", username, detail={"unit": unit})


def cli_token(database_url: str, args: argparse.Namespace) -> int:
    """``kiosk token create|revoke|grant-unit --user NAME``."""
    migrate(database_url)
    database = Database(database_url)
    try:
        if args.action == "create":
            # The only time the token is shown: stdout, nothing else on that line.
            token = create_token(
                database,
                args.user,
                args.label,
                actor="cli:token",
                days=args.days,
                allow_admin=args.allow_admin,
            )
            print(token)
        elif args.action == "revoke":
            count = revoke_tokens(database, args.user, actor="cli:token")
            print(f"{count} token(s) of {args.user} revoked", file=sys.stderr)
        else:
            if not args.unit:
                print("kiosk: grant-unit needs --unit", file=sys.stderr)
                return 2
            grant_unit(database, args.user, args.unit, actor="cli:token")
            print(f"{args.user} now handles the cases of {args.unit}", file=sys.stderr)
    except UserError as err:
        print(f"kiosk: {err}", file=sys.stderr)
        return 1
    finally:
        database.dispose()
    return 0
