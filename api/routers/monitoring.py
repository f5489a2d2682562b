"""``/monitoring``: what the province and district operations centers watch.

Open incidents (overdue first), open counts per place × status, and per team and per
district how incidents were taken and resolved. The queries and their definitions are in
``dispatch.monitoring`` (the live board) and ``dispatch.figures`` (over a range); this router
parses filters, applies who-sees-what, and labels.

Who: supervisors and admins see everything; a ``team`` user sees the incidents under their
team's place (a district center its district, a commune team its commune, the province
center everything); agents get 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AUTH_RESPONSES, SessionDep, require_roles
from api.monitoring_schemas import (
    AreaRowOut,
    DistrictsOut,
    MonitoredIncidentOut,
    MonitoredIncidentPage,
    PlaceOut,
    SummaryOut,
    SummaryRowOut,
    TeamRowOut,
    TeamsOut,
)
from api.params import Code, CreatedParams, Id, KindParams, Offset, today_by_default
from api.schemas import ErrorOut
from api.tabular import FORMAT_RESPONSES, FormatParam, respond
from dispatch.figures import area_figures, team_figures
from dispatch.filters import OPEN_STATUSES, IncidentFilter, PlaceRef, team_place
from dispatch.monitoring import open_incidents, open_summary
from dispatch.places import find_place, get_place
from store.models import Place, Role, User
from store.types import utcnow

__all__ = ["MAX_SPAN", "OpenQuery", "PlaceQuery", "RangeQuery", "Watched", "router"]

router = APIRouter(
    prefix="/monitoring",
    tags=["monitoring"],
    responses={
        **AUTH_RESPONSES,
        status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such place"},
    },
)

# A year and a day: "the same day last year" fits. Longer ranges would sort more than a
# year of values for each median, on a screen that refreshes.
MAX_SPAN = timedelta(days=366)

Watcher = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, Role.TEAM, action="read the monitoring")),
]

OpenStatus = Literal["new", "dispatched", "acknowledged", "en_route", "on_scene"]
SCOPE_NOTE = (
    "A `team` user sees only the incidents under their team's place (a district center: "
    "its district); asking about another place is a 403."
)
PLACE_NOTE = (
    "The place: `place_id`, or `district_code` / `commune_code` (official codes, "
    "vietnam-provinces); at most one. Everything under it counts."
)


def _unprocessable(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


async def _scope(session: AsyncSession, user: User) -> Place | None:
    """The place a team user is confined to; None for roles that see everything."""
    if user.role != Role.TEAM:
        return None
    place = await team_place(session, user.team_id) if user.team_id is not None else None
    if place is None:
        # Like an agent user without an agent: "nothing" is the only safe reading.
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"User {user.name!r} has role 'team' but no team"
        )
    return place


@dataclass(frozen=True)
class Watched:
    """The place asked about (None: everywhere), and for a team user asking about no
    place in particular its team, whose incidents it sees wherever they are."""

    place: Place | None
    held_by: int | None = None

    @property
    def under(self) -> str | None:
        """The path incidents are looked for under (None: everywhere)."""
        return self.place.path if self.place is not None else None


async def watched_place(
    user: Watcher,
    session: SessionDep,
    place_id: Annotated[Id | None, Query(description="A place by id (any level)")] = None,
    district_code: Annotated[Code | None, Query(description="A district by its code")] = None,
    commune_code: Annotated[Code | None, Query(description="A commune by its code")] = None,
) -> Watched:
    """The place asked about, within what the caller may see (a team user: under its
    team's place)."""
    given = [
        (name, value)
        for name, value in (
            ("place_id", place_id),
            ("district_code", district_code),
            ("commune_code", commune_code),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise _unprocessable(
            "Give at most one of place_id, district_code, commune_code; got "
            + ", ".join(name for name, _ in given)
        )
    place = None
    if given:
        name, value = given[0]
        if name == "place_id":
            place = await get_place(session, value)
        else:
            place = await find_place(session, name.removesuffix("_code"), value)
        if place is None:
            what = {"place_id": "place with id", "district_code": "district with code"}
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"No {what.get(name, 'commune with code')} {value}"
            )
    scope = await _scope(session, user)
    if scope is None:
        return Watched(place)
    if place is None:
        return Watched(scope, held_by=user.team_id)
    if not place.path.startswith(scope.path):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"User {user.name!r} sees only the incidents under {scope.name}",
        )
    return Watched(place)


WatchedPlace = Annotated[Watched, Depends(watched_place)]


def _optional_range(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since >= until:
        raise _unprocessable(
            f"since ({since.isoformat()}) must be before until ({until.isoformat()})"
        )


def _range(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The range asked for; by default today in Vietnam until now. At most MAX_SPAN."""
    since, until = today_by_default(since, until)
    _optional_range(since, until)
    if until - since > MAX_SPAN:
        raise _unprocessable(
            f"The range is {(until - since).days} days; at most {MAX_SPAN.days} days: "
            "narrow since/until"
        )
    return since, until


def _place_out(place: Place | None) -> PlaceOut | None:
    return PlaceOut.of(PlaceRef.of(place)) if place is not None else None


# -- what each route asks for ------------------------------------------------------------------
#
# Each route takes one dependency that gathers all of its query parameters (by group where
# routes share one) and builds its IncidentFilter. One, because FastAPI calls a dependency
# only once all of its parameters are valid: the range checks still come after the 422s of
# malformed values and after who-sees-what (403), as when each route checked in its body;
# and a route that took WatchedPlace as well would have a bad place_id reported twice
# (FastAPI caches a dependency's value, not its errors). The groups come before the place,
# as their parameters did in the OpenAPI document.


@dataclass(frozen=True)
class OpenQuery:
    """The open incidents asked for, and which page of them."""

    filter: IncidentFilter
    limit: int
    offset: int


@dataclass(frozen=True)
class PlaceQuery:
    """A route's filter, and the place asked about (None: everywhere), whose children are
    the rows."""

    filter: IncidentFilter
    place: Place | None


@dataclass(frozen=True)
class RangeQuery(PlaceQuery):
    """As ``PlaceQuery``, and the range of creation it covers, defaults filled in."""

    since: datetime
    until: datetime


async def open_query(
    kind: KindParams,
    created: CreatedParams,
    watched: WatchedPlace,
    status_: Annotated[
        list[OpenStatus] | None, Query(alias="status", description="Only these open statuses")
    ] = None,
    team_id: Annotated[Id | None, Query(description="Held now by this team")] = None,
    overdue: Annotated[bool, Query(description="Only the overdue ones")] = False,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
    offset: Annotated[Offset, Query(description="Incidents to skip")] = 0,
) -> OpenQuery:
    """The open incidents asked for, and the page; without a place, a team user's include
    what its team holds elsewhere."""
    _optional_range(created.since, created.until)
    f = IncidentFilter(
        under=watched.under,
        or_held_by=watched.held_by,
        category=kind.category,
        urgency=kind.urgency,
        statuses=tuple(status_) if status_ else None,
        team_id=team_id,
        since=created.since,
        until=created.until,
        overdue_only=overdue,
    )
    return OpenQuery(f, limit=limit, offset=offset)


async def place_query(kind: KindParams, watched: WatchedPlace) -> PlaceQuery:
    """The incidents under the watched place, of the kind asked for."""
    return PlaceQuery(
        IncidentFilter(under=watched.under, category=kind.category, urgency=kind.urgency),
        place=watched.place,
    )


async def range_query(
    created: CreatedParams, kind: KindParams, watched: WatchedPlace
) -> RangeQuery:
    """As ``place_query``, over the incidents created in the range (``_range``)."""
    since, until = _range(created.since, created.until)
    return RangeQuery(
        IncidentFilter(
            under=watched.under,
            category=kind.category,
            urgency=kind.urgency,
            since=since,
            until=until,
        ),
        place=watched.place,
        since=since,
        until=until,
    )


OpenQueryDep = Annotated[OpenQuery, Depends(open_query)]
PlaceQueryDep = Annotated[PlaceQuery, Depends(place_query)]
RangeQueryDep = Annotated[RangeQuery, Depends(range_query)]


INCIDENTS_DOC = f"""\
Open incidents (new, dispatched, acknowledged, en route, on scene): **overdue first**, the
longest overdue first, then by urgency (critical, urgent, normal), then the oldest first.
An incident is **overdue** (`Quá hạn`) when it is still new or dispatched after its
acknowledgment deadline (`ack_due_at`); `overdue_s` says by how much.

Filters combine: place (everything under it), `status` (repeat it for several),
`category`, `urgency`, `team_id` (the team holding it now), created `since` / `until`,
`overdue=true`. {PLACE_NOTE} {SCOPE_NOTE} Without a place, a team user's list also holds
the incidents its team holds elsewhere (a center may hand it a neighbour's).

**Tiếng Việt:** danh sách sự vụ đang mở, sự vụ quá hạn xác nhận lên đầu.
"""


@router.get(
    "/incidents",
    summary="Open incidents, overdue first",
    description=INCIDENTS_DOC,
    response_model=MonitoredIncidentPage,
    responses=FORMAT_RESPONSES,
)
async def list_open_incidents(
    session: SessionDep, asked: OpenQueryDep, format: FormatParam = "json"
) -> MonitoredIncidentPage | Response:
    now = utcnow()
    result = await open_incidents(
        session, asked.filter, now=now, limit=asked.limit, offset=asked.offset
    )
    body = MonitoredIncidentPage(
        now=now,
        total=result.total,
        overdue=result.overdue,
        limit=asked.limit,
        offset=asked.offset,
        items=[MonitoredIncidentOut.of(item) for item in result.items],
    )
    return await respond(
        body, body.items, format, name="monitoring-incidents", title="Sự vụ đang mở", until=now
    )


SUMMARY_DOC = f"""\
Open incidents counted per place and status, with the overdue ones: one row per district
(with a district: per commune of it; with a commune: that commune), every place listed even
at zero, and the total. `columns` lists the statuses and `overdue` with their Vietnamese
labels, in the order a table shows them.

Filters: place, `category`, `urgency`. {PLACE_NOTE} {SCOPE_NOTE}

**Tiếng Việt:** tổng hợp sự vụ đang mở theo địa bàn và trạng thái, kèm số quá hạn.
"""


@router.get(
    "/summary",
    summary="Open incidents per place × status",
    description=SUMMARY_DOC,
    response_model=SummaryOut,
    responses=FORMAT_RESPONSES,
)
async def summary(
    session: SessionDep, asked: PlaceQueryDep, format: FormatParam = "json"
) -> SummaryOut | Response:
    place = asked.place
    now = utcnow()
    result = await open_summary(session, asked.filter, now=now, within=place)
    body = SummaryOut(
        now=now,
        place=_place_out(place),
        level=result.level,
        columns=SummaryOut.status_columns(OPEN_STATUSES),
        rows=[SummaryRowOut.of(row) for row in result.rows],
        total=SummaryRowOut.of(result.total),
    )
    return await respond(
        body,
        [*body.rows, body.total],
        format,
        name="monitoring-summary",
        title="Sự vụ theo địa bàn",
        until=now,
    )


RANGE_NOTE = f"""\
Over the incidents **created** in [`since`, `until`) (default: today in Vietnam, 00:00 UTC+7,
until now; at most {MAX_SPAN.days} days), with `category`, `urgency` and place filters.
{PLACE_NOTE} {SCOPE_NOTE} Medians are `null` where there is nothing to take one of; for an
even count, the mean of the middle two."""

TEAMS_DOC = f"""\
Per team (centers and rapid-response teams), ordered by place:

- **dispatched**: incidents first dispatched to this team; **escalated**: of those, gone up
  at least one level (not acknowledged in time).
- **taken**: acknowledged by this team, of which **resolved**, **cancelled**, **open**.
- **ack_median_s**: median seconds from the incident's dispatch to this team to its
  acknowledgment, over the taken; **resolve_median_s**: median seconds from creation to
  resolved, over the resolved.

Teams with nothing dispatched and nothing taken are left out.

{RANGE_NOTE}

**Tiếng Việt:** theo từng đội: số sự vụ được giao, đã nhận, thời gian xác nhận và xử lý
(trung vị), đã xử lý, đã hủy, bị chuyển cấp trên.
"""


@router.get(
    "/teams",
    summary="Per team: taken, medians, outcomes",
    description=TEAMS_DOC,
    response_model=TeamsOut,
    responses=FORMAT_RESPONSES,
)
async def teams(
    session: SessionDep, asked: RangeQueryDep, format: FormatParam = "json"
) -> TeamsOut | Response:
    rows = await team_figures(session, asked.filter)
    body = TeamsOut(since=asked.since, until=asked.until, rows=[TeamRowOut.of(row) for row in rows])
    return await respond(
        body,
        body.rows,
        format,
        name="monitoring-teams",
        title="Theo đội",
        since=asked.since,
        until=asked.until,
    )


DISTRICTS_DOC = f"""\
Per district (with a district: per commune of it), every place listed, and the total: the
incidents located there (by place path) that were created in the range.

- **incidents** = **resolved** + **cancelled** + **open**; **taken**: acknowledged by some
  team; **escalated**: gone above the commune's team.
- **ack_median_s**, **resolve_median_s**: as for teams, over the area's incidents.
- **teams**: active teams sitting in the area (the total: in the rows' areas).

{RANGE_NOTE}

**Tiếng Việt:** tổng hợp theo huyện (hoặc theo xã của một huyện).
"""


@router.get(
    "/districts",
    summary="Per district: the same, rolled up",
    description=DISTRICTS_DOC,
    response_model=DistrictsOut,
    responses=FORMAT_RESPONSES,
)
async def districts(
    session: SessionDep, asked: RangeQueryDep, format: FormatParam = "json"
) -> DistrictsOut | Response:
    place = asked.place
    report = await area_figures(session, asked.filter, within=place)
    body = DistrictsOut(
        since=asked.since,
        until=asked.until,
        place=_place_out(place),
        level=report.level,
        rows=[AreaRowOut.of(row) for row in report.rows],
        total=AreaRowOut.of(report.total),
    )
    return await respond(
        body,
        [*body.rows, body.total],
        format,
        name="monitoring-districts",
        title="Theo địa bàn",
        since=asked.since,
        until=asked.until,
    )
