from __future__ import annotations

import asyncio
import time
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


async def test_a_database_that_hangs_does_not_hold_the_menu() -> None:
    """A server that accepts connections and never answers (a hung database): the menu
    goes on without the history after ``wait_s``, not after the driver's minute."""
    accepted: list[asyncio.StreamWriter] = []

    async def swallow(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.append(w)

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    db = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/hung")
    try:
        history = CallHistory(db, wait_s=0.3)
        started = time.monotonic()
        assert await history.last_district("0901", 30) is None
        assert time.monotonic() - started < 0.6
        assert accepted  # it did reach the "database"
    finally:
        for w in accepted:
            w.close()
        server.close()
        await db.dispose()
