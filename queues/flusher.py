"""Writing behind: what changed in memory is written to the database in batches, by one task.

The call tracker (``queues/calls.py``) and the agent-state tracker (``queues/agent_state.py``)
note changes as AMI events come, far faster than one transaction each, and must not lose one
to a database outage. A ``Flusher`` keeps the pending items; ``run()`` writes them at most
every ``interval_s``, and when a write fails the batch is pending again and the task backs
off (doubling, up to ``MAX_BACKOFF_S``) until the database is back. At shutdown one more
``flush()`` writes what is left. One loop for both trackers, so their intervals, back-off and
what ``pending`` counts cannot drift apart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from typing import Generic, TypeVar

__all__ = ["MAX_BACKOFF_S", "Flusher"]

T = TypeVar("T", bound=Hashable)

# The longest pause between two tries while the database is away.
MAX_BACKOFF_S = 5.0


class Flusher(Generic[T]):
    """Items pending a write, and the task that writes them with ``write``.

    ``write(batch)`` writes a batch in one transaction and raises if it could not;
    ``written(batch)``, if given, is told of each batch once it is in the database. With
    ``unique`` an item already pending is not added again (a call changed twice is one
    record to write); without, every item is kept in order (each change is a row).
    ``what`` names the items in the log ("call record(s)").
    """

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        what: str,
        log: logging.Logger,
        interval_s: float,
        unique: bool = False,
        written: Callable[[list[T]], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval_s = interval_s
        self.what = what
        self.failures = 0  # writes that failed, since the start
        self._write = write
        self._written = written
        self._log = log
        self._unique = unique
        self._sleep = sleep
        self._items: list[T] = []
        self._seen: set[T] = set()  # the items pending, when ``unique``
        self._wake = asyncio.Event()

    @property
    def pending(self) -> int:
        """Items noted and not written yet."""
        return len(self._items)

    def __contains__(self, item: object) -> bool:
        return item in self._seen if self._unique else item in self._items

    def __iter__(self) -> Iterator[T]:
        """The pending items, oldest first."""
        return iter(list(self._items))

    def add(self, item: T) -> None:
        """Note an item to write; the task wakes for it."""
        if self._unique:
            if item not in self._seen:
                self._seen.add(item)
                self._items.append(item)
        else:
            self._items.append(item)
        self._wake.set()

    def discard(self, item: T) -> None:
        """Forget a pending item (it is kept elsewhere, e.g. a journal)."""
        if item in self._seen:
            self._seen.discard(item)
        if item in self._items:
            self._items.remove(item)

    async def flush(self) -> int:
        """Write every pending item in one batch; return how many were written.

        On an error nothing is forgotten: the batch is pending again, ahead of the items
        noted meanwhile, and the error is raised.
        """
        if not self._items:
            return 0
        batch, self._items, self._seen = self._items, [], set()
        try:
            await self._write(batch)
        except Exception:
            self.failures += 1
            self._put_back(batch)
            self._log.exception("could not write %d %s; will retry", len(batch), self.what)
            raise
        if self._written is not None:
            self._written(batch)
        return len(batch)

    def _put_back(self, batch: list[T]) -> None:
        if self._unique:
            again = set(batch)
            self._items = [*batch, *(item for item in self._items if item not in again)]
            self._seen.update(batch)
        else:
            self._items[:0] = batch

    async def run(self) -> None:
        """Flush whenever something is pending, at most every ``interval_s``; back off
        while the writes fail. Runs until cancelled."""
        backoff = self.interval_s
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
                backoff = self.interval_s
            except Exception:
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                self._wake.set()
            await self._sleep(backoff)
