"""The fault suite's table: one row per fault (per round in soak mode)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "faults.md"
HEADER = (
    "fault",
    "created",
    "delivered",
    "duplicates",
    "lost",
    "recovery s",
    "created by kind",
    "unconfirmed",
)


@dataclass(frozen=True, slots=True)
class Row:
    fault: str
    created: int
    delivered: int
    duplicates: int
    lost: int
    recovery: float | None  # None: the kiosks did not recover within the bound
    unconfirmed: str  # requests the kiosks did not confirm, by kind and status
    mix: str = ""  # created by kind: "ticket 60, help 14, case 12"

    def cells(self) -> tuple[str, ...]:
        recovery = "—" if self.recovery is None else f"{self.recovery:.1f}"
        return (
            self.fault,
            str(self.created),
            str(self.delivered),
            str(self.duplicates),
            str(self.lost),
            recovery,
            self.mix,
            self.unconfirmed or "0",
        )


ROWS: list[Row] = []


def add(row: Row) -> None:
    ROWS.append(row)
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(markdown(ROWS), encoding="utf-8")


def markdown(rows: list[Row]) -> str:
    lines = [
        "# Fault suite",
        "",
        "created: events the kiosks confirmed (tickets, calls for staff, cases); "
        "delivered: found once in the hub's database; recovery: seconds from healing the "
        "fault until every kiosk is online at the hub and a new ticket reaches it; "
        "unconfirmed: requests answered otherwise (status 0: no answer).",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def text_table(rows: list[Row]) -> str:
    table = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in table
    )
