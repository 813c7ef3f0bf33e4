"""The grid tree, departments, categories and routes, from settings.hub.cases.

Settings are the source; :func:`seed` copies them into the tables at start (so unit
memberships have something to point at and SQL can join), and :class:`Directory` is the
validated in-memory copy every request reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kiosk.domain.cases.model import LADDER, Place, SlaTerms, Unit
from kiosk.domain.cases.sla import SlaPolicy
from kiosk.domain.cases.states import CasePolicy
from kiosk.hub.models import CaseCategory, CaseRoute, CaseUnit
from kiosk.settings import CasesSettings


class DirectoryError(ValueError):
    """settings.hub.cases does not describe a usable tree; the message says where."""


@dataclass(frozen=True, slots=True)
class UnitInfo:
    unit: Unit
    parent: str | None
    centre: str | None
    buildings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    id: str
    name: str
    icon: str
    tier: str
    default_unit: str | None
    board: bool


@dataclass
class Directory:
    units: dict[str, UnitInfo]
    categories: dict[str, CategoryInfo]
    routes: dict[tuple[str, str], str]
    sla: SlaPolicy
    policy: CasePolicy
    per_kiosk_per_hour: int = 30
    per_person_per_day: int = 5
    children: dict[str | None, list[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: CasesSettings) -> Directory:
        units = _units(settings)
        sla = SlaPolicy(accept_hours=settings.accept_hours, tiers=dict(settings.tiers))
        categories = _categories(settings, units, sla)
        routes: dict[tuple[str, str], str] = {}
        for route in settings.routes:
            for what, value in (("grid", route.grid), ("unit", route.unit)):
                if value not in units:
                    raise DirectoryError(f"cases: a route names unknown {what} {value}")
            if route.category not in categories:
                raise DirectoryError(f"cases: a route names unknown category {route.category}")
            routes[(route.category, route.grid)] = route.unit
        children: dict[str | None, list[str]] = {}
        for info in units.values():
            children.setdefault(info.parent, []).append(info.unit.id)
        return cls(
            units,
            categories,
            routes,
            sla,
            CasePolicy(settings.rating_window_hours, settings.max_reworks),
            settings.per_kiosk_per_hour,
            settings.per_person_per_day,
            children,
        )

    # --- lookups -------------------------------------------------------------------

    def unit(self, unit_id: str) -> Unit:
        info = self.units.get(unit_id)
        if info is None:
            raise KeyError(f"no unit {unit_id!r}")
        return info.unit

    def handling_units(self) -> list[Unit]:
        """Units a case can be dispatched to, tree first then departments."""
        return [info.unit for info in self.units.values()]

    def category_names(self) -> dict[str, str]:
        return {cat.id: cat.name for cat in self.categories.values()}

    def terms(self, category: str) -> SlaTerms:
        return self.sla.terms(self.categories[category].tier)

    def place(self, grid_or_community: str, building: str | None = None) -> Place:
        """The place of a grid (or of a whole community): its community and street."""
        info = self.units.get(grid_or_community)
        if info is None or info.unit.level not in ("grid", "community"):
            raise KeyError(f"no grid or community {grid_or_community!r}")
        grid = info.unit if info.unit.level == "grid" else None
        community = self.units[info.parent].unit if grid is not None and info.parent else info.unit
        street_id = self.units[community.id].parent
        if street_id is None:
            raise KeyError(f"community {community.id} has no street")
        return Place(self.unit(street_id), community, grid, building or None)

    def community_of_centre(self, centre: str) -> str | None:
        for info in self.units.values():
            if info.unit.level == "community" and info.centre == centre:
                return info.unit.id
        return None

    def route(self, category: str, place: Place) -> Unit:
        """Who should lead: a route, else the category's default unit, else the community
        (首接负责)."""
        if place.grid is not None and (category, place.grid.id) in self.routes:
            return self.unit(self.routes[(category, place.grid.id)])
        cat = self.categories.get(category)
        if cat is not None and cat.default_unit is not None:
            return self.unit(cat.default_unit)
        return place.community

    def above(self, unit_id: str) -> Unit | None:
        """The unit one level up the ladder (grid → community → street)."""
        info = self.units.get(unit_id)
        if info is None or info.parent is None or info.unit.level not in LADDER:
            return None
        return self.units[info.parent].unit

    def descendants(self, unit_ids: Iterable[str]) -> set[str]:
        """The units and every unit under them."""
        seen: set[str] = set()
        todo = list(unit_ids)
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.children.get(current, []))
        return seen


def _units(settings: CasesSettings) -> dict[str, UnitInfo]:
    units: dict[str, UnitInfo] = {}
    for row in settings.units:
        if row.id in units:
            raise DirectoryError(f"cases: unit {row.id} is listed twice")
        units[row.id] = UnitInfo(
            Unit(row.id, row.level, row.name), row.parent, row.centre, tuple(row.buildings)
        )
    for info in units.values():
        _check_parent(info, units)
    return units


def _categories(
    settings: CasesSettings, units: dict[str, UnitInfo], sla: SlaPolicy
) -> dict[str, CategoryInfo]:
    categories: dict[str, CategoryInfo] = {}
    for cat in settings.categories:
        if cat.tier not in sla.tiers:
            raise DirectoryError(f"cases: category {cat.id} names unknown tier {cat.tier}")
        if cat.unit is not None and cat.unit not in units:
            raise DirectoryError(f"cases: category {cat.id} names unknown unit {cat.unit}")
        categories[cat.id] = CategoryInfo(cat.id, cat.name, cat.icon, cat.tier, cat.unit, cat.board)
    return categories


def _check_parent(info: UnitInfo, units: dict[str, UnitInfo]) -> None:
    level = info.unit.level
    expected = {"grid": "community", "community": "street"}.get(level)
    if expected is None:
        if info.parent is not None and level == "street":
            raise DirectoryError(f"cases: street {info.unit.id} cannot have a parent")
        return
    parent = units.get(info.parent or "")
    if parent is None or parent.unit.level != expected:
        raise DirectoryError(f"cases: {level} {info.unit.id} needs a {expected} as parent")


def seed(session: Session, directory: Directory) -> None:
    """Make the tables say what the directory says (units are kept: members point at them)."""
    known = set(session.scalars(select(CaseUnit.id)))
    ordered = sorted(directory.units.values(), key=lambda i: LADDER_ORDER.get(i.unit.level, 9))
    for position, info in enumerate(ordered):
        row = session.get(CaseUnit, info.unit.id) if info.unit.id in known else None
        if row is None:
            row = CaseUnit(id=info.unit.id)
            session.add(row)
        row.level, row.name, row.parent = info.unit.level, info.unit.name, info.parent
        row.centre, row.buildings, row.position = info.centre, list(info.buildings), position
        session.flush()
    session.execute(delete(CaseCategory))
    session.execute(delete(CaseRoute))
    for position, cat in enumerate(directory.categories.values()):
        session.add(
            CaseCategory(
                id=cat.id,
                name=cat.name,
                icon=cat.icon,
                tier=cat.tier,
                default_unit=cat.default_unit,
                board=cat.board,
                position=position,
            )
        )
    for (category, grid), unit in directory.routes.items():
        session.add(CaseRoute(category=category, grid=grid, unit=unit))


LADDER_ORDER = {"street": 0, "community": 1, "grid": 2, "department": 3}
