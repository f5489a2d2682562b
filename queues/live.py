"""Live queue state — who waits where, since when, which agents are in each queue and whether
they can take a call — and the estimated wait a callback offer is based on.

Kept from AMI queue events, and rebuilt from ``QueueStatus`` whenever the AMI link
(re)connects, so a restart of the service or of Asterisk leaves no stale state.

Estimated wait of a caller joining queue *q* now (``queues/wait_estimate.py``, the rule the
surge simulation uses too)::

    able  = members of q not paused whose phone is reachable
    free  = those of them not on a call
    ahead = callers waiting now (callbacks' placeholders included) in the queues of q's
            category and weight (its district queues) and in heavier queues
    wait  = max(0, ahead + 1 − free) × AHT / able        (None when able = 0)

The first ``free`` callers are answered at once; every further caller waits, on average, for
one of ``able`` agents to finish a call of ``AHT`` (talk + wrap-up). ``AHT`` is the mean of
the last ``AHT_WINDOW`` calls of q's category (any category while it has none, a default
before any), from ``AgentComplete``. It is a deliberately simple figure, meant to say
"more than N minutes": it counts every waiting caller of those queues as ahead (a
higher-priority caller joins ahead of lower ones, so for them it overestimates), and it
leaves out lighter queues' callers, who take a free agent now and then when the heavier
queues' callers do not outnumber their free agents (so under load it may underestimate).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from pbx.events import (
    AgentComplete,
    AmiEvent,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueMemberEvent,
    QueueMemberRemoved,
    event_names,
)
from queues.ports import QueueView
from queues.routing import QueueSpec, RoutingPolicy
from queues.wait_estimate import QueueLayout, callers_ahead, estimated_wait_s

__all__ = ["AHT_WINDOW", "DEFAULT_AHT_S", "LiveQueues"]

# StatusFetcher: a QueueStatus reply as plain dicts: entries (QueueEntry), members (QueueMember).
StatusFetcher = Callable[[], Awaitable[tuple[list[Mapping[str, str]], list[Mapping[str, str]]]]]

AHT_WINDOW = 50
DEFAULT_AHT_S = 180.0  # AHT 3 min: the staffing figures of the 2021 hotlines
# Device states (AMI "Status") of a member app_queue cannot ring: invalid, unavailable.
_UNREACHABLE = {4, 5}
_NOT_IN_USE = 1
# A callback's placeholder (queues/placeholders.py), as app_queue names its channel.
_PLACEHOLDER = re.compile(r"^Local/cb\d+@hotline-callback-")


@dataclass
class _Device:
    """A member's device: its state is one for every queue the member is in."""

    status: int = _NOT_IN_USE


@dataclass
class _Member:
    paused: bool
    device: _Device

    @property
    def able(self) -> bool:
        return not self.paused and self.device.status not in _UNREACHABLE

    @property
    def free(self) -> bool:
        return self.able and self.device.status == _NOT_IN_USE


class LiveQueues:
    EVENTS: ClassVar[frozenset[str]] = event_names(
        QueueCallerJoin, QueueCallerLeave, QueueCallerAbandon, QueueMemberEvent, AgentComplete
    )
    """What ``on_event`` acts on (``AmiLink.add_listener(..., events=...)``)."""

    def __init__(
        self,
        queues: Sequence[QueueSpec] | None = None,
        clock: Callable[[], float] = time.time,
        *,
        wrapup_s: float = 0.0,
        default_aht_s: float = DEFAULT_AHT_S,
        on_change: Callable[[str | None], None] | None = None,
    ) -> None:
        """``on_change(queue)``: told when a queue's callers or members change (None: every
        queue, after a rebuild), for the live stream."""
        self._clock = clock
        self.on_change = on_change
        specs = RoutingPolicy().queues() if queues is None else queues
        self._category = {q.name: q.category for q in specs}
        self._layout = QueueLayout(self._category, {q.name: q.weight for q in specs})
        self.waiting: dict[str, dict[str, float]] = {q.name: {} for q in specs}
        self._members: dict[str, dict[str, _Member]] = {q.name: {} for q in specs}
        # Device (StateInterface) -> its state, shared by the member in every queue: app_queue
        # reports a change once per queue, the link may pass on only the first of them.
        self._devices: dict[str, _Device] = {}
        self._placeholders: set[str] = set()  # uniqueids of callbacks' placeholders waiting
        self._wrapup_s = wrapup_s
        self._default_aht_s = default_aht_s
        self._handled: dict[str, deque[float]] = {}  # category -> recent talk + wrap-up
        self._handled_any: deque[float] = deque(maxlen=AHT_WINDOW)

    @property
    def members(self) -> dict[str, set[str]]:
        """Queue -> names of its members."""
        return {q: set(m) for q, m in self._members.items()}

    def on_event(self, ev: AmiEvent) -> None:
        if isinstance(ev, QueueCallerJoin):
            self.waiting.setdefault(ev.queue, {})[ev.uniqueid] = ev.received_at
            if _PLACEHOLDER.match(ev.channel):
                self._placeholders.add(ev.uniqueid)
        elif isinstance(ev, QueueCallerLeave | QueueCallerAbandon):
            self.waiting.setdefault(ev.queue, {}).pop(ev.uniqueid, None)
            self._placeholders.discard(ev.uniqueid)
        elif isinstance(ev, QueueMemberRemoved):
            self._members.setdefault(ev.queue, {}).pop(ev.member_name or ev.interface, None)
        elif isinstance(ev, QueueMemberEvent):  # added, status, pause: the member's state now
            key = ev.state_interface or ev.interface or ev.member_name
            device = self._devices.get(key)
            if device is None:
                device = self._devices[key] = _Device(ev.status)
            device.status = ev.status
            members = self._members.setdefault(ev.queue, {})
            member = members.get(ev.member_name or ev.interface)
            if member is None:
                members[ev.member_name or ev.interface] = _Member(ev.paused, device)
            else:  # in place: an agent's every state change comes once per queue (41 times)
                member.paused, member.device = ev.paused, device
        elif isinstance(ev, AgentComplete):
            self._handled_call(ev.queue, ev.talk_time + self._wrapup_s)
        else:
            return
        if self.on_change is not None:
            self.on_change(getattr(ev, "queue", None))

    def _handled_call(self, queue: str, seconds: float) -> None:
        category = self._category.get(queue, queue)
        self._handled.setdefault(category, deque(maxlen=AHT_WINDOW)).append(seconds)
        self._handled_any.append(seconds)

    def rebuild(
        self, entries: Iterable[Mapping[str, str]], members: Iterable[Mapping[str, str]]
    ) -> None:
        """Replace the state with what Asterisk reports now."""
        now = self._clock()
        waiting: dict[str, dict[str, float]] = {q: {} for q in self.waiting}
        placeholders: set[str] = set()
        for e in entries:
            wait = _number(e.get("Wait", "0"))
            uniqueid = e.get("Uniqueid", "")
            waiting.setdefault(e.get("Queue", ""), {})[uniqueid] = now - wait
            if _PLACEHOLDER.match(e.get("Channel", "")):
                placeholders.add(uniqueid)
        found: dict[str, dict[str, _Member]] = {q: {} for q in self._members}
        devices: dict[str, _Device] = {}
        for m in members:
            name = m.get("Name") or m.get("MemberName") or m.get("Location", "")
            key = m.get("StateInterface") or m.get("Location") or name
            device = devices.setdefault(key, _Device())
            device.status = int(_number(m.get("Status", str(_NOT_IN_USE))))
            found.setdefault(m.get("Queue", ""), {})[name] = _Member(
                paused=m.get("Paused", "0").strip() in ("1", "true", "yes"), device=device
            )
        self.waiting, self._members, self._placeholders = waiting, found, placeholders
        self._devices = devices
        if self.on_change is not None:
            self.on_change(None)

    def aht_s(self, queue: str) -> float:
        """Mean handling time (talk + wrap-up) of the recent calls of the queue's category."""
        recent = self._handled.get(self._category.get(queue, queue)) or self._handled_any
        return sum(recent) / len(recent) if recent else self._default_aht_s

    def estimated_wait_s(self, queue: str) -> float | None:
        """What a caller joining ``queue`` now would wait (the module docstring says how);
        None when no agent can take the queue now."""
        members = self._members.get(queue, {}).values()
        able = sum(m.able for m in members)
        if able == 0:
            return None
        free = sum(m.free for m in members)
        waiting = {q: len(self.waiting.get(q, ())) for q in self._layout.competing(queue)}
        ahead = callers_ahead(queue, waiting, self._layout)
        return estimated_wait_s(ahead=ahead, free=free, able=able, aht_s=self.aht_s(queue))

    def snapshot(self) -> list[QueueView]:
        now = self._clock()
        views = []
        for queue in sorted(self.waiting.keys() | self._members.keys()):
            callers = self.waiting.get(queue, {})
            longest = max((now - t for t in callers.values()), default=0.0)
            wait = self.estimated_wait_s(queue)
            views.append(
                QueueView(
                    name=queue,
                    category=self._category.get(queue, ""),
                    waiting=len(callers),
                    longest_wait_s=round(max(0.0, longest), 1),
                    logged_in_agents=sorted(self._members.get(queue, {})),
                    estimated_wait_s=None if wait is None else round(wait, 1),
                    callbacks_pending=sum(uid in self._placeholders for uid in callers),
                )
            )
        return views


def _number(raw: str) -> float:
    try:
        return float(raw or 0)
    except ValueError:
        return 0.0
