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
PREFIX = "kst_"  # recognisable in a leaked config file or a secret scanner


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(database: Database, username: str, label: str = "", *, actor: str) -> str:
    """A new token for ``username``; the caller shows it once, the hub keeps the hash."""
    token = PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    with database.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise UserError(f"no user {username!r}")
        session.add(
            ApiToken(
                user_id=user.id,
                token_hash=_digest(token),
                label=label[:80],
                created_at=now,
                expires_at=now + timedelta(days=DEFAULT_DAYS),
            )
        )
        audit.record(session, now, actor, "token.create", username, detail={"label": label[:80]})
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
    """The enabled user the token belongs to, or None (unknown, revoked, disabled)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    with database.read() as session:
        username = session.scalar(
            select(User.username)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        )
    return load_user(database, username) if username else None


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
            print(create_token(database, args.user, args.label, actor="cli:token"))
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
