"""Keeps the statistics rollups current while the service runs.

    refresher = StatsRefresher(db)
    tracker = CallTracker(db, on_complete=lambda c: refresher.mark(c.queue_entered_at,
                                                                   c.answered_at))
    asyncio.create_task(refresher.run())

Every ``interval_s`` it rebuilds (``stats.rollups.refresh_buckets``) the quarter hours that
are due:

- the current one, always: agent time grows without any call ending;
- the buckets of each completed call (``mark``: when it entered the queue and when it was
  answered), at once and again ``settle_s`` later, when the agent's wrap-up after it has
  ended and is in the agent's state rows;
- the bucket that just closed, at once and ``settle_s`` later (rows written late);
- at the first round, the last hour: what was marked before a restart.

A failed round keeps its buckets for the next. Buckets lost while the service was down are
``hotline1022 stats rebuild``'s job.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from stats.rollups import BUCKET, bucket_start, refresh_buckets
from store.db import Database
from store.types import utcnow

__all__ = ["StatsRefresher"]

log = logging.getLogger(__name__)


class StatsRefresher:
    def __init__(
        self,
        db: Database,
        *,
        interval_s: float = 5.0,
        settle_s: float = 120.0,
        lookback: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.interval_s = interval_s
        self.settle = timedelta(seconds=settle_s)
        self.lookback = lookback
        self.clock = clock
        self._due: list[tuple[datetime, datetime]] = []  # heap of (when, bucket)
        self._current: datetime | None = None
        self.rounds = 0
        self.failures = 0
        # Told after each round that refreshed the rollups (the wallboard's figures).
        self.listeners: list[Callable[[], None]] = []

    def mark(self, *times: datetime | None) -> None:
        """The buckets holding these instants changed (None is skipped)."""
        now = self.clock()
        for t in times:
            if t is not None:
                self._schedule(bucket_start(t), now, now + self.settle)

    def _schedule(self, bucket: datetime, *when: datetime) -> None:
        for at in when:
            heapq.heappush(self._due, (at, bucket))

    @property
    def pending(self) -> int:
        return len(self._due)

    async def refresh_due(self) -> list[datetime]:
        """One round: refresh what is due; returns the bucket starts refreshed."""
        now = self.clock()
        current = bucket_start(now)
        if self._current is None:
            start = bucket_start(now - self.lookback)
            while start < current:
                self._schedule(start, now)
                start += BUCKET
        elif current != self._current:
            self._schedule(self._current, now, now + self.settle)
        self._current = current
        buckets = {current}
        while self._due and self._due[0][0] <= now:
            buckets.add(heapq.heappop(self._due)[1])
        try:
            async with self.db.session() as session:
                done = await refresh_buckets(session, buckets, now=now)
                await session.commit()
        except Exception:
            self.failures += 1
            for bucket in buckets:
                self._schedule(bucket, now)
            raise
        self.rounds += 1
        for listener in self.listeners:
            listener()
        return done

    async def run(self) -> None:
        """Refresh every ``interval_s`` until cancelled; a failed round is logged and retried."""
        while True:
            try:
                await self.refresh_due()
            except Exception as exc:
                log.warning("statistics not refreshed (%s); will retry", exc)
            await asyncio.sleep(self.interval_s)
