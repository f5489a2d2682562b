"""``GET /staffing``: agents to staff per category and hour (Erlang C, optionally Erlang A).

The demand comes from a forecast in the request (``calls_per_day``: its peak hour) or from
the recorded calls; the arithmetic is ``stats.staffing``, the counting ``stats.demand``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, require_roles
from api.errors import explained_pattern
from api.limits import MAX_CALLS_PER_DAY
from api.params import TIME_NOTE, Instant
from api.tabular import FORMAT_RESPONSES, FormatParam, respond
from stats.demand import arrivals_by_category_hour, mean_talk_by_category
from stats.staffing import (
    DEFAULT_MIX,
    Demand,
    ErlangA,
    StaffingRow,
    Target,
    TimeLimitExceeded,
    forecast_demands,
    parse_mix,
    parse_targets,
    plan,
)
from store.categories import CATEGORIES
from store.models import Role, User
from store.types import utcnow

__all__ = ["router"]

router = APIRouter(prefix="/staffing", tags=["staffing"], responses=AUTH_RESPONSES)

Planner = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="plan staffing")),
]

DEFAULT_AHT_S = 180.0
DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=366)
MAX_AHT_S = 3600.0
MAX_PATIENCE_S = 3600.0

# PERCENT:SECONDS, percent 1–99.999, seconds 0–999.999; at most 10 targets.
_TARGET = r"[1-9][0-9]?(?:\.[0-9]{1,3})?:[0-9]{1,3}(?:\.[0-9]{1,3})?"
TARGETS_PATTERN = explained_pattern(
    rf"^{_TARGET}(?:,{_TARGET}){{0,9}}$",
    "expected PERCENT:SECONDS pairs separated by commas, such as 90:15,95:20 (percent "
    "1 to 99.999, seconds 0 to 999.999, at most 10 targets)",
)
# CATEGORY:SHARE; at most 10 (whether they sum to 1 is checked after).
_SHARE = r"[a-z]{1,20}:(?:0(?:\.[0-9]{1,6})?|1(?:\.0{1,6})?|\.[0-9]{1,6})"
MIX_PATTERN = explained_pattern(
    rf"^{_SHARE}(?:,{_SHARE}){{0,9}}$",
    "expected CATEGORY:SHARE pairs separated by commas, such as medical:0.3,food:0.5,violation:0.2",
)


class TargetOut(BaseModel):
    percent: float
    seconds: float


class ServiceLevelOut(TargetOut):
    predicted: float = Field(description="Share answered within `seconds`, 0–1")


class ErlangAOut(BaseModel):
    patience_s: float
    p_abandon: float = Field(description="Share of callers who give up (any wait)")
    abandon_rate: float = Field(description="Share who give up after more than 5 s")
    p_wait: float
    service_levels: list[ServiceLevelOut] = Field(
        description="Answered within T / (offered − callers who gave up within 5 s)"
    )
    asa_s: float = Field(description="Mean wait of the answered calls")
    occupancy: float


class StaffingRowOut(BaseModel):
    category: str = Field(description='A call category, or "pooled": one queue for all')
    hour: int | None = Field(description="Hour of day in Vietnam (UTC+7); null: the peak hour")
    calls_per_hour: float
    aht_s: float = Field(description="Average handle time (talk + hold + wrap-up), seconds")
    load_erlangs: float
    agents: int = Field(description="Fewest agents meeting every target and the occupancy cap")
    p_wait: float = Field(description="Erlang C: share of calls that wait at all")
    service_levels: list[ServiceLevelOut]
    asa_s: float = Field(description="Erlang C: mean wait of the answered calls")
    occupancy: float
    erlang_a: ErlangAOut | None = Field(
        default=None, description="With `patience_s`: Erlang A's figures for `agents`"
    )
    dedicated_agents: int | None = Field(
        default=None, description="Pooled rows: the dedicated queues' agents added up"
    )


class StaffingOut(BaseModel):
    source: Literal["forecast", "recorded"]
    calls_per_day: float
    peak_share: float | None = Field(description="Forecasts: share of the day in the peak hour")
    since: datetime | None = None
    until: datetime | None = None
    days: float | None = Field(default=None, description="Recorded: days the counts average")
    targets: list[TargetOut]
    max_occupancy: float
    rows: list[StaffingRowOut] = Field(description="Per category and hour")
    pooled: list[StaffingRowOut] = Field(description="Per hour: one queue for every category")


def _levels(levels: tuple[tuple[Target, float], ...]) -> list[ServiceLevelOut]:
    return [
        ServiceLevelOut(percent=t.share * 100, seconds=t.seconds, predicted=sl) for t, sl in levels
    ]


def _erlang_a(a: ErlangA | None) -> ErlangAOut | None:
    if a is None:
        return None
    return ErlangAOut(
        patience_s=a.patience_s,
        p_abandon=a.p_abandon,
        abandon_rate=a.abandon_rate,
        p_wait=a.p_wait,
        service_levels=_levels(a.service_levels),
        asa_s=a.asa_s,
        occupancy=a.occupancy,
    )


def _row(row: StaffingRow) -> StaffingRowOut:
    c = row.erlang_c
    return StaffingRowOut(
        category=row.demand.category,
        hour=row.demand.hour,
        calls_per_hour=row.demand.calls_per_hour,
        aht_s=row.demand.aht_s,
        load_erlangs=c.load_erlangs,
        agents=row.agents,
        p_wait=c.p_wait,
        service_levels=_levels(c.service_levels),
        asa_s=c.asa_s,
        occupancy=c.occupancy,
        erlang_a=_erlang_a(row.erlang_a),
        dedicated_agents=row.dedicated_agents,
    )


def _unprocessable(name: str, exc: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: {exc}")


@router.get(
    "",
    summary="Agents needed per category and hour",
    response_model=StaffingOut,
    responses=FORMAT_RESPONSES,
)
async def staffing(
    _user: Planner,
    services: ServicesDep,
    session: SessionDep,
    calls_per_day: Annotated[
        float | None,
        Query(
            ge=0,
            le=MAX_CALLS_PER_DAY,
            description="A forecast (e.g. 15000); without it, the recorded calls",
        ),
    ] = None,
    peak_share: Annotated[
        float, Query(gt=0, le=1, description="Forecasts: share of the day in the peak hour")
    ] = 0.10,
    mix: Annotated[
        str | None,
        Query(
            max_length=300,
            pattern=MIX_PATTERN,
            description="Forecasts: category shares summing to 1, e.g. "
            "`medical:0.3,food:0.5,violation:0.2` (the default)",
        ),
    ] = None,
    aht_s: Annotated[
        float | None,
        Query(
            gt=0,
            le=MAX_AHT_S,
            description="Handle time, seconds; default the measured mean talk time per "
            f"category (recorded) or {DEFAULT_AHT_S:g}",
        ),
    ] = None,
    targets: Annotated[
        str,
        Query(
            max_length=200,
            pattern=TARGETS_PATTERN,
            description="PERCENT:SECONDS targets all to be met, e.g. `90:15,95:20`",
        ),
    ] = "80:20",
    max_occupancy: Annotated[float, Query(gt=0, le=1, description="Occupancy cap")] = 0.85,
    patience_s: Annotated[
        float | None,
        Query(gt=0, le=MAX_PATIENCE_S, description="Mean caller patience: adds Erlang A"),
    ] = None,
    since: Annotated[
        Instant | None, Query(description=f"Recorded: from (default 7 days ago). {TIME_NOTE}")
    ] = None,
    until: Annotated[
        Instant | None, Query(description=f"Recorded: before (default now). {TIME_NOTE}")
    ] = None,
    format: FormatParam = "json",
) -> StaffingOut | Response:
    """Recommends the fewest agents that meet every service-level target (Erlang C) with
    occupancy at most `max_occupancy`, per category and hour, and for one pooled queue.

    With `calls_per_day` the demand is the forecast's peak hour (`peak_share` of the day,
    split by `mix`). Without it, the calls recorded in [`since`, `until`) that reached a
    queue, per category and hour of day (Vietnam time), averaged per day; AHT is then the
    measured mean talk time (no hold or wrap-up is recorded, so it may be low).

    Service level = answered within T / (offered − callers who left within 5 s);
    ASA = mean wait of the answered calls; occupancy = handling time / staffed time.

    With `format=csv` or `xlsx`: the rows, then the pooled rows (category `pooled`).
    """
    try:
        goals = parse_targets(targets)
    except ValueError as exc:
        raise _unprocessable("targets", exc) from exc
    if calls_per_day is not None:
        try:
            shares = DEFAULT_MIX if mix is None else parse_mix(mix, [c.key for c in CATEGORIES])
        except ValueError as exc:
            raise _unprocessable("mix", exc) from exc
        demands = forecast_demands(
            calls_per_day, peak_share=peak_share, mix=shares, aht_s=aht_s or DEFAULT_AHT_S
        )
        days = None
        total_per_day = calls_per_day
    else:
        until = until or utcnow()
        since = since or until - DEFAULT_WINDOW
        if since >= until:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "since: must be before until"
            )
        if until - since > MAX_WINDOW:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"since/until: at most {MAX_WINDOW.days} days of recorded calls",
            )
        days = (until - since) / timedelta(days=1)
        counts = await arrivals_by_category_hour(session, since=since, until=until)
        talk = {} if aht_s else await mean_talk_by_category(session, since=since, until=until)
        demands = [
            Demand(category, hour, count / days, aht_s or talk.get(category, DEFAULT_AHT_S))
            for (category, hour), count in sorted(counts.items(), key=lambda kv: kv[0][::-1])
        ]
        total_per_day = sum(counts.values()) / days
    limit = services.limits.staffing_time_limit_s
    try:
        # Off the event loop: the Erlang loops are CPU work, and AMI's heartbeat and the
        # IVR's commands must go on meanwhile. The time limit ends the thread too.
        rows, totals = await asyncio.to_thread(
            plan,
            demands,
            goals,
            max_occupancy=max_occupancy,
            patience_s=patience_s,
            time_limit_s=limit,
        )
    except TimeLimitExceeded:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"The staffing computation took more than {limit:g} s "
            "(HOTLINE_STAFFING_TIME_LIMIT_S): ask about fewer calls, a shorter handle time "
            "or patience, or fewer targets",
        ) from None
    except ValueError as exc:  # Erlang A on a hopeless queue: a number the model cannot give
        raise _unprocessable("patience_s", exc) from exc
    body = StaffingOut(
        source="forecast" if calls_per_day is not None else "recorded",
        calls_per_day=total_per_day,
        peak_share=peak_share if calls_per_day is not None else None,
        since=since if calls_per_day is None else None,
        until=until if calls_per_day is None else None,
        days=days,
        targets=[TargetOut(percent=t.share * 100, seconds=t.seconds) for t in goals],
        max_occupancy=max_occupancy,
        rows=[_row(r) for r in rows],
        pooled=[_row(r) for r in totals],
    )
    return await respond(
        body,
        [*body.rows, *body.pooled],
        format,
        name="staffing-forecast" if calls_per_day is not None else "staffing",
        title="Định biên",
        since=body.since,
        until=body.until,
    )
