"""What residents and the public may see of a case, in plain Chinese.

Two projections, both built only from the fields listed here, so nothing else can leak:

- :func:`resident_view`: the timeline behind "查进度". Anyone holding the tracking code
  sees it, so it shows no internal notes (not even that one exists), no staff member's
  name or username, no resident's identity (not the submitter's, not a supporter's),
  no reason except the one for 不予受理 (written for the resident), and no other case's
  tracking code (a code lets its holder rate that case).
- :func:`board_entry`: one row of the community's public board (公示). Only cases that
  were accepted and not merged; no tracking code, no resident text (the title and
  description may name people): the row shows the summary staff wrote when accepting, or
  else the category; dates, not times; no building.

Text here is data: templates escape it when they render it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from kiosk.domain.cases.model import Channel, RatingLevel, Unit
from kiosk.domain.cases.sla import accept_due, handle_due
from kiosk.domain.cases.states import STATE_LABELS, Case, CaseEvent, CaseState, EventKind
from kiosk.domain.queue import CENTRE_TIMEZONE

CHANNEL_LABELS: dict[Channel, str] = {"box": "民情意见箱", "proposal": "党员提案"}
RATING_LABELS: dict[RatingLevel, str] = {
    "satisfied": "满意",
    "basic": "基本满意",
    "unsatisfied": "不满意",
}


@dataclass(frozen=True, slots=True)
class TimelineStep:
    """One step of the resident's timeline: when, what (short), and a plain sentence."""

    at: datetime
    title: str
    detail: str


@dataclass(frozen=True, slots=True)
class ResidentView:
    """The "查进度" page for the holder of a tracking code."""

    code: str
    channel: str
    category: str
    status: str
    title: str
    description: str
    accept_due: datetime
    handle_due: datetime | None
    supporters: int
    can_rate: bool
    steps: tuple[TimelineStep, ...]


def _local(moment: datetime) -> str:
    return moment.astimezone(CENTRE_TIMEZONE).strftime("%Y年%m月%d日 %H:%M")


def _units(lead: Unit | None, co: tuple[Unit, ...]) -> str:
    text = f"由{lead.name}牵头办理" if lead is not None else "已派单办理"
    if co:
        text += "，" + "、".join(unit.name for unit in co) + "协办"
    return text + "。"


def _submitted(case: Case, event: CaseEvent) -> str:
    who = "工作人员已代您登记" if event.on_behalf else "您的诉求已登记"
    return f"{who}，将于 {_local(accept_due(case))} 前受理。"


def _rated(case: Case, event: CaseEvent) -> str:
    if event.rating is None:
        return "已评价。"
    solved = "已解决" if event.rating.solved else "未解决"
    how = "回访评价" if event.on_behalf else "您的评价"
    return f"{how}：{RATING_LABELS[event.rating.level]}，问题{solved}。"


def _closed(case: Case, event: CaseEvent) -> str:
    before = case.events[event.seq - 2].kind
    if before is EventKind.RESOLVED:
        return "评价期已过，本件已结案。"
    return "本件已结案，感谢您的参与。"


# Short titles; kinds missing here (internal notes, support) are not shown as steps.
_TITLES: dict[EventKind, str] = {
    EventKind.SUBMITTED: "已提交",
    EventKind.ACCEPTED: "已受理",
    EventKind.NOT_ADMISSIBLE: "不予受理",
    EventKind.MERGED: "已合并",
    EventKind.ABSORBED: "同类诉求并入",
    EventKind.DISPATCHED: "已派单",
    EventKind.CLAIMED: "处置中",
    EventKind.ESCALATED: "已上报",
    EventKind.RESOLVED: "已办结",
    EventKind.RATED: "已评价",
    EventKind.REWORKED: "重新办理",
    EventKind.CLOSED: "已结案",
}

# The plain sentence under each title. Only the fields named here reach the resident.
_DETAILS: dict[EventKind, Callable[[Case, CaseEvent], str]] = {
    EventKind.SUBMITTED: _submitted,
    EventKind.ACCEPTED: lambda c, e: "您的诉求已受理，正在安排办理。",
    EventKind.NOT_ADMISSIBLE: lambda c, e: f"原因：{e.reason or '未说明'}",
    EventKind.MERGED: lambda c, e: "与反映同一问题的诉求合并办理，进度见下方。",
    EventKind.ABSORBED: lambda c, e: "另有反映同一问题的诉求并入本件，一起办理。",
    EventKind.DISPATCHED: lambda c, e: _units(e.lead, e.co_handlers),
    EventKind.CLAIMED: lambda c, e: "工作人员已接单，正在处理。",
    EventKind.ESCALATED: lambda c, e: (
        f"已提请{e.lead.name if e.lead else '上级'}协调办理（吹哨报到）。"
    ),
    EventKind.RESOLVED: lambda c, e: f"办理结果：{e.text or ''}",
    EventKind.RATED: _rated,
    EventKind.REWORKED: lambda c, e: "根据评价，已退回重新办理。",
    EventKind.CLOSED: _closed,
}


def _steps(
    case: Case, kinds: Iterable[EventKind], since: datetime | None = None
) -> tuple[TimelineStep, ...]:
    shown = frozenset(kinds)
    return tuple(
        TimelineStep(event.at, _TITLES[event.kind], _DETAILS[event.kind](case, event))
        for event in case.events
        if event.public and event.kind in shown and (since is None or event.at >= since)
    )


def timeline(case: Case) -> tuple[TimelineStep, ...]:
    """The steps a resident may see, oldest first."""
    return _steps(case, _TITLES)


# Steps of the case a merged case went into that its resident may follow.
_FOLLOWED = frozenset(
    {EventKind.DISPATCHED, EventKind.ESCALATED, EventKind.CLAIMED, EventKind.RESOLVED}
)


def resident_view(
    case: Case, merged_into: Case | None = None, category_names: Mapping[str, str] | None = None
) -> ResidentView:
    """The timeline page; for a merged case pass the target to follow its progress."""
    steps = timeline(case)
    if merged_into is not None and case.merged_into == merged_into.code:
        steps += _steps(merged_into, _FOLLOWED, since=case.last_event.at)
    names = category_names or {}
    return ResidentView(
        code=case.code,
        channel=CHANNEL_LABELS[case.submission.channel],
        category=names.get(case.submission.category, case.submission.category),
        status=STATE_LABELS[case.state],
        title=case.submission.title,
        description=case.submission.description,
        accept_due=accept_due(case),
        handle_due=handle_due(case),
        supporters=case.support_count,
        can_rate=case.state is CaseState.RESOLVED,
        steps=steps,
    )


# ----------------------------------------------------------------------------- board


@dataclass(frozen=True, slots=True)
class BoardEntry:
    """One row of the public board (公示): no personal data, no tracking code."""

    channel: str
    category: str
    community: str
    grid: str | None
    summary: str
    status: str
    submitted_on: date
    resolved_on: date | None
    rating: str | None
    supporters: int


# Never on the board: not accepted (yet, or ever), or handled in the case it merged into.
NOT_ON_BOARD = frozenset({CaseState.SUBMITTED, CaseState.NOT_ADMISSIBLE, CaseState.MERGED})


def board_entry(case: Case, category_names: Mapping[str, str] | None = None) -> BoardEntry | None:
    """The case's public row, or None when it does not go on the board."""
    if case.state in NOT_ON_BOARD or case.accepted_at is None:
        return None
    names = category_names or {}
    category = names.get(case.submission.category, case.submission.category)
    place = case.submission.place
    resolved = case.resolved_at
    return BoardEntry(
        channel=CHANNEL_LABELS[case.submission.channel],
        category=category,
        community=place.community.name,
        grid=place.grid.name if place.grid is not None else None,
        summary=case.summary or category,
        status=STATE_LABELS[case.state],
        submitted_on=case.submitted_at.astimezone(CENTRE_TIMEZONE).date(),
        resolved_on=resolved.astimezone(CENTRE_TIMEZONE).date() if resolved else None,
        rating=RATING_LABELS[case.rating.level] if case.rating is not None else None,
        supporters=case.support_count,
    )


def board(
    cases: Iterable[Case], community: str, category_names: Mapping[str, str] | None = None
) -> list[BoardEntry]:
    """The board of one community (by unit id), newest first."""
    mine = [case for case in cases if case.submission.place.community.id == community]
    mine.sort(key=lambda case: case.submitted_at, reverse=True)
    entries = (board_entry(case, category_names) for case in mine)
    return [entry for entry in entries if entry is not None]
