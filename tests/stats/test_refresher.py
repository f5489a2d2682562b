"""The statistics refresher: which quarter hours each round rebuilds, on a test clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from stats.refresher import StatsRefresher
from store.db import Database
from store.models import AgentStateChange, Call, CallStatus, agent_stats, queue_stats
from store.seed import ensure_agents
from tests.stats.recorded_day import vn


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def refresher(db: Database, clock: Clock, **kwargs: object) -> StatsRefresher:
    options: dict[str, object] = {"lookback": timedelta(0), "settle_s": 120.0} | kwargs
    return StatsRefresher(db, clock=clock, **options)  # type: ignore[arg-type]


async def add_call(db: Database, entered: datetime) -> None:
    async with db.session() as session:
        session.add(
            Call(
                uniqueid=f"c{entered.timestamp()}",
                linkedid="c",
                caller_number="0900",
                arrived_at=entered,
                queue_entered_at=entered,
                answered_at=entered + timedelta(seconds=10),
                ended_at=entered + timedelta(seconds=70),
                category="medical",
                queue="medical",
                status=CallStatus.ANSWERED.value,
                wait_s=10,
                talk_s=60,
                complete=True,
            )
        )
        await session.commit()


async def offered(db: Database, bucket: datetime) -> int | None:
    async with db.session() as session:
        return await session.scalar(
            select(queue_stats.c.offered).where(
                queue_stats.c.period_s == 900, queue_stats.c.bucket == bucket
            )
        )


async def test_a_completed_call_is_in_the_statistics_after_the_next_round(db: Database) -> None:
    clock = Clock(vn("08:20"))
    stats = refresher(db, clock)
    assert await stats.refresh_due() == [vn("08:15")]  # the current quarter hour, always

    await add_call(db, vn("08:14:55"))  # answered 08:15:05
    stats.mark(vn("08:14:55"), vn("08:15:05"), None)

    assert await stats.refresh_due() == [vn("08:00"), vn("08:15")]
    assert await offered(db, vn("08:00")) == 1


async def test_marked_and_closed_buckets_are_refreshed_again_after_settling(
    db: Database,
) -> None:
    clock = Clock(vn("08:14:50"))
    stats = refresher(db, clock)
    assert await stats.refresh_due() == [vn("08:00")]
    stats.mark(vn("08:05"))  # due at 08:14:50 and 08:16:50

    clock.now = vn("08:15:01")  # 08:00 closed: due now and at 08:17:01
    assert await stats.refresh_due() == [vn("08:00"), vn("08:15")]
    clock.now = vn("08:15:30")
    assert await stats.refresh_due() == [vn("08:15")]
    clock.now = vn("08:16:51")
    assert await stats.refresh_due() == [vn("08:00"), vn("08:15")]
    clock.now = vn("08:17:02")
    assert await stats.refresh_due() == [vn("08:00"), vn("08:15")]
    clock.now = vn("08:20")
    assert await stats.refresh_due() == [vn("08:15")]
    assert stats.pending == 0


async def test_the_first_round_covers_the_last_hour(db: Database) -> None:
    stats = refresher(db, Clock(vn("08:20")), lookback=timedelta(hours=1))

    assert await stats.refresh_due() == [
        vn("07:15"),
        vn("07:30"),
        vn("07:45"),
        vn("08:00"),
        vn("08:15"),
    ]


async def test_agent_time_grows_in_the_current_bucket(db: Database) -> None:
    await ensure_agents(db, 1)
    async with db.session() as session:
        session.add(AgentStateChange(agent_id=1, at=vn("08:00"), state="idle"))
        await session.commit()
    clock = Clock(vn("08:05"))
    stats = refresher(db, clock)

    async def logged_in() -> float | None:
        await stats.refresh_due()
        async with db.session() as session:
            return await session.scalar(
                select(agent_stats.c.logged_in_s).where(
                    agent_stats.c.period_s == 900, agent_stats.c.bucket == vn("08:00")
                )
            )

    assert await logged_in() == pytest.approx(300)
    clock.now = vn("08:10")
    assert await logged_in() == pytest.approx(600)


async def test_a_failed_round_is_retried(db: Database) -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    clock = Clock(vn("08:20"))
    stats = refresher(down, clock)
    stats.mark(vn("08:05"))
    with pytest.raises(OSError):
        await stats.refresh_due()
    await down.dispose()
    assert stats.failures == 1

    await add_call(db, vn("08:05"))
    stats.db = db  # the database is back
    clock.now = vn("08:20:05")
    assert vn("08:00") in await stats.refresh_due()
    assert await offered(db, vn("08:00")) == 1


async def test_listeners_hear_of_each_round_that_refreshed_and_not_of_a_failed_one(
    db: Database,
) -> None:
    clock = Clock(vn("08:07"))
    r = refresher(db, clock)
    heard: list[int] = []
    r.listeners.append(lambda: heard.append(r.rounds))
    await add_call(db, vn("08:05"))
    await r.refresh_due()
    assert heard == [1]
    assert await offered(db, vn("08:00")) == 1  # the rollups count the call when told
    await db.dispose()
    r.db = Database("sqlite+aiosqlite:////nonexistent/dir/x.db")
    with pytest.raises(Exception):  # noqa: B017 -- whatever the driver raises
        await r.refresh_due()
    assert heard == [1]
