"""Cases at the kiosk (民情意见箱 / 党员提案), without Flask: file, look up, rate, support.

docs/cases.md ("At the kiosk") is the reference. What happens where:

- **Categories and the grid tree** come from the hub (``case.categories``, ``case.grids``)
  and are kept in this kiosk's SQLite (``case_cache``), so filing works after a restart
  with the hub unreachable. A copy is refreshed after ``CACHE_TTL`` seconds when the hub
  answers; a stale copy beats no copy.
- **Tracking codes** come from blocks of sequence numbers leased from the hub
  (``case.code_block``) and kept in ``case_code_leases``. The rule (offline included):
  take the lowest unused number of a lease for the channel and the current year; if
  there is none, a number left in a lease of an earlier year (the code's year is then the
  lease's year: across New Year's Eve offline a slip still prints, and the code stays
  unique because the hub gave that number to this kiosk only); if there is none either,
  ask the hub for a block now; with the hub unreachable and no number left, filing is
  refused with a clear message (a code made up on the kiosk could collide with another
  kiosk's). Whenever fewer than ``LOW_WATER`` numbers are left, a new block is asked for
  in the background. A number is used in its own transaction before the case is built:
  a crash in between leaves a gap in the sequence, never a duplicate.
- **Filing**: the typed text is checked with the domain's rules, the ``submitted`` event
  is built with the domain's ``apply`` and this kiosk's clock (so ``accept_due`` is known
  offline), written to ``kiosk_cases`` and the outbox in one transaction
  (``link.queue_event``), and the slip goes to the printer. The outbox delivers it when
  the hub is reachable and redelivers until the hub acks it.
- **查进度**: the code is parsed first (a typo is answered at once, without the hub); a
  case still in the outbox is shown from the kiosk's own copy ("saved on this kiosk, not
  yet delivered"); anything else is asked of the hub (``case.lookup``), which answers only
  what the domain's ``resident_view`` lets a code holder see.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

from kiosk.domain.cases.codes import (
    InvalidTrackingCode,
    make_code,
    parse_code,
    pin_matches,
    rating_pin,
    split_scanned,
)
from kiosk.domain.cases.model import (
    ANONYMOUS,
    CHANNELS,
    Actor,
    CaseValueError,
    Channel,
    Place,
    Resident,
    SlaTerms,
    Submission,
    Unit,
)
from kiosk.domain.cases.public import CHANNEL_LABELS, resident_view
from kiosk.domain.cases.records import event_from_record, event_to_record
from kiosk.domain.cases.sla import accept_due
from kiosk.domain.cases.states import CorruptLog, Submit, TransitionRefused, apply, evolve
from kiosk.domain.cases.text import InvalidText, validate, validate_optional
from kiosk.domain.identity import (
    InvalidPhone,
    mask_id_number,
    mask_name,
    mask_phone,
    person_key,
    validate_phone,
)
from kiosk.domain.queue import CENTRE_TIMEZONE
from kiosk.domain.receipt import CaseSlip, case_receipt
from kiosk.hub.ratelimit import LoginLimiter  # stdlib only: no hub dependency comes with it
from kiosk.protocol.cases import (
    CaseCategoriesParams,
    CaseCategoriesResult,
    CaseCategory,
    CaseCodeBlockParams,
    CaseCodeBlockResult,
    CaseGridsParams,
    CaseGridsResult,
    CaseLookupParams,
    CaseLookupResult,
    CaseRated,
    CaseRateParams,
    CaseRateResult,
    CaseSimilarParams,
    CaseSimilarResult,
    CaseSubmitted,
    CaseSupportParams,
    CaseSupportResult,
    SimilarCase,
)
from kiosk.protocol.messages import InvalidPayload, Params, decode, new_id, utcnow
from kiosk.protocol.rpc import RpcFailed, RpcTimeout
from kiosk.protocol.topics import CASE_RATED
from kiosk.touch import resident as touch_resident
from kiosk.touch.link import KioskLink

_LOGGER = logging.getLogger(__name__)

EVENT_TYPE = "case.submitted"
SAVED_OFFLINE = "saved_offline"  # a rating's state when it waits in the outbox for the hub
CACHE_TTL = 300.0  # seconds a categories list or grid tree is used before asking again
BLOCK_SIZE = 20  # numbers asked for at a time, per channel and year
LOW_WATER = 5  # fewer left than this: ask for the next block in the background
FLOOD_LIMIT = 10  # cases filed at this kiosk ...
FLOOD_WINDOW = 600.0  # ... per this many seconds; the hub has its own limits too
MAX_DRAFTS = 16  # drafts kept in memory (one screen: a handful is plenty)
PIN_FORM = re.compile(r"[0-9]{6}")  # a rating PIN (评价码), ASCII digits
# Wrong PINs checked here while the hub is away, as the hub counts them (kiosk/hub/cases/rpc.py):
# per code, and for this kiosk, in the window; then rate_limited. Without it, pulling the
# uplink would turn the kiosk into an unlimited PIN oracle.
OFFLINE_PIN_FAILURES_PER_CODE = 5
OFFLINE_PIN_FAILURES = 10
OFFLINE_PIN_WINDOW = 10 * 60.0  # seconds
_THIS_KIOSK = "this-kiosk"

R = TypeVar("R", bound=Params)
T = TypeVar("T")

Clock = Callable[[], datetime]

# In the touch app's SQLite file, next to the outbox (one statement each: executescript
# would commit the transaction they are created in).
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS case_cache (
        name TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        fetched_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS case_code_leases (
        channel TEXT NOT NULL,
        year INTEGER NOT NULL,
        first INTEGER NOT NULL,
        last INTEGER NOT NULL,
        next INTEGER NOT NULL,
        leased_at TEXT NOT NULL,
        PRIMARY KEY (channel, year, first)
    )""",
    """CREATE TABLE IF NOT EXISTS kiosk_cases (
        code TEXT PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
)


# --- errors -------------------------------------------------------------------------------

Fault = Literal[
    "bad_channel",
    "unknown_category",
    "unknown_grid",
    "bad_building",
    "bad_text",
    "bad_phone",
    "contact_needs_phone",
    "proposal_needs_card",
    "no_categories",
    "no_codes",
    "too_many",
    "bad_code",
    "unknown_case",
    "cannot_rate",
    "bad_pin",
    "pin_required",
    "support_refused",
    "rate_limited",
    "hub_refused",
    "hub_unreachable",
]


class CaseProblem(Exception):
    """Something the resident (or an API client) must be told; ``fault`` names what.

    ``detail`` is English for logs and API clients; ``field`` names the input at fault.
    """

    def __init__(self, fault: Fault, detail: str = "", field: str = "", kind: str = "") -> None:
        super().__init__(detail or fault)
        self.fault = fault
        self.detail = detail
        self.field = field
        self.kind = kind  # for bad_text: the domain's problem (empty, too_short, too_long)


def hub_fault(err: RpcTimeout | RpcFailed, refused: Fault = "cannot_rate") -> CaseProblem:
    """The hub's answer (or its silence) as a problem to show; ``refused`` is what the
    state machine's refusal (kiosk/hub/cases/rpc.py: ``refused``) means for this call."""
    if isinstance(err, RpcTimeout):
        return CaseProblem("hub_unreachable", str(err))
    code = err.code
    if code in ("rate_limited", "too_many", "throttled"):
        return CaseProblem("rate_limited", str(err))
    if code in ("not_found", "unknown_case", "no_such_case"):
        return CaseProblem("unknown_case", str(err))
    if code == "bad_pin":
        return CaseProblem("bad_pin", str(err), "pin")
    if code == "pin_required":
        return CaseProblem("pin_required", str(err), "pin")
    if code in ("refused", "transition_refused", "cannot_rate"):
        return CaseProblem(refused, str(err))
    if code in ("invalid_text", "bad_params"):
        return CaseProblem("bad_text", str(err))
    _LOGGER.warning("the hub refused a case request: %s %s", code, err)
    return CaseProblem("hub_refused", f"{code}: {err}")


# --- what residents file -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseRequest:
    """What the screens or ``POST /api/cases`` collected (not yet checked)."""

    channel: str
    category: str
    grid: str
    title: str
    description: str = ""
    building: str | None = None
    phone: str | None = None
    contact_ok: bool = False


@dataclass(frozen=True, slots=True)
class FiledCase:
    """A case this kiosk filed: what the slip and the answer say."""

    code: str
    channel: Channel
    category_name: str
    accept_due: datetime
    submitted_at: datetime
    print_job: str
    saved_offline: bool  # the hub could not be reached when it was filed
    identity: str | None  # masked, when the resident identified
    rating_pin: str | None = None  # 评价码 on the slip; None without a deployment secret


@dataclass(frozen=True, slots=True)
class Progress:
    """The 查进度 answer: the hub's public view, or this kiosk's own copy of a new case."""

    view: CaseLookupResult
    delivered: bool  # False: still in this kiosk's outbox ("saved, not yet delivered")


@dataclass
class Draft:
    """A case being filed on the screens, one decision at a time (kept in memory only)."""

    channel: Channel
    category: str = ""
    grid: str = ""
    building: str | None = None
    title: str = ""
    description: str = ""
    identify: bool | None = None  # None: not asked yet; False: anonymous
    contact_ok: bool | None = None
    supported: bool = False
    touched: float = field(default_factory=time.monotonic)


def phone_key(secret: bytes, phone: str) -> str:
    """A person key for a resident who gave a mobile number instead of a card.

    Same HMAC and secret as :func:`kiosk.domain.identity.person_key`, over ``phone:`` and
    the digits, so it can never equal an ID number's key and the number stays on the Pi.
    """
    if len(secret) < 16:
        raise ValueError("the deployment secret must be at least 16 bytes")
    message = b"phone:" + validate_phone(phone).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def local_time(moment: datetime) -> str:
    """How slips and screens write a time: the centre's local time, to the minute."""
    return moment.astimezone(CENTRE_TIMEZONE).strftime("%Y-%m-%d %H:%M")


# --- the desk --------------------------------------------------------------------------------


class CaseDesk:
    """Files cases, keeps the caches and leases, asks the hub for progress."""

    def __init__(
        self,
        link: KioskLink,
        *,
        secret: bytes | None = None,
        clock: Clock = utcnow,
        cache_ttl: float = CACHE_TTL,
    ) -> None:
        self._link = link
        self._secret = secret
        self._clock = clock
        self._cache_ttl = cache_ttl
        self._lock = threading.Lock()
        self._fresh: dict[str, float] = {}  # cache name -> monotonic time it was fetched
        self._memory: dict[str, Params] = {}
        self._topping_up: set[tuple[str, int]] = set()
        self._recent: deque[float] = deque()
        self._filed: OrderedDict[str, FiledCase] = OrderedDict()
        self._drafts: OrderedDict[str, Draft] = OrderedDict()
        self._schema_ready = False
        self.offline_pins = LoginLimiter(
            per_account=OFFLINE_PIN_FAILURES_PER_CODE,
            per_address=OFFLINE_PIN_FAILURES,
            window=OFFLINE_PIN_WINDOW,
        )

    # --- storage ------------------------------------------------------------------------

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the kiosk's file (the outbox's), tables made on first use."""
        with self._link.outbox.transaction() as conn:
            if not self._schema_ready:
                for statement in SCHEMA:
                    conn.execute(statement)
                self._schema_ready = True
            yield conn

    def _rpc(self, method: str, params: Params, result_type: type[R]) -> R:
        return self._link._call(method, params, result_type)

    # --- categories and the grid tree (cached) ---------------------------------------------

    def categories(self) -> list[CaseCategory]:
        """The categories, from the hub or the kiosk's copy; ``no_categories`` if neither."""
        result = self._cached("categories", CaseCategoriesParams(), CaseCategoriesResult)
        if result is None:
            raise CaseProblem("no_categories", "no categories yet and the hub cannot be reached")
        return result.categories

    def grids(self) -> CaseGridsResult:
        result = self._cached("grids", CaseGridsParams(), CaseGridsResult)
        if result is None:
            raise CaseProblem("no_categories", "no grid tree yet and the hub cannot be reached")
        return result

    def category(self, category_id: str) -> CaseCategory:
        for category in self.categories():
            if category.id == category_id:
                return category
        raise CaseProblem("unknown_category", f"no category {category_id!r}", "category")

    def place(self, grid_id: str, building: str | None = None) -> Place:
        """The place of a grid (or of a community: grid left open) in the tree."""
        tree = self.grids()
        for street in tree.streets:
            street_unit = Unit(street.id, "street", street.name)
            for community in street.communities:
                community_unit = Unit(community.id, "community", community.name)
                if community.id == grid_id:
                    return _place(street_unit, community_unit, None, building)
                for grid in community.grids:
                    if grid.id == grid_id:
                        unit = Unit(grid.id, "grid", grid.name)
                        return _place(street_unit, community_unit, unit, building)
        raise CaseProblem("unknown_grid", f"no grid or community {grid_id!r}", "grid")

    def _cached(self, name: str, params: Params, result_type: type[R]) -> R | None:
        with self._lock:
            held = self._memory.get(name)
            fetched = self._fresh.get(name, 0.0)
        if isinstance(held, result_type) and time.monotonic() - fetched < self._cache_ttl:
            return held
        copy = held if isinstance(held, result_type) else self._stored(name, result_type)
        # A hub that stopped answering is not waited for when a copy exists (rpc_timeout
        # per screen would be long for a resident); the background probe notices its return.
        if not self._link.hub_known_offline and not (copy and self._link.hub_unreachable):
            try:
                result = self._rpc(f"case.{name}", params, result_type)
            except (RpcTimeout, RpcFailed) as err:
                _LOGGER.warning("case.%s: %s; using the kiosk's copy", name, err)
            else:
                self._remember(name, result)
                return result
        return copy

    def _remember(self, name: str, result: Params) -> None:
        with self._lock:
            self._memory[name] = result
            self._fresh[name] = time.monotonic()
        with self._db() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO case_cache (name, body, fetched_at) VALUES (?, ?, ?)",
                (name, result.model_dump_json(), self._clock().isoformat()),
            )

    def _stored(self, name: str, result_type: type[R]) -> R | None:
        with self._db() as conn:
            row = conn.execute("SELECT body FROM case_cache WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        try:
            result = result_type.model_validate_json(row[0])
        except ValueError:
            _LOGGER.warning("the kiosk's copy of case.%s is unreadable; ignoring it", name)
            return None
        with self._lock:
            self._memory.setdefault(name, result)  # fresh time stays 0: ask again next time
        return result

    # --- tracking codes (leased blocks) -----------------------------------------------------

    def numbers_left(self, channel: Channel, year: int) -> int:
        with self._db() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(last - next + 1), 0) FROM case_code_leases"
                " WHERE channel = ? AND year = ? AND next <= last",
                (channel, year),
            ).fetchone()
        return int(row[0])

    def lease(self, channel: Channel, year: int, size: int = BLOCK_SIZE) -> int:
        """Ask the hub for a block now; returns how many numbers it gave."""
        params = CaseCodeBlockParams(channel=channel, year=year, size=size)
        block = self._rpc("case.code_block", params, CaseCodeBlockResult)
        if block.channel != channel or block.last < block.first:
            raise RpcFailed("bad_reply", "the hub's code block does not fit the request")
        with self._db() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO case_code_leases"
                " (channel, year, first, last, next, leased_at) VALUES (?, ?, ?, ?, ?, ?)",
                (channel, block.year, block.first, block.last, block.first, _iso(self._clock())),
            )
        return block.last - block.first + 1

    def prepare(self) -> None:
        """Top up the leases in the background (the cases screens call this when opened)."""
        year = self._clock().astimezone(CENTRE_TIMEZONE).year
        for channel in CHANNELS:
            self._top_up_later(channel, year)

    def _top_up_later(self, channel: Channel, year: int) -> None:
        if self._link.hub_unreachable or self.numbers_left(channel, year) >= LOW_WATER:
            return
        with self._lock:
            if (channel, year) in self._topping_up:
                return
            self._topping_up.add((channel, year))

        def top_up() -> None:
            try:
                self.lease(channel, year)
            except (RpcTimeout, RpcFailed) as err:
                _LOGGER.warning("no new %s code block: %s", channel, err)
            finally:
                with self._lock:
                    self._topping_up.discard((channel, year))

        threading.Thread(target=top_up, name="case-codes", daemon=True).start()

    def _take_number(self, channel: Channel, year: int) -> tuple[int, int] | None:
        """(year, seq) of the next unused leased number, marked used; None when none is left."""
        with self._db() as conn:
            row = conn.execute(
                "SELECT year, first, next FROM case_code_leases"
                " WHERE channel = ? AND next <= last AND year <= ?"
                " ORDER BY year = ? DESC, year, first LIMIT 1",
                (channel, year, year),
            ).fetchone()
            if row is None:
                return None
            lease_year, first, seq = int(row[0]), int(row[1]), int(row[2])
            conn.execute(
                "UPDATE case_code_leases SET next = next + 1"
                " WHERE channel = ? AND year = ? AND first = ?",
                (channel, lease_year, first),
            )
        return lease_year, seq

    def new_code(self, channel: Channel) -> str:
        """A tracking code for a new case (the rule is in the module docstring)."""
        year = self._clock().astimezone(CENTRE_TIMEZONE).year
        taken = self._take_number(channel, year)
        if taken is None and not self._link.hub_known_offline:
            try:
                self.lease(channel, year)
            except (RpcTimeout, RpcFailed) as err:
                _LOGGER.warning("no %s code block: %s", channel, err)
            taken = self._take_number(channel, year)
        if taken is None:
            raise CaseProblem("no_codes", "no tracking codes left on this kiosk, hub unreachable")
        self._top_up_later(channel, year)
        return make_code(channel, *taken)

    # --- filing -------------------------------------------------------------------------

    def check(
        self, request: CaseRequest, resident: touch_resident.Resident | None
    ) -> tuple[Submission, Actor]:
        """The submission and who files it, or :class:`CaseProblem` naming what is wrong."""
        if request.channel not in CHANNELS:
            raise CaseProblem("bad_channel", "channel must be 'box' or 'proposal'", "channel")
        channel = request.channel
        category = self.category(request.category)
        place = self.place(request.grid, request.building)
        title = checked_text("title", request.title)
        description = checked_text("description", request.description)
        who = self._resident(channel, request, resident)
        terms = SlaTerms(category.tier, category.accept_hours, category.handle_hours)
        submission = Submission(
            channel=channel,
            category=category.id,
            place=place,
            title=title,
            description=description,
            terms=terms,
            resident=who,
            kiosk=self._link.kiosk,
        )
        actor = Actor("resident", who.person_key if who else ANONYMOUS)
        return submission, actor

    def _resident(
        self, channel: Channel, request: CaseRequest, resident: touch_resident.Resident | None
    ) -> Resident | None:
        card = resident.id_number if resident is not None else None
        if channel == "proposal" and card is None:
            raise CaseProblem(
                "proposal_needs_card", "a party-member proposal needs an ID card on the reader"
            )
        phone = request.phone or (resident.phone if resident is not None else "") or None
        if phone is not None:
            try:
                phone = validate_phone(phone)
            except InvalidPhone as err:
                raise CaseProblem("bad_phone", str(err), "phone") from err
        if request.contact_ok and phone is None:
            raise CaseProblem("contact_needs_phone", "contact_ok needs a phone", "contact_ok")
        if resident is None and phone is None:
            return None  # anonymous (民情意见箱 only)
        secret = self._secret
        if secret is None:
            raise CaseProblem(
                "no_codes", "this kiosk has no deployment secret: it cannot file identified cases"
            )
        if card is not None and resident is not None:
            key = person_key(secret, card.value)
            name = mask_name(resident.name) or None
        else:
            key, name = phone_key(secret, cast(str, phone)), None
        return Resident(
            person_key=key,
            masked_name=name,
            masked_phone=mask_phone(phone) if phone else None,
            contact_ok=request.contact_ok,
        )

    def submit(self, request: CaseRequest, resident: touch_resident.Resident | None) -> FiledCase:
        """File the case: saved on the kiosk and queued for the hub, then the slip prints."""
        submission, actor = self.check(request, resident)
        self._count_filing()
        code = self.new_code(submission.channel)
        try:
            event = apply(None, Submit(actor=actor, code=code, submission=submission), self._clock)
        except InvalidText as err:
            raise CaseProblem("bad_text", str(err), err.field, err.problem) from err
        except (TransitionRefused, CaseValueError) as err:
            raise CaseProblem("bad_text", str(err)) from err
        record = event_to_record(event)
        message = CaseSubmitted(kiosk=self._link.kiosk, code=code, record=record)
        saved_offline = self._link.hub_unreachable or not self._link.hub_online

        def keep(conn: sqlite3.Connection) -> None:
            conn.execute(SCHEMA_INSERT, (code, message.id, json.dumps(record), _iso(event.at)))

        self._ensure_schema()
        self._link.queue_event(EVENT_TYPE, message, keep)
        case = evolve(None, event)
        category = self.category(submission.category)
        identity = _masked(resident, submission.resident)
        due = accept_due(case)
        pin = rating_pin(self._secret, code) if self._secret is not None else None
        slip = CaseSlip(
            centre_name=self._centre_name(),
            channel_name=CHANNEL_LABELS[submission.channel],
            code=code,
            category_name=category.name,
            title=submission.title,
            submitted_at=event.at,
            accept_due=due,
            identity=identity,
            saved_offline=saved_offline,
            rating_pin=pin,
        )
        job = self._link.print(case_receipt(slip), label=f"case {code}")
        filed = FiledCase(
            code=code,
            channel=submission.channel,
            category_name=category.name,
            accept_due=due,
            submitted_at=event.at,
            print_job=job,
            saved_offline=saved_offline,
            identity=identity,
            rating_pin=pin,
        )
        with self._lock:
            self._filed[code] = filed
            while len(self._filed) > 64:
                self._filed.popitem(last=False)
        _LOGGER.info("case %s filed (%s)", code, "saved offline" if saved_offline else "queued")
        return filed

    def filed(self, code: str) -> FiledCase | None:
        """A case this process filed recently (for its slip page)."""
        with self._lock:
            return self._filed.get(code)

    def _ensure_schema(self) -> None:
        if not self._schema_ready:
            with self._db():
                pass

    def _count_filing(self) -> None:
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] > FLOOD_WINDOW:
                self._recent.popleft()
            if len(self._recent) >= FLOOD_LIMIT:
                raise CaseProblem("too_many", "too many cases from this kiosk in a short time")
            self._recent.append(now)

    def _centre_name(self) -> str:
        cached = self._link.cached_services
        return cached.centre_name if cached else ""

    # --- similar cases and 我也遇到了 -------------------------------------------------

    def similar(self, category: str, grid: str) -> list[SimilarCase]:
        """Open cases in the same grid and category; none when the hub cannot be asked."""
        if self._link.hub_unreachable:
            return []
        try:
            result = self._rpc(
                "case.similar", CaseSimilarParams(category=category, grid=grid), CaseSimilarResult
            )
        except (RpcTimeout, RpcFailed) as err:
            _LOGGER.warning("case.similar: %s", err)
            return []
        return result.cases

    def support(
        self, token: str, resident: touch_resident.Resident | None, event_id: str | None = None
    ) -> int:
        """Add this resident's support; returns the supporter count."""
        params = CaseSupportParams(
            support_token=token,
            event_id=event_id or new_id(),
            person_key=self._key_of(resident),
        )
        try:
            return self._rpc("case.support", params, CaseSupportResult).supporters
        except (RpcTimeout, RpcFailed) as err:
            raise hub_fault(err, refused="support_refused") from err

    def _key_of(self, resident: touch_resident.Resident | None) -> str | None:
        if resident is None or self._secret is None:
            return None
        if resident.id_number is not None:
            return person_key(self._secret, resident.id_number.value)
        return phone_key(self._secret, resident.phone) if resident.phone else None

    def _card_key(self, resident: touch_resident.Resident | None) -> str | None:
        """The person key of an ID card on the reader (proof of who rates), else None."""
        if resident is None or resident.id_number is None or self._secret is None:
            return None
        return person_key(self._secret, resident.id_number.value)

    # --- 查进度 and rating ----------------------------------------------------------

    def lookup(self, typed: str) -> Progress:
        """查进度 for a typed or scanned code: typos answered at once; a case still in this
        kiosk's outbox is shown from its own copy when the hub does not know it (yet)."""
        code = _parse(typed)
        local = self._pending_view(code)
        if local is not None and self._link.hub_unreachable:
            return Progress(local, delivered=False)  # no point waiting for a silent hub
        try:
            view = self._rpc("case.lookup", CaseLookupParams(code=code), CaseLookupResult)
        except (RpcTimeout, RpcFailed) as err:
            if local is not None:
                return Progress(local, delivered=False)
            raise hub_fault(err) from err
        return Progress(view, delivered=True)

    def rate(
        self,
        typed: str,
        rating: str,
        solved: bool,
        comment: str,
        resident: touch_resident.Resident | None,
        event_id: str | None = None,
        *,
        pin: str | None = None,
    ) -> CaseRateResult:
        """Send the verdict. Who may rate (docs/cases.md "Who may rate"): the holder of the
        slip's PIN, or the submitter with their ID card on the reader; the hub decides.
        A typed phone number proves nothing, so only a card's person key is sent."""
        code = _parse(typed)
        if rating not in ("satisfied", "basic", "unsatisfied"):
            raise CaseProblem(
                "bad_text", "rating must be satisfied, basic or unsatisfied", "rating"
            )
        text = checked_text("comment", comment)
        params = CaseRateParams(
            code=code,
            rating=cast(Any, rating),
            solved=solved,
            comment=text,
            event_id=event_id or new_id(),
            person_key=self._card_key(resident),
            pin=_checked_pin(pin),
        )
        try:
            return self._rpc("case.rate", params, CaseRateResult)
        except RpcTimeout:
            return self._rate_later(params)
        except RpcFailed as err:
            problem = hub_fault(err)
            if problem.fault == "unknown_case" and code in self.pending_codes():
                raise CaseProblem("cannot_rate", "the case has not reached the hub yet") from err
            raise problem from err

    def _rate_later(self, params: CaseRateParams) -> CaseRateResult:
        """The hub is unreachable: keep the rating in the outbox; the hub checks it when
        it is back. A PIN is checked here already (the kiosk holds the deployment secret),
        so a typo is answered now, not lost later."""
        secret, pin = self._secret, params.pin
        if pin is not None and secret is not None:
            self._check_offline_pin(secret, params.code, pin)
        event = CaseRated(kiosk=self._link.kiosk, rate=params, id=params.event_id)
        self._link.queue_event(CASE_RATED, event)
        return CaseRateResult(code=params.code, state=SAVED_OFFLINE, status="已保存，联网后提交")

    def _check_offline_pin(self, secret: bytes, code: str, pin: str) -> None:
        """``bad_pin`` for a wrong PIN, ``rate_limited`` once too many were wrong lately
        (for this code, or for any codes at this kiosk), even before the right one."""
        if self.offline_pins.retry_after(code, _THIS_KIOSK) is not None:
            raise CaseProblem("rate_limited", "too many wrong rating PINs at this kiosk")
        if not pin_matches(secret, code, pin):
            self.offline_pins.failed(code, _THIS_KIOSK)
            raise CaseProblem("bad_pin", "wrong rating PIN", "pin")
        self.offline_pins.succeeded(code, _THIS_KIOSK)

    def pending_codes(self) -> set[str]:
        """Codes of cases still in this kiosk's outbox (not yet acked by the hub)."""
        codes = set()
        for payload in self._link.outbox.pending(EVENT_TYPE):
            try:
                codes.add(decode(CaseSubmitted, payload).code)
            except InvalidPayload:
                continue
        return codes

    def _pending_view(self, code: str) -> CaseLookupResult | None:
        if code not in self.pending_codes():
            return None
        with self._db() as conn:
            row = conn.execute("SELECT record FROM kiosk_cases WHERE code = ?", (code,)).fetchone()
        if row is None:
            return None
        try:
            case = evolve(None, event_from_record(json.loads(row[0])))
        except (CorruptLog, ValueError):
            return None
        names = {c.id: c.name for c in self._categories_or_none()}
        view = resident_view(case, category_names=names)
        # Not on the hub yet: nothing to rate until staff have resolved it there.
        return CaseLookupResult.of(view, str(case.state), can_rate=False)

    def _categories_or_none(self) -> list[CaseCategory]:
        try:
            return self.categories()
        except CaseProblem:
            return []

    # --- drafts (the screens' flow) ---------------------------------------------------

    def new_draft(self, channel: Channel) -> str:
        draft_id = new_id()
        with self._lock:
            self._drafts[draft_id] = Draft(channel)
            while len(self._drafts) > MAX_DRAFTS:
                self._drafts.popitem(last=False)
        return draft_id

    def draft(self, draft_id: object, max_age: float) -> Draft | None:
        if not isinstance(draft_id, str):
            return None
        with self._lock:
            draft = self._drafts.get(draft_id)
            if draft is not None and time.monotonic() - draft.touched > max_age:
                del self._drafts[draft_id]
                return None
            if draft is not None:
                draft.touched = time.monotonic()
            return draft

    def drop_draft(self, draft_id: object) -> None:
        if isinstance(draft_id, str):
            with self._lock:
                self._drafts.pop(draft_id, None)


SCHEMA_INSERT = (
    "INSERT OR REPLACE INTO kiosk_cases (code, event_id, record, created_at) VALUES (?, ?, ?, ?)"
)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _checked_pin(pin: str | None) -> str | None:
    if pin is None:
        return None
    if not PIN_FORM.fullmatch(pin):
        raise CaseProblem("bad_pin", "a rating PIN is 6 digits", "pin")
    return pin


def scanned(typed: str) -> tuple[str, str | None]:
    """A 查进度 entry as (canonical code, PIN or None): a slip's QR carries both
    (``MQ-2026-0042-K#123456``); ``bad_code`` for a typo in either."""
    try:
        code_text, pin = split_scanned(typed[:80])
    except InvalidTrackingCode as err:
        raise CaseProblem("bad_code", str(err), "code") from err
    return _parse(code_text), pin


def _parse(typed: str) -> str:
    try:
        return str(parse_code(typed[:80]))
    except InvalidTrackingCode as err:
        raise CaseProblem("bad_code", str(err), "code") from err


def checked_text(name: Literal["title", "description", "comment"], value: str) -> str:
    """The cleaned text (the domain's rules), or ``bad_text`` naming the field and problem."""
    try:
        if name == "title":
            return validate(name, value)
        return validate_optional(name, value) or ""
    except InvalidText as err:
        raise CaseProblem("bad_text", str(err), err.field, err.problem) from err


def _place(street: Unit, community: Unit, grid: Unit | None, building: str | None) -> Place:
    label = building.strip() if building else None
    try:
        return Place(street, community, grid, label or None)
    except CaseValueError as err:
        raise CaseProblem("bad_building", str(err), "building") from err


def _masked(at_kiosk: touch_resident.Resident | None, filed: Resident | None) -> str | None:
    """The slip's "who": masked name and ID number, or the masked phone; None if anonymous."""
    if filed is None:
        return None
    parts = [filed.masked_name]
    if at_kiosk is not None and at_kiosk.id_number is not None:
        parts.append(mask_id_number(at_kiosk.id_number.value))
    parts.append(filed.masked_phone)
    return " ".join(part for part in parts if part) or None
