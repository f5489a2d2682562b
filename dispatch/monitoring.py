"""What the operations centers watch: open incidents, overdue first, and how teams perform.

Four queries, each on SQLite and PostgreSQL, each served by an index of ``incidents``
(migration 0005), so that a year of incidents in the table (1.6 million at 4,500 a day)
costs only the rows asked about:

- ``open_incidents``: one page of open incidents, overdue first (most overdue first), then
  by urgency and age. ``ix_incidents_status`` (``status IN`` the five open statuses: a few
  hundred rows among a year's closed ones); filters apply to those rows.
- ``open_summary``: open incidents counted per place (the districts, or the communes of a
  district) × status, and the overdue ones; ``ix_incidents_status`` likewise.
- ``team_figures``: per team, incidents dispatched to it first, taken (acknowledged by it),
  median time to acknowledge and to resolve, resolved, cancelled, escalated away — over
  incidents created in a range. ``ix_incidents_status_created``; with a place, PostgreSQL
  ANDs it with ``ix_incidents_place_path_status`` (path equality) when that is narrower.
- ``area_figures``: the same rolled up per district (per commune of a district), over the
  incidents located there by place path; the same indexes.

The figures over a range read every incident created in it, so they cost what the range
holds: today's ~30 ms, 30 days' ~0.25 s, a year's 3–5 s (``bench/results/dispatch.md``;
most of it the medians' sorts). The wall screens ask for today.

A place filter is a prefix of ``place_path`` ("everything under X"). It is resolved through
the small ``places`` table to the exact paths under X, and incidents are matched by equality
on those paths: a btree serves ``LIKE 'prefix%'`` on PostgreSQL only under the C collation,
equality under any. The range queries name every status (``status IN`` all of them) so that
``(status, created_at)`` serves a range on ``created_at`` alone: a btree scans each status's
slice of the range, PostgreSQL < 18 having no skip scan.

Medians are ``percentile_cont(0.5)`` on PostgreSQL; SQLite has none, so there a window query
numbers each group's values and averages the middle one or two (the same figure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    and_,
    case,
    func,
    null,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from dispatch.lifecycle import STATUS_LABELS
from dispatch.places import ancestor_ids, under
from store.categories import Category
from store.models import Incident, IncidentStatus, Place, Team, TeamKind, Urgency

__all__ = [
    "ALL_STATUSES",
    "CATEGORY_LABELS",
    "CLOSED_STATUSES",
    "OPEN_STATUSES",
    "OVERDUE_LABEL",
    "STATUS_LABELS",
    "URGENCY_LABELS",
    "WAITING_STATUSES",
    "AreaFigures",
    "AreaReport",
    "IncidentFilter",
    "OpenIncident",
    "OpenPage",
    "PlaceRef",
    "Summary",
    "SummaryRow",
    "TeamFigures",
    "area_figures",
    "open_incidents",
    "open_summary",
    "overdue_text",
    "team_figures",
    "team_place",
]

S = IncidentStatus
OPEN_STATUSES: tuple[str, ...] = (S.NEW, S.DISPATCHED, S.ACKNOWLEDGED, S.EN_ROUTE, S.ON_SCENE)
CLOSED_STATUSES: tuple[str, ...] = (S.RESOLVED, S.CANCELLED)
ALL_STATUSES: tuple[str, ...] = tuple(IncidentStatus)
# Still waiting for a team to say "we have it": only these can be overdue.
WAITING_STATUSES: tuple[str, ...] = (S.NEW, S.DISPATCHED)

# What a supervisor reads: the statuses' labels are the lifecycle's (STATUS_LABELS).
OVERDUE_LABEL = "Quá hạn"
CATEGORY_LABELS: dict[str, str] = {
    Category.MEDICAL: "Cấp cứu y tế",
    Category.FOOD: "Hỗ trợ lương thực, nhu yếu phẩm",
    Category.VIOLATION: "Phản ánh vi phạm",
    Category.GENERAL: "Khác",
}
URGENCY_LABELS: dict[str, str] = {
    Urgency.CRITICAL: "Nguy kịch",
    Urgency.URGENT: "Khẩn cấp",
    Urgency.NORMAL: "Bình thường",
}


def overdue_text(seconds: float) -> str:
    """How late, as a supervisor reads it: "Quá hạn 45 giây", "Quá hạn 1 giờ 5 phút"."""
    whole = int(seconds)
    if whole < 60:
        return f"{OVERDUE_LABEL} {whole} giây"
    hours, minutes = divmod(whole // 60, 60)
    if not hours:
        return f"{OVERDUE_LABEL} {minutes} phút"
    return f"{OVERDUE_LABEL} {hours} giờ" + (f" {minutes} phút" if minutes else "")


# Most urgent first; an urgency this module does not know sorts last.
URGENCY_RANK: dict[str, int] = {Urgency.CRITICAL: 0, Urgency.URGENT: 1, Urgency.NORMAL: 2}


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


@dataclass(frozen=True)
class OpenIncident:
    """An open incident as the operations center sees it."""

    incident: Incident
    place: PlaceRef  # where it is (the commune, normally)
    commune: PlaceRef | None
    district: PlaceRef | None
    team_name: str | None  # the team holding it now
    overdue: bool
    overdue_s: float | None  # how long past its acknowledgment deadline
    age_s: float  # since it was created


@dataclass(frozen=True)
class OpenPage:
    items: list[OpenIncident]
    total: int  # open incidents matching the filters
    overdue: int  # of which overdue


@dataclass
class SummaryRow:
    place: PlaceRef | None  # None for the total row
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPEN_STATUSES, 0))
    open: int = 0
    overdue: int = 0

    def add(self, status: str, overdue: bool, n: int) -> None:
        self.counts[status] = self.counts.get(status, 0) + n
        self.open += n
        self.overdue += n if overdue else 0


@dataclass(frozen=True)
class Summary:
    level: str | None  # the level of the rows' places (district, commune…); None: no rows
    rows: list[SummaryRow]
    total: SummaryRow


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


# -- places ------------------------------------------------------------------------------------


async def team_place(session: AsyncSession, team_id: int) -> Place | None:
    """The place a team sits at: what a team user may watch (everything under it)."""
    return await session.scalar(
        select(Place).join(Team, Team.place_id == Place.id).where(Team.id == team_id)
    )


async def _paths_under(session: AsyncSession, path: str) -> list[str]:
    # The places table is small (a province: ~100 rows, the country: ~11,000).
    return list(await session.scalars(select(Place.path).where(under(Place.path, path))))


# -- filters -----------------------------------------------------------------------------------


async def _conditions(
    session: AsyncSession, f: IncidentFilter, statuses: Sequence[str]
) -> list[ColumnElement[bool]]:
    """The WHERE clause: ``statuses`` always first, for the indexes (see the module doc)."""
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


def _open_statuses(f: IncidentFilter) -> tuple[str, ...]:
    if f.statuses is None:
        return OPEN_STATUSES
    return tuple(s for s in OPEN_STATUSES if s in f.statuses)


def _overdue(now: datetime) -> ColumnElement[bool]:
    return and_(Incident.status.in_(WAITING_STATUSES), Incident.ack_due_at < now)


# -- open incidents ----------------------------------------------------------------------------


async def open_incidents(
    session: AsyncSession,
    f: IncidentFilter,
    *,
    now: datetime,
    limit: int = 50,
    offset: int = 0,
) -> OpenPage:
    """One page of open incidents: overdue first (the longest overdue first), then by
    urgency (critical first), then the oldest first; and how many match, how many overdue.

    Index: ``ix_incidents_status`` for the open statuses (a few hundred rows among a year's
    closed ones); the other filters and the sort apply to those rows only.
    """
    conds = await _conditions(session, f, _open_statuses(f))
    overdue = _overdue(now)
    if f.overdue_only:
        conds.append(overdue)

    total, overdue_n = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(case((overdue, 1), else_=0)), 0)).where(
                *conds
            )
        )
    ).one()

    own, parent = aliased(Place), aliased(Place)
    urgency_rank = case(URGENCY_RANK, value=Incident.urgency, else_=len(URGENCY_RANK))
    rows = await session.execute(
        select(Incident, own, parent, Team.name)
        .join(own, own.id == Incident.place_id)
        .outerjoin(parent, parent.id == own.parent_id)
        .outerjoin(Team, Team.id == Incident.team_id)
        .where(*conds)
        .order_by(
            case((overdue, 0), else_=1),
            # Only overdue rows get a deadline key, so NULL ordering (which differs between
            # the databases) never decides anything.
            case((overdue, Incident.ack_due_at), else_=None),
            urgency_rank,
            Incident.created_at,
            Incident.id,
        )
        .limit(limit)
        .offset(offset)
    )
    items = []
    for incident, place, up, team_name in rows:
        late = (
            incident.status in WAITING_STATUSES
            and incident.ack_due_at is not None
            and incident.ack_due_at < now
        )
        district = place if place.level == "district" else up
        items.append(
            OpenIncident(
                incident=incident,
                place=PlaceRef.of(place),
                commune=PlaceRef.of(place) if place.level == "commune" else None,
                district=PlaceRef.of(district)
                if district is not None and district.level == "district"
                else None,
                team_name=team_name,
                overdue=late,
                overdue_s=(now - incident.ack_due_at).total_seconds()
                if late and incident.ack_due_at is not None
                else None,
                age_s=(now - incident.created_at).total_seconds(),
            )
        )
    return OpenPage(items=items, total=int(total), overdue=int(overdue_n))


# -- the summary -------------------------------------------------------------------------------


async def _row_places(session: AsyncSession, within: Place | None) -> tuple[int, list[Place]]:
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


def _ancestor(path: str, depth: int) -> int | None:
    """The id of the place at ``depth`` on ``path`` (None: the path ends above it)."""
    ids = ancestor_ids(path)
    return ids[depth] if len(ids) > depth else None


async def open_summary(
    session: AsyncSession, f: IncidentFilter, *, now: datetime, within: Place | None = None
) -> Summary:
    """Open incidents per place × status, and overdue, one row per child of ``within``
    (per district without it, per commune of a district), every such place listed, and
    the total. ``f.under`` should be ``within``'s path.

    SQL counts per (path, status, overdue) — a few hundred groups at most — and the rows
    are summed from the paths here. An incident filed above the rows' level is in the total
    only (incidents sit at communes). Index: as ``open_incidents``.
    """
    conds = await _conditions(session, f, _open_statuses(f))
    overdue = _overdue(now)
    if f.overdue_only:
        conds.append(overdue)
    flag = case((overdue, 1), else_=0)
    counted = await session.execute(
        select(Incident.place_path, Incident.status, flag, func.count())
        .where(*conds)
        .group_by(Incident.place_path, Incident.status, flag)
    )
    depth, places = await _row_places(session, within)
    rows = {p.id: SummaryRow(PlaceRef.of(p)) for p in places}
    total = SummaryRow(None)
    for path, status, late, n in counted:
        row = rows.get(_ancestor(path, depth) or 0)
        if row is not None:
            row.add(status, bool(late), n)
        total.add(status, bool(late), n)
    level = places[0].level if places else None
    return Summary(level=level, rows=list(rows.values()), total=total)


# -- figures over a time range -----------------------------------------------------------------

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


async def team_figures(session: AsyncSession, f: IncidentFilter) -> list[TeamFigures]:
    """Per team, its record over the incidents created in [f.since, f.until) matching the
    filters (see ``TeamFigures``); teams with nothing dispatched or taken are left out.
    Ordered by place (the province, then each district followed by its communes), centers
    first.

    Index: ``ix_incidents_status_created`` (every status × the range); two aggregates, by
    the team that took the incident and by the team first dispatched to.
    """
    conds = await _conditions(session, _range_only(f), ALL_STATUSES)
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


def _range_only(f: IncidentFilter) -> IncidentFilter:
    """The filter without what only open queries take (statuses, holder, overdue)."""
    return IncidentFilter(
        under=f.under, category=f.category, urgency=f.urgency, since=f.since, until=f.until
    )


async def area_figures(
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
    conds = await _conditions(session, _range_only(f), ALL_STATUSES)
    _, places = await _row_places(session, within)
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
    grouped, overall = await _grouped_and_total(session, in_areas, tree.c.area_id, counts, medians)
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
