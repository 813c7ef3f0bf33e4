"""Staff actions on a case from form fields or JSON: who may act for which unit, and the
domain command each action makes. The console and the JSON API share this, so both refuse
the same things with the same messages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select

from kiosk.domain.cases.model import Actor, Rating, RatingLevel, Unit
from kiosk.domain.cases.states import (
    Accept,
    Action,
    Case,
    Claim,
    Close,
    Command,
    Dispatch,
    Escalate,
    Merge,
    NotAdmissible,
    Note,
    Rate,
    Resolve,
    Rework,
    TransitionRefused,
    allowed_actions,
)
from kiosk.hub.cases.directory import Directory
from kiosk.hub.db import Database
from kiosk.hub.models import CaseRow, CaseUnitMember, User
from kiosk.hub.users import StaffUser

# Roles that see every unit: the admin acts for any, the auditor only reads.
ALL_UNITS_ROLES = frozenset({"admin", "auditor"})
READ_ONLY_ROLES = frozenset({"auditor"})
CASE_ROLES = frozenset({"admin", "auditor", "case_handler", "staff"})

ACTION_LABELS: dict[str, str] = {
    "accept": "受理",
    "not_admissible": "不予受理",
    "merge": "合并",
    "dispatch": "派单",
    "claim": "接单",
    "escalate": "吹哨上报",
    "note": "内部备注",
    "resolve": "办结答复",
    "rate": "回访评价（代办）",
    "rework": "重新办理",
    "close": "结案",
}

# Staff actions offered as buttons (absorb and support are never typed by staff).
STAFF_ACTIONS = tuple(ACTION_LABELS)

REPLY_TEMPLATES: dict[str, str] = {
    "fixed": "经现场核实，问题已处理完毕。感谢您的反映！",
    "explained": "已向您电话说明有关政策和办理情况。感谢您的理解与支持！",
    "referred": "该事项已移交主管部门办理，我们会持续跟进。",
}


class ActionError(ValueError):
    """The form or JSON does not make a command (a missing field, an unknown unit)."""


@dataclass(frozen=True, slots=True)
class Access:
    """What a user may see and act for."""

    user: StaffUser
    members: frozenset[str]  # units the user belongs to
    visible: frozenset[str] | None  # units whose cases the user sees; None: all

    @property
    def read_only(self) -> bool:
        return self.user.role in READ_ONLY_ROLES

    def sees(self, row: CaseRow) -> bool:
        return self.visible is None or bool(self.visible & set(row.units))

    def acting_units(self, row: CaseRow) -> list[str]:
        """Units the user may act for on this case, the holding unit first."""
        if self.read_only:
            return []
        if self.user.role == "admin" and not self.members:
            return [row.unit]
        mine = [unit for unit in row.units if unit in self.members]
        return sorted(mine, key=lambda unit: unit != row.unit)


def access_for(database: Database, directory: Directory, user: StaffUser) -> Access:
    with database.read() as session:
        members = frozenset(
            session.scalars(
                select(CaseUnitMember.unit)
                .join(User, User.id == CaseUnitMember.user_id)
                .where(User.username == user.username)
            )
        )
    if user.role in ALL_UNITS_ROLES:
        return Access(user, members, None)
    if user.role not in CASE_ROLES:
        return Access(user, frozenset(), frozenset())
    return Access(user, members, frozenset(directory.descendants(members)))


def buttons(case: Case) -> list[str]:
    """The staff actions the table allows in the case's state."""
    allowed = {str(a) for a in allowed_actions(case.state)}
    return [action for action in STAFF_ACTIONS if action in allowed]


Field = Callable[[str], str]


def make_command(
    action: str, fields: Mapping[str, object], actor: Actor, case: Case, directory: Directory
) -> Command:
    """The domain command for ``action`` from submitted fields (strings or JSON values)."""

    def text(name: str) -> str:
        value = fields.get(name)
        return value.strip() if isinstance(value, str) else ""

    reason = text("reason") or None
    builders: dict[str, Callable[[], Command]] = {
        "accept": lambda: Accept(actor=actor, reason=reason, summary=text("summary") or None),
        "not_admissible": lambda: NotAdmissible(actor=actor, reason=reason),
        "merge": lambda: Merge(actor=actor, reason=reason, target=_need(text("target"), "target")),
        "dispatch": lambda: _dispatch(fields, text, actor, reason, directory),
        "claim": lambda: Claim(actor=actor, reason=reason),
        "escalate": lambda: _escalate(actor, reason, case, directory),
        "note": lambda: Note(actor=actor, reason=reason, text=text("text")),
        "resolve": lambda: Resolve(actor=actor, reason=reason, reply=_reply(text)),
        "rate": lambda: Rate(actor=actor, reason=reason, rating=_rating(fields, text)),
        "rework": lambda: Rework(actor=actor, reason=reason),
        "close": lambda: Close(actor=actor, reason=reason),
    }
    builder = builders.get(action)
    if builder is None:
        raise ActionError(f"unknown action {action!r}; one of: {', '.join(builders)}")
    return builder()


def _need(value: str, name: str) -> str:
    if not value:
        raise ActionError(f"{name} is required")
    return value


def _unit(directory: Directory, unit_id: str) -> Unit:
    try:
        return directory.unit(unit_id)
    except KeyError as err:
        raise ActionError(f"unknown unit {unit_id!r}") from err


def _dispatch(
    fields: Mapping[str, object],
    text: Field,
    actor: Actor,
    reason: str | None,
    directory: Directory,
) -> Command:
    lead = _unit(directory, _need(text("lead"), "lead"))
    raw = fields.get("co_handlers") or []
    ids = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
    co = tuple(_unit(directory, str(i)) for i in ids if str(i).strip())
    return Dispatch(actor=actor, reason=reason, lead=lead, co_handlers=co)


def _escalate(actor: Actor, reason: str | None, case: Case, directory: Directory) -> Command:
    above = directory.above(case.unit.id)
    if above is None:
        raise TransitionRefused(
            Action.ESCALATE,
            case.state,
            f"cannot escalate from {case.unit.name}: there is no level above; dispatch again",
        )
    return Escalate(actor=actor, reason=reason, to=above)


def _reply(text: Field) -> str:
    reply = text("reply")
    if not reply and text("template"):
        reply = REPLY_TEMPLATES.get(text("template"), "")
    return reply


def _rating(fields: Mapping[str, object], text: Field) -> Rating:
    level = text("rating")
    if level not in ("satisfied", "basic", "unsatisfied"):
        raise ActionError("rating must be satisfied, basic or unsatisfied")
    solved = fields.get("solved")
    is_solved = solved is True or (isinstance(solved, str) and solved in ("1", "true", "yes"))
    level_typed: RatingLevel = level  # type: ignore[assignment]
    return Rating(level_typed, is_solved, text("comment"))
