"""One service process per database and Asterisk instance (``store.lock``)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from store.lock import LOCK_CLASS, AlreadyRunning, InstanceLock


async def test_a_second_process_on_the_same_database_and_instance_is_refused(
    database_url: str,
) -> None:
    first = InstanceLock(database_url, "main")
    second = InstanceLock(database_url, "main")
    other_instance = InstanceLock(database_url, "north")
    await first.acquire()
    try:
        with pytest.raises(AlreadyRunning, match="already serving Asterisk instance 'main'"):
            await second.acquire()
        assert not second.held
        await other_instance.acquire()  # another Asterisk: its own calls, its own lock
        assert other_instance.held
    finally:
        await first.release()
        await other_instance.release()
    await second.acquire()  # freed when the first one stopped
    assert second.held
    await second.release()


@pytest.mark.postgres
async def test_the_postgresql_lock_is_taken_again_after_its_connection_dies(
    postgres_database_url: str,
) -> None:
    """A restarted server frees the lock with the connection: the holder takes it back;
    if another process got it first, the holder says it lost it."""
    url = postgres_database_url
    mine = InstanceLock(url, "main")
    await mine.acquire()
    killer = create_async_engine(url)
    try:

        async def kill_lock_connections() -> None:
            async with killer.connect() as c:
                await c.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks "
                        "WHERE locktype = 'advisory' AND classid = :c"
                    ),
                    {"c": LOCK_CLASS},
                )
                await c.commit()

        await kill_lock_connections()
        await mine.check()
        assert mine.held and not mine.lost
        with pytest.raises(AlreadyRunning):
            await InstanceLock(url, "main").acquire()

        await kill_lock_connections()
        intruder = InstanceLock(url, "main")
        await intruder.acquire()  # got in while the holder's connection was gone
        await mine.check()
        assert mine.lost
        await intruder.release()
        await mine.check()
        assert not mine.lost
    finally:
        await mine.release()
        await killer.dispose()
