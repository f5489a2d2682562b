"""Deliver AMI events to listeners from one queue and one task, isolating listener errors.

panoramisk calls event handlers inside ``data_received``: a handler that raises closes the AMI
connection and loses the rest of that read (defect 5). Here the protocol only enqueues; one task
hands each event to every listener in registration order, and a listener that raises is logged
and skipped while the others, and the link, carry on.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable

from pbx.events import AmiEvent

__all__ = ["EventFanout", "Listener"]

log = logging.getLogger(__name__)

Listener = Callable[[AmiEvent], Awaitable[None] | None]
"""A plain function or a coroutine function; awaited listeners hold up later events, so keep
them quick and start a task for slow work."""


class EventFanout:
    """An ordered event queue drained by one task into every registered listener."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def add(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, event: AmiEvent) -> None:
        """Enqueue without blocking: safe to call from ``data_received``."""
        self._queue.put_nowait(event)

    @property
    def backlog(self) -> int:
        """Events received but not yet handed to the listeners."""
        return self._queue.qsize()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="ami-event-fanout")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            for listener in list(self._listeners):
                try:
                    outcome = listener(event)
                    if inspect.isawaitable(outcome):
                        await outcome
                except Exception:
                    log.exception("AMI event listener %r failed on %s", listener, event.name)
