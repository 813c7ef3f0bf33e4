"""Case events as JSON-ready dicts: for the hub's event table, the kiosk outbox and MQTT.

``event_from_record(event_to_record(e)) == e`` for every event. Reading checks every
field's type and raises :class:`~kiosk.domain.cases.states.CorruptLog` on anything else,
so a bad row or message is refused with a reason instead of half-read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar, cast

from kiosk.domain.cases.model import (
    CHANNELS,
    RATING_LEVELS,
    UNIT_LEVELS,
    Actor,
    ActorKind,
    CaseValueError,
    Channel,
    Place,
    Rating,
    RatingLevel,
    Resident,
    SlaTerms,
    Submission,
    Unit,
    UnitLevel,
)
from kiosk.domain.cases.states import CaseEvent, CorruptLog, EventKind

Record = dict[str, Any]

T = TypeVar("T")


def _unit(unit: Unit) -> Record:
    return {"id": unit.id, "level": unit.level, "name": unit.name}


def _submission(sub: Submission) -> Record:
    place = sub.place
    resident = sub.resident
    return {
        "channel": sub.channel,
        "category": sub.category,
        "place": {
            "street": _unit(place.street),
            "community": _unit(place.community),
            "grid": _unit(place.grid) if place.grid else None,
            "building": place.building,
        },
        "title": sub.title,
        "description": sub.description,
        "terms": {
            "tier": sub.terms.tier,
            "accept_hours": sub.terms.accept_hours,
            "handle_hours": sub.terms.handle_hours,
        },
        "resident": None
        if resident is None
        else {
            "person_key": resident.person_key,
            "masked_name": resident.masked_name,
            "masked_phone": resident.masked_phone,
            "contact_ok": resident.contact_ok,
        },
        "kiosk": sub.kiosk,
    }


def event_to_record(event: CaseEvent) -> Record:
    """The event as a dict of JSON types; payload fields appear only when set."""
    record: Record = {
        "code": event.code,
        "seq": event.seq,
        "kind": str(event.kind),
        "at": event.at.isoformat(),
        "actor": {"kind": event.actor.kind, "id": event.actor.id, "unit": event.actor.unit},
    }
    optional: Record = {
        "reason": event.reason,
        "text": event.text,
        "lead": _unit(event.lead) if event.lead else None,
        "co_handlers": [_unit(u) for u in event.co_handlers] or None,
        "other": event.other,
        "rating": None
        if event.rating is None
        else {
            "level": event.rating.level,
            "solved": event.rating.solved,
            "comment": event.rating.comment,
        },
        "submission": _submission(event.submission) if event.submission else None,
    }
    record.update({key: value for key, value in optional.items() if value is not None})
    return record


# ---------------------------------------------------------------------------- reading


def _get(record: object, key: str, kind: type[T], *, optional: bool = False) -> T:
    if not isinstance(record, dict):
        raise CorruptLog(f"expected an object holding {key!r}")
    value = record.get(key)
    if value is None and optional:
        return cast(T, None)
    # bool is an int in Python; a seq of True is still corrupt.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CorruptLog(f"{key!r} must be a {kind.__name__}, got {type(value).__name__}")
    return value


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise CorruptLog(f"{what} must be one of {allowed}, got {value!r}")
    return value


def _read_unit(record: object) -> Unit:
    level = _choice(_get(record, "level", str), UNIT_LEVELS, "unit level")
    return Unit(_get(record, "id", str), cast(UnitLevel, level), _get(record, "name", str))


def _read_place(record: object) -> Place:
    grid = _get(record, "grid", dict, optional=True)
    return Place(
        street=_read_unit(_get(record, "street", dict)),
        community=_read_unit(_get(record, "community", dict)),
        grid=_read_unit(grid) if grid is not None else None,
        building=_get(record, "building", str, optional=True),
    )


def _read_resident(record: object) -> Resident:
    return Resident(
        person_key=_get(record, "person_key", str),
        masked_name=_get(record, "masked_name", str, optional=True),
        masked_phone=_get(record, "masked_phone", str, optional=True),
        contact_ok=_get(record, "contact_ok", bool),
    )


def _read_submission(record: object) -> Submission:
    terms = _get(record, "terms", dict)
    resident = _get(record, "resident", dict, optional=True)
    channel = _choice(_get(record, "channel", str), CHANNELS, "channel")
    return Submission(
        channel=cast(Channel, channel),
        category=_get(record, "category", str),
        place=_read_place(_get(record, "place", dict)),
        title=_get(record, "title", str),
        description=_get(record, "description", str),
        terms=SlaTerms(
            tier=_get(terms, "tier", str),
            accept_hours=_get(terms, "accept_hours", int),
            handle_hours=_get(terms, "handle_hours", int),
        ),
        resident=_read_resident(resident) if resident is not None else None,
        kiosk=_get(record, "kiosk", str, optional=True),
    )


def _read_rating(record: object) -> Rating:
    level = _choice(_get(record, "level", str), RATING_LEVELS, "rating")
    return Rating(
        cast(RatingLevel, level), _get(record, "solved", bool), _get(record, "comment", str)
    )


def _read_actor(record: object) -> Actor:
    kind = _choice(_get(record, "kind", str), ("resident", "staff", "system"), "actor kind")
    return Actor(
        cast(ActorKind, kind), _get(record, "id", str), _get(record, "unit", str, optional=True)
    )


def _read_at(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text)
    except ValueError as err:
        raise CorruptLog(f"'at' is not an ISO 8601 time: {text!r}") from err
    if at.tzinfo is None:
        raise CorruptLog("'at' must carry its UTC offset")
    return at


def event_from_record(record: object) -> CaseEvent:
    """Read a stored or received event; :class:`CorruptLog` says what is wrong."""
    try:
        lead = _get(record, "lead", dict, optional=True)
        rating = _get(record, "rating", dict, optional=True)
        submission = _get(record, "submission", dict, optional=True)
        co = _get(record, "co_handlers", list, optional=True) or []
        kind = _choice(_get(record, "kind", str), tuple(EventKind), "event kind")
        return CaseEvent(
            code=_get(record, "code", str),
            seq=_get(record, "seq", int),
            kind=EventKind(kind),
            at=_read_at(_get(record, "at", str)),
            actor=_read_actor(_get(record, "actor", dict)),
            reason=_get(record, "reason", str, optional=True),
            text=_get(record, "text", str, optional=True),
            lead=_read_unit(lead) if lead is not None else None,
            co_handlers=tuple(_read_unit(unit) for unit in co),
            other=_get(record, "other", str, optional=True),
            rating=_read_rating(rating) if rating is not None else None,
            submission=_read_submission(submission) if submission is not None else None,
        )
    except CaseValueError as err:
        raise CorruptLog(str(err)) from err
