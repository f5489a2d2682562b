"""``hotline1022 stats rebuild``: whole Vietnam days from the recorded events."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from cli.main import main
from store.db import Database
from store.migrate import upgrade_async
from store.models import queue_stats
from tests.stats.recorded_day import DAY, load_recorded_day


async def _load(url: str) -> None:
    await upgrade_async(url)
    db = Database(url)
    try:
        await load_recorded_day(db)
    finally:
        await db.dispose()


async def _day_rows(url: str) -> list[tuple[str, int]]:
    db = Database(url)
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(queue_stats.c.category, func.sum(queue_stats.c.offered))
                .where(queue_stats.c.period_s == 86400, queue_stats.c.bucket == DAY)
                .group_by(queue_stats.c.category)
                .order_by(queue_stats.c.category)
            )
            return [(c, int(n)) for c, n in rows]
    finally:
        await db.dispose()


def test_rebuild_a_day(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    asyncio.run(_load(database_url))

    args = ["--since", "2024-05-01", "--until", "2024-05-01T23:00", "--database-url"]
    code = main(["stats", "rebuild", *args, database_url])

    assert code == 0
    assert "rebuilt 1 day(s), 2024-05-01 to 2024-05-01 23:00 (Vietnam)" in capsys.readouterr().out
    # By hand (tests/store/recorded_day.py): offered per category on 1 May.
    assert asyncio.run(_day_rows(database_url)) == [
        ("food", 8),
        ("general", 1),
        ("medical", 9),
        ("violation", 3),
    ]


def test_until_before_since_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stats", "rebuild", "--since", "2024-05-02", "--until", "2024-05-01"])

    assert code == 2
    assert "--until must be after --since" in capsys.readouterr().err


def test_a_date_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["stats", "rebuild", "--since", "yesterday"])

    assert exit_.value.code == 2
    assert "expected a date or ISO 8601 time" in capsys.readouterr().err
