"""``GET /stats/queues`` and ``GET /stats/agents``: historical statistics per interval.

The figures come from the rollups (``stats/rollups.py``), read by ``stats.history``;
the definitions below are the ones the code implements.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, agent_scope, require_roles
from api.errors import explained_pattern
from api.params import TIME_NOTE, CategoryParam, Id, Instant, today_by_default
from api.tabular import FORMAT_RESPONSES, FormatParam, respond
from stats.history import (
    MAX_SPAN,
    AgentRow,
    QueueRow,
    StatsQueryError,
    agent_rows,
    align,
    local_label,
    parse_thresholds,
    queue_rows,
)
from store.models import Role, User

__all__ = ["router"]

router = APIRouter(prefix="/stats", tags=["stats"], responses=AUTH_RESPONSES)

QueueStatsReader = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="read queue statistics")),
]
AgentStatsReader = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="read agent statistics")),
]

IntervalParam = Annotated[
    Literal["15m", "hour", "day"],
    Query(
        description="Row length: 15 minutes, hours, or days in Vietnam (00:00–24:00 UTC+7). "
        "Longest range: " + ", ".join(f"{k} {v.days} days" for k, v in MAX_SPAN.items())
    ),
]
SinceParam = Annotated[
    Instant | None,
    Query(description=f"From (default: midnight in Vietnam today). {TIME_NOTE}"),
]
# The thresholds the rollups keep (store.models.SL_EDGES), up to 10 of them.
_THRESHOLD = r"(?:[1-9]|[12][0-9]|30|35|40|45|50|55|60|90|120|180|240|300)"
THRESHOLDS_PATTERN = explained_pattern(
    rf"^{_THRESHOLD}(?:,{_THRESHOLD}){{0,9}}$",
    "expected whole seconds separated by commas, e.g. 15,20; service levels are kept for "
    "each second from 1 to 30 s, every 5 s to 60 s, and 90, 120, 180, 240, 300 s",
)
UntilParam = Annotated[Instant | None, Query(description=f"Before (default: now). {TIME_NOTE}")]

RANGE_NOTE = """\
The range [`since`, `until`) is widened to whole intervals (15-minute and hour edges in UTC
are the same in Vietnam; days are Vietnam days). The figures are the rollups, refreshed a
few seconds after each call ends and for the current quarter hour every few seconds."""

QUEUE_DEFINITIONS = f"""\
Per interval and category (`by=category`, every category even without calls), Asterisk
queue (`by=queue`: `medical-718`, `emergency`…; the emergency queue is medical) or in all
(`by=all`). A call counts, with all its figures, in the interval in which it **entered the
queue**.

- **offered**: calls that entered a queue, redials excluded.
- **repeats**: redials (the number called again while its earlier call was still waiting or
  had a callback pending): not new demand, so reported apart and left out of every other
  figure.
- **answered**: offered calls an agent answered.
- **abandoned**: left the queue unanswered after waiting **5 s or more**.
- **short_abandoned**: left within 5 s: not abandoned, and out of the service level.
- **callbacks**: chose to be called back instead of waiting.
- **service_levels**: for each threshold T, answered with a wait ≤ T /
  (offered − short_abandoned). Default thresholds are the settings' per category (medical
  15 s and 20 s, the others 20 s; `by=all`: all of them); `thresholds=10,20` sets them.
  Supported: each second 1–30 s, every 5 s to 60 s, 90, 120, 180, 240, 300 s.
- **abandon_rate** = abandoned / offered.
- **asa_s** (average speed of answer): mean wait of the answered calls.
- **aht_s** (average handle time) = talk + wrap-up per answered call that has ended; no
  hold in this system. Wrap-up is the time the agent spent in the `wrapup` state that names
  the call. **talk_s** and **wrapup_s** are its two parts, per call.
- **longest_wait_s**: the longest wait of an answered or abandoned call (short abandons
  included).

Ratios and means are null where their denominator is 0. A range, interval or threshold the
statistics cannot answer is a 422 whose `detail` says what to change.

{RANGE_NOTE}

**Tiếng Việt:** thống kê theo hàng đợi: cuộc gọi vào hàng đợi, được trả lời, bỏ máy (sau
≥ 5 giây; dưới 5 giây là bỏ máy ngắn), mức phục vụ, thời gian chờ và xử lý trung bình.
"""

AGENT_DEFINITIONS = f"""\
Per agent and interval in which the agent was logged in or answered a call (no row: the
agent was not there). Times are seconds within the interval; a state is split at interval
edges, and the state an agent is still in counts until now.

- **answered**: calls the agent answered in the interval (redials included: they are work).
- **logged_in_s**: any state but logged out; **idle_s**, **ringing_s**, **talk_s**
  (on a call), **wrapup_s**, **paused_s** and **paused_by_reason** (`break`, `meal`,
  `training`, `acw`…; `unspecified` when no reason was given).
- **occupancy** = (ringing + talk + wrap-up) / (logged-in − paused): the share of the time
  the agent was available for calls that calls took. Ringing counts as busy (the agent
  cannot take another call); every pause is left out, `acw` included.

An agent may read only their own statistics; supervisors and admins, anyone's.

{RANGE_NOTE}

**Tiếng Việt:** thống kê theo tổng đài viên: số cuộc trả lời, thời gian đăng nhập, rảnh,
đàm thoại, xử lý sau cuộc gọi, tạm nghỉ theo lý do, và tỷ lệ bận (occupancy).
"""


class ServiceLevelOut(BaseModel):
    seconds: int = Field(description="The threshold T")
    answered_within: int = Field(description="Answered with a wait ≤ T")
    value: float | None = Field(description="answered_within / (offered − short_abandoned)")


class IntervalOut(BaseModel):
    start: datetime
    end: datetime
    label: str = Field(description="The start in Vietnam time: 2024-05-01 08:15, or the day")


class QueueStatsRowOut(IntervalOut):
    category: str | None = Field(description="null with by=all")
    queue: str | None = Field(description="The Asterisk queue with by=queue, else null")
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    callbacks: int
    repeats: int
    abandon_rate: float | None
    service_levels: list[ServiceLevelOut]
    asa_s: float | None
    aht_s: float | None
    talk_s: float | None
    wrapup_s: float | None
    longest_wait_s: float | None

    @classmethod
    def of(cls, row: QueueRow, interval: str) -> QueueStatsRowOut:
        # The store's own typed rows: built without validation, which would be most of the
        # time of a large answer (a week by hour per queue is 5,000 rows).
        levels = [ServiceLevelOut.model_construct(**vars(sl)) for sl in row.service_levels]
        return cls.model_construct(
            **(vars(row) | {"service_levels": levels}), label=local_label(row.start, interval)
        )


class QueueStatsOut(BaseModel):
    since: datetime = Field(description="The range, widened to whole intervals")
    until: datetime
    interval: str
    by: str
    rows: list[QueueStatsRowOut]


class AgentStatsRowOut(IntervalOut):
    agent_id: int
    endpoint: str
    answered: int
    logged_in_s: float
    idle_s: float
    ringing_s: float
    talk_s: float
    wrapup_s: float
    paused_s: float
    paused_by_reason: dict[str, float]
    occupancy: float | None

    @classmethod
    def of(cls, row: AgentRow, interval: str) -> AgentStatsRowOut:
        return cls.model_construct(**vars(row), label=local_label(row.start, interval))


class AgentStatsOut(BaseModel):
    since: datetime = Field(description="The range, widened to whole intervals")
    until: datetime
    interval: str
    rows: list[AgentStatsRowOut]


def _unprocessable(exc: StatsQueryError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


def _range(
    since: datetime | None, until: datetime | None, interval: str
) -> tuple[datetime, datetime]:
    """The range asked for, widened to whole intervals; by default today until now."""
    return align(*today_by_default(since, until), interval)


@router.get(
    "/queues",
    summary="Calls per queue and interval",
    description=QUEUE_DEFINITIONS,
    response_model=QueueStatsOut,
    responses=FORMAT_RESPONSES,
)
async def queue_stats(
    _user: QueueStatsReader,
    services: ServicesDep,
    session: SessionDep,
    since: SinceParam = None,
    until: UntilParam = None,
    interval: IntervalParam = "hour",
    category: CategoryParam = None,
    queue: Annotated[
        str | None,
        Query(max_length=100, description="Only this Asterisk queue, e.g. `food-724`"),
    ] = None,
    by: Annotated[
        Literal["category", "queue", "all"], Query(description="One row per interval and …")
    ] = "category",
    thresholds: Annotated[
        str | None,
        Query(
            pattern=THRESHOLDS_PATTERN,
            description="Service-level thresholds in seconds, e.g. `15,20`: each second 1–30, "
            "every 5 s to 60, 90, 120, 180, 240, 300",
        ),
    ] = None,
    format: FormatParam = "json",
) -> QueueStatsOut | Response:
    try:
        first, end = _range(since, until, interval)
        chosen = parse_thresholds(thresholds) if thresholds is not None else None
        rows = await queue_rows(
            session,
            since=first,
            until=end,
            interval=interval,
            category=category.value if category else None,
            queue=queue,
            by=by,
            thresholds=chosen,
            configured=services.sl_thresholds,
        )
    except StatsQueryError as exc:
        raise _unprocessable(exc) from exc
    body = QueueStatsOut(
        since=first,
        until=end,
        interval=interval,
        by=by,
        rows=[QueueStatsRowOut.of(row, interval) for row in rows],
    )
    return await respond(
        body, body.rows, format, name="stats-queues", title="Hàng đợi", since=first, until=end
    )


@router.get(
    "/agents",
    summary="Agent times and occupancy per interval",
    description=AGENT_DEFINITIONS,
    response_model=AgentStatsOut,
    responses=FORMAT_RESPONSES,
)
async def agent_stats(
    user: AgentStatsReader,
    session: SessionDep,
    since: SinceParam = None,
    until: UntilParam = None,
    interval: IntervalParam = "hour",
    agent_id: Annotated[
        Id | None, Query(description="Only this agent (an agent: themself, the default)")
    ] = None,
    format: FormatParam = "json",
) -> AgentStatsOut | Response:
    scope = agent_scope(user)
    if scope is not None:
        if agent_id is not None and agent_id != scope:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "An agent may read only their own statistics"
            )
        agent_id = scope
    try:
        first, end = _range(since, until, interval)
        rows = await agent_rows(
            session, since=first, until=end, interval=interval, agent_id=agent_id
        )
    except StatsQueryError as exc:
        raise _unprocessable(exc) from exc
    body = AgentStatsOut(
        since=first,
        until=end,
        interval=interval,
        rows=[AgentStatsRowOut.of(row, interval) for row in rows],
    )
    return await respond(
        body, body.rows, format, name="stats-agents", title="Tổng đài viên", since=first, until=end
    )
