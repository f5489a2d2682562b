from __future__ import annotations

from datetime import UTC, datetime, timedelta

from queues.history import CallHistory
from store.db import Database
from store.models import Call


async def test_last_district_within_the_window(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as s:
        s.add_all(
            [
                Call(
                    uniqueid="1",
                    linkedid="1",
                    caller_number="0901",
                    status="answered",
                    arrived_at=now - timedelta(days=40),
                    district_code=718,
                ),
                Call(
                    uniqueid="2",
                    linkedid="2",
                    caller_number="0901",
                    status="answered",
                    arrived_at=now - timedelta(days=3),
                    district_code=724,
                ),
                Call(
                    uniqueid="3",
                    linkedid="3",
                    caller_number="0901",
                    status="answered",
                    arrived_at=now - timedelta(days=1),
                    district_code=None,
                ),
                Call(
                    uniqueid="4",
                    linkedid="4",
                    caller_number="0902",
                    status="answered",
                    arrived_at=now - timedelta(days=40),
                    district_code=718,
                ),
            ]
        )
        await s.commit()
    history = CallHistory(db)
    assert await history.last_district("0901", 30) == 724
    assert await history.last_district("0902", 30) is None
    assert await history.last_district("0902", 60) == 718
    assert await history.last_district("0999", 30) is None


async def test_database_down_means_ask_again_not_fail() -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        assert await CallHistory(down).last_district("0901", 30) is None
    finally:
        await down.dispose()
