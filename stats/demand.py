"""What the recorded calls say about demand: arrivals per category and hour, mean talk time.

Only calls that reached a queue count as offered to agents (queued, connected, answered,
abandoned in the queue); callers who left in the menu or after recorded information never
needed an agent. Hours are hours of the day in Vietnam (UTC+7, no daylight saving), the
hours the hotline is staffed by.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Call, CallStatus

__all__ = ["OFFERED", "VIETNAM", "arrivals_by_category_hour", "mean_talk_by_category"]

VIETNAM = timezone(timedelta(hours=7), "ICT")

OFFERED = (
    CallStatus.QUEUED.value,
    CallStatus.CONNECTED.value,
    CallStatus.ANSWERED.value,
    CallStatus.ABANDONED_QUEUE.value,
)


async def arrivals_by_category_hour(
    session: AsyncSession, *, since: datetime, until: datetime
) -> Counter[tuple[str, int]]:
    """Calls offered to agents in [since, until), counted per (category, hour of day)."""
    # Grouping by hour in SQL would need per-dialect time-zone functions; the rows are two
    # narrow columns, so Python does it the same way on SQLite and PostgreSQL.
    rows = await session.execute(
        select(Call.category, Call.arrived_at).where(
            Call.arrived_at >= since,
            Call.arrived_at < until,
            Call.category.is_not(None),
            Call.status.in_(OFFERED),
        )
    )
    counts: Counter[tuple[str, int]] = Counter()
    for category, arrived_at in rows:
        if category is not None:
            counts[(category, arrived_at.astimezone(VIETNAM).hour)] += 1
    return counts


async def mean_talk_by_category(
    session: AsyncSession, *, since: datetime, until: datetime
) -> dict[str, float]:
    """Mean talk time in seconds of the answered calls of [since, until), per category."""
    rows = await session.execute(
        select(Call.category, func.avg(Call.talk_s))
        .where(
            Call.arrived_at >= since,
            Call.arrived_at < until,
            Call.category.is_not(None),
            Call.status == CallStatus.ANSWERED.value,
            Call.talk_s > 0,
        )
        .group_by(Call.category)
    )
    return {category: float(mean) for category, mean in rows if category and mean is not None}
