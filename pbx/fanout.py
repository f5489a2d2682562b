"""Deliver AMI events to listeners from one queue and one task, isolating listener errors.

panoramisk calls event handlers inside ``data_received``: a handler that raises closes the AMI
connection and loses the rest of that read (defect 5). Here the protocol only enqueues; one task
hands each event to every listener that wants it, in registration order, and a listener that
raises is logged and skipped while the others, and the link, carry on.

A listener may say which events it wants (lowercased names, ``pbx.events.event_names``); it is
then handed only those. When every listener has said so, ``wanted`` tells the protocol, from
the event name alone, which events nobody wants: those are dropped before they are parsed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable

from pbx.events import AmiEvent

__all__ = ["EventFanout", "Listener"]

log = logging.getLogger(__name__)

Listener = Callable[[AmiEvent], Awaitable[None] | None]
"""A plain function or a coroutine function; awaited listeners hold up later events, so keep
them quick and start a task for slow work."""


class EventFanout:
    """An ordered event queue drained by one task into every registered listener."""

    def __init__(self) -> None:
        self._listeners: list[tuple[Listener, frozenset[str] | None]] = []
        self._routes: dict[str, tuple[Listener, ...]] = {}  # event name -> its listeners
        self.wanted: frozenset[bytes] | None = frozenset()
        """The lowercased names of the events some listener wants; None once a listener
        wants every event."""
        self._queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def add(self, listener: Listener, events: Iterable[str] | None = None) -> None:
        """Hand ``listener`` the events named in ``events`` (any case), or every event."""
        names = None if events is None else frozenset(name.lower() for name in events)
        self._listeners.append((listener, names))
        self._routes.clear()
        if names is None or self.wanted is None:
            self.wanted = None
        else:
            self.wanted = self.wanted | {name.encode("ascii") for name in names}

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

    def _route(self, name: str) -> tuple[Listener, ...]:
        route = self._routes.get(name)
        if route is None:
            key = name.lower()
            route = self._routes[name] = tuple(
                listener for listener, names in self._listeners if names is None or key in names
            )
        return route

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            for listener in self._route(event.name):
                try:
                    outcome = listener(event)
                    if inspect.isawaitable(outcome):
                        await outcome
                except Exception:
                    log.exception("AMI event listener %r failed on %s", listener, event.name)
