"""docs/cases.md shows the transition table the code enforces."""

from __future__ import annotations

from pathlib import Path

from kiosk.domain.cases.states import transition_table_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "cases.md"


def test_the_docs_show_the_table_the_code_enforces() -> None:
    assert transition_table_markdown() in DOC.read_text(encoding="utf-8"), (
        "docs/cases.md is out of date: paste transition_table_markdown() into it"
    )
