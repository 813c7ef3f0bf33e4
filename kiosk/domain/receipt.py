"""Receipt layout as data: what goes on paper, independent of the printer's byte language.

The touch app builds a :data:`Receipt`; the firmware bridge turns it into ESC/POS for the
printer it owns (encoding, paper width and native-QR support are the printer's business).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from kiosk.domain.cases.codes import slip_qr
from kiosk.domain.queue import CENTRE_TIMEZONE

Align = Literal["left", "center", "right"]

MAX_TEXT = 200  # characters on one receipt line (it wraps on paper)
MAX_QR = 300  # characters in a QR code: a ticket's needs a few dozen


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text. ``scale`` multiplies width and height (1-8)."""

    text: str
    align: Align = "left"
    scale: int = 1
    bold: bool = False
    kind: Literal["text"] = "text"

    def __post_init__(self) -> None:
        _check_range("scale", self.scale, 1, 8)
        if len(self.text) > MAX_TEXT:
            raise ValueError(f"a receipt line holds at most {MAX_TEXT} characters")


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code, centred. ``module_size`` is the dot size of one module (1-16)."""

    data: str
    module_size: int = 6
    kind: Literal["qr"] = "qr"

    def __post_init__(self) -> None:
        _check_range("module_size", self.module_size, 1, 16)
        if not 1 <= len(self.data) <= MAX_QR:
            raise ValueError(f"QR data must be 1-{MAX_QR} characters")


@dataclass(frozen=True, slots=True)
class Feed:
    """Blank lines."""

    lines: int = 1
    kind: Literal["feed"] = "feed"

    def __post_init__(self) -> None:
        _check_range("lines", self.lines, 1, 10)


@dataclass(frozen=True, slots=True)
class Cut:
    """Feed past the tear bar and cut; a printer without a cutter only feeds."""

    kind: Literal["cut"] = "cut"


Block = Text | QrCode | Feed | Cut
Receipt = list[Block]


@dataclass(frozen=True, slots=True)
class TicketSlip:
    """What a queue ticket says."""

    centre_name: str
    service_name: str
    number: str
    waiting_ahead: int | None  # None: issued while the hub was unreachable, so unknown
    issued_at: datetime
    qr_data: str


def ticket_receipt(slip: TicketSlip) -> Receipt:
    """The paper queue ticket: the number large, everything else short and plain."""
    local = slip.issued_at.astimezone(CENTRE_TIMEZONE)
    if slip.waiting_ahead is None:
        waiting = "网络中断时取号，请留意叫号屏"
    else:
        waiting = f"前面还有 {slip.waiting_ahead} 人等候"
    return [
        Text(slip.centre_name, align="center", bold=True),
        Text(slip.service_name, align="center"),
        Text(slip.number, align="center", scale=4, bold=True),
        Text(waiting, align="center"),
        Text(local.strftime("%Y-%m-%d %H:%M"), align="center"),
        QrCode(slip.qr_data),
        Text("请留意叫号，过号请重新取号", align="center"),
        Cut(),
    ]


def ticket_qr_data(centre: str, day: str, number: str) -> str:
    """Short enough for a small native QR; names the ticket without personal data."""
    return f"TKT:{centre}:{day}:{number}"


@dataclass(frozen=True, slots=True)
class CaseSlip:
    """What a case slip (民情意见箱 / 党员提案) says. ``identity`` is masked, or None."""

    centre_name: str
    channel_name: str
    code: str
    category_name: str
    title: str
    submitted_at: datetime
    accept_due: datetime
    identity: str | None = None
    saved_offline: bool = False
    rating_pin: str | None = None  # 评价码 (kiosk.domain.cases.codes.rating_pin of ``code``)


CASE_TITLE_ON_SLIP = 40  # characters of the title printed; the full text is on the hub


def case_receipt(slip: CaseSlip) -> Receipt:
    """The case slip: the tracking code large, the rating PIN, and a QR of both.

    The QR holds the code and, when there is one, ``#`` and the rating PIN
    (``MQ-2026-0042-K#123456``, ``codes.slip_qr``): no URL, no personal data, so a scanner
    at the kiosk types it into 查进度 and a phone shows the same text the slip prints. The
    PIN lets the slip's holder rate the case (docs/cases.md "Who may rate"). The title is
    cut to one or two lines; it is printed as text, so markup in it prints as typed.
    """
    submitted = slip.submitted_at.astimezone(CENTRE_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    due = slip.accept_due.astimezone(CENTRE_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    title = slip.title if len(slip.title) <= CASE_TITLE_ON_SLIP else slip.title[:39] + "…"
    blocks: Receipt = []
    if slip.centre_name:
        blocks.append(Text(slip.centre_name, align="center", bold=True))
    blocks += [
        Text(slip.channel_name, align="center", scale=2, bold=True),
        Text("查询码", align="center"),
        Text(slip.code, align="center", scale=2, bold=True),
    ]
    if slip.rating_pin:
        blocks.append(Text(f"评价码 {slip.rating_pin}", align="center", bold=True))
    blocks += [
        QrCode(slip_qr(slip.code, slip.rating_pin)),
        Text(f"类别：{slip.category_name}"),
        Text(f"事项：{title}"),
        Text(f"提交时间：{submitted}"),
        Text(f"承诺受理：{due} 前"),
    ]
    if slip.identity:
        blocks.append(Text(f"登记人：{slip.identity}"))
    else:
        blocks.append(Text("匿名提交"))
    if slip.saved_offline:
        blocks.append(Text("已保存，联网后自动上传", bold=True))
    blocks += [
        Text("凭查询码在本机“查进度”查看办理情况并评价", align="center"),
        *([Text("评价码仅供本人评价，请勿告诉他人", align="center")] if slip.rating_pin else []),
        Cut(),
    ]
    return blocks
