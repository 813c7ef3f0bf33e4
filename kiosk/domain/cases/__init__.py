"""Cases: the suggestion box (民情意见箱) and party-member proposals (党员提案), closed loop.

Pure rules, no I/O (docs/cases.md):

- ``model``: value types (units, places, actors, ratings, SLA terms, submissions);
- ``states``: the transition table, commands, :func:`apply`, :func:`replay`;
- ``sla``: acceptance and handling clocks, due times, overdue;
- ``metrics``: 受理及时率, 办结率, 解决率, 满意率, overdue rate, average handling time;
- ``codes``: tracking codes with a check letter;
- ``public``: what residents and the public board may see;
- ``text``: input rules for typed text;
- ``records``: events as JSON-ready dicts.
"""

from kiosk.domain.cases.codes import InvalidTrackingCode, TrackingCode, make_code, parse_code
from kiosk.domain.cases.model import (
    ANONYMOUS,
    Actor,
    CaseValueError,
    Channel,
    Place,
    Rating,
    Resident,
    SlaTerms,
    Submission,
    Unit,
)
from kiosk.domain.cases.states import (
    TRANSITIONS,
    Absorb,
    Accept,
    Action,
    Case,
    CaseEvent,
    CasePolicy,
    CaseState,
    Claim,
    Close,
    Command,
    CorruptLog,
    Dispatch,
    Escalate,
    EventKind,
    Merge,
    NotAdmissible,
    Note,
    Rate,
    Resolve,
    Rework,
    Submit,
    Support,
    TransitionRefused,
    apply,
    evolve,
    replay,
)
from kiosk.domain.cases.text import InvalidText

__all__ = [
    "ANONYMOUS",
    "TRANSITIONS",
    "Absorb",
    "Accept",
    "Action",
    "Actor",
    "Case",
    "CaseEvent",
    "CasePolicy",
    "CaseState",
    "CaseValueError",
    "Channel",
    "Claim",
    "Close",
    "Command",
    "CorruptLog",
    "Dispatch",
    "Escalate",
    "EventKind",
    "InvalidText",
    "InvalidTrackingCode",
    "Merge",
    "NotAdmissible",
    "Note",
    "Place",
    "Rate",
    "Rating",
    "Resident",
    "Resolve",
    "Rework",
    "SlaTerms",
    "Submission",
    "Submit",
    "Support",
    "TrackingCode",
    "TransitionRefused",
    "Unit",
    "apply",
    "evolve",
    "make_code",
    "parse_code",
    "replay",
]
