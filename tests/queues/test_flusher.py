"""The write-behind flusher on its own: batches, what a failed write keeps, the back-off of its
task; a fake write and a fake sleep, no database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from queues.flusher import MAX_BACKOFF_S, Flusher

log = logging.getLogger("tests.flusher")


@dataclass
class Store:
    """A write that fails while ``down``; what it wrote, batch by batch."""

    batches: list[list[str]] = field(default_factory=list)
    down: int = 0  # how many writes fail from now on
    during_write: list[str] = field(default_factory=list)  # noted while a write is under way
    flusher: Flusher[str] | None = None

    async def write(self, batch: list[str]) -> None:
        await asyncio.sleep(0)
        assert self.flusher is not None
        for item in self.during_write:
            self.flusher.add(item)
        self.during_write = []
        if self.down:
            self.down -= 1
            raise ConnectionError("database is away")
        self.batches.append(list(batch))


def flusher_of(
    store: Store,
    *,
    interval_s: float = 0.2,
    unique: bool = False,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Flusher[str]:
    flusher = Flusher(
        store.write, what="thing(s)", log=log, interval_s=interval_s, unique=unique, sleep=sleep
    )
    store.flusher = flusher
    return flusher


async def test_everything_pending_goes_in_one_batch_in_order() -> None:
    store = Store()
    flusher = flusher_of(store)
    assert await flusher.flush() == 0 and store.batches == []  # nothing: no write at all
    for item in ("a", "b", "a"):
        flusher.add(item)
    assert flusher.pending == 3 and "a" in flusher
    assert await flusher.flush() == 3
    assert store.batches == [["a", "b", "a"]]  # each change is kept
    assert flusher.pending == 0 and "a" not in flusher


async def test_unique_items_are_written_once() -> None:
    store = Store()
    flusher = flusher_of(store, unique=True)
    for item in ("a", "b", "a"):
        flusher.add(item)
    assert flusher.pending == 2
    assert await flusher.flush() == 2
    assert store.batches == [["a", "b"]]


@pytest.mark.parametrize(
    ("unique", "then"),
    [(False, ["a", "b", "c", "a"]), (True, ["a", "b", "c"])],
)
async def test_a_failed_batch_waits_ahead_of_what_came_meanwhile(
    unique: bool, then: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(down=1)
    flusher = flusher_of(store, unique=unique)
    flusher.add("a")
    flusher.add("b")
    store.during_write = ["c", "a"]
    with caplog.at_level(logging.ERROR, logger="tests.flusher"), pytest.raises(ConnectionError):
        await flusher.flush()
    assert "could not write 2 thing(s); will retry" in caplog.text
    assert flusher.failures == 1 and flusher.pending == len(then)
    assert await flusher.flush() == len(then)  # the database is back
    assert store.batches == [then]


async def test_written_is_told_of_each_batch_once_it_is_in() -> None:
    store = Store(down=1)
    told: list[tuple[list[str], bool]] = []
    flusher: Flusher[str] = Flusher(
        store.write,
        what="thing(s)",
        log=log,
        interval_s=0.2,
        unique=True,
        written=lambda batch: told.append((batch, "a" in flusher)),
    )
    store.flusher = flusher
    flusher.add("a")
    with pytest.raises(ConnectionError):
        await flusher.flush()
    assert told == []  # not written: not told
    store.during_write = ["a"]  # changed again while being written
    await flusher.flush()
    assert told == [(["a"], True)]


async def test_the_task_backs_off_while_the_database_is_away_then_keeps_its_pace() -> None:
    store = Store(down=4)
    pauses: list[float] = []
    paused = asyncio.Event()

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        paused.set()
        await asyncio.sleep(0)

    flusher = flusher_of(store, interval_s=1.0, sleep=sleep)
    task = asyncio.create_task(flusher.run())
    try:
        await asyncio.sleep(0)
        assert pauses == []  # nothing pending: the task waits
        flusher.add("a")
        while len(pauses) < 5:
            paused.clear()
            await paused.wait()
        await asyncio.sleep(0)
        # Doubling from the interval up to the cap while it fails; the interval once it works.
        assert pauses == [2.0, 4.0, MAX_BACKOFF_S, MAX_BACKOFF_S, 1.0]
        assert store.batches == [["a"]] and flusher.failures == 4
        flusher.add("b")
        while len(pauses) < 6:
            paused.clear()
            await paused.wait()
        assert store.batches == [["a"], ["b"]] and pauses[-1] == 1.0
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_what_the_stopped_task_left_is_written_by_a_last_flush() -> None:
    store = Store(down=1)
    flusher = flusher_of(store, interval_s=60.0)
    task = asyncio.create_task(flusher.run())
    flusher.add("a")
    for _ in range(5):
        await asyncio.sleep(0)  # the task tried, failed and now pauses
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert flusher.pending == 1
    assert await flusher.flush() == 1 and store.batches == [["a"]]
