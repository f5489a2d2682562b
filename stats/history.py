"""Historical statistics per queue and per agent, per 15 minutes, hour or day, read from the
rollups (``stats/rollups.py`` says why rollups and how they are built).

Definitions (also in the API's route descriptions). Call figures count the calls that
entered a queue in the interval (``queue_entered_at``), whatever happened to them later:

- **offered**: calls that entered a queue, redials excluded;
- **repeats**: redials (``repeat_of`` set: the same number called again while its earlier
  call was still waiting or had a callback pending) — reported apart and left out of every
  other call figure, since they are not new demand;
- **answered**: offered calls an agent answered;
- **abandoned**: offered calls that left the queue unanswered after waiting ≥ 5 s;
- **short_abandoned**: left within 5 s: not in abandoned, and out of the SL denominator;
- **callbacks**: offered calls whose caller chose to be called back instead of waiting;
- **service level(T)** = answered with wait ≤ T / (offered − short_abandoned);
- **abandon rate** = abandoned / offered;
- **ASA** = mean wait of the answered calls;
- **AHT** = (talk + wrap-up) / answered calls whose talk time is known (ended). Wrap-up is
  the time of the agent's ``wrapup`` states that name the call, until the agent's next
  state. There is no hold in this system. Wrap-up an agent spends without a call id is in
  the agent figures, not in AHT;
- **longest wait**: the longest wait of an answered or abandoned call (short abandons
  included).

Agent figures are times within the interval (a state is split at interval edges):
logged-in (any state but ``logged_out``), idle, ringing, talk (``on_call``), wrap-up,
paused (and per reason); answered = calls the agent answered in the interval;
**occupancy** = (ringing + talk + wrap-up) / (logged-in − paused): the share of the time
the agent was available for calls that calls took. Ringing counts as busy — the agent cannot
take another call — and pauses are left out, including the ``acw`` reason (after-call work,
reported under pauses).

One concern, reading the rollups back; it is long because every figure above is defined and
summed here, once, for both databases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from stats.demand import VIETNAM
from stats.rollups import bucket_start, category_of, vietnam_day_start
from store.categories import CATEGORIES
from store.models import (
    PERIOD_15M,
    PERIOD_DAY,
    SL_EDGES,
    Agent,
    agent_pause_stats,
    agent_stats,
    queue_stats,
)
from store.types import UTCDateTime

__all__ = [
    "DEFAULT_SL_THRESHOLDS",
    "INTERVALS",
    "MAX_SPAN",
    "AgentRow",
    "Grouping",
    "Interval",
    "QueueRow",
    "ServiceLevel",
    "StatsQueryError",
    "agent_rows",
    "align",
    "check_thresholds",
    "interval_start",
    "local_label",
    "parse_thresholds",
    "queue_rows",
    "thresholds_for",
]

Interval = Literal["15m", "hour", "day"]
Grouping = Literal["category", "queue", "all"]

INTERVALS: dict[str, timedelta] = {
    "15m": timedelta(minutes=15),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
# The longest range per interval: a few thousand rows at most per answer.
MAX_SPAN: dict[str, timedelta] = {
    "15m": timedelta(days=7),
    "hour": timedelta(days=62),
    "day": timedelta(days=732),
}
DEFAULT_SL_THRESHOLDS: dict[str, tuple[int, ...]] = {"medical": (15, 20), "*": (20,)}
_CATEGORY_ORDER = [c.key for c in CATEGORIES]


class _HourStart(FunctionElement[datetime]):
    """SQL: the start of the UTC hour that holds a timestamp, so that hours are summed by
    the database from the quarter hours (a quarter of the rows to fetch)."""

    type = UTCDateTime()
    inherit_cache = True
    name = "hour_start"


@compiles(_HourStart, "postgresql")
def _hour_start_postgresql(element: _HourStart, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    # In UTC whatever the session's time zone: an hour in India starts at :30 in UTC.
    return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"


@compiles(_HourStart, "sqlite")
def _hour_start_sqlite(element: _HourStart, compiler: SQLCompiler, **kw: Any) -> str:
    # The text UTCDateTime stores on SQLite, cut to the hour.
    return f"strftime('%Y-%m-%d %H:00:00.000000', {compiler.process(element.clauses, **kw)})"


class StatsQueryError(ValueError):
    """A request the statistics cannot answer; the message says what to change."""


# -- parameters -----------------------------------------------------------------------------


def interval_start(t: datetime, interval: str) -> datetime:
    """The start (UTC) of the 15-minute, hour or Vietnam day interval that holds ``t``."""
    if interval == "15m":
        return bucket_start(t)
    if interval == "hour":
        return t.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return vietnam_day_start(t)


def align(since: datetime, until: datetime, interval: str) -> tuple[datetime, datetime]:
    """[since, until) widened to whole intervals; refuses an empty or too long range."""
    if interval not in INTERVALS:
        raise StatsQueryError(f"interval: must be one of {', '.join(INTERVALS)}, got {interval!r}")
    if until <= since:
        raise StatsQueryError("until: must be after since")
    first = interval_start(since, interval)
    end = interval_start(until, interval)
    if end < until:
        end += INTERVALS[interval]
    if end - first > MAX_SPAN[interval]:
        longest = MAX_SPAN[interval].days
        wider = {"15m": " (use interval=hour or day)", "hour": " (use interval=day)"}
        raise StatsQueryError(
            f"range too big for interval={interval}: {(end - first).days} days, at most "
            f"{longest}{wider.get(interval, '')}"
        )
    return first, end


def check_thresholds(values: Iterable[int]) -> tuple[int, ...]:
    """The thresholds, sorted, if the rollups keep every one of them."""
    chosen = tuple(sorted(set(values)))
    unsupported = [t for t in chosen if t not in SL_EDGES]
    if unsupported:
        raise StatsQueryError(
            f"thresholds: {', '.join(f'{t} s' for t in unsupported)} not supported; service "
            "levels are kept for each second from 1 to 30 s, every 5 s to 60 s, and 90, 120, "
            "180, 240, 300 s"
        )
    return chosen


def parse_thresholds(text: str) -> tuple[int, ...]:
    """``"15,20"`` → (15, 20)."""
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise StatsQueryError(
            f"thresholds: expected whole seconds separated by commas, e.g. 15,20; got {text!r}"
        ) from None
    if not values:
        raise StatsQueryError("thresholds: give at least one, e.g. 15,20")
    return check_thresholds(values)


def thresholds_for(
    category: str | None, configured: Mapping[str, Sequence[int]]
) -> tuple[int, ...]:
    """The configured thresholds of a category (``*``: the others); all of them for None."""
    if category is None:
        return tuple(sorted({t for values in configured.values() for t in values}))
    return tuple(configured.get(category, configured.get("*", ())))


# -- queues ---------------------------------------------------------------------------------

_QUEUE_SUMS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "callbacks",
    "repeats",
    "handled",
    "wait_answered_s",
    "talk_s",
    "wrapup_s",
)


@dataclass(frozen=True)
class ServiceLevel:
    seconds: int
    answered_within: int
    value: float | None  # None when nothing was offered (minus short abandons)


@dataclass(frozen=True)
class QueueRow:
    start: datetime
    end: datetime
    category: str | None
    queue: str | None
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    callbacks: int
    repeats: int
    abandon_rate: float | None
    service_levels: list[ServiceLevel]
    asa_s: float | None
    aht_s: float | None
    talk_s: float | None
    wrapup_s: float | None
    longest_wait_s: float | None


Group = tuple[str | None, str | None]  # (category, Asterisk queue)


def _queue_row(
    start: datetime,
    end: datetime,
    group: Group,
    sums: Sequence[float],
    longest_wait_s: float | None,
    levels: Sequence[tuple[int, int]],
) -> QueueRow:
    """A row from the summed columns: ``sums`` in _QUEUE_SUMS order, then answered-within
    counts; ``levels`` are (threshold, index of its count in ``sums``)."""
    offered, answered, abandoned, short, callbacks, repeats, handled = (int(v) for v in sums[:7])
    wait_answered, talk, wrapup = sums[7:10]
    eligible = offered - short
    return QueueRow(
        start=start,
        end=end,
        category=group[0],
        queue=group[1],
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short,
        callbacks=callbacks,
        repeats=repeats,
        abandon_rate=_ratio(abandoned, offered),
        service_levels=[
            ServiceLevel(t, int(sums[i]), _ratio(sums[i], eligible)) for t, i in levels
        ],
        asa_s=_ratio(wait_answered, answered),
        aht_s=_ratio(talk + wrapup, handled),
        talk_s=_ratio(talk, handled),
        wrapup_s=_ratio(wrapup, handled),
        longest_wait_s=longest_wait_s,
    )


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _starts(first: datetime, end: datetime, interval: str) -> list[datetime]:
    step = INTERVALS[interval]
    starts = []
    t = first
    while t < end:
        starts.append(t)
        t += step
    return starts


async def queue_rows(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    interval: str = "hour",
    category: str | None = None,
    queue: str | None = None,
    by: str = "category",
    thresholds: Sequence[int] | None = None,
    configured: Mapping[str, Sequence[int]] = DEFAULT_SL_THRESHOLDS,
) -> list[QueueRow]:
    """One row per interval of [since, until) (widened to whole intervals) and group:
    ``by`` category (every category, even without calls), Asterisk ``queue`` (the queues
    that had calls), or ``all`` (one group). Empty intervals are rows of zeros.

    Service levels for ``thresholds`` if given, else the ``configured`` ones of the row's
    category (``by=all``: every configured threshold).
    """
    first, end = align(since, until, interval)
    if thresholds is not None:
        thresholds = check_thresholds(thresholds)
    wanted = sorted(
        set(thresholds)
        if thresholds is not None
        else {t for values in configured.values() for t in values}
    )
    check_thresholds(wanted)
    if by not in ("category", "queue", "all"):
        raise StatsQueryError(f"by: must be category, queue or all, got {by!r}")

    t = queue_stats.c
    group_columns = {"category": [t.category], "queue": [t.category, t.queue], "all": []}[by]
    summed = [*_QUEUE_SUMS, *(f"answered_within_{s}" for s in wanted)]
    when = _HourStart(t.bucket) if interval == "hour" else t.bucket
    stmt = (
        select(
            when,
            *group_columns,
            *(func.sum(t[name]) for name in summed),
            func.max(t.wait_max_s),
        )
        .where(
            t.period_s == (PERIOD_DAY if interval == "day" else PERIOD_15M),
            t.bucket >= first,
            t.bucket < end,
        )
        .group_by(when, *group_columns)
    )
    if category is not None:
        stmt = stmt.where(t.category == category)
    if queue is not None:
        stmt = stmt.where(t.queue == queue)

    # A year by day or a week by hour per queue is thousands of rows: plain tuples and lists.
    cells: dict[tuple[Group, datetime], list[float]] = {}
    longest: dict[tuple[Group, datetime], float] = {}
    starts: dict[datetime, datetime] = {}
    width = len(group_columns)
    for row in await session.execute(stmt):
        bucket = row[0]
        start = starts.get(bucket)
        if start is None:
            start = starts[bucket] = interval_start(bucket, interval)
        group: Group = (row[1], row[2]) if width == 2 else (row[1], None) if width else (None, None)
        key = (group, start)
        sums = cells.get(key)
        if sums is None:
            cells[key] = [v or 0 for v in row[1 + width : -1]]
        else:
            for i, v in enumerate(row[1 + width : -1]):
                sums[i] += v or 0
        wait = row[-1]
        if wait is not None:
            longest[key] = max(longest.get(key, wait), wait)

    groups = _queue_groups(by, {g for g, _ in cells}, category, queue)
    step = INTERVALS[interval]
    zeros = [0.0] * len(summed)
    position = {t: len(_QUEUE_SUMS) + i for i, t in enumerate(wanted)}
    rows = []
    for group in groups:
        chosen = thresholds if thresholds is not None else thresholds_for(group[0], configured)
        levels = [(t, position[t]) for t in chosen]
        for start in _starts(first, end, interval):
            key = (group, start)
            rows.append(
                _queue_row(
                    start, start + step, group, cells.get(key, zeros), longest.get(key), levels
                )
            )
    return rows


def _queue_groups(
    by: str, seen: set[Group], category: str | None, queue: str | None
) -> list[Group]:
    def order(group: Group) -> tuple[int, str, str]:
        cat = group[0] or ""
        rank = _CATEGORY_ORDER.index(cat) if cat in _CATEGORY_ORDER else len(_CATEGORY_ORDER)
        return rank, cat, group[1] or ""

    if by == "all":
        return [(None, None)]
    groups = set(seen)
    if by == "category":
        if category is not None:
            groups.add((category, None))
        elif queue is not None:
            groups = groups or {(category_of(None, queue), None)}
        else:
            groups |= {(c, None) for c in _CATEGORY_ORDER}
    elif queue is not None and not groups:
        groups = {(category or category_of(None, queue), queue)}
    return sorted(groups, key=order)


# -- agents ---------------------------------------------------------------------------------

_AGENT_SUMS = (
    "answered",
    "logged_in_s",
    "idle_s",
    "ringing_s",
    "on_call_s",
    "wrapup_s",
    "paused_s",
)


@dataclass(frozen=True)
class AgentRow:
    start: datetime
    end: datetime
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


async def agent_rows(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    interval: str = "hour",
    agent_id: int | None = None,
) -> list[AgentRow]:
    """One row per agent and interval in which the agent was logged in or answered a call
    (an interval without a row is one the agent was not there), by agent, then time."""
    first, end = align(since, until, interval)
    period = PERIOD_DAY if interval == "day" else PERIOD_15M
    a, p = agent_stats.c, agent_pause_stats.c
    when = _HourStart(a.bucket) if interval == "hour" else a.bucket
    stmt = (
        select(when, a.agent_id, *(func.sum(a[n]) for n in _AGENT_SUMS))
        .where(a.period_s == period, a.bucket >= first, a.bucket < end)
        .group_by(when, a.agent_id)
    )
    pauses = select(p.bucket, p.agent_id, p.reason, p.paused_s).where(
        p.period_s == period, p.bucket >= first, p.bucket < end
    )
    if agent_id is not None:
        stmt = stmt.where(a.agent_id == agent_id)
        pauses = pauses.where(p.agent_id == agent_id)

    # (agent, interval start) -> answered, logged-in, idle, ringing, on call, wrap-up, paused
    cells: dict[tuple[int, datetime], list[float]] = {}
    starts: dict[datetime, datetime] = {}

    def start_of(bucket: datetime) -> datetime:
        start = starts.get(bucket)
        if start is None:
            start = starts[bucket] = interval_start(bucket, interval)
        return start

    for bucket, agent, *values in await session.execute(stmt):
        key = (agent, start_of(bucket))
        sums = cells.get(key)
        if sums is None:
            cells[key] = values
        else:
            for i, v in enumerate(values):
                sums[i] += v
    reasons: dict[tuple[int, datetime], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for bucket, agent, reason, seconds in await session.execute(pauses):
        reasons[(agent, start_of(bucket))][reason] += seconds

    ids = {agent for agent, _ in cells}
    endpoints: dict[int, str] = {}
    if ids:
        found = await session.execute(select(Agent.id, Agent.endpoint).where(Agent.id.in_(ids)))
        endpoints = {i: e for i, e in found}
    step = INTERVALS[interval]
    rows = []
    for (agent, start), c in sorted(cells.items()):
        answered, logged_in, idle, ringing, on_call, wrapup, paused = c
        rows.append(
            AgentRow(
                start=start,
                end=start + step,
                agent_id=agent,
                endpoint=endpoints.get(agent, ""),
                answered=int(answered),
                logged_in_s=logged_in,
                idle_s=idle,
                ringing_s=ringing,
                talk_s=on_call,
                wrapup_s=wrapup,
                paused_s=paused,
                paused_by_reason=dict(sorted(reasons.get((agent, start), {}).items())),
                occupancy=_occupancy(ringing + on_call + wrapup, logged_in - paused),
            )
        )
    return rows


def _occupancy(busy: float, available: float) -> float | None:
    # Sums of float seconds: "no time available" can come out as a few nanoseconds.
    return busy / available if available > 1e-3 else None


def local_label(start: datetime, interval: str) -> str:
    """How a supervisor reads the interval: its start in Vietnam time."""
    local = start.astimezone(VIETNAM)
    return local.strftime("%Y-%m-%d" if interval == "day" else "%Y-%m-%d %H:%M")
