"""The commander's controls over a running conference, each carried out and audited alike.

Mute or unmute all, lock, give or release the floor, dismiss a hand, kick, redial, record,
end. A control is carried out on every node at once and answered when Asterisk confirmed;
each is stored as a ``conference_events`` row and in the audit log with its latency and
outcome (``Controls.audit``, also used by the service for "start"). Apart from the dialling:
the controls act on the same in-memory state (``Live``) but only when a commander asks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from conference.access import check_status, visible
from conference.dialling import Dialler
from conference.errors import ConferenceConflict, ConferenceNotFound, PbxDown
from conference.points import Caller
from conference.ports import ConferencePbx
from conference.roll import FINAL, PointState
from conference.running import RINGING, Live, Point, Running
from pbx.conference_signals import ALL_MEMBERS, PARTICIPANTS
from pbx.errors import PbxUnavailable
from store import audit
from store.db import Database
from store.models import Conference, ConferenceEvent, ConferenceStatus
from store.types import utcnow

__all__ = ["Controls", "audit_in"]

log = logging.getLogger("conference.service")


async def audit_in(
    s: AsyncSession,
    caller: Caller,
    conference_id: int,
    action: str,
    t0: float,
    *,
    ok: bool,
    point_id: int | None = None,
    detail: str = "",
) -> float:
    """Store a control as a ``conference_events`` row and in the audit log; its latency."""
    latency = round((time.monotonic() - t0) * 1000, 1)
    s.add(
        ConferenceEvent(
            conference_id=conference_id,
            point_id=point_id,
            at=utcnow(),
            kind=action,
            state=None,
            reason=detail[:500],
            user_id=caller.user_id,
            latency_ms=latency,
            ok=ok,
        )
    )
    await audit.record(
        s,
        action=f"conference.{action}",
        target=audit.target_of("conference", conference_id),
        user_id=caller.user_id,
        user_name=caller.name,
        detail={"point_id": point_id, "detail": detail} if point_id or detail else "",
        ok=ok,
        latency_ms=latency,
    )
    return latency


class Controls:
    """The controls of the conferences running in ``live``; ``dialler`` is stopped at the end
    (and started again when Asterisk did not hear the end)."""

    def __init__(self, db: Database, pbx: ConferencePbx, live: Live, dialler: Dialler) -> None:
        self.db = db
        self.pbx = pbx
        self.live = live
        self.dialler = dialler

    async def _running_for(self, caller: Caller, conference_id: int) -> Running:
        async with self.db.session() as s:
            conf = await visible(s, caller, conference_id)
        check_status(conf, ConferenceStatus.RUNNING)
        run = self.live.running.get(conference_id)
        if run is None:  # running in the database but not here: another node runs it
            raise ConferenceConflict(f"Hội nghị {conference_id} không chạy trên máy chủ này")
        return run

    async def audit(
        self,
        caller: Caller,
        conference_id: int,
        action: str,
        t0: float,
        *,
        ok: bool,
        point_id: int | None = None,
        detail: str = "",
        **conference: Any,
    ) -> float:
        async with self.db.session() as s:
            latency = await audit_in(
                s, caller, conference_id, action, t0, ok=ok, point_id=point_id, detail=detail
            )
            if conference:
                conf = await s.get(Conference, conference_id)
                if conf is not None:
                    for key, value in conference.items():
                        setattr(conf, key, value)
            await s.commit()
        self.live.changed(conference_id)
        return latency

    async def _control(
        self,
        caller: Caller,
        run: Running,
        action: str,
        work: Callable[[], Awaitable[Mapping[str, Any] | None]],
        *,
        point_id: int | None = None,
    ) -> dict[str, Any]:
        """Carry out ``work`` (the PBX calls; returns the conference's columns to set), then
        store it with its latency; 503 when Asterisk could not be reached."""
        t0 = time.monotonic()
        try:
            values = await work()
        except PbxUnavailable as exc:
            await self.audit(
                caller, run.id, action, t0, ok=False, point_id=point_id, detail=str(exc)
            )
            raise PbxDown("Không kết nối được tổng đài (Asterisk); thử lại sau") from exc
        latency = await self.audit(
            caller, run.id, action, t0, ok=True, point_id=point_id, **dict(values or {})
        )
        log.info("conference %d: %s by %s in %.0f ms", run.id, action, caller.name, latency)
        return {"action": action, "ok": True, "latency_ms": latency, "point_id": point_id}

    async def _everywhere(self, run: Running, call: Callable[[str], Awaitable[None]]) -> None:
        results = await asyncio.gather(*(call(n) for n in run.nodes), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def mute_all(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)

        async def work() -> dict[str, Any]:
            await self._everywhere(run, lambda n: self.pbx.mute(n, run.id, PARTICIPANTS))
            run.floor = None
            return {"muted_all": True, "floor_point_id": None}

        return await self._control(caller, run, "mute_all", work)

    async def unmute_all(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)

        async def work() -> dict[str, Any]:
            await self._everywhere(run, lambda n: self.pbx.unmute(n, run.id, PARTICIPANTS))
            return {"muted_all": False}

        return await self._control(caller, run, "unmute_all", work)

    async def lock(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)

        async def work() -> dict[str, Any]:
            await self._everywhere(run, lambda n: self.pbx.lock(n, run.id))
            return {"locked": True}

        return await self._control(caller, run, "lock", work)

    async def unlock(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)

        async def work() -> dict[str, Any]:
            await self._everywhere(run, lambda n: self.pbx.unlock(n, run.id))
            return {"locked": False}

        return await self._control(caller, run, "unlock", work)

    def _in_bridge(self, run: Running, point_id: int) -> Point:
        p = run.points.get(point_id)
        if p is None:
            raise ConferenceNotFound(f"Hội nghị {run.id} không có điểm cầu số {point_id}")
        if p.state != PointState.JOINED or not p.channel:
            raise ConferenceConflict(f"Điểm cầu {p.id} chưa vào phòng họp")
        return p

    async def give_floor(self, caller: Caller, conference_id: int, point_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)
        p = self._in_bridge(run, point_id)

        async def work() -> dict[str, Any]:
            before = run.points.get(run.floor) if run.floor is not None else None
            calls = [self.pbx.unmute(p.node, run.id, p.channel or "")]
            if before is not None and before.id != p.id and before.channel:
                calls.append(self.pbx.mute(before.node, run.id, before.channel))
            results = await asyncio.gather(*calls, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            run.floor = p.id
            if p.hand_at is not None:
                p.hand_at = None
                self.live.touch(run.id, p.id)
            return {"floor_point_id": p.id}

        return await self._control(caller, run, "floor", work, point_id=p.id)

    async def release_floor(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)
        holder = run.points.get(run.floor) if run.floor is not None else None

        async def work() -> dict[str, Any]:
            if holder is not None and holder.channel and holder.state == PointState.JOINED:
                await self.pbx.mute(holder.node, run.id, holder.channel)
            run.floor = None
            return {"floor_point_id": None}

        return await self._control(
            caller, run, "floor_release", work, point_id=holder.id if holder else None
        )

    async def kick(self, caller: Caller, conference_id: int, point_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)
        p = run.points.get(point_id)
        if p is None:
            raise ConferenceNotFound(f"Hội nghị {run.id} không có điểm cầu số {point_id}")
        if not p.channel or p.state not in (
            PointState.ANSWERED,
            PointState.PRESENT,
            PointState.JOINED,
        ):
            raise ConferenceConflict(f"Điểm cầu {p.id} không ở trong cuộc gọi")

        async def work() -> dict[str, Any] | None:
            channel = p.channel or ""
            if p.state == PointState.JOINED:
                await self.pbx.kick(p.node, run.id, channel)
            else:
                await self.pbx.hangup(p.node, channel)
            p.reason = "kicked"
            self.live.touch(run.id, p.id)
            if run.floor == p.id:
                run.floor = None
                return {"floor_point_id": None}
            return None

        return await self._control(caller, run, "kick", work, point_id=p.id)

    async def redial(self, caller: Caller, conference_id: int, point_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)
        p = run.points.get(point_id)
        if p is None:
            raise ConferenceNotFound(f"Hội nghị {run.id} không có điểm cầu số {point_id}")
        if p.state not in (*FINAL, PointState.LEFT):
            raise ConferenceConflict(f"Điểm cầu {p.id} đang trong cuộc gọi hoặc đang được gọi")

        async def work() -> None:
            p.budget_from = p.attempts
            p.hand_at = None
            self.live.set(run, p, PointState.QUEUED, "redial")
            run.wake.set()

        return await self._control(caller, run, "redial", work, point_id=p.id)

    async def dismiss_hand(
        self, caller: Caller, conference_id: int, point_id: int
    ) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)
        p = run.points.get(point_id)
        if p is None:
            raise ConferenceNotFound(f"Hội nghị {run.id} không có điểm cầu số {point_id}")
        if p.hand_at is None:
            raise ConferenceConflict(f"Điểm cầu {p.id} không giơ tay")

        async def work() -> None:
            p.hand_at = None
            self.live.touch(run.id, p.id)

        return await self._control(caller, run, "hand_dismiss", work, point_id=p.id)

    async def record_start(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)
        if run.recording:
            raise ConferenceConflict(f"Hội nghị {run.id} đang được ghi âm")
        return await self.start_recording(run, caller)

    async def start_recording(self, run: Running, caller: Caller) -> dict[str, Any]:
        async def work() -> dict[str, Any]:
            stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
            path = await self.pbx.start_record(run.id, f"conference-{run.id}-{stamp}")
            run.recording = True
            return {"recording": True, "recording_path": path}

        return await self._control(caller, run, "record_start", work)

    async def record_stop(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        run = await self._running_for(caller, conference_id)
        if not run.recording:
            raise ConferenceConflict(f"Hội nghị {run.id} không đang ghi âm")

        async def work() -> dict[str, Any]:
            await self.pbx.stop_record(run.id)
            run.recording = False
            return {"recording": False}

        return await self._control(caller, run, "record_stop", work)

    async def end(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        """Stop dialling, hang up every call (every node), mark the conference ended."""
        async with self.db.session() as s:
            conf = await visible(s, caller, conference_id)
            check_status(conf, ConferenceStatus.SCHEDULED, ConferenceStatus.RUNNING)
            status = conf.status
        t0 = time.monotonic()
        if status == ConferenceStatus.SCHEDULED:
            await self.audit(
                caller,
                conference_id,
                "end",
                t0,
                ok=True,
                status=ConferenceStatus.ENDED,
                ended_at=utcnow(),
            )
            return {"action": "end", "ok": True, "latency_ms": 0.0, "point_id": None}
        run = self.live.running.get(conference_id)
        if run is None:
            raise ConferenceConflict(f"Hội nghị {conference_id} không chạy trên máy chủ này")
        await self.dialler.stop(run)
        # From here the bridge's news is not the roll's: the points kicked at the end were
        # there, and the roll keeps them present (its "left" is for those who left before).
        self.live.running.pop(run.id, None)
        self.live.ending[run.id] = run
        self.live.ended.add(run.id)

        async def work() -> dict[str, Any]:
            calls: list[Awaitable[None]] = [
                self.pbx.kick(n, run.id, ALL_MEMBERS) for n in run.nodes
            ]
            for p in run.points.values():
                if p.channel and p.state in (*RINGING, PointState.ANSWERED, PointState.PRESENT):
                    calls.append(self.pbx.hangup(p.node, p.channel))
            if run.recording:
                calls.append(self.pbx.stop_record(run.id))
            results = await asyncio.gather(*calls, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
            for p in run.points.values():
                if p.state in (PointState.QUEUED, *RINGING):
                    self.live.set(run, p, PointState.FAILED, "ended")
                elif p.state == PointState.ANSWERED:
                    self.live.set(run, p, PointState.ABSENT, "ended")
            await self.live.flush()  # written with the end: the memory copy goes away
            self.live.ending.pop(run.id, None)
            return {
                "status": ConferenceStatus.ENDED,
                "ended_at": utcnow(),
                "floor_point_id": None,
                "recording": False,
            }

        try:
            return await self._control(caller, run, "end", work)
        except PbxDown:
            # Asterisk did not hear it: the conference goes on; dialling resumes.
            self.live.ending.pop(run.id, None)
            self.live.ended.discard(run.id)
            self.live.running[run.id] = run
            self.dialler.begin(run)
            raise
