"""``GET /reports/export``: a whole report over a range as one XLSX workbook, a sheet per
table, the same rows and numbers as the routes each sheet names."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, require_roles
from api.monitoring_schemas import DistrictsOut, TeamsOut
from api.routers import monitoring, stats
from api.tabular import XLSX_TYPE, Table, filename, workbook
from dispatch.filters import IncidentFilter
from store.ivr import ivr_stats
from store.models import Role, User
from store.types import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/reports", tags=["stats"], responses=AUTH_RESPONSES)

Reader = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="export reports")),
]

EXPORT_DOC = """\
The report of the page `/reports` as one XLSX file, a sheet per table, each with the rows
(and numbers) of a route asked with the same range:

| sheet | route |
|---|---|
| Hàng đợi | `GET /stats/queues?by=category` |
| Tổng hợp | `GET /stats/queues?by=all` |
| Tổng đài viên | `GET /stats/agents` |
| Theo đội | `GET /monitoring/teams` |
| Theo địa bàn | `GET /monitoring/districts` (the total last) |
| Tổng đài tự động | `GET /ivr/stats` |

A first sheet, "Thông tin", says what the file covers. The range is widened to whole
intervals as the statistics do, and that widened range is the one every sheet covers. Each
table sheet has the Vietnamese header in row 1 and the JSON field names in row 2
(api/tabular.py); the file name carries the range (`report_2024-05-01.xlsx`).

**Tiếng Việt:** tải cả báo cáo (XLSX) của khoảng thời gian đã chọn.
"""


@router.get(
    "/export",
    summary="The whole report as one XLSX workbook",
    description=EXPORT_DOC,
    response_class=Response,
    responses={
        status.HTTP_200_OK: {
            "description": "The workbook, `Content-Disposition: attachment`",
            "content": {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "Content-Disposition": {
                    "description": "`attachment; filename=report_…xlsx`, the range in the name",
                    "schema": {"type": "string"},
                }
            },
        }
    },
)
async def export(
    user: Reader,
    services: ServicesDep,
    session: SessionDep,
    since: stats.SinceParam = None,
    until: stats.UntilParam = None,
    interval: stats.IntervalParam = "hour",
    format: Annotated[Literal["xlsx"], Query(description="The only one: `xlsx`")] = "xlsx",
) -> Response:
    queues = await stats.queue_stats(user, services, session, since, until, interval)
    assert isinstance(queues, stats.QueueStatsOut)
    first, end = queues.since, queues.until
    totals = await stats.queue_stats(user, services, session, first, end, interval, by="all")
    agents = await stats.agent_stats(user, session, first, end, interval)
    assert isinstance(totals, stats.QueueStatsOut) and isinstance(agents, stats.AgentStatsOut)
    if end - first > monitoring.MAX_SPAN:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"The range is {(end - first).days} days; at most {monitoring.MAX_SPAN.days} days",
        )
    asked = monitoring.RangeQuery(
        IncidentFilter(since=first, until=end), place=None, since=first, until=end
    )
    teams = await monitoring.teams(session, asked)
    districts = await monitoring.districts(session, asked)
    assert isinstance(teams, TeamsOut)
    assert isinstance(districts, DistrictsOut)
    nodes = await ivr_stats(session, since=first, until=end)

    tables = [
        Table.of("stats-queues", "Hàng đợi", queues.rows),
        Table.of("stats-queues-all", "Tổng hợp", totals.rows),
        Table.of("stats-agents", "Tổng đài viên", agents.rows),
        Table.of("monitoring-teams", "Theo đội", teams.rows),
        Table.of("monitoring-districts", "Theo địa bàn", [*districts.rows, districts.total]),
        Table.of("ivr-stats", "Tổng đài tự động", nodes),
    ]
    about: list[tuple[str, str | int | float | bool | None]] = [
        ("Báo cáo tổng đài 1022", None),
        ("Từ (UTC)", _iso(first)),
        ("Đến, không kể (UTC)", _iso(end)),
        ("Khoảng", interval),
        ("Lập lúc (UTC)", _iso(utcnow())),
        ("Người lập", user.name),
    ]
    body = await asyncio.to_thread(workbook, tables, about)
    name = filename("report", "xlsx", first, end)
    return Response(
        body,
        media_type=XLSX_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
