"""The wallboard's figures, computed once for every supervisor and sent as ``figures`` events.

    figures = WallboardFigures(db, feed.hub, thresholds=Thresholds())
    tracker_on_complete = lambda call: (refresher.mark(...), figures.call_ended())
    refresher.listeners.append(figures.rollups_refreshed)
    asyncio.create_task(figures.run())

What the event stream carries by itself (queues, agents' states, incidents) the page
follows from ``agent``, ``queue`` and ``incident`` events. The figures of the day (service
level, ASA, abandon rate, per-agent answered and AHT, the 15-minute chart, staffing) come
from the rollups: reading them once per viewer on every call would cost 50 wallboards × the
calls of a peak hour. So they are read here, once, when the statistics refresher has
rebuilt the rollups after a call ended (at most every ``interval_s``: the calls ending
meanwhile count in the same computation), and published to supervisors and admins; every
``idle_s`` as well while no call ends, so that the current quarter hour and the agents
logged in move. ``GET /wallboard/data`` answers from the same copy.

Each service process computes them for its own viewers and publishes them to its own hub
only (not over the bus: another node computes its own from the same database), and not at
all while nobody watches it.

Staffing (the agents Erlang C says the recorded demand needs per hour, as ``GET /staffing``
computes it with its defaults) changes slowly: it is recomputed every ``staffing_every_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from live.hub import Audience, EventHub
from stats.demand import arrivals_by_category_hour, mean_talk_by_category
from stats.history import DEFAULT_SL_THRESHOLDS
from stats.staffing import Demand, parse_targets, plan
from stats.wallboard import Thresholds, today_figures
from store.db import Database
from store.types import utcnow

__all__ = ["FIGURES_AUDIENCE", "WallboardFigures"]

log = logging.getLogger(__name__)

# Supervisors and admins (the default audience's staff), nobody else.
FIGURES_AUDIENCE = Audience()
STAFFING_WINDOW = timedelta(days=7)
STAFFING_TARGETS = "80:20"
STAFFING_MAX_OCCUPANCY = 0.85
STAFFING_DEFAULT_AHT_S = 180.0
STAFFING_TIME_LIMIT_S = 10.0


class WallboardFigures:
    """Today's figures for every wallboard at once (see the module doc)."""

    def __init__(
        self,
        db: Database,
        hub: EventHub | None,
        *,
        thresholds: Thresholds,
        sl_thresholds: Mapping[str, Sequence[int]] = DEFAULT_SL_THRESHOLDS,
        interval_s: float = 5.0,
        idle_s: float = 60.0,
        staffing_every_s: float = 900.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.hub = hub
        self.thresholds = thresholds
        self.sl_thresholds = sl_thresholds
        self.interval_s = interval_s
        self.idle_s = idle_s
        self.staffing_every_s = staffing_every_s
        self.clock = clock
        self.latest: dict[str, Any] | None = None
        self.rounds = 0
        self._computed_at = 0.0  # monotonic
        self._staffing: list[dict[str, Any]] = []
        self._staffing_at: float | None = None
        self._dirty = asyncio.Event()
        self._ended = False
        self._lock = asyncio.Lock()

    def call_ended(self) -> None:
        """A call ended: the figures are stale once the rollups have counted it."""
        self._ended = True

    def rollups_refreshed(self) -> None:
        """The statistics refresher finished a round: the calls ended before it count now."""
        if self._ended:
            self._ended = False
            self.mark()

    def mark(self) -> None:
        """Compute and publish the figures (soon: at most every ``interval_s``)."""
        self._dirty.set()

    async def current(self) -> dict[str, Any]:
        """The latest figures, computed now if there are none yet or they are older than
        ``interval_s`` (many pages opening at once compute them once)."""
        async with self._lock:
            fresh = time.monotonic() - self._computed_at < self.interval_s
            if self.latest is None or not fresh:
                await self._compute()
            assert self.latest is not None
            return self.latest

    async def refresh(self) -> dict[str, Any]:
        """Compute the figures and publish them to every supervisor and admin."""
        async with self._lock:
            await self._compute()
            assert self.latest is not None
            figures = self.latest
        if self.hub is not None:
            self.hub.publish("figures", figures, FIGURES_AUDIENCE)
        return figures

    async def _compute(self) -> None:
        now = self.clock()
        async with self.db.session() as session:
            figures = await today_figures(
                session, now=now, thresholds=self.thresholds, sl_thresholds=self.sl_thresholds
            )
        figures["staffing"] = await self._staffing_now(now)
        figures["staffing_targets"] = STAFFING_TARGETS
        self.latest = figures
        self._computed_at = time.monotonic()
        self.rounds += 1

    async def _staffing_now(self, now: datetime) -> list[dict[str, Any]]:
        due = (
            self._staffing_at is None
            or time.monotonic() - self._staffing_at >= self.staffing_every_s
        )
        if due:
            try:
                self._staffing = await self._plan(now)
            except Exception:  # a figure the wallboard can do without
                log.warning("wallboard: staffing not computed", exc_info=True)
            self._staffing_at = time.monotonic()
        return self._staffing

    async def _plan(self, now: datetime) -> list[dict[str, Any]]:
        since = now - STAFFING_WINDOW
        days = STAFFING_WINDOW / timedelta(days=1)
        async with self.db.session() as session:
            counts = await arrivals_by_category_hour(session, since=since, until=now)
            talk = await mean_talk_by_category(session, since=since, until=now)
        if not counts:
            return []
        demands = [
            Demand(category, hour, count / days, talk.get(category, STAFFING_DEFAULT_AHT_S))
            for (category, hour), count in sorted(counts.items(), key=lambda kv: kv[0][::-1])
        ]
        _, pooled = await asyncio.to_thread(
            plan,
            demands,
            parse_targets(STAFFING_TARGETS),
            max_occupancy=STAFFING_MAX_OCCUPANCY,
            time_limit_s=STAFFING_TIME_LIMIT_S,
        )
        return sorted(
            (
                {
                    "hour": row.demand.hour,
                    "agents": row.agents,
                    "calls_per_hour": round(row.demand.calls_per_hour, 2),
                }
                for row in pooled
                if row.demand.hour is not None
            ),
            key=lambda r: r["hour"],
        )

    async def run(self) -> None:
        """Until cancelled: when marked (a call ended and the rollups count it) or every
        ``idle_s``, compute the figures once and publish them; then rest ``interval_s``, so
        that a burst of calls ending costs one computation."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), self.idle_s)
            self._dirty.clear()
            if self.hub is not None and self.hub.viewers == 0:
                continue  # nobody watches: GET /wallboard/data computes them when asked
            try:
                await self.refresh()
            except Exception as exc:
                log.warning("wallboard figures not computed (%s); will retry", exc)
            await asyncio.sleep(self.interval_s)
