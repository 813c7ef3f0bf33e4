"""The cases part of the MQTT contract: rpc methods ``case.*`` and the ``case.submitted`` event.

docs/cases.md ("MQTT") describes how the kiosk and the hub use them. What a kiosk may ask
about a case is what a resident may see (``kiosk.domain.cases.public``): no internal notes,
no staff names, no identity, and never another case's tracking code.

Imported by :mod:`kiosk.protocol.messages` (which registers the methods and the event type);
import this module's names from either.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from kiosk.domain.cases.public import ResidentView
from kiosk.domain.cases.records import event_from_record
from kiosk.domain.cases.states import CorruptLog, EventKind
from kiosk.protocol.messages import Envelope, Params

CaseChannel = Literal["box", "proposal"]
RatingLevel = Literal["satisfied", "basic", "unsatisfied"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"
_CODE = Field(min_length=6, max_length=40, description="a tracking code, e.g. MQ-2026-0042-Q")
_EVENT_ID = Field(
    min_length=1, max_length=64, description="makes the call idempotent: a retry does it once"
)
_PERSON_KEY = Field(
    default=None,
    pattern=_ID,
    description="the resident's person key (HMAC of the ID number, kiosk/domain/identity.py), "
    "when they identified; never the raw number",
)


# --- case.categories ---------------------------------------------------------------


class CaseCategory(Params):
    """A category a resident can pick; the terms let the kiosk print the promise offline."""

    id: str = Field(pattern=_ID)
    name: str
    icon: str = Field(description="an icon name of the kiosk's vendored icon set")
    tier: str
    accept_hours: int = Field(ge=1)
    handle_hours: int = Field(ge=1)


class CaseCategoriesParams(Params):
    pass


class CaseCategoriesResult(Params):
    categories: list[CaseCategory]


# --- case.grids ----------------------------------------------------------------------


class GridNode(Params):
    """A grid (网格) and the buildings in it (a building is a label, not a unit)."""

    id: str = Field(pattern=_ID)
    name: str
    buildings: list[str]


class CommunityNode(Params):
    id: str = Field(pattern=_ID)
    name: str
    grids: list[GridNode]


class StreetNode(Params):
    id: str = Field(pattern=_ID)
    name: str
    communities: list[CommunityNode]


class CaseGridsParams(Params):
    pass


class CaseGridsResult(Params):
    """The four-level tree street → community → grid → building of the kiosk's centre.

    ``community`` is the kiosk's own community: the place a resident's case defaults to.
    """

    streets: list[StreetNode]
    community: str


# --- case.similar --------------------------------------------------------------------


class SimilarCase(Params):
    """An open case in the same grid and category, as the public board shows it.

    No tracking code and no resident text; ``support_token`` is opaque and only good for
    ``case.support``.
    """

    support_token: str
    category: str
    summary: str
    status: str
    submitted_on: str = Field(description="local date, YYYY-MM-DD")
    supporters: int = Field(ge=0)


class CaseSimilarParams(Params):
    category: str = Field(pattern=_ID)
    grid: str = Field(pattern=_ID)


class CaseSimilarResult(Params):
    cases: list[SimilarCase] = Field(max_length=20)


# --- case.support --------------------------------------------------------------------


class CaseSupportParams(Params):
    """我也遇到了: add support to a similar case instead of filing a duplicate."""

    support_token: str = Field(min_length=1, max_length=128)
    event_id: str = _EVENT_ID
    person_key: str | None = _PERSON_KEY


class CaseSupportResult(Params):
    supporters: int = Field(ge=0)


# --- case.lookup ---------------------------------------------------------------------


class TimelineEntry(Params):
    at: AwareDatetime
    title: str
    detail: str


class CaseLookupParams(Params):
    code: str = _CODE


class CaseLookupResult(Params):
    """查进度: what the holder of the code may see, in plain words."""

    code: str
    channel: str
    category: str
    state: str = Field(description="the machine state (submitted, …, closed)")
    status: str = Field(description="the state as residents read it (待受理, …)")
    title: str
    description: str
    accept_due: AwareDatetime
    handle_due: AwareDatetime | None
    supporters: int = Field(ge=0)
    can_rate: bool
    steps: list[TimelineEntry]

    @classmethod
    def of(cls, view: ResidentView, state: str, *, can_rate: bool) -> CaseLookupResult:
        """The domain's resident view as it travels (``state`` is the machine state)."""
        return cls(
            code=view.code,
            channel=view.channel,
            category=view.category,
            state=state,
            status=view.status,
            title=view.title,
            description=view.description,
            accept_due=view.accept_due,
            handle_due=view.handle_due,
            supporters=view.supporters,
            can_rate=can_rate,
            steps=[TimelineEntry(at=s.at, title=s.title, detail=s.detail) for s in view.steps],
        )


# --- case.rate -----------------------------------------------------------------------


class CaseRateParams(Params):
    """The resident's verdict. Who may give it (docs/cases.md "Who may rate"): whoever
    shows the slip's rating PIN (``pin``, kiosk.domain.cases.codes.rating_pin), or an
    identified resident rating their own case by ID card (``person_key`` the submitter's;
    the kiosk sends a card's key only, never a typed phone's). Otherwise the hub refuses
    with ``pin_required``; a wrong PIN with ``bad_pin``; after too many wrong PINs from a
    kiosk, its ratings are refused with ``rate_limited`` for a while."""

    code: str = _CODE
    rating: RatingLevel
    solved: bool
    comment: str = Field(default="", max_length=2000)
    event_id: str = _EVENT_ID
    person_key: str | None = _PERSON_KEY
    pin: str | None = Field(
        default=None,
        pattern=r"^[0-9]{6}$",
        description="the 6-digit rating PIN (评价码) printed on the case slip",
    )


class CaseRateResult(Params):
    code: str
    state: str
    status: str


# --- case.code_block -----------------------------------------------------------------


class CaseCodeBlockParams(Params):
    """Lease tracking-code sequence numbers, so the kiosk can print slips offline."""

    channel: CaseChannel
    year: int = Field(ge=2000, le=9999)
    size: int = Field(default=20, ge=1, le=200)


class CaseCodeBlockResult(Params):
    """Numbers ``first``…``last`` (inclusive) of ``channel`` and ``year`` are this kiosk's:
    ``make_code(channel, year, n)`` gives the codes. The hub gives them to no one else."""

    channel: CaseChannel
    year: int
    first: int = Field(ge=1)
    last: int = Field(ge=1)


CASE_RPC_METHODS: dict[str, tuple[type[Params], type[Params]]] = {
    "case.categories": (CaseCategoriesParams, CaseCategoriesResult),
    "case.grids": (CaseGridsParams, CaseGridsResult),
    "case.similar": (CaseSimilarParams, CaseSimilarResult),
    "case.support": (CaseSupportParams, CaseSupportResult),
    "case.lookup": (CaseLookupParams, CaseLookupResult),
    "case.rate": (CaseRateParams, CaseRateResult),
    "case.code_block": (CaseCodeBlockParams, CaseCodeBlockResult),
}


# --- case.submitted (event) ------------------------------------------------------------


class CaseSubmitted(Envelope):
    """Kiosk → hub on ``svc/v1/kiosk/{kiosk}/event/case.submitted``, QoS 1, via the outbox.

    ``id`` is the event id: the hub applies it once and acks it. ``record`` is the
    ``submitted`` event the kiosk made with ``apply(None, Submit(…), clock)`` and wrote
    with ``event_to_record`` (channel box|proposal, category, place with grid and
    building, title, description, SLA terms, and for an identified resident the person
    key, masked name and phone and contact_ok; never raw identity). The kiosk's clock
    dates it, so it can be made offline. ``code`` repeats the record's tracking code.
    """

    kiosk: str = Field(min_length=1, max_length=32)
    code: str = _CODE
    record: dict[str, Any]

    @model_validator(mode="after")
    def _a_submitted_event(self) -> CaseSubmitted:
        try:
            event = event_from_record(self.record)
        except (CorruptLog, ValueError) as err:
            raise ValueError(f"record is not a case event: {err}") from err
        if event.kind is not EventKind.SUBMITTED or event.seq != 1:
            raise ValueError("record must be the case's submitted event (seq 1)")
        if event.code != self.code:
            raise ValueError(f"record is for {event.code}, not {self.code}")
        submission = event.submission
        if submission is None or submission.kiosk not in (None, self.kiosk):
            raise ValueError("record names another kiosk")
        return self

    @property
    def submitted_at(self) -> datetime:
        return event_from_record(self.record).at


class CaseRated(Envelope):
    """Kiosk → hub on ``svc/v1/kiosk/{kiosk}/event/case.rated``, QoS 1, via the outbox: a
    rating given while the hub could not be reached. ``rate.event_id`` equals the envelope
    ``id``. The hub checks it as it checks ``case.rate`` (PIN or the submitter's card); one
    it refuses (wrong PIN, a case not resolved) is kept with the reason, and acked."""

    kiosk: str = Field(min_length=1, max_length=32)
    rate: CaseRateParams
