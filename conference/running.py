"""The running conferences in memory, and the writer that stores and publishes their changes.

A running conference's points live here (``Running``, ``Point``), the database their durable
copy: the PBX's signals move them at once, and ``Live.flush`` stores the changed ones in one
transaction (thousands of signals a minute are a few writes a second), then publishes one
``conference`` event per changed conference: the stream's coalescing. The dialling, the
controls and the service share one ``Live``: what changed is marked here (``set``, ``touch``,
``event``, ``changed``) and written by the next flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from conference import store
from conference.pacing import Pacer
from conference.roll import PointState
from live.hub import Audience
from store.db import Database
from store.models import Conference, ConferenceEvent, ConferencePoint
from store.types import utcnow

__all__ = ["RINGING", "Live", "Point", "Publish", "Running"]

log = logging.getLogger("conference.service")

Publish = Callable[[str, Mapping[str, Any], Audience], None]

# What a point's call cannot get past without a person: the calls the pacer counts.
RINGING = (PointState.DIALLING, PointState.RINGING)


@dataclass
class Point:
    id: int
    is_leader: bool
    team_id: int | None
    endpoint: str | None
    number: str | None
    node: str
    state: PointState
    reason: str
    attempts: int
    phone_index: int
    channel: str | None
    muted: bool
    hand_at: datetime | None
    talking: bool
    joined_at: datetime | None
    left_at: datetime | None
    dialled_at: float | None = None
    # Attempts before the last redial: the retry budget counts from there.
    budget_from: int = 0

    @classmethod
    def of(cls, row: ConferencePoint, root: str) -> Point:
        return cls(
            id=row.id,
            is_leader=row.is_leader,
            team_id=row.team_id,
            endpoint=row.endpoint,
            number=row.number,
            node=row.node or root,
            state=PointState(row.state),
            reason=row.reason,
            attempts=row.attempts,
            phone_index=row.phone_index,
            channel=row.channel,
            muted=row.muted,
            hand_at=row.hand_at,
            talking=row.talking,
            joined_at=row.joined_at,
            left_at=row.left_at,
        )

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node": self.node,
            "state": self.state.value,
            "reason": self.reason,
            "attempts": self.attempts,
            "phone_index": self.phone_index,
            "channel": self.channel,
            "muted": self.muted,
            "hand_at": self.hand_at,
            "talking": self.talking,
            "joined_at": self.joined_at,
            "left_at": self.left_at,
            "updated_at": utcnow(),
        }


@dataclass
class Running:
    id: int
    title: str
    team_id: int | None
    record: bool
    points: dict[int, Point]
    # The order points are dialled in: leaders first.
    order: list[int]
    # team id -> its phones (endpoint, number) in position order.
    phones: dict[int, list[tuple[str | None, str | None]]]
    nodes: list[str]
    pacer: Pacer
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    linked: bool = False
    floor: int | None = None
    recording: bool = False


class Live:
    """The running conferences, what changed in them since the last flush, and the
    background tasks their signals start."""

    def __init__(self, db: Database, publish: Publish | None) -> None:
        self.db = db
        self._publish = publish
        self.running: dict[int, Running] = {}
        self.ended: set[int] = set()
        # Conferences whose title prompt could not be made or installed: dialled without.
        self.untitled: set[int] = set()
        # Conferences being ended: out of ``running`` (signals no longer move their
        # points), their last changes not yet written.
        self.ending: dict[int, Running] = {}
        self._dirty: dict[int, set[int]] = {}
        # One flush at a time: a control's own flush (the end's) must not commit before a
        # background flush that took older copies of the same points, or those win.
        self._flushing = asyncio.Lock()
        self._events: list[dict[str, Any]] = []
        self._conference_changed: set[int] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- marking changes -----------------------------------------------------------------------

    def set(self, run: Running, p: Point, state: PointState, reason: str) -> None:
        p.state, p.reason = state, reason
        self.event(run.id, p.id, "state", state, reason)
        self.touch(run.id, p.id)

    def touch(self, conference_id: int, point_id: int) -> None:
        self._dirty.setdefault(conference_id, set()).add(point_id)

    def changed(self, conference_id: int) -> None:
        """The conference's own row changed: publish it with the next flush."""
        self._conference_changed.add(conference_id)

    def event(
        self,
        conference_id: int,
        point_id: int | None,
        kind: str,
        state: str | None,
        reason: str = "",
        *,
        user_id: int | None = None,
        latency_ms: float | None = None,
        ok: bool = True,
    ) -> None:
        self._events.append(
            {
                "conference_id": conference_id,
                "point_id": point_id,
                "at": utcnow(),
                "kind": kind,
                "state": None if state is None else str(state),
                "reason": reason[:500],
                "user_id": user_id,
                "latency_ms": latency_ms,
                "ok": ok,
            }
        )

    async def save_conference(self, conference_id: int, **values: Any) -> None:
        async with self.db.session() as s:
            conf = await s.get(Conference, conference_id)
            if conf is not None:
                for key, value in values.items():
                    setattr(conf, key, value)
                await s.commit()
        self.changed(conference_id)

    # -- background tasks ----------------------------------------------------------------------

    def spawn(self, coro: Awaitable[Any]) -> None:
        async def wrapped() -> None:
            try:
                await coro
            except Exception:
                log.exception("conference task failed")

        task = asyncio.get_running_loop().create_task(wrapped())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- writing and publishing ----------------------------------------------------------------

    async def flush(self) -> None:
        """Write the changed points and the events in one transaction, then publish."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        dirty, self._dirty = self._dirty, {}
        events, self._events = self._events, []
        changed, self._conference_changed = self._conference_changed, set()
        if not dirty and not events and not changed:
            return
        rows: list[dict[str, Any]] = []
        for cid, ids in dirty.items():
            run = self.running.get(cid) or self.ending.get(cid)
            if run is None:
                continue
            rows.extend(run.points[i].row() for i in ids if i in run.points)
        try:
            async with self.db.session() as s:
                await store.write_points(s, rows)
                if events:
                    await s.execute(insert(ConferenceEvent), events)
                await s.commit()
        except BaseException:
            for cid, ids in dirty.items():
                self._dirty.setdefault(cid, set()).update(ids)
            self._events[:0] = events
            self._conference_changed |= changed
            raise
        for cid in {*dirty, *changed}:
            await self._publish_conference(cid, dirty.get(cid, set()))

    async def _publish_conference(self, conference_id: int, point_ids: Iterable[int]) -> None:
        if self._publish is None:
            return
        async with self.db.session() as s:
            conf = await s.get(Conference, conference_id)
            if conf is None:
                return
            totals = (await store.totals_of(s, [conference_id]))[conference_id]
            ids = list(point_ids)
            placed = await store.placed_points(s, conference_id, ids) if ids else []
            hands = store.hands_of(
                await s.scalars(
                    select(ConferencePoint).where(
                        ConferencePoint.conference_id == conference_id,
                        ConferencePoint.hand_at.is_not(None),
                    )
                )
            )
        data = {
            "conference": store.summary_of(conf, totals),
            "points": [store.point_of(p) for p in placed],
            "hands": hands,
        }
        audience = Audience(team_ids=frozenset({conf.team_id}) if conf.team_id else frozenset())
        self._publish("conference", data, audience)
