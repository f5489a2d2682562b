"""The wallboard's figures of the day: what the rollups say, once for every supervisor.

    thresholds = Thresholds(wait_warn_s=30, wait_bad_s=60)
    figures = await today_figures(session, now=utcnow(), thresholds=thresholds)

``today_figures`` reads today's rollups (``stats.history``: midnight in Vietnam until now)
into one JSON-ready dict: per category and per queue the day's offered, answered, abandoned,
service level against its target, ASA and abandon rate; per agent answered and average
handle time; the day per 15 minutes (offered, answered, abandoned, agents logged in).
``level`` says which colour a figure takes at the thresholds (the page's script does the
same for the waits it ticks itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from stats.demand import VIETNAM
from stats.history import DEFAULT_SL_THRESHOLDS, QueueRow, agent_rows, queue_rows

__all__ = [
    "Level",
    "Thresholds",
    "aht_s",
    "figures_row",
    "level",
    "logged_in_per_bucket",
    "midnight",
    "today_figures",
]

Level = Literal["ok", "warn", "bad"]
QUARTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Thresholds:
    """Where the wallboard's colours change (the settings ``wallboard_*``).

    Waits in seconds (longest wait, ASA): ``warn`` from ``*_warn_s``, ``bad`` from
    ``*_bad_s``. Service level and abandon rate as shares 0–1: the service level is ``ok``
    at or above ``sl_target``, ``warn`` down to ``sl_warn``, then ``bad``; the abandon rate
    ``warn`` from ``abandon_warn``, ``bad`` from ``abandon_bad``."""

    wait_warn_s: float = 30.0
    wait_bad_s: float = 60.0
    sl_target: float = 0.80
    sl_warn: float = 0.70
    asa_warn_s: float = 20.0
    asa_bad_s: float = 40.0
    abandon_warn: float = 0.05
    abandon_bad: float = 0.10

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def level(value: float | None, warn: float, bad: float, *, higher_is_better: bool = False) -> Level:
    """The colour of ``value``: ``ok``, ``warn`` from ``warn``, ``bad`` from ``bad``
    (reversed with ``higher_is_better``: ``warn`` below ``warn``, ``bad`` below ``bad``).
    No value (nothing offered yet) is ``ok``: there is nothing to worry about."""
    if value is None:
        return "ok"
    if higher_is_better:
        return "bad" if value < bad else "warn" if value < warn else "ok"
    return "bad" if value >= bad else "warn" if value >= warn else "ok"


def midnight(now: datetime) -> datetime:
    """Today's start in Vietnam (the hotline's day, whatever the server's zone)."""
    local = now.astimezone(VIETNAM)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def aht_s(answered: int, talk_s: float, wrapup_s: float) -> float | None:
    """Average handle time: (talk + wrap-up) per answered call; None without one."""
    return (talk_s + wrapup_s) / answered if answered else None


def figures_row(row: QueueRow, thresholds: Thresholds) -> dict[str, Any]:
    """One category's (or queue's) figures of the day, with their colours."""
    sl = row.service_levels[0] if row.service_levels else None
    sl_value = sl.value if sl is not None else None
    return {
        "category": row.category,
        "queue": row.queue,
        "offered": row.offered,
        "answered": row.answered,
        "abandoned": row.abandoned,
        "service_level": sl_value,
        "sl_seconds": sl.seconds if sl is not None else None,
        "sl_target": thresholds.sl_target,
        "sl_level": level(
            sl_value, thresholds.sl_target, thresholds.sl_warn, higher_is_better=True
        ),
        "asa_s": row.asa_s,
        "asa_level": level(row.asa_s, thresholds.asa_warn_s, thresholds.asa_bad_s),
        "abandon_rate": row.abandon_rate,
        "abandon_level": level(row.abandon_rate, thresholds.abandon_warn, thresholds.abandon_bad),
        "aht_s": row.aht_s,
    }


def logged_in_per_bucket(
    rows: Iterable[tuple[datetime, float]], now: datetime
) -> dict[datetime, float]:
    """Mean agents logged in per quarter hour, from (bucket start, logged-in seconds) rows
    of any number of agents; the current quarter is divided by its elapsed part only."""
    seconds: dict[datetime, float] = {}
    for start, logged_in in rows:
        seconds[start] = seconds.get(start, 0.0) + logged_in
    out = {}
    for start, total in seconds.items():
        span = min(QUARTER.total_seconds(), (now - start).total_seconds())
        out[start] = round(total / span, 2) if span > 0 else 0.0
    return out


async def today_figures(
    session: AsyncSession,
    *,
    now: datetime,
    thresholds: Thresholds,
    sl_thresholds: Mapping[str, Sequence[int]] = DEFAULT_SL_THRESHOLDS,
) -> dict[str, Any]:
    """Today's figures from the rollups (see the module doc); a handful of queries."""
    since = midnight(now)

    async def rows(interval: str, by: str) -> list[QueueRow]:
        return await queue_rows(
            session, since=since, until=now, interval=interval, by=by, configured=sl_thresholds
        )

    categories = await rows("day", "category")
    queues = await rows("day", "queue")
    quarters = await rows("15m", "all")
    agents = await agent_rows(session, since=since, until=now, interval="day")
    agents_15m = await agent_rows(session, since=since, until=now, interval="15m")
    logged_in = logged_in_per_bucket(((r.start, r.logged_in_s) for r in agents_15m), now)
    return {
        "computed_at": now.isoformat(),
        "day": since.date().isoformat(),
        "categories": [figures_row(r, thresholds) for r in categories],
        "queues": [figures_row(r, thresholds) for r in queues],
        "agents": [
            {
                "agent_id": r.agent_id,
                "answered": r.answered,
                "aht_s": aht_s(r.answered, r.talk_s, r.wrapup_s),
            }
            for r in agents
        ],
        "intervals": [
            {
                "start": r.start.isoformat(),
                "label": r.start.astimezone(VIETNAM).strftime("%H:%M"),
                "offered": r.offered,
                "answered": r.answered,
                "abandoned": r.abandoned,
                "agents_logged_in": logged_in.get(r.start, 0.0),
            }
            for r in quarters
            if r.start <= now
        ],
    }
