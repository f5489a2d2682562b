"""One service process per database and Asterisk instance (``store.lock``)."""

from __future__ import annotations

import pytest

from store.lock import AlreadyRunning, InstanceLock


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
