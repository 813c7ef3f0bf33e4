"""The hub's case store: events in ``case_events``, the ``cases`` projection beside them.

Every change is one :meth:`Database.write` transaction: load the case's events, replay
them, ``apply`` the command (the domain decides), append the event, rebuild the
projection row, write the audit entry. ``UNIQUE(case_id, seq)`` keeps two writers from
both appending event n (on PostgreSQL the loser retries with the fresh log; SQLite's
``BEGIN IMMEDIATE`` queues them); ``UNIQUE(event_id)`` makes a retried kiosk event or
rpc a no-op.

Rate limits are counted in the tables themselves (cases and supports per kiosk in the
last hour, cases per person key in the last day), so a redelivered event never counts
twice and a restart forgets nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.domain.cases.codes import InvalidTrackingCode, make_code, parse_code
from kiosk.domain.cases.model import Actor, Channel, Rating, Resident, Submission
from kiosk.domain.cases.records import event_from_record, event_to_record
from kiosk.domain.cases.sla import accept_due, handle_due
from kiosk.domain.cases.states import (
    OPEN_STATES,
    STATE_TYPES,
    Absorb,
    Case,
    CaseEvent,
    CaseState,
    Close,
    Command,
    Merge,
    Rate,
    Submit,
    Support,
    TransitionRefused,
    apply,
    evolve,
    replay,
)
from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.hub import audit
from kiosk.hub.cases.directory import Directory
from kiosk.hub.db import Database
from kiosk.hub.models import (
    CaseCodeAlias,
    CaseCodeCounter,
    CaseCodeLease,
    CaseEventRow,
    CaseRow,
    CaseSupportRow,
    Kiosk,
)

_LOGGER = logging.getLogger(__name__)

METRICS_LOOKBACK = timedelta(days=90)  # see CaseStore.longest_term

SYSTEM = Actor("system", "hub")
MAX_RETRIES = 3
MAX_SKIPPED_CODES = 1000


class CaseNotFound(LookupError):
    """No case with that code (or support token)."""


class CaseConflict(ValueError):
    """The event cannot be stored: another case already has that code, and so on."""


class EventIdTaken(CaseConflict):
    """A client's event id already belongs to another case: not a retry, a mistake."""


class RateLimited(Exception):
    """Too many cases or supports from one kiosk or one resident; the message says so."""


@dataclass(frozen=True, slots=True)
class StoredCase:
    row: CaseRow
    case: Case


def _new_event_id() -> str:
    return uuid.uuid4().hex


class CaseStore:
    def __init__(
        self,
        database: Database,
        directory: Directory,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.database = database
        self.directory = directory
        self.now = clock

    # --- reading ---------------------------------------------------------------------

    @staticmethod
    def _events(session: Session, case_id: int) -> list[CaseEvent]:
        rows = session.scalars(
            select(CaseEventRow.record)
            .where(CaseEventRow.case_id == case_id)
            .order_by(CaseEventRow.seq)
        )
        return [event_from_record(record) for record in rows]

    def _load(self, session: Session, code: str) -> StoredCase:
        """By its code, else by a slip's code the hub filed it under another (an alias)."""
        row = session.scalar(select(CaseRow).where(CaseRow.code == _normal(code)))
        if row is None:
            row = session.scalar(
                select(CaseRow)
                .join(CaseCodeAlias, CaseCodeAlias.case_id == CaseRow.id)
                .where(CaseCodeAlias.code == _normal(code))
                .order_by(CaseCodeAlias.id.desc())
                .limit(1)
            )
        if row is None:
            raise CaseNotFound(f"no case {code}")
        return StoredCase(row, replay(self._events(session, row.id)))

    def get(self, code: str) -> StoredCase:
        with self.database.read() as session:
            return self._load(session, code)

    def slip_holders(self, code: str) -> set[int]:
        """The ids of the cases a slip printed with ``code`` may stand for: the case filed
        under it and every case holding it as an alias. More than one: one code, two slips
        (a collision), so the code's rating PIN proves nothing about which case."""
        normal = _normal(code)
        with self.database.read() as session:
            own = session.scalars(select(CaseRow.id).where(CaseRow.code == normal))
            aliased = session.scalars(
                select(CaseCodeAlias.case_id).where(CaseCodeAlias.code == normal)
            )
            return {*own, *aliased}

    def rows(self, *conditions: Any, limit: int = 2000) -> list[CaseRow]:
        with self.database.read() as session:
            query = select(CaseRow).where(*conditions).order_by(CaseRow.submitted_at.desc())
            return list(session.scalars(query.limit(limit)))

    def cases(self, *conditions: Any) -> list[Case]:
        """Whole cases (replayed), e.g. for the board and the metrics."""
        with self.database.read() as session:
            ids = list(session.scalars(select(CaseRow.id).where(*conditions)))
            logs = self._logs(session, ids)
        return [replay(log) for log in logs.values()]

    def logs(self, *conditions: Any) -> list[list[CaseEvent]]:
        with self.database.read() as session:
            ids = list(session.scalars(select(CaseRow.id).where(*conditions)))
            return list(self._logs(session, ids).values())

    def logs_for_period(self, start: datetime, end: datetime) -> list[list[CaseEvent]]:
        """The logs of the cases that can have a metrics fact in ``[start, end)``.

        Every fact (docs/cases.md, Metrics) happens at or after its case was filed, and
        at the latest when a round falls due, which is one SLA term after an event of the
        case: so a case filed before ``end`` whose last event is no more than the longest
        term before ``start``, or whose running round falls due after ``start`` (its terms
        may be longer than today's). The rest are skipped, so a report costs what its
        period holds, not the centre's whole history.
        """
        horizon = start - self.longest_term()
        # A running round falls due at handle_due, whatever terms the case was filed with.
        recent = or_(CaseRow.updated_at >= horizon, CaseRow.handle_due >= start)
        return self.logs(CaseRow.submitted_at < end, recent)

    def longest_term(self) -> timedelta:
        """The longest SLA term configured, and never under METRICS_LOOKBACK: a case keeps
        the terms it was filed with, which a later configuration may have shortened."""
        sla = self.directory.sla
        hours = max([sla.accept_hours, *sla.tiers.values()])
        return max(timedelta(hours=hours), METRICS_LOOKBACK)

    @staticmethod
    def _logs(session: Session, ids: Sequence[int]) -> dict[int, list[CaseEvent]]:
        logs: dict[int, list[CaseEvent]] = {case_id: [] for case_id in ids}
        if not ids:
            return logs
        query = (
            select(CaseEventRow.case_id, CaseEventRow.record)
            .where(CaseEventRow.case_id.in_(ids))
            .order_by(CaseEventRow.case_id, CaseEventRow.seq)
        )
        for case_id, record in session.execute(query):
            logs[case_id].append(event_from_record(record))
        return logs

    def event_rows(self, case_id: int) -> list[CaseEventRow]:
        with self.database.read() as session:
            query = select(CaseEventRow).where(CaseEventRow.case_id == case_id)
            return list(session.scalars(query.order_by(CaseEventRow.seq)))

    # --- writing ---------------------------------------------------------------------

    def act(
        self,
        code: str,
        command: Command,
        *,
        event_id: str | None = None,
        remote_addr: str | None = None,
        audited: bool = True,
    ) -> Case:
        """Apply ``command`` to the case and store the event. Raises TransitionRefused,
        InvalidText, CaseNotFound; a retry with the same ``event_id`` changes nothing."""
        event_id = event_id or _new_event_id()
        for attempt in range(MAX_RETRIES):
            try:
                with self.database.write() as session:
                    stored = self._load(session, code)
                    if _retried(session, event_id, stored):
                        return stored.case
                    case = self._append(session, stored, command, event_id)
                    if isinstance(command, Merge):
                        self._absorb(session, stored.case, command, event_id)
                    if audited and command.actor.kind == "staff":
                        self._audit(session, command, case, remote_addr)
                    return case
            except IntegrityError:
                # Someone else appended this seq first (PostgreSQL): replay and try again.
                if attempt == MAX_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _append(
        self, session: Session, stored: StoredCase, command: Command, event_id: str
    ) -> Case:
        event = apply(stored.case, command, self.now, self.directory.policy)
        case = evolve(stored.case, event)
        self._insert_event(session, stored.row.id, event, event_id)
        _project(stored.row, case)
        session.flush()
        return case

    def _absorb(self, session: Session, source: Case, merge: Merge, event_id: str) -> None:
        target = self._load(session, merge.target)
        if target.case.state not in OPEN_STATES or target.case.is_final:
            raise TransitionRefused(
                merge.action, source.state, f"{target.case.code} is not open: merge refused"
            )
        if target.case.state in (CaseState.RESOLVED, CaseState.RATED):
            raise TransitionRefused(
                merge.action, source.state, f"{target.case.code} is already resolved"
            )
        absorb = Absorb(actor=merge.actor, source=source.code, reason=merge.reason)
        absorb_id = event_id[:57] + ":absorb"
        _retried(session, absorb_id, target)  # taken by any case: EventIdTaken
        self._append(session, target, absorb, absorb_id)

    @staticmethod
    def _insert_event(session: Session, case_id: int, event: CaseEvent, event_id: str) -> None:
        session.add(
            CaseEventRow(
                case_id=case_id,
                seq=event.seq,
                kind=str(event.kind),
                at=event.at,
                actor_kind=event.actor.kind,
                actor_id=event.actor.id,
                actor_unit=event.actor.unit,
                public=event.public,
                record=event_to_record(event),
                event_id=event_id,
            )
        )

    def _audit(
        self, session: Session, command: Command, case: Case, remote_addr: str | None
    ) -> None:
        detail: dict[str, Any] = {"unit": command.actor.unit, "state": str(case.state)}
        if command.reason:
            detail["reason"] = command.reason[:200]
        audit.record(
            session,
            self.now(),
            f"user:{command.actor.id}",
            f"case.{command.action}",
            case.code,
            remote_addr=remote_addr,
            detail=detail,
        )

    # --- submissions -----------------------------------------------------------------

    def submit_event(self, session: Session, kiosk: str | None, event_id: str, record: Any) -> Case:
        """Store a ``submitted`` event made elsewhere (a kiosk) inside ``session``.

        Idempotent by ``event_id``. A well-formed submission is never refused: its slip
        is printed already. Over a rate limit it is stored but marked ``limited``; with an
        unknown category or place, or a code the kiosk never leased or another case holds,
        it is stored flagged for review (``review`` says why): an unknown place goes to
        the kiosk's community (首接负责), a bad code is replaced by one from the hub's
        counter and the slip's code kept as an alias so ``case.lookup`` still finds it.
        """
        existing = session.scalar(
            select(CaseEventRow.case_id).where(CaseEventRow.event_id == event_id)
        )
        if existing is not None:
            return replay(self._events(session, existing))
        event = event_from_record(record)
        evolve(None, event)  # checks it is a well-formed submitted event
        again = _same_slip(session, kiosk, event)
        if again is not None:
            # The same slip sent again under another event id: nothing new.
            return replay(self._events(session, again))
        holder = session.scalar(select(CaseRow.id).where(CaseRow.code == event.code))
        notes: list[str] = []
        event = self._known_place(session, kiosk, event, notes)
        if event.submission is not None and event.submission.category not in (
            self.directory.categories
        ):
            notes.append(f"未知类别 {event.submission.category}（unknown category, kept as sent）")
        slip_code = event.code
        if holder is not None:
            notes.append(f"小票编号 {slip_code} 已被另一件诉求使用（code collision）")
            notes.append(_SHARED_PIN_NOTE)
            _note_review(session.get_one(CaseRow, holder), slip_code)
        elif not _leased(session, kiosk, slip_code):
            notes.append(f"小票编号 {slip_code} 不是本终端领取的编号（code not leased）")
        recode = holder is not None or not _leased(session, kiosk, slip_code)
        if recode:
            event = dataclasses.replace(event, code=self._fresh_code(session, event))
            notes.append(f"改编为 {event.code}，小票编号 {slip_code} 仍记为别名")
        case = evolve(None, event)
        limited = self._over_limit(session, kiosk, case.submission.resident) is not None
        row = self._new_row(case, kiosk, limited, "；".join(notes)[:400] or None)
        session.add(row)
        session.flush()
        self._insert_event(session, row.id, event, event_id)
        if recode:
            session.add(
                CaseCodeAlias(code=slip_code, case_id=row.id, kiosk=kiosk, created_at=self.now())
            )
        session.flush()
        if notes:
            _LOGGER.warning("case %s from kiosk %s needs review: %s", case.code, kiosk, notes)
        return case

    def _known_place(
        self, session: Session, kiosk: str | None, event: CaseEvent, notes: list[str]
    ) -> CaseEvent:
        """The event with a place the hub knows: unknown units give way to the kiosk's
        community (its default owner, 首接负责), keeping the building label."""
        sub = event.submission
        assert sub is not None  # noqa: S101 - evolve checked it
        place = sub.place
        d = self.directory
        unknown = [
            unit.id
            for unit, level in (
                (place.street, "street"),
                (place.community, "community"),
                (place.grid, "grid"),
            )
            if unit is not None and not _of_level(d, unit.id, level)
        ]
        if not unknown:
            return event
        if place.grid is not None and _of_level(d, place.grid.id, "grid"):
            fallback = d.place(place.grid.id, place.building)
        else:
            fallback = d.place(
                self._fallback_community(session, kiosk, place.community.id), place.building
            )
        notes.append(
            f"未知地点 {', '.join(unknown)}（unknown unit），转 {fallback.community.id} 首接负责"
        )
        return dataclasses.replace(event, submission=dataclasses.replace(sub, place=fallback))

    def _fallback_community(self, session: Session, kiosk: str | None, sent: str) -> str:
        d = self.directory
        if sent in d.units and d.units[sent].unit.level == "community":
            return sent
        centre = session.scalar(select(Kiosk.centre).where(Kiosk.id == kiosk)) if kiosk else None
        community = d.community_of_centre(centre) if centre else None
        if community is not None:
            return community
        communities = [i.unit.id for i in d.units.values() if i.unit.level == "community"]
        if not communities:
            raise CaseConflict("no community configured to take the case")
        return communities[0]

    def _fresh_code(self, session: Session, event: CaseEvent) -> str:
        assert event.submission is not None  # noqa: S101 - evolve checked it
        return self._free_code(session, event.submission.channel)

    def _free_code(self, session: Session, channel: Channel) -> str:
        """The next code of the hub's counter that no case or alias holds yet."""
        year = self.local_year()
        for _ in range(MAX_SKIPPED_CODES):
            code = make_code(channel, year, _allocate(session, channel, year, 1, None, self.now()))
            held = session.scalar(select(CaseRow.id).where(CaseRow.code == code))
            aliased = session.scalar(select(CaseCodeAlias.id).where(CaseCodeAlias.code == code))
            if held is None and aliased is None:
                return code
        raise CaseConflict("编号计数器落后太多，请联系管理员（code counter behind the cases）")

    def local_year(self) -> int:
        """The year on the centre's calendar (Asia/Shanghai), which codes carry."""
        return self.now().astimezone(CENTRE_TIMEZONE).year

    def _check_known(self, submission: Submission) -> None:
        if submission.category not in self.directory.categories:
            raise CaseConflict(f"unknown category {submission.category!r}")
        place = submission.place
        for unit in (place.street, place.community, place.grid):
            if unit is not None and unit.id not in self.directory.units:
                raise CaseConflict(f"unknown unit {unit.id!r}")

    def _over_limit(
        self, session: Session, kiosk: str | None, resident: Resident | None
    ) -> str | None:
        """The refusal message when a kiosk or a resident filed too much lately."""
        now = self.now()
        d = self.directory
        if kiosk is not None:
            recent = session.scalar(
                select(func.count(CaseRow.id)).where(
                    CaseRow.kiosk == kiosk, CaseRow.submitted_at > now - timedelta(hours=1)
                )
            )
            if (recent or 0) >= d.per_kiosk_per_hour:
                return f"本终端一小时内已登记 {recent} 件诉求，已达上限，请稍后再试或联系工作人员。"
        if resident is not None:
            recent = session.scalar(
                select(func.count(CaseRow.id)).where(
                    CaseRow.person_key == resident.person_key,
                    CaseRow.submitted_at > now - timedelta(days=1),
                )
            )
            if (recent or 0) >= d.per_person_per_day:
                return f"您今天已提交 {recent} 件诉求，已达上限，请明天再来或联系工作人员。"
        return None

    def check_limit(self, kiosk: str | None, person_key: str | None) -> None:
        """Raise :class:`RateLimited` when a new case would be over a limit."""
        resident = Resident(person_key) if person_key else None
        with self.database.read() as session:
            message = self._over_limit(session, kiosk, resident)
        if message:
            raise RateLimited(message)

    def _new_row(
        self, case: Case, kiosk: str | None, limited: bool, review: str | None = None
    ) -> CaseRow:
        sub = case.submission
        row = CaseRow(
            code=case.code,
            channel=sub.channel,
            street=sub.place.street.id,
            community=sub.place.community.id,
            grid=sub.place.grid.id if sub.place.grid else None,
            category=sub.category,
            title=sub.title[:200],
            kiosk=kiosk,
            person_key=sub.resident.person_key if sub.resident else None,
            support_token=secrets.token_urlsafe(18),
            limited=limited,
            review=review,
            submitted_at=case.submitted_at,
        )
        _project(row, case)
        return row

    def file(
        self,
        channel: Channel,
        submit_for: Callable[[str], Submit],
        *,
        remote_addr: str | None = None,
    ) -> Case:
        """Staff file a case (代办): a code from the hub's own sequence, then Submit.

        A code some case already holds (a counter restored from an old backup) is skipped;
        a race lost on the unique code becomes :class:`CaseConflict`, never a crash."""
        try:
            return self._file(channel, submit_for, remote_addr)
        except IntegrityError as err:
            raise CaseConflict("编号冲突，请重新提交（tracking code taken meanwhile）") from err

    def _file(
        self, channel: Channel, submit_for: Callable[[str], Submit], remote_addr: str | None
    ) -> Case:
        with self.database.write() as session:
            command = submit_for(self._free_code(session, channel))
            event = apply(None, command, self.now, self.directory.policy)
            case = evolve(None, event)
            self._check_known(case.submission)
            row = self._new_row(case, None, False)
            session.add(row)
            session.flush()
            self._insert_event(session, row.id, event, _new_event_id())
            audit.record(
                session,
                self.now(),
                f"user:{command.actor.id}",
                "case.file_on_behalf",
                case.code,
                remote_addr=remote_addr,
                detail={"unit": command.actor.unit, "reason": (command.reason or "")[:200]},
            )
            return case

    # --- codes -----------------------------------------------------------------------

    def lease_codes(self, kiosk: str, channel: str, year: int, size: int) -> tuple[int, int]:
        with self.database.write() as session:
            now = self.now()
            leased = session.scalar(
                select(func.coalesce(func.sum(CaseCodeLease.last - CaseCodeLease.first + 1), 0))
                .where(CaseCodeLease.kiosk == kiosk)
                .where(CaseCodeLease.leased_at > now - timedelta(days=1))
            )
            allowance = self.directory.per_kiosk_per_hour * 24
            if (leased or 0) + size > allowance:
                raise RateLimited(
                    f"本终端今天已领取 {leased} 个诉求编号，已达上限，请联系工作人员。"
                )
            first = _allocate(session, channel, year, size, kiosk, now)
            return first, first + size - 1

    # --- residents -------------------------------------------------------------------

    def support(self, token: str, event_id: str, person_key: str | None, kiosk: str | None) -> Case:
        with self.database.write() as session:
            row = session.scalar(select(CaseRow).where(CaseRow.support_token == token))
            if row is None:
                raise CaseNotFound("no such case to support")
            stored = StoredCase(row, replay(self._events(session, row.id)))
            if _retried(session, event_id, stored):
                return stored.case
            self._support_limit(session, kiosk, person_key)
            actor = Actor("resident", person_key or "anonymous")
            case = self._append(session, stored, Support(actor=actor), event_id)
            session.add(
                CaseSupportRow(
                    case_id=row.id,
                    person_key=person_key,
                    kiosk=kiosk,
                    at=self.now(),
                    event_id=event_id,
                )
            )
            return case

    def _support_limit(self, session: Session, kiosk: str | None, person_key: str | None) -> None:
        since = self.now() - timedelta(hours=1)
        if kiosk is not None:
            recent = session.scalar(
                select(func.count(CaseSupportRow.id)).where(
                    CaseSupportRow.kiosk == kiosk, CaseSupportRow.at > since
                )
            )
            if (recent or 0) >= self.directory.per_kiosk_per_hour:
                raise RateLimited("本终端一小时内的“我也遇到了”已达上限，请稍后再试。")
        if person_key is not None:
            recent = session.scalar(
                select(func.count(CaseSupportRow.id)).where(
                    CaseSupportRow.person_key == person_key, CaseSupportRow.at > since
                )
            )
            if (recent or 0) >= self.directory.per_person_per_day:
                raise RateLimited("您一小时内的“我也遇到了”已达上限，请稍后再试。")

    def rate(self, code: str, rating: Rating, event_id: str, person_key: str | None) -> Case:
        actor = Actor("resident", person_key or "anonymous")
        return self.act(code, Rate(actor=actor, rating=rating), event_id=event_id, audited=False)

    # --- the periodic job ------------------------------------------------------------

    def close_unrated(self) -> list[str]:
        """Close resolved cases nobody rated within the window (actor system/hub)."""
        window = timedelta(hours=self.directory.policy.rating_window_hours)
        due = self.rows(
            CaseRow.state == str(CaseState.RESOLVED), CaseRow.updated_at <= self.now() - window
        )
        closed = []
        for row in due:
            try:
                self.act(
                    row.code,
                    Close(actor=SYSTEM),
                    event_id=f"close:{row.code}:{row.updated_at.isoformat()}",
                )
                closed.append(row.code)
            except (TransitionRefused, CaseNotFound):
                continue  # rated or changed meanwhile
        return closed


_SHARED_PIN_NOTE = "一码两票，评价码不能用于评价：请居民凭身份证评价或电话回访（PIN rating off）"


def _note_review(row: CaseRow, slip_code: str) -> None:
    """Flag the first holder of a collided code too: its slip's PIN no longer rates it."""
    note = f"小票编号 {slip_code} 另有一张小票使用；{_SHARED_PIN_NOTE}"
    row.review = "；".join(filter(None, [row.review, note]))[:400]


def _of_level(directory: Directory, unit_id: str, level: str) -> bool:
    """Is ``unit_id`` a unit the hub knows, at that level (a department sent as a grid is
    not a grid: the directory could not place the case there)?"""
    info = directory.units.get(unit_id)
    return info is not None and info.unit.level == level


def _leased(session: Session, kiosk: str | None, code: str) -> bool:
    """Did the hub lease ``code``'s number to ``kiosk`` (case.code_block)?"""
    try:
        parsed = parse_code(code)
    except InvalidTrackingCode:
        return False
    who = CaseCodeLease.kiosk.is_(None) if kiosk is None else CaseCodeLease.kiosk == kiosk
    found = session.scalar(
        select(CaseCodeLease.id)
        .where(who, CaseCodeLease.channel == parsed.channel, CaseCodeLease.year == parsed.year)
        .where(CaseCodeLease.first <= parsed.seq, CaseCodeLease.last >= parsed.seq)
        .limit(1)
    )
    return found is not None


def _same_slip(session: Session, kiosk: str | None, event: CaseEvent) -> int | None:
    """The case already filed from this very slip (same code or alias, kiosk, time, title)."""
    sub = event.submission
    if sub is None:
        return None
    aliased = select(CaseCodeAlias.case_id).where(CaseCodeAlias.code == event.code)
    candidates = session.scalars(
        select(CaseRow).where((CaseRow.code == event.code) | CaseRow.id.in_(aliased))
    )
    for row in candidates:
        if row.kiosk == kiosk and row.submitted_at == event.at and row.title == sub.title[:200]:
            return row.id
    return None


def _retried(session: Session, event_id: str, stored: StoredCase) -> bool:
    """True when ``event_id`` is already one of this case's events (a retry: a no-op);
    :class:`EventIdTaken` when another case's."""
    owner = session.scalar(select(CaseEventRow.case_id).where(CaseEventRow.event_id == event_id))
    if owner is None:
        return False
    if owner != stored.row.id:
        raise EventIdTaken(f"event id {event_id[:64]} belongs to another case")
    return True


def normal_code(code: str) -> str:
    """The canonical form of a typed code (as stored), or the text trimmed and upper-cased."""
    return _normal(code)


def _normal(code: str) -> str:
    try:
        return str(parse_code(code))
    except ValueError:
        return code.strip().upper()


def _project(row: CaseRow, case: Case) -> None:
    """The projection columns from the replayed case."""
    place = case.submission.place
    row.state = str(case.state)
    row.state_type = STATE_TYPES[case.state]
    row.unit = case.unit.id
    units = [place.street.id, place.community.id]
    if place.grid is not None:
        units.append(place.grid.id)
    units += [case.unit.id, *(u.id for u in case.co_handlers)]
    row.units = list(dict.fromkeys(units))
    row.supporters = case.support_count
    row.accept_due = accept_due(case)
    row.handle_due = handle_due(case)
    row.updated_at = case.last_event.at


def _allocate(
    session: Session, channel: str, year: int, size: int, kiosk: str | None, now: datetime
) -> int:
    """Reserve ``size`` sequence numbers; the counter row serialises concurrent callers."""
    counter = session.get(CaseCodeCounter, (channel, year), with_for_update=True)
    if counter is None:
        counter = CaseCodeCounter(channel=channel, year=year, last_seq=0)
        session.add(counter)
    first = counter.last_seq + 1
    counter.last_seq += size
    session.add(
        CaseCodeLease(
            kiosk=kiosk,
            channel=channel,
            year=year,
            first=first,
            last=first + size - 1,
            leased_at=now,
        )
    )
    session.flush()
    return first
