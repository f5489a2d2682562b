"""Which incidents the monitoring screens look at, and the places their rows stand for.

The live board (``dispatch.monitoring``) and the figures over a range (``dispatch.figures``)
both filter incidents the same way and both report per place, so what they share lives here
and neither imports the other.

``IncidentFilter`` says which incidents; ``conditions`` makes it a WHERE clause shaped for
the indexes of ``incidents`` (migration 0005), so that a year of incidents in the table
(1.6 million at 4,500 a day) costs only the rows asked about:

- A place filter is a prefix of ``place_path`` ("everything under X"). It is resolved
  through the small ``places`` table to the exact paths under X, and incidents are matched
  by equality on those paths: a btree serves ``LIKE 'prefix%'`` on PostgreSQL only under the
  C collation, equality under any.
- ``statuses`` always comes first. The board names the open ones (``ix_incidents_status``);
  the range queries name every status (``ALL_STATUSES``) so that ``(status, created_at)``
  serves a range on ``created_at`` alone: a btree scans each status's slice of the range,
  PostgreSQL < 18 having no skip scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.places import under
from store.models import Incident, IncidentStatus, Place, Team

__all__ = [
    "ALL_STATUSES",
    "CLOSED_STATUSES",
    "OPEN_STATUSES",
    "IncidentFilter",
    "PlaceRef",
    "conditions",
    "row_places",
    "team_place",
]

S = IncidentStatus
OPEN_STATUSES: tuple[str, ...] = (S.NEW, S.DISPATCHED, S.ACKNOWLEDGED, S.EN_ROUTE, S.ON_SCENE)
CLOSED_STATUSES: tuple[str, ...] = (S.RESOLVED, S.CANCELLED)
ALL_STATUSES: tuple[str, ...] = tuple(IncidentStatus)


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents to look at; None (or False) leaves that filter out."""

    under: str | None = None  # a place's path: incidents at that place or below it
    or_held_by: int | None = None  # open queries, with ``under``: or held now by this team
    category: str | None = None
    urgency: str | None = None
    statuses: tuple[str, ...] | None = None  # open queries only: some of OPEN_STATUSES
    team_id: int | None = None  # open queries: the team holding it now
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    overdue_only: bool = False  # open queries only


@dataclass(frozen=True)
class PlaceRef:
    id: int
    code: int
    name: str
    level: str

    @classmethod
    def of(cls, place: Any) -> PlaceRef:
        return cls(id=place.id, code=place.code, name=place.name, level=place.level)


# -- places ------------------------------------------------------------------------------------


async def team_place(session: AsyncSession, team_id: int) -> Place | None:
    """The place a team sits at: what a team user may watch (everything under it)."""
    return await session.scalar(
        select(Place).join(Team, Team.place_id == Place.id).where(Team.id == team_id)
    )


async def _paths_under(session: AsyncSession, path: str) -> list[str]:
    # The places table is small (a province: ~100 rows, the country: ~11,000).
    return list(await session.scalars(select(Place.path).where(under(Place.path, path))))


async def row_places(session: AsyncSession, within: Place | None) -> tuple[int, list[Place]]:
    """The depth the rows are at and the places of the rows: the children of ``within``
    (a leaf: itself), or without it the places at depth 1 (the districts in 2021)."""
    if within is None:
        depth = 1
        stmt = select(Place).where(Place.depth == depth)
    else:
        depth = within.depth + 1
        stmt = select(Place).where(Place.parent_id == within.id)
    places = list(await session.scalars(stmt.order_by(Place.code)))
    if within is not None and not places:
        return within.depth, [within]
    return depth, places


# -- filters -----------------------------------------------------------------------------------


async def conditions(
    session: AsyncSession, f: IncidentFilter, statuses: Sequence[str]
) -> list[ColumnElement[bool]]:
    """The WHERE clause: ``statuses`` always first, for the indexes (see the module doc).

    ``f.statuses`` and ``f.overdue_only`` are left to the open queries: which statuses to
    name and what overdue means are theirs.
    """
    conds: list[ColumnElement[bool]] = [Incident.status.in_(statuses)]
    if f.under is not None:
        inside: ColumnElement[bool] = Incident.place_path.in_(await _paths_under(session, f.under))
        if f.or_held_by is not None:
            # What a team user sees: under its place, and what it holds wherever it is (a
            # center may hand it a neighbour's incident).
            inside = or_(inside, Incident.team_id == f.or_held_by)
        conds.append(inside)
    if f.category is not None:
        conds.append(Incident.category == f.category)
    if f.urgency is not None:
        conds.append(Incident.urgency == f.urgency)
    if f.team_id is not None:
        conds.append(Incident.team_id == f.team_id)
    if f.since is not None:
        conds.append(Incident.created_at >= f.since)
    if f.until is not None:
        conds.append(Incident.created_at < f.until)
    return conds
