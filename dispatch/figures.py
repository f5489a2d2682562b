"""Per team and per district, how the incidents created in a range were taken and resolved.

What the operations centers compare over a day, a month or a year, on SQLite and PostgreSQL;
the incidents are chosen as the live board chooses them (``dispatch.filters``):

- ``team_figures``: per team, incidents dispatched to it first, taken (acknowledged by it),
  median time to acknowledge and to resolve, resolved, cancelled, escalated away — over
  incidents created in a range. ``ix_incidents_status_created``; with a place, PostgreSQL
  ANDs it with ``ix_incidents_place_path_status`` (path equality) when that is narrower.
- ``area_figures``: the same rolled up per district (per commune of a district), over the
  incidents located there by place path; the same indexes.

Over whole days the figures come from the rollups (``dispatch.rollups``: per dyadic block of
Vietnam days × place or team), plus what they do not hold read live (today, the partial days
at the edges, the incidents still open or closed since their day was rolled): a year reads
~18 blocks, not 1.6 million incidents (``bench/dispatch_figures.py``,
``bench/results/dispatch.md``).
Counts are exact; medians from the rollups are within 1 % or 0.05 s of the exact ones
(``MEDIAN_REL_ERROR``, ``MEDIAN_ABS_ERROR_S``). A category or urgency filter, a team's figures
under a place, or a range without a whole rolled day are read directly from the incidents
(``*_direct``, exact): they cost what the range holds, a year's 3–5 s.

Medians are ``percentile_cont(0.5)`` on PostgreSQL; SQLite has none, so there a window query
numbers each group's values and averages the middle one or two (the same figure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    case,
    func,
    null,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dispatch.filters import ALL_STATUSES, IncidentFilter, PlaceRef, conditions, row_places
from dispatch.rollups import Acc, Rolled, rolled
from store.models import Incident, IncidentStatus, Place, Team, TeamKind

__all__ = [
    "AreaFigures",
    "AreaReport",
    "TeamFigures",
    "area_figures",
    "area_figures_direct",
    "team_figures",
    "team_figures_direct",
]

S = IncidentStatus


@dataclass
class TeamFigures:
    """One team's record over the incidents that were created in the range.

    ``dispatched``: first dispatched to this team; ``escalated``: of those, gone up at least
    one level (``escalation`` > 0). ``taken``: acknowledged by this team, of which
    ``resolved``, ``cancelled`` and ``open`` (taken = resolved + cancelled + open).
    ``ack_median_s``: median of ``ack_s`` (its dispatch to this team → acknowledged) over the
    taken; ``resolve_median_s``: median of ``resolve_s`` (created → resolved) over the
    resolved.
    """

    team_id: int
    team_name: str = ""
    kind: str = ""
    place: PlaceRef | None = None
    dispatched: int = 0
    escalated: int = 0
    taken: int = 0
    resolved: int = 0
    cancelled: int = 0
    open: int = 0
    ack_median_s: float | None = None
    resolve_median_s: float | None = None


@dataclass
class AreaFigures:
    """The incidents located in an area (by place path) that were created in the range.

    ``incidents`` = ``resolved`` + ``cancelled`` + ``open``; ``taken``: acknowledged by some
    team; ``escalated``: gone above the team of their commune; medians as for teams, over
    the area's incidents. ``teams``: active teams sitting in the area.
    """

    place: PlaceRef | None  # None for the total
    teams: int = 0
    incidents: int = 0
    taken: int = 0
    resolved: int = 0
    cancelled: int = 0
    open: int = 0
    escalated: int = 0
    ack_median_s: float | None = None
    resolve_median_s: float | None = None


@dataclass(frozen=True)
class AreaReport:
    level: str | None
    rows: list[AreaFigures]
    total: AreaFigures


# -- medians and counts, on both databases -----------------------------------------------------

Base = Callable[..., Select[Any]]
Col = SQLColumnExpression[Any]


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _count_if(cond: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0)


async def _grouped(
    session: AsyncSession,
    base: Base,
    group: Col | None,
    counts: Mapping[str, Col],
    medians: Mapping[str, Col],
) -> dict[Any, dict[str, Any]]:
    """Per value of ``group`` (None: one group, key None): each count, and each median.

    ``base(*columns)`` is ``select(*columns)`` with the FROM, joins and WHERE applied.
    """
    key = group if group is not None else null()
    postgres = _is_postgres(session)
    columns: dict[str, Col] = dict(counts)
    if postgres:
        columns |= {
            name: func.percentile_cont(0.5).within_group(value) for name, value in medians.items()
        }
    stmt = base(key.label("g"), *(c.label(n) for n, c in columns.items()))
    if group is not None:
        stmt = stmt.group_by(group)
    out: dict[Any, dict[str, Any]] = {}
    for row in (await session.execute(stmt)).mappings():
        out[row["g"]] = {n: row[n] for n in columns}
    if not postgres:
        for values in out.values():
            values |= dict.fromkeys(medians)
        for name, value in medians.items():
            for g, median in await _sqlite_medians(session, base, group, value):
                if g in out:
                    out[g][name] = median
    return out


async def _grouped_and_total(
    session: AsyncSession,
    base: Base,
    group: Col,
    counts: Mapping[str, Col],
    medians: Mapping[str, Col],
) -> tuple[dict[Any, dict[str, Any]], dict[str, Any] | None]:
    """As ``_grouped``, and the same figures over all of ``base``'s rows (None: no rows).

    On PostgreSQL one pass (``GROUPING SETS ((group), ())``): over a year the scan and the
    medians' sorts are most of the time, and the total would cost them again.
    """
    if not _is_postgres(session):
        overall = await _grouped(session, base, None, counts, medians)
        return await _grouped(session, base, group, counts, medians), overall.get(None)
    columns: dict[str, Col] = dict(counts) | {
        name: func.percentile_cont(0.5).within_group(value) for name, value in medians.items()
    }
    stmt = base(
        group.label("g"),
        func.grouping(group).label("is_total"),
        *(c.label(n) for n, c in columns.items()),
    ).group_by(func.grouping_sets(group, tuple_()))
    groups: dict[Any, dict[str, Any]] = {}
    total = None
    for row in (await session.execute(stmt)).mappings():
        values = {n: row[n] for n in columns}
        if row["is_total"]:
            total = values if row["incidents"] else None
        else:
            groups[row["g"]] = values
    return groups, total


async def _sqlite_medians(
    session: AsyncSession, base: Base, group: Col | None, value: Col
) -> Iterable[tuple[Any, float]]:
    """Per group, the median of ``value`` (NULLs left out) without ``percentile_cont``.

    Each group's values are numbered 1..n in order; the median is the mean of those numbered
    (n+1) div 2 and (n+2) div 2: the middle one when n is odd, the middle two when even.
    """
    key = group if group is not None else null()
    numbered = (
        base(
            key.label("g"),
            value.label("v"),
            func.row_number().over(partition_by=group, order_by=value).label("rn"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(value.is_not(None))
        .subquery()
    )
    stmt = (
        select(numbered.c.g, func.avg(numbered.c.v))
        .where(
            or_(
                numbered.c.rn == (numbered.c.n + 1) // 2,
                numbered.c.rn == (numbered.c.n + 2) // 2,
            )
        )
        .group_by(numbered.c.g)
    )
    return [(g, float(m)) for g, m in await session.execute(stmt)]


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


# -- the figures -------------------------------------------------------------------------------


async def team_figures(session: AsyncSession, f: IncidentFilter) -> list[TeamFigures]:
    """As ``team_figures_direct``, from the rollups when they serve the range
    (``dispatch.rollups.rolled``: no category, urgency or place filter), medians then within
    ``MEDIAN_REL_ERROR`` / ``MEDIAN_ABS_ERROR_S``."""
    got = await rolled(session, _range_only(f), ("taker", "first"))
    if got is None:
        return await team_figures_direct(session, f)
    figures: dict[int, TeamFigures] = {}
    for (kind, team_id), acc in sorted(got.accs.items(), key=lambda kv: kv[0][0] != "first"):
        if acc.n == 0:
            continue
        row = figures.setdefault(team_id, TeamFigures(team_id))
        if kind == "first":
            row.dispatched, row.escalated = acc.n, acc.escalated
        else:
            row.taken, row.resolved, row.cancelled = acc.n, acc.resolved, acc.cancelled
            row.open = row.taken - row.resolved - row.cancelled
            row.ack_median_s, row.resolve_median_s = acc.medians()
    return await _named_and_ordered(session, figures)


async def team_figures_direct(session: AsyncSession, f: IncidentFilter) -> list[TeamFigures]:
    """Per team, its record over the incidents created in [f.since, f.until) matching the
    filters (see ``TeamFigures``); teams with nothing dispatched or taken are left out.
    Ordered by place (the province, then each district followed by its communes), centers
    first.

    Index: ``ix_incidents_status_created`` (every status × the range); two aggregates, by
    the team that took the incident and by the team first dispatched to.
    """
    conds = await conditions(session, _range_only(f), ALL_STATUSES)
    taker = Incident.acknowledged_by_team_id

    def taken_base(*columns: Any) -> Select[Any]:
        return select(*columns).where(*conds, taker.is_not(None))

    def first_base(*columns: Any) -> Select[Any]:
        return select(*columns).where(*conds, Incident.first_team_id.is_not(None))

    taken = await _grouped(
        session,
        taken_base,
        taker,
        {
            "taken": func.count(),
            "resolved": _count_if(Incident.status == S.RESOLVED),
            "cancelled": _count_if(Incident.status == S.CANCELLED),
        },
        {"ack_median_s": Incident.ack_s, "resolve_median_s": Incident.resolve_s},
    )
    first = await _grouped(
        session,
        first_base,
        Incident.first_team_id,
        {"dispatched": func.count(), "escalated": _count_if(Incident.escalation > 0)},
        {},
    )
    figures: dict[int, TeamFigures] = {}
    for team_id, values in first.items():
        figures[team_id] = TeamFigures(team_id, **values)
    for team_id, values in taken.items():
        row = figures.setdefault(team_id, TeamFigures(team_id))
        row.taken, row.resolved, row.cancelled = (
            values["taken"],
            values["resolved"],
            values["cancelled"],
        )
        row.open = row.taken - row.resolved - row.cancelled
        row.ack_median_s = _num(values["ack_median_s"])
        row.resolve_median_s = _num(values["resolve_median_s"])
    return await _named_and_ordered(session, figures)


async def _named_and_ordered(
    session: AsyncSession, figures: dict[int, TeamFigures]
) -> list[TeamFigures]:
    if not figures:
        return []
    teams = await session.execute(
        select(Team, Place).join(Place, Place.id == Team.place_id).where(Team.id.in_(figures))
    )
    order: dict[int, tuple[str, bool, str]] = {}
    for team, place in teams:
        row = figures[team.id]
        row.team_name, row.kind, row.place = team.name, team.kind, PlaceRef.of(place)
        order[team.id] = (place.path, team.kind != TeamKind.CENTER, team.name)
    return sorted(figures.values(), key=lambda r: order.get(r.team_id, ("~", True, "")))


async def _rolled_areas(
    session: AsyncSession, got: Rolled, tree: Any
) -> tuple[dict[Any, dict[str, Any]], dict[str, Any] | None]:
    """``_grouped_and_total``'s figures from the places' rollup groups."""
    area_of: dict[int, int] = {
        place_id: area_id
        for place_id, area_id in await session.execute(select(tree.c.place_id, tree.c.area_id))
    }
    areas: dict[int, Acc] = {}
    total = Acc()
    for (_, place_id), acc in got.accs.items():
        area_id = area_of.get(place_id)
        if area_id is not None:
            areas.setdefault(area_id, Acc()).add(acc)
        total.add(acc)

    def values(acc: Acc) -> dict[str, Any]:
        ack, resolve = acc.medians()
        return {
            "incidents": acc.n,
            "taken": acc.acknowledged,
            "resolved": acc.resolved,
            "cancelled": acc.cancelled,
            "escalated": acc.escalated,
            "ack_median_s": ack,
            "resolve_median_s": resolve,
        }

    grouped = {area_id: values(acc) for area_id, acc in areas.items() if acc.n}
    return grouped, values(total) if total.n else None


def _range_only(f: IncidentFilter) -> IncidentFilter:
    """The filter without what only open queries take (statuses, holder, overdue)."""
    return IncidentFilter(
        under=f.under, category=f.category, urgency=f.urgency, since=f.since, until=f.until
    )


async def area_figures(
    session: AsyncSession, f: IncidentFilter, *, within: Place | None = None
) -> AreaReport:
    """As ``area_figures_direct``, from the rollups when they serve the range
    (``dispatch.rollups.rolled``: no category or urgency filter), medians then within
    ``MEDIAN_REL_ERROR`` / ``MEDIAN_ABS_ERROR_S``."""
    return await _area_figures(session, f, within, rollups=True)


async def area_figures_direct(
    session: AsyncSession, f: IncidentFilter, *, within: Place | None = None
) -> AreaReport:
    """The incidents created in [f.since, f.until) per area: per child of ``within`` (per
    district without it, per commune of a district), every such place listed, and the
    total (see ``AreaFigures``). ``f.under`` should be ``within``'s path.

    Each incident counts in the area above its place: a recursive walk down the places
    tree from the rows' places (``ix_places_parent_id``) maps each place to its area, and is
    hash-joined to the incidents. An incident filed above the rows' level (at the district
    while the rows are its communes; incidents sit at communes) is in the total only.
    Index: ``ix_incidents_status_created`` (every status × the range).
    """
    return await _area_figures(session, f, within, rollups=False)


async def _area_figures(
    session: AsyncSession, f: IncidentFilter, within: Place | None, *, rollups: bool
) -> AreaReport:
    """Both paths share the rows' places, their areas and the teams in them; only the
    incidents' figures come from the rollups (when ``rollups`` and they serve the range) or
    from the incidents."""
    conds = await conditions(session, _range_only(f), ALL_STATUSES)
    _, places = await row_places(session, within)
    seeds = select(Place.id.label("place_id"), Place.id.label("area_id")).where(
        Place.id.in_([p.id for p in places])
    )
    tree = seeds.cte("area_tree", recursive=True)
    child = aliased(Place)
    tree = tree.union_all(
        select(child.id, tree.c.area_id).join(tree, child.parent_id == tree.c.place_id)
    )

    def in_areas(*columns: Any) -> Select[Any]:
        # An outer join: the total counts the incidents outside the rows' areas too.
        return (
            select(*columns)
            .select_from(Incident)
            .outerjoin(tree, tree.c.place_id == Incident.place_id)
            .where(*conds)
        )

    counts = {
        "incidents": func.count(),
        "taken": _count_if(Incident.acknowledged_at.is_not(None)),
        "resolved": _count_if(Incident.status == S.RESOLVED),
        "cancelled": _count_if(Incident.status == S.CANCELLED),
        "escalated": _count_if(Incident.escalation > 0),
    }
    medians = {"ack_median_s": Incident.ack_s, "resolve_median_s": Incident.resolve_s}
    got = await rolled(session, _range_only(f), ("place",)) if rollups else None
    if got is None:
        grouped, overall = await _grouped_and_total(
            session, in_areas, tree.c.area_id, counts, medians
        )
    else:
        grouped, overall = await _rolled_areas(session, got, tree)
    teams: dict[int, int] = {
        area_id: n
        for area_id, n in await session.execute(
            select(tree.c.area_id, func.count())
            .join(Team, Team.place_id == tree.c.place_id)
            .where(Team.active)
            .group_by(tree.c.area_id)
        )
    }

    def figures(place: PlaceRef | None, values: Mapping[str, Any] | None, n: int) -> AreaFigures:
        row = AreaFigures(place, teams=n)
        if values:
            row.incidents, row.taken = int(values["incidents"]), int(values["taken"])
            row.resolved, row.cancelled = int(values["resolved"]), int(values["cancelled"])
            row.escalated = int(values["escalated"])
            row.open = row.incidents - row.resolved - row.cancelled
            row.ack_median_s = _num(values["ack_median_s"])
            row.resolve_median_s = _num(values["resolve_median_s"])
        return row

    rows = [figures(PlaceRef.of(p), grouped.get(p.id), teams.get(p.id, 0)) for p in places]
    total = figures(None, overall, sum(teams.values()))
    level = places[0].level if places else None
    return AreaReport(level=level, rows=rows, total=total)
