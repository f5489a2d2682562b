"""Historical statistics per queue and per agent, per 15 minutes, hour or day, read from the
rollups (``store/rollups.py`` says why rollups and how they are built).

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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from queues.categories import CATEGORIES
from store.models import (
    PERIOD_15M,
    PERIOD_DAY,
    SL_EDGES,
    Agent,
    agent_pause_stats,
    agent_stats,
    queue_stats,
)
from store.rollups import bucket_start, category_of, vietnam_day_start
from store.stats import VIETNAM

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


@dataclass
class _QueueSums:
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_QUEUE_SUMS, 0.0))
    within: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    wait_max_s: float | None = None

    def add(self, row: Mapping[Any, Any], thresholds: Iterable[int]) -> None:
        for name in _QUEUE_SUMS:
            self.sums[name] += row[name] or 0
        for t in thresholds:
            self.within[t] += row[f"answered_within_{t}"] or 0
        wait = row["wait_max_s"]
        if wait is not None:
            self.wait_max_s = wait if self.wait_max_s is None else max(self.wait_max_s, wait)

    def row(
        self,
        start: datetime,
        end: datetime,
        group: tuple[str | None, str | None],
        thresholds: Sequence[int],
    ) -> QueueRow:
        s = self.sums
        offered, answered, handled = int(s["offered"]), int(s["answered"]), int(s["handled"])
        short = int(s["short_abandoned"])
        eligible = offered - short
        return QueueRow(
            start=start,
            end=end,
            category=group[0],
            queue=group[1],
            offered=offered,
            answered=answered,
            abandoned=int(s["abandoned"]),
            short_abandoned=short,
            callbacks=int(s["callbacks"]),
            repeats=int(s["repeats"]),
            abandon_rate=_ratio(s["abandoned"], offered),
            service_levels=[
                ServiceLevel(t, self.within[t], _ratio(self.within[t], eligible))
                for t in thresholds
            ],
            asa_s=_ratio(s["wait_answered_s"], answered),
            aht_s=_ratio(s["talk_s"] + s["wrapup_s"], handled),
            talk_s=_ratio(s["talk_s"], handled),
            wrapup_s=_ratio(s["wrapup_s"], handled),
            longest_wait_s=self.wait_max_s,
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
    stmt = (
        select(
            t.bucket,
            *group_columns,
            *(func.sum(t[name]).label(name) for name in _QUEUE_SUMS),
            *(func.sum(t[f"answered_within_{s}"]).label(f"answered_within_{s}") for s in wanted),
            func.max(t.wait_max_s).label("wait_max_s"),
        )
        .where(
            t.period_s == (PERIOD_DAY if interval == "day" else PERIOD_15M),
            t.bucket >= first,
            t.bucket < end,
        )
        .group_by(t.bucket, *group_columns)
    )
    if category is not None:
        stmt = stmt.where(t.category == category)
    if queue is not None:
        stmt = stmt.where(t.queue == queue)

    cells: dict[tuple[tuple[str | None, str | None], datetime], _QueueSums] = defaultdict(
        _QueueSums
    )
    seen: set[tuple[str | None, str | None]] = set()
    for row in (await session.execute(stmt)).mappings():
        group = (
            row["category"] if by != "all" else None,
            row["queue"] if by == "queue" else None,
        )
        seen.add(group)
        cells[(group, interval_start(row["bucket"], interval))].add(row, wanted)

    groups = _queue_groups(by, seen, category, queue)
    step = INTERVALS[interval]
    rows = []
    for group in groups:
        levels = thresholds if thresholds is not None else thresholds_for(group[0], configured)
        for start in _starts(first, end, interval):
            sums = cells.get((group, start)) or _QueueSums()
            rows.append(sums.row(start, start + step, group, levels))
    return rows


def _queue_groups(
    by: str,
    seen: set[tuple[str | None, str | None]],
    category: str | None,
    queue: str | None,
) -> list[tuple[str | None, str | None]]:
    def order(group: tuple[str | None, str | None]) -> tuple[int, str, str]:
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

_AGENT_SUMS = ("answered", "logged_in_s", "idle_s", "ringing_s", "on_call_s", "wrapup_s")


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
    stmt = select(a.bucket, a.agent_id, a.paused_s, *(a[n] for n in _AGENT_SUMS)).where(
        a.period_s == period, a.bucket >= first, a.bucket < end
    )
    pauses = select(p.bucket, p.agent_id, p.reason, p.paused_s).where(
        p.period_s == period, p.bucket >= first, p.bucket < end
    )
    if agent_id is not None:
        stmt = stmt.where(a.agent_id == agent_id)
        pauses = pauses.where(p.agent_id == agent_id)

    cells: dict[tuple[int, datetime], dict[str, float]] = defaultdict(
        lambda: dict.fromkeys((*_AGENT_SUMS, "paused_s"), 0.0)
    )
    for row in (await session.execute(stmt)).mappings():
        cell = cells[(row["agent_id"], interval_start(row["bucket"], interval))]
        for name in (*_AGENT_SUMS, "paused_s"):
            cell[name] += row[name]
    reasons: dict[tuple[int, datetime], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for bucket, agent, reason, seconds in await session.execute(pauses):
        reasons[(agent, interval_start(bucket, interval))][reason] += seconds

    ids = {agent for agent, _ in cells}
    endpoints: dict[int, str] = {}
    if ids:
        found = await session.execute(select(Agent.id, Agent.endpoint).where(Agent.id.in_(ids)))
        endpoints = {i: e for i, e in found}
    step = INTERVALS[interval]
    rows = []
    for (agent, start), c in sorted(cells.items()):
        busy = c["ringing_s"] + c["on_call_s"] + c["wrapup_s"]
        rows.append(
            AgentRow(
                start=start,
                end=start + step,
                agent_id=agent,
                endpoint=endpoints.get(agent, ""),
                answered=int(c["answered"]),
                logged_in_s=c["logged_in_s"],
                idle_s=c["idle_s"],
                ringing_s=c["ringing_s"],
                talk_s=c["on_call_s"],
                wrapup_s=c["wrapup_s"],
                paused_s=c["paused_s"],
                paused_by_reason=dict(sorted(reasons.get((agent, start), {}).items())),
                occupancy=_occupancy(busy, c["logged_in_s"] - c["paused_s"]),
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
