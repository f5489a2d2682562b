"""Live queue state — who waits where, since when, and which agents are in each queue.

Kept from AMI queue events, and rebuilt from ``QueueStatus`` whenever the AMI link
(re)connects, so a restart of the service or of Asterisk leaves no stale state.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from pbx.events import (
    AmiEvent,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueMemberAdded,
    QueueMemberRemoved,
)
from queues.ports import QueueView
from queues.routing import QueueSpec, RoutingPolicy

__all__ = ["LiveQueues"]

# A QueueStatus reply as plain dicts: entries (QueueEntry) and members (QueueMember).
StatusFetcher = Callable[[], Awaitable[tuple[list[Mapping[str, str]], list[Mapping[str, str]]]]]


class LiveQueues:
    def __init__(
        self, queues: Sequence[QueueSpec] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        specs = RoutingPolicy().queues() if queues is None else queues
        self._category = {q.name: q.category for q in specs}
        self.waiting: dict[str, dict[str, float]] = {q.name: {} for q in specs}
        self.members: dict[str, set[str]] = {q.name: set() for q in specs}

    def on_event(self, ev: AmiEvent) -> None:
        if isinstance(ev, QueueCallerJoin):
            self.waiting.setdefault(ev.queue, {})[ev.uniqueid] = ev.received_at
        elif isinstance(ev, QueueCallerLeave | QueueCallerAbandon):
            self.waiting.setdefault(ev.queue, {}).pop(ev.uniqueid, None)
        elif isinstance(ev, QueueMemberAdded):
            self.members.setdefault(ev.queue, set()).add(ev.member_name or ev.interface)
        elif isinstance(ev, QueueMemberRemoved):
            self.members.setdefault(ev.queue, set()).discard(ev.member_name or ev.interface)

    def rebuild(
        self, entries: Iterable[Mapping[str, str]], members: Iterable[Mapping[str, str]]
    ) -> None:
        """Replace the state with what Asterisk reports now."""
        now = self._clock()
        waiting: dict[str, dict[str, float]] = {q: {} for q in self.waiting}
        for e in entries:
            try:
                wait = float(e.get("Wait", "0") or 0)
            except ValueError:
                wait = 0.0
            waiting.setdefault(e.get("Queue", ""), {})[e.get("Uniqueid", "")] = now - wait
        found: dict[str, set[str]] = {q: set() for q in self.members}
        for m in members:
            found.setdefault(m.get("Queue", ""), set()).add(
                m.get("Name") or m.get("MemberName") or m.get("Location", "")
            )
        self.waiting, self.members = waiting, found

    def snapshot(self) -> list[QueueView]:
        now = self._clock()
        views = []
        for queue in sorted(self.waiting.keys() | self.members.keys()):
            callers = self.waiting.get(queue, {})
            longest = max((now - t for t in callers.values()), default=0.0)
            views.append(
                QueueView(
                    name=queue,
                    category=self._category.get(queue, ""),
                    waiting=len(callers),
                    longest_wait_s=round(max(0.0, longest), 1),
                    logged_in_agents=sorted(self.members.get(queue, set())),
                )
            )
        return views
