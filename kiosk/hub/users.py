"""Staff console accounts: argon2id password hashes, a role, the centres granted.

Hashes are argon2id (argon2-cffi's defaults: RFC 9106's low-memory profile, t=3, 64 MiB,
p=4, about 0.15 s here). Accounts made before argon2 carry werkzeug hashes (scrypt or
pbkdf2): those are still checked, and replaced by an argon2id hash at the next successful
login, as are argon2 hashes made with weaker parameters than today's.

A user sees only the centres granted to them; an admin sees every centre.
"""

from __future__ import annotations

import getpass
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from kiosk.hub import audit
from kiosk.hub.db import Database, migrate
from kiosk.hub.models import ROLES, CaseUnit, CaseUnitMember, User, UserCentre
from kiosk.protocol import topics

MIN_PASSWORD_LENGTH = 8

# Replaced by tests with cheap parameters; production keeps the library's defaults.
HASHER = PasswordHasher()
_WERKZEUG_PREFIXES = ("scrypt:", "pbkdf2:")

ROLE_LABELS = {
    "admin": "管理员",
    "staff": "窗口工作人员",
    "case_handler": "诉求办理人员",
    "points_officer": "积分管理员",
    "auditor": "审计员（只读）",
}


class UserError(ValueError):
    """The account cannot be created as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class StaffUser:
    username: str
    role: str
    # The centres this user may see and act on; None: every centre (admin).
    centres: frozenset[str] | None = None
    session_version: int = 1

    @property
    def scope(self) -> frozenset[str] | None:
        return self.centres

    def may_see(self, centre: str | None) -> bool:
        return self.centres is None or (centre is not None and centre in self.centres)


def hash_password(password: str) -> str:
    return HASHER.hash(password)


_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    # Checked when the username is unknown, so a wrong name takes as long as a wrong
    # password. Made on first use, with the hasher in force then.
    global _DUMMY_HASH
    if _DUMMY_HASH is None or not _DUMMY_HASH.startswith(_params_prefix()):
        _DUMMY_HASH = HASHER.hash("not a password of anyone")
    return _DUMMY_HASH


def _params_prefix() -> str:
    return f"$argon2id$v=19$m={HASHER.memory_cost},t={HASHER.time_cost},p={HASHER.parallelism}$"


def verify_password(stored: str, password: str) -> tuple[bool, bool]:
    """(matches, needs a new hash) for an argon2 or an older werkzeug hash."""
    if stored.startswith(_WERKZEUG_PREFIXES):
        return check_password_hash(stored, password), True
    try:
        HASHER.verify(stored, password)
    except VerifyMismatchError:
        return False, False
    except (VerificationError, InvalidHashError):
        return False, False
    return True, HASHER.check_needs_rehash(stored)


def _check(username: str, password: str | None, role: str) -> None:
    if not username or len(username) > 64 or not username.isprintable():
        raise UserError(
            "用户名须为 1 到 64 个可打印字符（a username is 1-64 printable characters）"
        )
    if password is not None:
        _check_password(password)
    if role not in ROLES:
        raise UserError(f"没有这个角色（role must be one of {', '.join(ROLES)}）")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(
            f"密码至少 {MIN_PASSWORD_LENGTH} 个字符"
            f"（a password has at least {MIN_PASSWORD_LENGTH} characters）"
        )


def _check_centres(centres: Iterable[str]) -> list[str]:
    checked = []
    for centre in centres:
        try:
            checked.append(topics.check_id(centre, "centre"))
        except topics.TopicError as err:
            raise UserError(f"服务中心代码不对（{err}）") from err
    return sorted(set(checked))


def _grant(session: Session, user: User, centres: list[str]) -> None:
    session.execute(delete(UserCentre).where(UserCentre.user_id == user.id))
    session.add_all(UserCentre(user_id=user.id, centre=c) for c in centres)


def _staff_user(session: Session, user: User) -> StaffUser:
    centres: frozenset[str] | None = None
    if user.role != "admin":
        rows = session.scalars(select(UserCentre.centre).where(UserCentre.user_id == user.id))
        centres = frozenset(rows)
    return StaffUser(user.username, user.role, centres, user.session_version)


def add_user(
    database: Database,
    username: str,
    password: str,
    role: str = "admin",
    centres: Iterable[str] = (),
    *,
    actor: str = "cli",
    remote_addr: str | None = None,
) -> StaffUser:
    """Create an account; :class:`UserError` if the name is taken or the input is bad."""
    _check(username, password, role)
    granted = _check_centres(centres)
    now = datetime.now(UTC)
    with database.write() as session:
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise UserError(f"账号 {username} 已存在（user {username!r} already exists）")
        user = User(
            username=username,
            password_hash=hash_password(password),
            role=role,
            created_at=now,
            disabled=False,
            session_version=1,
        )
        session.add(user)
        session.flush()
        _grant(session, user, granted)
        audit.record(
            session,
            now,
            actor,
            "user.add",
            f"user:{username}",
            remote_addr=remote_addr,
            detail=_grants(role, granted),
        )
        return _staff_user(session, user)


def set_user(
    database: Database,
    username: str,
    password: str,
    role: str = "admin",
    centres: Iterable[str] | None = None,
    *,
    actor: str = "cli",
) -> StaffUser:
    """Create the account or reset its password, role (and grants, when given); sessions
    signed before end (the demo's admin on each run)."""
    _check(username, password, role)
    granted = None if centres is None else _check_centres(centres)
    now = datetime.now(UTC)
    with database.write() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None:
            user = User(username=username, created_at=now, session_version=0, disabled=False)
            session.add(user)
        user.password_hash = hash_password(password)
        user.role = role
        user.disabled = False
        user.session_version = (user.session_version or 0) + 1
        session.flush()
        if granted is not None:
            _grant(session, user, granted)
        audit.record(
            session, now, actor, "user.set", f"user:{username}", detail=_grants(role, granted)
        )
        return _staff_user(session, user)


def _grants(role: str, centres: list[str] | None) -> dict[str, object]:
    detail: dict[str, object] = {"role": role}
    if centres is not None:
        detail["centres"] = centres
    return detail


def set_disabled(
    database: Database,
    username: str,
    disabled: bool,
    *,
    actor: str,
    remote_addr: str | None = None,
) -> None:
    """Disable (or enable) an account; its open sessions end at their next request.
    :class:`UserError` for an unknown account or the last enabled admin."""
    now = datetime.now(UTC)
    with database.write() as session:
        user = _existing(session, username)
        if disabled:
            _keep_an_admin(session, user)
        user.disabled = disabled
        user.session_version += 1
        action = "user.disable" if disabled else "user.enable"
        audit.record(session, now, actor, action, f"user:{username}", remote_addr=remote_addr)


def set_password(
    database: Database,
    username: str,
    password: str,
    *,
    actor: str,
    remote_addr: str | None = None,
) -> StaffUser:
    """A new password for an existing account (role, grants and disabled stay as they
    are); the account's sessions signed before end."""
    _check_password(password)
    now = datetime.now(UTC)
    with database.write() as session:
        user = _existing(session, username)
        user.password_hash = hash_password(password)
        user.session_version += 1
        audit.record(
            session, now, actor, "user.password", f"user:{username}", remote_addr=remote_addr
        )
        return _staff_user(session, user)


def set_grants(
    database: Database,
    username: str,
    role: str,
    centres: Iterable[str],
    *,
    actor: str,
    remote_addr: str | None = None,
) -> StaffUser:
    """Change an account's role and centres, password untouched. Sessions go on: every
    request loads the account afresh (:func:`load_user`), so the change holds at once.
    :class:`UserError` for a bad role or centre, or to demote the last enabled admin."""
    _check(username, None, role)
    granted = _check_centres(centres)
    now = datetime.now(UTC)
    with database.write() as session:
        user = _existing(session, username)
        if role != "admin":
            _keep_an_admin(session, user)
        previous = user.role
        user.role = role
        _grant(session, user, granted)
        detail = {**_grants(role, granted), "previous_role": previous}
        audit.record(
            session,
            now,
            actor,
            "user.grants",
            f"user:{username}",
            remote_addr=remote_addr,
            detail=detail,
        )
        return _staff_user(session, user)


def set_units(
    database: Database,
    username: str,
    units: Iterable[str],
    *,
    actor: str,
    remote_addr: str | None = None,
) -> None:
    """Make ``units`` the case units of an account (it sees and handles their cases), in
    place of those it had. :class:`UserError` for an unknown account or unit."""
    wanted = sorted(set(units))
    now = datetime.now(UTC)
    with database.write() as session:
        user = _existing(session, username)
        for unit in wanted:
            if session.get(CaseUnit, unit) is None:
                raise UserError(f"没有这个处置单位（no case unit {unit!r}）")
        members = select(CaseUnitMember).where(CaseUnitMember.user_id == user.id)
        previous = sorted(member.unit for member in session.scalars(members))
        session.execute(delete(CaseUnitMember).where(CaseUnitMember.user_id == user.id))
        session.add_all(CaseUnitMember(user_id=user.id, unit=unit) for unit in wanted)
        audit.record(
            session,
            now,
            actor,
            "cases.units",
            f"user:{username}",
            remote_addr=remote_addr,
            detail={"units": wanted, "previous": previous},
        )


def _existing(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise UserError(f"没有账号 {username}（no user {username!r}）")
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse to take away the last enabled admin: nobody could manage accounts then."""
    if user.role != "admin" or user.disabled:
        return
    # FOR UPDATE on every enabled admin (PostgreSQL): two admins disabling each other at
    # once take turns, and the second sees the first's change. SQLite writers take turns
    # anyway (BEGIN IMMEDIATE).
    enabled = session.scalars(
        select(User.id)
        .where(User.role == "admin", User.disabled.is_(False))
        .order_by(User.id)
        .with_for_update()
    ).all()
    if not [admin for admin in enabled if admin != user.id]:
        raise UserError(
            f"{user.username} 是最后一个启用的管理员，不能停用或取消其管理员角色"
            f"（{user.username!r} is the last enabled admin）"
        )


@dataclass(frozen=True, slots=True)
class Account:
    """An account as the accounts page lists it: no hash, no second-factor secret."""

    username: str
    role: str
    centres: tuple[str, ...]
    disabled: bool
    totp: bool
    created_at: datetime
    units: tuple[str, ...] = ()  # case units whose cases they see and handle


def list_accounts(database: Database) -> list[Account]:
    """Every account, by name, with its granted centres (as stored, also for admins)."""
    return _accounts(database, select(User).order_by(User.username))


def find_account(database: Database, username: str) -> Account | None:
    found = _accounts(database, select(User).where(User.username == username))
    return found[0] if found else None


def _accounts(database: Database, query: Select[User]) -> list[Account]:
    with database.read() as session:
        found = list(session.scalars(query))
        grants: dict[int, list[str]] = {}
        rows = select(UserCentre.user_id, UserCentre.centre).where(
            UserCentre.user_id.in_([user.id for user in found])
        )
        for user_id, centre in session.execute(rows.order_by(UserCentre.centre)):
            grants.setdefault(user_id, []).append(centre)
        units: dict[int, list[str]] = {}
        members = select(CaseUnitMember.user_id, CaseUnitMember.unit).where(
            CaseUnitMember.user_id.in_([user.id for user in found])
        )
        for user_id, unit in session.execute(members.order_by(CaseUnitMember.unit)):
            units.setdefault(user_id, []).append(unit)
        return [
            Account(
                username=user.username,
                role=user.role,
                centres=tuple(grants.get(user.id, ())),
                disabled=user.disabled,
                totp=user.totp_secret is not None,
                created_at=user.created_at,
                units=tuple(units.get(user.id, ())),
            )
            for user in found
        ]


def authenticate(database: Database, username: str, password: str) -> StaffUser | None:
    """The user if the password matches and the account is enabled, else None (same work
    either way). An outdated hash is replaced by an argon2id one."""
    with database.read() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        stored = user.password_hash if user is not None else None
    if user is None or stored is None:
        verify_password(_dummy_hash(), password)
        return None
    matches, outdated = verify_password(stored, password)
    if not matches or user.disabled:
        return None
    with database.write() as session:
        fresh = session.get(User, user.id, with_for_update=True)
        if fresh is None or fresh.disabled:
            return None
        # Only if nobody changed the password in between.
        if outdated and hmac.compare_digest(fresh.password_hash, stored):
            fresh.password_hash = hash_password(password)
        return _staff_user(session, fresh)


def load_user(database: Database, username: str) -> StaffUser | None:
    """The account as it is now (role, grants, session version); None if gone or disabled.
    Read on every console request, so a change takes effect at once."""
    with database.read() as session:
        user = session.scalars(select(User).where(User.username == username)).first()
        if user is None or user.disabled:
            return None
        return _staff_user(session, user)


def create_user(
    database_url: str,
    username: str,
    password: str,
    role: str = "admin",
    centres: Iterable[str] = (),
) -> None:
    """``kiosk user-add``: migrate the database if needed, then add the account."""
    granted = list(centres)
    _with_database(
        database_url, lambda db: add_user(db, username, password, role, granted, actor=_cli())
    )


def ensure_user(
    database_url: str,
    username: str,
    password: str,
    role: str = "admin",
    centres: Iterable[str] | None = None,
) -> None:
    """``kiosk demo``: migrate if needed, then create or reset the account."""
    granted = None if centres is None else list(centres)
    _with_database(
        database_url, lambda db: set_user(db, username, password, role, granted, actor=_cli())
    )


def _cli() -> str:
    return f"cli:{getpass.getuser()}"


def _with_database(database_url: str, action: Callable[[Database], object]) -> None:
    # Called before the hub ever ran (the demo creates its admin first): migrate first.
    migrate(database_url)
    database = Database(database_url)
    try:
        action(database)
    finally:
        database.dispose()
