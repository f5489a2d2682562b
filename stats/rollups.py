"""The statistics rollups: built from the calls and the agent state changes, per bucket.

Why rollups. A year of the hotline is about 5.5 million calls and, at four state changes
per answered call, some 20 million agent state rows. A supervisor's "last 30 days by day"
cannot scan those on each request, and agent time cannot even be summed in SQL without
splitting each state at bucket edges. So the figures are kept per 15-minute bucket (UTC),
in three tables (``store.models``): ``queue_stats`` per (bucket, category, Asterisk queue),
``agent_stats`` per (bucket, agent), ``agent_pause_stats`` per (bucket, agent, reason).
Hours are four 15-minute rows summed at query time; 15-minute and hour buckets are the same
in UTC and in Vietnam (UTC+7 is a whole number of hours). A day in Vietnam has its own rows
(``period_s`` = 86400, bucket = 17:00 UTC of the day before), summed from its 96 quarter
hours whenever one of them is rebuilt, so a year by day reads 365 rows per group, not 35,040.

Only additive figures are stored (counts, sums of seconds, the longest wait), so any set of
buckets sums to the right answer. Service level needs "answered within T" for the T a
supervisor asks for; the rows keep it for every T of ``SL_EDGES`` (each second to 30 s,
every 5 s to 60 s, 90 … 300 s): 41 integer columns instead of a per-second wait histogram
table, which would hold more rows than the calls themselves.

Which bucket. A call counts, with every queue figure (answered, abandoned, its wait, talk
and wrap-up), in the bucket in which it entered the queue: the ratios then compare like
with like. For its agent it counts as answered in the bucket of ``answered_at``. Agent time
is split exactly at bucket edges; a state lasts until the agent's next row, and the last
one until the end of the bucket or ``now``, whichever is first.

Building. ``refresh_buckets(session, starts)`` recomputes the given quarter hours from the
events (delete, then insert: idempotent) and the Vietnam days they fall in; the service's
``StatsRefresher`` calls it for buckets touched by completed calls and for the current one.
``rebuild(db, since, until)`` does whole days, one transaction per day
(``hotline1022 stats rebuild``). Aggregation is done in Python, in the same way on SQLite
and PostgreSQL; a day of 15,000 calls is a fraction of a second of work.

One concern, building the rollups; it stays whole because the queue and agent figures are
split at the same bucket edges by the same code.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from stats.demand import VIETNAM
from store.categories import CATEGORIES, DEFAULT_CATEGORY
from store.db import Database
from store.models import (
    PERIOD_15M,
    PERIOD_DAY,
    SL_EDGES,
    Agent,
    AgentState,
    AgentStateChange,
    Call,
    CallStatus,
    agent_pause_stats,
    agent_stats,
    queue_stats,
)
from store.types import UTCDateTime, utcnow

__all__ = [
    "BUCKET",
    "SHORT_ABANDON_S",
    "UNSPECIFIED_REASON",
    "bucket_start",
    "category_of",
    "rebuild",
    "refresh_buckets",
    "vietnam_day_start",
]

log = logging.getLogger(__name__)

BUCKET = timedelta(seconds=PERIOD_15M)
DAY = timedelta(days=1)
# A caller who leaves the queue within this many seconds is a short abandon: not counted as
# abandoned, and taken out of the service level's denominator.
SHORT_ABANDON_S = 5.0
# The PostgreSQL advisory lock that serialises rollup writers (any number no one else uses).
_LOCK_KEY = 1022_0004
# The pause reason recorded when the agent gave none.
UNSPECIFIED_REASON = "unspecified"
# Emergencies are medical calls in a queue of their own.
_QUEUE_CATEGORY = {c.queue: c.key for c in CATEGORIES} | {"emergency": "medical"}
# Plain strings: the loop over a day's ~50,000 state rows compares them often.
_LOGGED_OUT = AgentState.LOGGED_OUT.value
_PAUSED = AgentState.PAUSED.value
_STATE_COLUMNS = {
    AgentState.IDLE.value: "idle_s",
    AgentState.RINGING.value: "ringing_s",
    AgentState.ON_CALL.value: "on_call_s",
    AgentState.WRAPUP.value: "wrapup_s",
    AgentState.PAUSED.value: "paused_s",
}
_AGENT_SUMS = ("logged_in_s", "idle_s", "ringing_s", "on_call_s", "wrapup_s", "paused_s")


def bucket_start(t: datetime) -> datetime:
    """The start (UTC) of the 15-minute bucket that holds ``t``: 08:14:59.9 → 08:00."""
    t = t.astimezone(UTC)
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def vietnam_day_start(t: datetime) -> datetime:
    """Midnight in Vietnam of the day that holds ``t``, in UTC (17:00 the day before)."""
    local = t.astimezone(VIETNAM).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def category_of(category: str | None, queue: str | None) -> str:
    """A call's category; from its queue (``food-724`` → food) when the route event was
    missed."""
    if category:
        return category
    prefix = (queue or "").split("-", 1)[0]
    return _QUEUE_CATEGORY.get(prefix, DEFAULT_CATEGORY.key)


# -- building -------------------------------------------------------------------------------


async def refresh_buckets(
    session: AsyncSession, starts: Iterable[datetime], *, now: datetime | None = None
) -> list[datetime]:
    """Recompute the 15-minute buckets holding ``starts`` and the Vietnam days they are in.

    Idempotent. The caller commits. Returns the bucket starts refreshed.
    """
    now = now or utcnow()
    buckets = sorted({bucket_start(t) for t in starts})
    await _one_writer(session)
    for first, end in _runs(buckets):
        await _refresh_range(session, first, end, now)
    for day in sorted({vietnam_day_start(b) for b in buckets}):
        await _refresh_day(session, day)
    return buckets


async def rebuild(
    db: Database,
    since: datetime,
    until: datetime,
    *,
    now: datetime | None = None,
    on_day: Callable[[datetime], None] | None = None,
) -> int:
    """Rebuild every bucket of the Vietnam days that [since, until) touches; one
    transaction per day, so a long rebuild neither holds locks for long nor starts over.

    Returns the number of days rebuilt; ``on_day(day_start)`` is called after each.
    """
    now = now or utcnow()
    day = vietnam_day_start(since)
    days = 0
    while day < until:
        async with db.session() as session:
            await _one_writer(session)
            await _refresh_range(session, day, day + DAY, now)
            await _refresh_day(session, day)
            await session.commit()
        days += 1
        if on_day is not None:
            on_day(day)
        day += DAY
    return days


async def _one_writer(session: AsyncSession) -> None:
    """On PostgreSQL, one rollup writer at a time (until the transaction ends): the
    service's refresher and a ``stats rebuild`` on the same bucket would otherwise both
    delete, then both insert, and one fail on the primary key. SQLite has one writer anyway.
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))


def _runs(buckets: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted bucket starts as [first, end) ranges of consecutive buckets."""
    runs: list[tuple[datetime, datetime]] = []
    for b in buckets:
        if runs and runs[-1][1] == b:
            runs[-1] = (runs[-1][0], b + BUCKET)
        else:
            runs.append((b, b + BUCKET))
    return runs


async def _refresh_range(
    session: AsyncSession, first: datetime, end: datetime, now: datetime
) -> None:
    queue_rows = await _queue_rows(session, first, end, now)
    agent_rows, pause_rows = await _agent_rows(session, first, end, now)
    for table, rows in (
        (queue_stats, queue_rows),
        (agent_stats, agent_rows),
        (agent_pause_stats, pause_rows),
    ):
        await session.execute(
            delete(table).where(
                table.c.period_s == PERIOD_15M, table.c.bucket >= first, table.c.bucket < end
            )
        )
        if rows:
            await session.execute(insert(table), rows)


async def _refresh_day(session: AsyncSession, day: datetime) -> None:
    """The day's rows: the sums of its 96 quarter hours."""
    for table, keys in (
        (queue_stats, ("category", "queue")),
        (agent_stats, ("agent_id",)),
        (agent_pause_stats, ("agent_id", "reason")),
    ):
        await session.execute(
            delete(table).where(table.c.period_s == PERIOD_DAY, table.c.bucket == day)
        )
        await session.execute(_sum_into_day(table, keys, day))


def _sum_into_day(table: Table, keys: tuple[str, ...], day: datetime) -> Any:
    values = [c for c in table.c if c.name not in ("period_s", "bucket", *keys)]
    aggregates = [(func.max if c.name == "wait_max_s" else func.sum)(c) for c in values]
    key_columns = [table.c[k] for k in keys]
    rows = (
        select(
            literal(PERIOD_DAY),
            literal(day, UTCDateTime()),
            *key_columns,
            *aggregates,
        )
        .where(
            table.c.period_s == PERIOD_15M,
            table.c.bucket >= day,
            table.c.bucket < day + DAY,
        )
        .group_by(*key_columns)
    )
    names = ["period_s", "bucket", *keys, *(c.name for c in values)]
    return insert(table).from_select(names, rows)


# -- queues ---------------------------------------------------------------------------------


@dataclass
class _QueueBucket:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    callbacks: int = 0
    repeats: int = 0
    handled: int = 0
    wait_answered_s: float = 0.0
    talk_s: float = 0.0
    wrapup_s: float = 0.0
    wait_max_s: float | None = None
    # Answered calls per SL_EDGES bin: bin i holds waits in (SL_EDGES[i-1], SL_EDGES[i]].
    bins: list[int] = field(default_factory=lambda: [0] * len(SL_EDGES))

    def waited(self, wait: float) -> None:
        self.wait_max_s = wait if self.wait_max_s is None else max(self.wait_max_s, wait)

    def row(self, bucket: datetime, category: str, queue: str) -> dict[str, Any]:
        row: dict[str, Any] = {
            "period_s": PERIOD_15M,
            "bucket": bucket,
            "category": category,
            "queue": queue,
            **{k: v for k, v in vars(self).items() if k != "bins"},
        }
        within = 0
        for edge, count in zip(SL_EDGES, self.bins, strict=True):
            within += count
            row[f"answered_within_{edge}"] = within
        return row


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


async def _queue_rows(
    session: AsyncSession, first: datetime, end: datetime, now: datetime
) -> list[dict[str, Any]]:
    in_range = and_(Call.queue_entered_at >= first, Call.queue_entered_at < end)
    wrapups = await _wrapup_by_call(session, in_range, first, end + DAY, now)
    calls = await session.execute(
        select(
            Call.uniqueid,
            Call.queue_entered_at,
            Call.answered_at,
            Call.ended_at,
            Call.category,
            Call.queue,
            Call.status,
            Call.wait_s,
            Call.talk_s,
            Call.repeat_of,
        ).where(in_range)
    )
    buckets: dict[tuple[datetime, str, str], _QueueBucket] = defaultdict(_QueueBucket)
    for uid, entered, answered, ended, category, queue, status, wait, talk, repeat_of in calls:
        if entered is None:  # the WHERE clause leaves none; this tells mypy
            continue
        agg = buckets[(bucket_start(entered), category_of(category, queue), queue or "")]
        if repeat_of is not None:
            agg.repeats += 1
            continue
        agg.offered += 1
        if answered is not None:
            wait = wait if wait is not None else _seconds(entered, answered) or 0.0
            agg.answered += 1
            agg.wait_answered_s += wait
            agg.waited(wait)
            edge = bisect.bisect_left(SL_EDGES, wait)
            if edge < len(SL_EDGES):
                agg.bins[edge] += 1
            if talk is not None:
                agg.handled += 1
                agg.talk_s += talk
                agg.wrapup_s += wrapups.get(uid, 0.0)
        elif status == CallStatus.ABANDONED_QUEUE.value:
            wait = wait if wait is not None else _seconds(entered, ended) or 0.0
            agg.waited(wait)
            if wait < SHORT_ABANDON_S:
                agg.short_abandoned += 1
            else:
                agg.abandoned += 1
        elif status == CallStatus.CALLBACK.value:
            agg.callbacks += 1
        # else still waiting: offered, nothing more yet
    return [agg.row(*key) for key, agg in buckets.items()]


async def _wrapup_by_call(
    session: AsyncSession, calls_in_range: Any, since: datetime, before: datetime, now: datetime
) -> dict[str, float]:
    """Seconds of wrap-up the agents spent after each call: their ``wrapup`` rows that name
    the call, each lasting until that agent's next row (or ``now``).

    A wrap-up starts after its call entered the queue and, here, less than a day after the
    range: bounds that let the planner read a range of the state rows rather than all.
    """
    wrapup = aliased(AgentStateChange)
    later = aliased(AgentStateChange)
    next_at = (
        select(func.min(later.at))
        .where(
            later.agent_id == wrapup.agent_id,
            later.at >= wrapup.at,
            or_(later.at > wrapup.at, later.id > wrapup.id),
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(wrapup.call_uniqueid, wrapup.at, next_at)
        .join(Call, Call.uniqueid == wrapup.call_uniqueid)
        .where(
            wrapup.state == AgentState.WRAPUP.value,
            wrapup.at >= since,
            wrapup.at < before,
            calls_in_range,
        )
    )
    seconds: dict[str, float] = defaultdict(float)
    for uid, at, until in rows:
        if uid is None:
            continue
        seconds[uid] += _seconds(at, until or max(now, at)) or 0.0
    return seconds


# -- agents ---------------------------------------------------------------------------------


async def _agent_rows(
    session: AsyncSession, first: datetime, end: datetime, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """agent_stats and agent_pause_stats rows of [first, end)."""
    change = AgentStateChange
    # Each agent's state at `first`: their last row before it.
    last_before = (
        select(change.id)
        .where(change.agent_id == Agent.id, change.at < first)
        .order_by(change.at.desc(), change.id.desc())
        .limit(1)
        .correlate(Agent)
        .scalar_subquery()
    )
    columns = (change.agent_id, change.at, change.state, change.reason)
    opening = await session.execute(
        select(*columns).where(change.id.in_(select(last_before).select_from(Agent)))
    )
    changes = await session.execute(
        select(*columns)
        .where(change.at >= first, change.at < end)
        .order_by(change.agent_id, change.at, change.id)
    )
    timelines: dict[int, list[tuple[float, str, str | None]]] = defaultdict(list)
    for agent_id, at, state, reason in [*opening, *changes]:
        timelines[agent_id].append((at.timestamp(), state, reason))

    stop = min(end, now).timestamp()
    times: dict[tuple[int, int], dict[str, float]] = defaultdict(
        lambda: dict.fromkeys(_AGENT_SUMS, 0.0)
    )
    pauses: dict[tuple[int, int, str], float] = defaultdict(float)
    start_ts = first.timestamp()
    for agent_id, timeline in timelines.items():
        ends = [t for t, _, _ in timeline[1:]] + [stop]
        for (begin, state, reason), until in zip(timeline, ends, strict=True):
            if state == _LOGGED_OUT:
                continue
            column = _STATE_COLUMNS.get(state)  # an unknown state counts as logged in only
            t = max(begin, start_ts)
            until = min(until, stop)
            while t < until:
                bucket = int(t // PERIOD_15M) * PERIOD_15M
                upto = min(bucket + PERIOD_15M, until)
                figures = times[(bucket, agent_id)]
                figures["logged_in_s"] += upto - t
                if column is not None:
                    figures[column] += upto - t
                if state == _PAUSED:
                    pauses[(bucket, agent_id, reason or UNSPECIFIED_REASON)] += upto - t
                t = upto

    answered: dict[tuple[int, int], int] = defaultdict(int)
    calls = await session.execute(
        select(Call.agent_id, Call.answered_at).where(
            Call.answered_at >= first, Call.answered_at < end, Call.agent_id.is_not(None)
        )
    )
    for agent_id, at in calls:
        if agent_id is None or at is None:
            continue
        answered[(int(at.timestamp()) // PERIOD_15M * PERIOD_15M, agent_id)] += 1

    def when(bucket: int) -> datetime:
        return datetime.fromtimestamp(bucket, UTC)

    agent_rows = [
        {
            "period_s": PERIOD_15M,
            "bucket": when(bucket),
            "agent_id": agent_id,
            "answered": answered.get((bucket, agent_id), 0),
            **times.get((bucket, agent_id), dict.fromkeys(_AGENT_SUMS, 0.0)),
        }
        for bucket, agent_id in times.keys() | answered.keys()
    ]
    pause_rows = [
        {
            "period_s": PERIOD_15M,
            "bucket": when(bucket),
            "agent_id": agent_id,
            "reason": reason,
            "paused_s": seconds,
        }
        for (bucket, agent_id, reason), seconds in pauses.items()
    ]
    return agent_rows, pause_rows
