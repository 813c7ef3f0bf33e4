"""公示: the public board of a community's cases. Open without login, like the call
display: only :func:`kiosk.domain.cases.public.board` rows (no code, no resident text, no
names, no notes), and only categories marked for the board."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from kiosk.domain.cases.public import NOT_ON_BOARD, board
from kiosk.hub.cases.store import CaseStore
from kiosk.hub.models import CaseRow

bp = Blueprint("cases_board", __name__, url_prefix="/board")

MAX_ROWS = 200


@bp.get("/<community>")
def community_board(community: str) -> str:
    found = current_app.extensions["kiosk_cases"]
    if not isinstance(found, CaseStore):  # pragma: no cover - set by create_app
        raise RuntimeError("no case store")
    d = found.directory
    info = d.units.get(community)
    if info is None or info.unit.level != "community":
        abort(404, description="没有这个社区（no such community）")
    shown = [c.id for c in d.categories.values() if c.board]
    # The newest MAX_ROWS the board would show, chosen in SQL: only they are replayed, so
    # the page costs the same after years of cases.
    newest = found.rows(
        CaseRow.community == community,
        CaseRow.category.in_(shown),
        CaseRow.limited.is_(False),
        CaseRow.state.not_in([str(state) for state in NOT_ON_BOARD]),
        limit=MAX_ROWS,
    )
    cases = found.cases(CaseRow.id.in_([row.id for row in newest]))
    entries = board(cases, community, d.category_names())[:MAX_ROWS]
    return render_template("cases/board.html", community=info.unit, entries=entries)
