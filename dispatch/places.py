"""The administrative hierarchy as data: imported from vietnam-provinces, read as a tree.

A province is walked from the package's nested JSON whatever its depth (province → district
→ commune before the 2025 reform, province → commune after it); each unit becomes one row of
``places``, upserted by ``(level, code)``, so importing again changes nothing and a renamed
unit is renamed. Units that disappeared from the data are left in place: incidents and teams
refer to them.

``Place.path`` holds the ids from the root down (``/1/12/130/``), so "the places under X" is
a prefix match (``under(Place.path, x.path)``, also on ``Incident.place_path``) and the
ancestors of a place are in its own row (``ancestor_ids``)::

    async with db.session() as session:
        result = await import_province(session, 74)
        await session.commit()
        thu_dau_mot = await require_place(session, "district", 718)
        communes = await places_under(session, thu_dau_mot, level="commune")
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from typing import Any

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from dispatch.ports import UnknownPlace
from store.models import Place

__all__ = [
    "COMMUNE",
    "DISTRICT",
    "LEVELS",
    "PROVINCE",
    "SOUTH_2021",
    "Division",
    "ImportResult",
    "PlaceTree",
    "ancestor_ids",
    "division_from_json",
    "find_place",
    "get_place",
    "import_division",
    "import_province",
    "list_provinces",
    "load_tree",
    "place_search_key",
    "places_under",
    "province_division",
    "require_place",
    "serialise_writers",
    "under",
]

PROVINCE = "province"
DISTRICT = "district"
COMMUNE = "commune"
# The levels, top down, that the 2021 data has; a province without districts (2025) simply
# has no "district" rows.
LEVELS = (PROVINCE, DISTRICT, COMMUNE)

# The key of each child list in the package's nested JSON -> the level of those children.
# A key not listed names its level itself ("hamlets" -> "hamlet"), so deeper data imports too.
CHILD_LEVELS = {"districts": DISTRICT, "wards": COMMUNE}

# vietnam-provinces 0.6.0 gives one division_type per level ("tỉnh", "huyện", "xã") even for
# a city or a ward; the name says what the unit really is, so the type is read from it.
NAME_TYPES = (
    "thành phố",
    "thị xã",
    "thị trấn",
    "tỉnh",
    "quận",
    "huyện",
    "phường",
    "xã",
)

# The 19 provinces and cities of the South under social distancing by Directive 16 (Chỉ thị
# 16/CT-TTg) in the summer of 2021: the Southeast (6) and the Mekong Delta (13). The news
# reports of the Prime Minister's online conference of September 2021 with 2,594
# commune-level points (as issue 14 cites them) say "19 southern provinces and cities"
# without naming them: this list is our reading, the 19 under Directive 16 at that time, not
# a list published for the conference. Codes are vietnam-provinces 0.6.0's (the GSO's); its
# data are the GSO's list of 2025-01-04, after the mergers of 2023-2025, so these provinces
# have 2,375 communes there, fewer than in 2021.
SOUTH_2021: dict[int, str] = {
    70: "Bình Phước",
    72: "Tây Ninh",
    74: "Bình Dương",
    75: "Đồng Nai",
    77: "Bà Rịa - Vũng Tàu",
    79: "Hồ Chí Minh",
    80: "Long An",
    82: "Tiền Giang",
    83: "Bến Tre",
    84: "Trà Vinh",
    86: "Vĩnh Long",
    87: "Đồng Tháp",
    89: "An Giang",
    91: "Kiên Giang",
    92: "Cần Thơ",
    93: "Hậu Giang",
    94: "Sóc Trăng",
    95: "Bạc Liêu",
    96: "Cà Mau",
}

# Serialises importers across nodes sharing one PostgreSQL (see serialise_writers).
_LOCK_KEY = 1022_0001


@dataclass(frozen=True)
class Division:
    """One unit of the package's data, with its children (any depth)."""

    level: str
    code: int
    name: str
    division_type: str
    codename: str
    children: tuple[Division, ...] = ()

    def walk(self) -> Iterator[tuple[Division, Division | None]]:
        """Every unit under and including this one, parents before children, with its parent."""
        stack: list[tuple[Division, Division | None]] = [(self, None)]
        while stack:
            node, parent = stack.pop()
            yield node, parent
            stack.extend((child, node) for child in reversed(node.children))

    def count(self) -> dict[str, int]:
        """Units per level, e.g. ``{"province": 1, "district": 9, "commune": 91}``."""
        counts: dict[str, int] = {}
        for node, _ in self.walk():
            counts[node.level] = counts.get(node.level, 0) + 1
        return counts


@dataclass(frozen=True)
class ImportResult:
    """What an import did: units per level in the data, and rows created, updated, kept."""

    code: int
    name: str
    levels: dict[str, int]
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class PlaceTree:
    """Places loaded at once, by id, with their children: for walking without queries."""

    by_id: dict[int, Place]
    _children: dict[int | None, list[Place]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for place in sorted(self.by_id.values(), key=lambda p: (p.depth, p.code)):
            self._children.setdefault(place.parent_id, []).append(place)

    def roots(self) -> list[Place]:
        """The places whose parent is not in the tree: the province, or a subtree's top."""
        return [
            p
            for parent_id, children in self._children.items()
            if parent_id is None or parent_id not in self.by_id
            for p in children
        ]

    def children(self, place_id: int) -> list[Place]:
        """The places directly under ``place_id``, by code."""
        return list(self._children.get(place_id, []))

    def ancestors(self, place_id: int) -> list[Place]:
        """The places above ``place_id``, root first (empty for a root)."""
        place = self.by_id[place_id]
        return [self.by_id[i] for i in ancestor_ids(place.path)[:-1] if i in self.by_id]

    def find(self, level: str, code: int) -> Place | None:
        for place in self.by_id.values():
            if place.level == level and place.code == code:
                return place
        return None

    def descendants(self, place_id: int) -> list[Place]:
        """Every place under ``place_id`` (not itself), parents before children."""
        out: list[Place] = []
        stack = list(reversed(self.children(place_id)))
        while stack:
            place = stack.pop()
            out.append(place)
            stack.extend(reversed(self.children(place.id)))
        return out


# -- the package's data --------------------------------------------------------------------


def _division_type(name: str, given: str) -> str:
    lowered = name.lower()
    for prefix in NAME_TYPES:
        if lowered.startswith(prefix + " "):
            return prefix
    return given


def _children_of(node: Mapping[str, Any]) -> Iterator[tuple[str, list[Mapping[str, Any]]]]:
    for key, value in node.items():
        if isinstance(value, list) and value and isinstance(value[0], Mapping):
            yield CHILD_LEVELS.get(key, key.removesuffix("s")), value


def division_from_json(node: Mapping[str, Any], level: str = PROVINCE) -> Division:
    """A unit of vietnam-provinces' nested JSON (or data shaped like it) with its children.

    Every list of objects in a unit is a list of children, whatever its key, so a province
    whose communes sit directly under it (the 2025 shape) reads as well as the 2021 one.
    """
    name = str(node["name"])
    return Division(
        level=level,
        code=int(node["code"]),
        name=name,
        division_type=_division_type(name, str(node.get("division_type", ""))),
        codename=str(node.get("codename", "")),
        children=tuple(
            division_from_json(child, child_level)
            for child_level, children in _children_of(node)
            for child in children
        ),
    )


@cache
def _provinces() -> dict[int, Mapping[str, Any]]:
    # Imported here: the package's module loads its data lazily, and only importers need it.
    from vietnam_provinces import NESTED_DIVISIONS_JSON_PATH

    with open(NESTED_DIVISIONS_JSON_PATH, encoding="utf-8") as f:
        data: list[Mapping[str, Any]] = json.load(f)
    return {int(p["code"]): p for p in data}


def list_provinces() -> list[tuple[int, str]]:
    """(code, name) of every province in the data, by code."""
    return sorted((code, str(p["name"])) for code, p in _provinces().items())


@cache
def province_division(code: int) -> Division:
    """The province ``code`` with all its units, from vietnam-provinces (no database).

    Raises ``UnknownPlace`` naming the code when the data has no such province.
    """
    node = _provinces().get(code)
    if node is None:
        provinces = list_provinces()
        raise UnknownPlace(
            f"unknown province code {code}: vietnam-provinces "
            f"{version('vietnam-provinces')} has {len(provinces)} provinces, codes "
            f"{provinces[0][0]}..{provinces[-1][0]} (e.g. 74 = Tỉnh Bình Dương)"
        )
    return division_from_json(node, PROVINCE)


# -- import ----------------------------------------------------------------------------------


async def serialise_writers(session: AsyncSession) -> None:
    """On PostgreSQL, wait for any other node importing places or teams (until commit).

    Two service nodes starting together would otherwise both see a province missing and
    both insert it. SQLite is one node's file and serialises writers itself.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})


async def import_province(session: AsyncSession, code: int) -> ImportResult:
    """Upsert the province ``code`` of vietnam-provinces and every unit under it; the caller
    commits. Raises ``UnknownPlace`` for a province the data does not have."""
    return await import_division(session, province_division(code))


async def import_division(session: AsyncSession, province: Division) -> ImportResult:
    """Upsert a unit and every unit under it (any depth); the caller commits.

    Matching is by ``(level, code)``: a unit already there gets the data's name, codename,
    type and parent (and so its path); one not there is added.
    """
    await serialise_writers(session)
    nodes = list(province.walk())
    levels = {node.level for node, _ in nodes}
    existing = {
        (p.level, p.code): p
        for p in await session.scalars(select(Place).where(Place.level.in_(levels)))
    }
    created = updated = unchanged = 0
    rows: dict[tuple[str, int], Place] = {}
    # One depth at a time: a parent's id (and so its path) exists before its children need it.
    by_depth: dict[int, list[tuple[Division, Division | None]]] = {}
    depth_of: dict[tuple[str, int], int] = {}
    for node, parent in nodes:
        depth = 0 if parent is None else depth_of[(parent.level, parent.code)] + 1
        depth_of[(node.level, node.code)] = depth
        by_depth.setdefault(depth, []).append((node, parent))
    for depth in sorted(by_depth):
        fresh: list[tuple[Place, str]] = []
        for node, parent in by_depth[depth]:
            parent_row = rows[(parent.level, parent.code)] if parent is not None else None
            parent_path = parent_row.path if parent_row is not None else "/"
            values = {
                "parent_id": parent_row.id if parent_row is not None else None,
                "depth": depth,
                "name": node.name,
                "division_type": node.division_type,
                "codename": node.codename,
            }
            row = existing.get((node.level, node.code))
            if row is None:
                row = Place(level=node.level, code=node.code, path=parent_path, **values)
                session.add(row)
                fresh.append((row, parent_path))
                created += 1
            else:
                path = f"{parent_path}{row.id}/"
                changed = False
                for key, value in {**values, "path": path}.items():
                    if getattr(row, key) != value:
                        setattr(row, key, value)
                        changed = True
                updated += changed
                unchanged += not changed
            rows[(node.level, node.code)] = row
        if fresh:
            await session.flush()  # ids for the new rows
            for row, parent_path in fresh:
                row.path = f"{parent_path}{row.id}/"
    await session.flush()
    return ImportResult(
        code=province.code,
        name=province.name,
        levels=province.count(),
        created=created,
        updated=updated,
        unchanged=unchanged,
    )


# -- look-ups ---------------------------------------------------------------------------------


def ancestor_ids(path: str) -> list[int]:
    """The ids in a path, root first, the place itself last: ``/1/12/130/`` -> [1, 12, 130]."""
    return [int(part) for part in path.strip("/").split("/") if part]


def under(column: InstrumentedAttribute[str] | ColumnElement[str], path: str) -> Any:
    """SQL: ``column`` (a path) is ``path`` or below it. Paths hold only digits and '/'."""
    if not path.startswith("/") or not path.endswith("/"):
        raise ValueError(f"not a place path: {path!r}")
    return column.startswith(path)


async def get_place(session: AsyncSession, place_id: int) -> Place | None:
    return await session.get(Place, place_id)


async def find_place(session: AsyncSession, level: str, code: int) -> Place | None:
    """The place of that level and code (codes are unique only within a level)."""
    return await session.scalar(select(Place).where(Place.level == level, Place.code == code))


async def require_place(session: AsyncSession, level: str, code: int) -> Place:
    """As ``find_place``, raising ``UnknownPlace`` naming the level and code."""
    place = await find_place(session, level, code)
    if place is None:
        raise UnknownPlace(f"no {level} with code {code} (import it: hotline1022 places import)")
    return place


async def places_under(
    session: AsyncSession,
    place: Place,
    *,
    level: str | None = None,
    include_self: bool = False,
) -> list[Place]:
    """The places below ``place`` (and it, with ``include_self``), by depth then code."""
    stmt = select(Place).where(under(Place.path, place.path))
    if not include_self:
        stmt = stmt.where(Place.id != place.id)
    if level is not None:
        stmt = stmt.where(Place.level == level)
    return list(await session.scalars(stmt.order_by(Place.depth, Place.code)))


async def load_tree(session: AsyncSession, root: Place | None = None) -> PlaceTree:
    """Every place (or ``root`` and those under it) in one query, as a ``PlaceTree``."""
    stmt = select(Place)
    if root is not None:
        stmt = stmt.where(under(Place.path, root.path))
    return PlaceTree({p.id: p for p in await session.scalars(stmt)})


def place_search_key(text: str) -> str:
    """What a name search compares with ``Place.codename``: ``"Thủ Dầu Một"`` -> ``thu_dau_mot``.

    The codenames are ASCII, so a search matches with or without diacritics, in any case,
    and the same on SQLite (whose ``lower()`` knows only ASCII) as on PostgreSQL.
    """
    folded = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return "_".join(ascii_text.lower().replace("_", " ").split())
