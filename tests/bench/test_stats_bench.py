"""The statistics benchmark's generator makes what its docstring says, and the rollups built
from it add up to the calls. No timing is asserted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from stats.history import queue_rows
from stats.rollups import rebuild
from store.db import Database
from store.models import AgentStateChange, Call
from store.seed import ensure_agents
from tests.bench.loader import load_bench

bench = load_bench("stats_queries.py")


def test_the_hour_profile_covers_the_day() -> None:
    hours = bench.hour_lookup()
    assert set(hours) == set(range(24))
    assert hours.count(9) > 10 * hours.count(3)  # busy mornings, quiet nights
    assert len(bench.mean_waits()) == 24


async def test_generated_calls_roll_up_to_their_count(database_url: str, db: Database) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the generator is PostgreSQL SQL")
    await ensure_agents(db, 5)
    days, per_day = 2, 400

    await bench.generate(database_url, days=days, per_day=per_day, start=bench.START)
    end = bench.START + timedelta(days=days)
    await rebuild(db, bench.START, end, now=end)

    async with db.session() as session:
        calls = await session.scalar(select(func.count()).select_from(Call))
        repeats = await session.scalar(
            select(func.count()).select_from(Call).where(Call.repeat_of.is_not(None))
        )
        answered = await session.scalar(
            select(func.count()).select_from(Call).where(Call.answered_at.is_not(None))
        )
        states = await session.scalar(select(func.count()).select_from(AgentStateChange))
        categories = {
            c: n
            for c, n in await session.execute(
                select(Call.category, func.count()).group_by(Call.category)
            )
        }
        rows = await queue_rows(
            session, since=bench.START, until=end, interval="day", by="all", thresholds=[20]
        )
    assert calls == days * per_day
    assert set(categories) == {"medical", "food", "violation"}
    assert states == 4 * answered + days * 5 * 8  # four per answered call, eight a shift
    assert sum(r.offered + r.repeats for r in rows) == calls
    assert sum(r.repeats for r in rows) == repeats
    assert sum(r.answered for r in rows) < calls


def test_the_report_shows_the_anchor_and_the_frozen_heap_from_the_timings() -> None:
    def timing(ms: float) -> object:
        return bench.Timing("queues: the year by day", 1460, [ms] * 59 + [ms * 10], [ms * 2] * 60)

    common = {
        "days": 365,
        "per_day": 1500,
        "agents": 90,
        "generated": None,
        "build_s": None,
        "sizes": [("queue_stats", 10, 2 * 1024 * 1024)],
        "runs": 60,
        "load": ("1.00", "2.00"),
        "version": "PostgreSQL 15",
        "wall_s": 60.0,
    }
    text = bench.report(
        ["--reuse", "db"],
        timings=[timing(10.0)],
        refresh_ms=[5.0] * 60,
        frozen=[timing(20.0)],
        frozen_refresh_ms=[6.0] * 60,
        **common,
    )
    anchor, _, frozen = text.partition("Start-up heap frozen")
    assert "--reuse db" in anchor and "earlier run generated and kept" in anchor
    assert "| queues: the year by day | 1460 | 10.0 |" in anchor
    assert "| 100.0 | 20.0 |" in anchor  # the one slow run is the max; HTTP p50 twice the store
    assert "| queues: the year by day | 1460 | 20.0 |" in frozen
    assert "| 200.0 | 40.0 |" in frozen
    # Without the frozen run: one table, no headings.
    single = bench.report([], timings=[timing(10.0)], refresh_ms=[5.0] * 60, **common)
    assert "Start-up heap frozen" not in single and "Heap as it is" not in single
