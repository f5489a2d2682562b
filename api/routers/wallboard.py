"""``GET /wallboard/data``: everything the supervisor's wallboard shows, in one answer.

The live part (queues, agents, open incidents) is what ``GET /queues``, the event stream's
snapshot and ``GET /monitoring/incidents`` say now; the figures of the day are the copy the
service computes once for every wallboard (``api.wallboard``) and sends as ``figures``
events. The page loads this once, then follows ``GET /events``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, require_roles
from api.monitoring_schemas import MonitoredIncidentOut
from api.recordings_usage import recordings_usage
from api.schemas import QueueOut, RecordingsUsage
from api.services import Services
from api.wallboard import WallboardFigures
from dispatch.filters import IncidentFilter
from dispatch.monitoring import open_incidents
from live.hub import Viewer
from stats.wallboard import Thresholds
from store.models import Role, User
from store.types import utcnow

__all__ = ["router", "wallboard_figures"]

router = APIRouter(tags=["wallboard"], responses=AUTH_RESPONSES)

WallboardReader = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="read the wallboard")),
]

FIGURES_DOC = """\
The figures of the day (midnight in Vietnam until now) from the statistics rollups, as
`GET /stats/queues` defines them, per `categories` and `queues`: `offered`, `answered`,
`abandoned`, `service_level` (answered within `sl_seconds`, the category's first threshold
of `HOTLINE_SL_THRESHOLDS`, / (offered − short abandons)) against `sl_target`, `asa_s`,
`abandon_rate`, `aht_s`, each with its colour (`*_level`: `ok`, `warn`, `bad` at the
`thresholds`); per agent `answered` and `aht_s` ((talk + wrap-up) / answered); `intervals`:
per 15 minutes offered, answered, abandoned and the mean agents logged in; `staffing`: per
hour the agents Erlang C says the last 7 days' recorded demand needs (`GET /staffing` with
its defaults, pooled). The same object is sent as the `figures` event of `GET /events` to
supervisors and admins, a few seconds after a call ends (and each minute)."""


class WallboardOut(BaseModel):
    now: datetime
    thresholds: dict[str, float] = Field(
        description="Where the colours change: waits in seconds, shares 0–1 (settings "
        "`HOTLINE_WALLBOARD_*`)"
    )
    queues: list[QueueOut] = Field(description="Live, as `GET /queues`")
    agents: list[dict[str, Any]] = Field(
        description="Live, as the event stream's `agent` messages: state, since, reason, "
        "answered_today"
    )
    figures: dict[str, Any] = Field(description=FIGURES_DOC)
    incidents: list[MonitoredIncidentOut] = Field(
        description="Open incidents, overdue first (as `GET /monitoring/incidents`)"
    )
    incidents_total: int
    incidents_overdue: int
    recordings: RecordingsUsage | None = Field(
        None, description="The recordings kept, the oldest, the disk's room (as `GET /health`)"
    )


def wallboard_figures(services: Services) -> WallboardFigures:
    """The service's publisher, or (no live service: tests, tools) one made for the call."""
    if services.wallboard is not None:
        return services.wallboard
    return WallboardFigures(
        services.db, None, thresholds=Thresholds(), sl_thresholds=services.sl_thresholds
    )


@router.get("/wallboard/data", summary="The supervisor's wallboard, in one answer")
async def wallboard(
    _user: WallboardReader,
    services: ServicesDep,
    session: SessionDep,
    incidents: Annotated[
        int, Query(ge=0, le=500, description="Most open incidents to list (overdue first)")
    ] = 100,
) -> WallboardOut:
    """Supervisors and admins: queues, agents, the figures of the day and the open
    incidents. Live changes come from `GET /events` (`queue`, `agent`, `incident`,
    `figures`)."""
    figures = wallboard_figures(services)
    states = services.agent_states.snapshot() if services.agent_states is not None else None
    queues = [QueueOut.from_view(view, states) for view in services.queues.snapshot()]
    feed = services.feed
    agents = feed.agents_data(Viewer(Role.SUPERVISOR.value)) if feed is not None else []
    now = utcnow()
    page = await open_incidents(session, IncidentFilter(), now=now, limit=max(incidents, 1))
    return WallboardOut(
        now=now,
        thresholds=figures.thresholds.as_dict(),
        queues=queues,
        agents=agents,
        figures=await figures.current(),
        incidents=[MonitoredIncidentOut.of(item) for item in page.items[:incidents]],
        incidents_total=page.total,
        incidents_overdue=page.overdue,
        recordings=await recordings_usage(services),
    )
