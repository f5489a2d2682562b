"""The event hub: each change numbered and serialized once, kept in a bounded buffer, handed to
every viewer allowed to see it.

    hub = EventHub(buffer=2000)
    sub = hub.subscribe(Viewer(role="agent", agent_id=7))
    hub.publish("agent", {...}, Audience(agent_ids=frozenset({7})))
    frame = await sub.next(timeout=15)          # bytes of one SSE message, or None

A message is the whole Server-Sent Events frame (``id``, ``event``, ``data``), made as bytes
once in ``publish``; per viewer the hub only checks the audience (a few set look-ups) and
appends a reference to the viewer's queue. Ids are ``<boot>-<seq>``: ``boot`` is random per
process start, so an id from before a restart is never taken for one of this process.

A viewer's queue is bounded: a viewer too slow to drain it is not waited for; its queue is
dropped and it is told to resync (``Subscription.overflowed``), so one stuck browser never
holds the hub or the other viewers back.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

__all__ = [
    "EVERYONE_STAFF",
    "Audience",
    "EventHub",
    "Frame",
    "Subscription",
    "Viewer",
    "encode_frame",
]

# Roles that see every change (as the REST routes let them read everything).
EVERYONE_STAFF = frozenset({"supervisor", "admin"})


@dataclass(frozen=True)
class Viewer:
    """Who watches a stream: what the audience of each change is checked against."""

    role: str
    agent_id: int | None = None
    team_id: int | None = None
    # A team user's place (``places.path``, e.g. "/1/5/"): it sees incidents under it.
    place_path: str | None = None


@dataclass(frozen=True)
class Audience:
    """Who may see one change, decided once when it is published.

    ``staff``: roles that see it whatever it is about (supervisors and admins, by default;
    empty for a pop, which only the agent being rung gets). ``agents``: every agent user
    (the queues). ``agent_ids``: those agents (an agent's own state, calls, pops and the
    incidents of their calls). ``team_ids``: teams holding it; ``place_paths``: a team whose
    place is one of these or above one sees it (an incident under its place)."""

    staff: frozenset[str] = EVERYONE_STAFF
    agents: bool = False
    agent_ids: frozenset[int] = frozenset()
    team_ids: frozenset[int] = frozenset()
    place_paths: tuple[str, ...] = ()

    def admits(self, viewer: Viewer) -> bool:
        if viewer.role in self.staff:
            return True
        if viewer.role == "agent":
            return self.agents or (
                viewer.agent_id is not None and viewer.agent_id in self.agent_ids
            )
        if viewer.role == "team":
            if viewer.team_id is not None and viewer.team_id in self.team_ids:
                return True
            under = viewer.place_path
            return under is not None and any(p.startswith(under) for p in self.place_paths)
        return False


@dataclass(frozen=True, slots=True)
class Frame:
    """One published change: its number, type, who may see it and its bytes on the wire."""

    seq: int
    id: str
    type: str
    audience: Audience
    raw: bytes


def encode_frame(event_id: str, event_type: str, data: Mapping[str, Any]) -> bytes:
    """``id: …\\nevent: …\\ndata: <json>\\n\\n`` (JSON on one line: no newline can split it)."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {event_id}\nevent: {event_type}\ndata: {body}\n\n".encode()


@dataclass(eq=False)
class Subscription:
    """One viewer's queue. ``next()`` gives the next frame's bytes, or None on timeout or
    when the hub closed (``closed``) or the queue overflowed (``overflowed``)."""

    viewer: Viewer
    limit: int
    frames: deque[bytes] = field(default_factory=deque)
    overflowed: bool = False
    # Why it must resync (set with ``overflowed``).
    reason: str = ""
    closed: bool = False
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, raw: bytes) -> None:
        if self.overflowed or self.closed:
            return
        if len(self.frames) >= self.limit:
            # Too slow: what it has queued is stale anyway; it resyncs from a snapshot.
            self.resync("Trình xem chậm, tải lại / viewer too slow, queue overflowed")
            return
        else:
            self.frames.append(raw)
        self._ready.set()

    def resync(self, reason: str) -> None:
        """Drop what is queued: the viewer is sent a resync and a fresh snapshot."""
        self.frames.clear()
        self.overflowed, self.reason = True, reason
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    def reset(self) -> None:
        """After a resync: start again from an empty queue."""
        self.frames.clear()
        self.overflowed, self.reason = False, ""

    async def next(self, timeout: float | None = None) -> bytes | None:  # noqa: ASYNC109 -- a heartbeat is due when it passes
        while not self.frames:
            if self.closed or self.overflowed:
                return None
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        if self.overflowed:
            return None
        return self.frames.popleft()


class EventHub:
    """Numbers, serializes and buffers changes; fans them out to the viewers allowed."""

    def __init__(self, *, buffer: int = 2000, queue: int = 500, boot: str | None = None) -> None:
        if buffer < 1 or queue < 1:
            raise ValueError("buffer and queue sizes must be at least 1")
        self.boot = boot or secrets.token_hex(4)
        self.seq = 0
        self.queue_limit = queue
        self._ring: deque[Frame] = deque(maxlen=buffer)
        self._subs: set[Subscription] = set()
        self.closed = False
        # How many messages were serialized (publish makes one per change; tests count it).
        self.serializations = 0

    @property
    def last_id(self) -> str:
        """The id of the newest change (``<boot>-0`` before any)."""
        return f"{self.boot}-{self.seq}"

    @property
    def viewers(self) -> int:
        return len(self._subs)

    def publish(self, event_type: str, data: Mapping[str, Any], audience: Audience) -> Frame:
        self.seq += 1
        event_id = f"{self.boot}-{self.seq}"
        raw = encode_frame(event_id, event_type, data)
        self.serializations += 1
        frame = Frame(self.seq, event_id, event_type, audience, raw)
        self._ring.append(frame)
        for sub in self._subs:
            if audience.admits(sub.viewer):
                sub.put(raw)
        return frame

    def message(
        self, event_type: str, data: Mapping[str, Any], event_id: str | None = None
    ) -> bytes:
        """A message for one viewer only (snapshot, resync, heartbeat), not buffered. Its id
        is the newest change's (or ``event_id``: the newest when a snapshot began): a
        reconnect from it replays what came after."""
        self.serializations += 1
        return encode_frame(event_id or self.last_id, event_type, data)

    def subscribe(self, viewer: Viewer) -> Subscription:
        sub = Subscription(viewer, self.queue_limit)
        if self.closed:
            sub.close()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def replay(self, last_id: str, viewer: Viewer) -> list[bytes] | None:
        """The frames after ``last_id`` that ``viewer`` may see; None when they cannot all
        be given (an id of another boot, unknown, or older than the buffer): resync."""
        boot, _, seq_text = last_id.strip().rpartition("-")
        if boot != self.boot or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        if seq > self.seq:
            return None
        if seq == self.seq:
            return []
        if not self._ring or self._ring[0].seq > seq + 1:
            return None  # some of what it missed left the buffer
        start = seq + 1 - self._ring[0].seq
        return [f.raw for f in islice(self._ring, start, None) if f.audience.admits(viewer)]

    def resync_all(self, reason: str) -> None:
        """Every viewer resyncs (changes may have been missed, e.g. the bus reconnected)."""
        for sub in self._subs:
            sub.resync(reason)

    def close(self) -> None:
        """The service stops: every stream ends (its viewers reconnect to the next one)."""
        self.closed = True
        for sub in self._subs:
            sub.close()
