"""The command conference's service: create a conference from places, teams and numbers; start
it (nodes, the title prompt, paced dialling with retries on a team's other phones); follow
the PBX's signals into every point's state; lead it (mute, floor, hands, lock, record, end);
the roll.

    service = ConferenceService(db, pbx, ConferenceParams(), publish=bus.publish)
    await service.start()                 # resumes the conferences that were running
    detail = await service.create(caller, spec)
    await service.start_conference(caller, detail["id"])
    ...
    await service.close()

This module creates, reads, starts and resumes conferences, and composes the parts that do
the rest over one in-memory state (``conference.running.Live``: the running conferences and
the writer that stores and publishes their changes every ``flush_s``): the dialling and the
PBX's signals (``conference.dialling``), the commander's controls (``conference.controls``).
After a restart the running conferences are resumed: a point that was being dialled with no
channel yet is queued again (its Originate's outcome was lost with the old process; a new
attempt has a new account code, so a late signal of the old one is ignored), the others keep
their state, and each node's bridge is asked who is still there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from conference import store
from conference.access import center_of, check_status, visible
from conference.controls import Controls, audit_in
from conference.dialling import Dialler, title_prompt, title_text
from conference.errors import ConferenceConflict, ConferenceNotFound, InvalidConference, PbxDown
from conference.pacing import Pacer
from conference.params import ConferenceParams
from conference.plan import CapacityExceeded, PlanPoint, assign_nodes
from conference.points import SYSTEM, Caller, ConferenceSpec, resolve, resolve_leader
from conference.ports import ConferencePbx
from conference.roll import PointState, tally
from conference.running import RINGING, Live, Point, Publish, Running
from ivr import prompts
from pbx.conference_signals import PointSignal
from pbx.errors import PbxUnavailable
from store import audit
from store.db import Database
from store.models import Conference, ConferencePoint, ConferenceStatus, Place, TeamPhone
from store.types import utcnow

__all__ = ["ConferenceParams", "ConferenceService", "title_prompt", "title_text"]

log = logging.getLogger(__name__)


class ConferenceService:
    """See the module's doc."""

    def __init__(
        self,
        db: Database,
        pbx: ConferencePbx,
        params: ConferenceParams | None = None,
        *,
        publish: Publish | None = None,
        speak: Callable[[str, Path], None] = prompts.speak,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.pbx = pbx
        self.params = params or ConferenceParams()
        self._speak = speak
        self._clock = clock
        self.live = Live(db, publish)
        self.dialler = Dialler(
            pbx, self.params, self.live, record=self._record_on_join, clock=clock
        )
        self.controls = Controls(db, pbx, self.live, self.dialler)
        self._starting = asyncio.Lock()
        self._runner: asyncio.Task[None] | None = None
        self._closed = False
        self._listening = False

    # -- start and stop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Listen to the PBX and resume the conferences that were running."""
        if not self._listening:
            self.pbx.listen(self.dialler.on_signal)
            self._listening = True
        async with self.db.session() as s:
            running = list(
                await s.scalars(
                    select(Conference).where(Conference.status == ConferenceStatus.RUNNING)
                )
            )
            for conf in running:
                # Their Originate's outcome went with the old process: call again.
                lost = await s.scalars(
                    select(ConferencePoint).where(
                        ConferencePoint.conference_id == conf.id,
                        ConferencePoint.state.in_([s_.value for s_ in RINGING]),
                        ConferencePoint.channel.is_(None),
                    )
                )
                for point in lost:
                    point.state = PointState.QUEUED
                    point.reason = "restart"
                    self.live.event(conf.id, point.id, "state", PointState.QUEUED, "restart")
            await s.commit()
        for conf in running:
            run = await self._launch(conf.id)
            self.live.spawn(self._reconcile(run))
            log.info("conference %d resumed after a restart", conf.id)
        self._runner = asyncio.create_task(self.run(), name="conference-writer")

    async def run(self) -> None:
        """Write and publish the changes every ``flush_s``; start timed conferences."""
        last_timer = 0.0
        while not self._closed:
            await asyncio.sleep(self.params.flush_s)
            try:
                await self.flush()
            except Exception:
                log.exception("conference changes not written (kept for the next try)")
            now = self._clock()
            if now - last_timer >= 1.0:
                last_timer = now
                try:
                    await self._start_due()
                except Exception:
                    log.exception("timed conferences not started")

    async def close(self) -> None:
        self._closed = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for run in list(self.live.running.values()):
            await self.dialler.stop(run)
        await self.live.cancel_tasks()
        try:
            await self.flush()
        except Exception:
            log.exception("conference changes not written at shutdown")

    # -- reading -----------------------------------------------------------------------------

    async def summaries(self, caller: Caller) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            team = None if caller.privileged else await center_of(s, caller)
            confs = await store.list_conferences(s, team_id=team.id if team else None)
            totals = await store.totals_of(s, [c.id for c in confs])
        return [store.summary_of(c, totals[c.id]) for c in confs]

    async def detail(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        async with self.db.session() as s:
            conf = await visible(s, caller, conference_id)
            placed = await store.placed_points(s, conference_id)
        roll = tally(store.roll_points(placed))
        out = store.summary_of(conf, roll.totals.as_dict())
        out["points"] = [store.point_of(p) for p in placed]
        out["roll"] = roll.as_dict()
        out["hands"] = store.hands_of(p.point for p in placed)
        available = bool(conf.recording_path) and await asyncio.to_thread(
            Path(conf.recording_path or "").is_file
        )
        out["recording"] = {
            "available": available,
            "url": f"/conferences/{conf.id}/recording" if available else None,
        }
        out["nodes"] = sorted({p.point.node for p in placed if p.point.node})
        return out

    async def roll(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        async with self.db.session() as s:
            await visible(s, caller, conference_id)
            placed = await store.placed_points(s, conference_id)
        return tally(store.roll_points(placed)).as_dict()

    async def actions(self, caller: Caller, conference_id: int) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            await visible(s, caller, conference_id)
            return await store.action_items(s, conference_id)

    async def recording(self, caller: Caller, conference_id: int) -> Path:
        async with self.db.session() as s:
            conf = await visible(s, caller, conference_id)
        path = Path(conf.recording_path) if conf.recording_path else None
        if path is None or not await asyncio.to_thread(path.is_file):
            raise ConferenceNotFound(f"Hội nghị {conference_id} chưa có bản ghi âm")
        return path

    # -- create ------------------------------------------------------------------------------

    async def create(self, caller: Caller, spec: ConferenceSpec) -> dict[str, Any]:
        """Store a conference (scheduled) with its points resolved; the detail."""
        title = spec.title.strip()
        if not title:
            raise InvalidConference("Hội nghị cần có tên")
        if not spec.points:
            raise InvalidConference("Hội nghị cần ít nhất một điểm cầu")
        async with self.db.session() as s:
            center = None if caller.privileged else await center_of(s, caller)
            area = await s.get(Place, center.place_id) if center is not None else None
            points: list[ConferencePoint] = []
            teams_seen: set[int] = set()
            numbers_seen: set[str] = set()
            for sel in spec.points:
                for point in await resolve(s, sel, area):
                    if point.team_id is not None:
                        if point.team_id in teams_seen:
                            continue
                        teams_seen.add(point.team_id)
                    elif point.number is not None:
                        if point.number in numbers_seen:
                            continue
                        numbers_seen.add(point.number)
                    points.append(point)
            if not points:
                raise InvalidConference("Các lựa chọn không có điểm cầu nào (không có đội phù hợp)")
            room = self.params.per_node * len(self.pbx.nodes)
            if len(points) > room:
                raise InvalidConference(
                    f"{len(points)} điểm cầu vượt sức chứa {room} của "
                    f"{len(self.pbx.nodes)} nút tổng đài"
                )
            leaders = [await resolve_leader(s, spec_, area) for spec_ in spec.leaders]
            conf = Conference(
                title=title,
                status=ConferenceStatus.SCHEDULED,
                created_by=caller.user_id,
                team_id=center.id if center is not None else None,
                starts_at=spec.starts_at,
                record=spec.record,
                muted_all=True,
                root_node=self.pbx.root,
            )
            s.add(conf)
            await s.flush()
            for point in [*leaders, *points]:
                point.conference_id = conf.id
            s.add_all([*leaders, *points])
            await audit.record(
                s,
                action="conference.create",
                target=audit.target_of("conference", conf.id),
                user_id=caller.user_id,
                user_name=caller.name,
                detail={"title": title, "points": len(points), "leaders": len(leaders)},
            )
            await s.commit()
            conference_id = conf.id
        log.info("conference %d created by %s: %d points", conference_id, caller.name, len(points))
        self.live.changed(conference_id)
        return await self.detail(caller, conference_id)

    # -- start ---------------------------------------------------------------------------------

    async def start_conference(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        """Plan the nodes, install the title prompt, and start dialling (leaders first).

        One start at a time: two commanders pressing "start" together (or the timer and a
        commander) start it once; the second is told it has started."""
        async with self._starting:
            return await self._start_conference(caller, conference_id)

    async def _start_conference(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        async with self.db.session() as s:
            conf = await visible(s, caller, conference_id)
            check_status(conf, ConferenceStatus.SCHEDULED)
            title = conf.title
        t0 = time.monotonic()
        ok = True
        try:
            wav = await self._title_wav(title)
            if wav is not None:
                await self.pbx.put_prompt(title_prompt(conference_id), wav)
            else:
                self.live.untitled.add(conference_id)
        except PbxUnavailable as exc:
            ok = False
            await self.controls.audit(caller, conference_id, "start", t0, ok=False, detail=str(exc))
            raise PbxDown("Không kết nối được tổng đài (Asterisk): chưa thể bắt đầu") from exc
        except (OSError, ValueError):
            # The points still hear "press 1": the title is a courtesy, not a condition.
            log.exception("conference %d: title prompt not installed", conference_id)
            self.live.untitled.add(conference_id)
        async with self.db.session() as s:
            conf = await visible(s, caller, conference_id)
            check_status(conf, ConferenceStatus.SCHEDULED)
            placed = await store.placed_points(s, conference_id)
            root = self.pbx.root
            plan_points = [
                PlanPoint(
                    pp.point.id,
                    pp.province.code if pp.province else None,
                    pp.district.code if pp.district else None,
                    pp.commune.code if pp.commune else None,
                )
                for pp in placed
                if not pp.point.is_leader
            ]
            try:
                plan = assign_nodes(plan_points, self.pbx.nodes, self.params.per_node)
            except CapacityExceeded as exc:
                raise ConferenceConflict(
                    f"Không đủ nút tổng đài: cần {exc.nodes_needed}, có {exc.nodes}"
                ) from exc
            rows = [{"id": pp.point.id, "node": plan.get(pp.point.id, root)} for pp in placed]
            await store.write_points(s, rows)
            conf.status = ConferenceStatus.RUNNING
            conf.started_at = utcnow()
            await audit_in(s, caller, conference_id, "start", t0, ok=ok)
            await s.commit()
        self.live.ended.discard(conference_id)
        await self._launch(conference_id)
        self.live.changed(conference_id)
        log.info("conference %d started by %s", conference_id, caller.name)
        return await self.detail(caller, conference_id)

    async def _title_wav(self, title: str) -> bytes | None:
        def make() -> bytes:
            with tempfile.TemporaryDirectory() as tmp:
                dest = Path(tmp) / "title.wav"
                self._speak(title_text(title), dest)
                return dest.read_bytes()

        try:
            return await asyncio.to_thread(make)
        except prompts.PromptError:
            # The points still hear "press 1"; the title is a courtesy, not a condition.
            log.exception("conference title prompt not made")
            return None

    async def _start_due(self) -> None:
        async with self.db.session() as s:
            due = list(
                await s.scalars(
                    select(Conference.id).where(
                        Conference.status == ConferenceStatus.SCHEDULED,
                        Conference.starts_at.is_not(None),
                        Conference.starts_at <= utcnow(),
                    )
                )
            )
        for cid in due:
            try:
                await self.start_conference(SYSTEM, cid)
            except (PbxDown, ConferenceConflict) as exc:
                log.warning("timed conference %d not started: %s", cid, exc)

    async def _launch(self, conference_id: int) -> Running:
        """Load a running conference into memory and start its dialling task."""
        async with self.db.session() as s:
            conf = await s.get(Conference, conference_id)
            assert conf is not None
            rows = list(
                await s.scalars(
                    select(ConferencePoint)
                    .where(ConferencePoint.conference_id == conference_id)
                    .order_by(ConferencePoint.is_leader.desc(), ConferencePoint.id)
                )
            )
            team_ids = {r.team_id for r in rows if r.team_id is not None}
            phones: dict[int, list[tuple[str | None, str | None]]] = {}
            if team_ids:
                for phone in await s.scalars(
                    select(TeamPhone)
                    .where(TeamPhone.team_id.in_(team_ids))
                    .order_by(TeamPhone.team_id, TeamPhone.position, TeamPhone.id)
                ):
                    phones.setdefault(phone.team_id, []).append((phone.endpoint, phone.number))
        root = self.pbx.root
        points = {r.id: Point.of(r, root) for r in rows}
        now = self._clock()
        for p in points.values():
            if p.state in (*RINGING, PointState.ANSWERED):
                p.dialled_at = now  # resumed: news may have gone to the old process
        nodes = sorted({p.node for p in points.values()}, key=lambda n: (n != root, n))
        run = Running(
            id=conference_id,
            title=conf.title,
            team_id=conf.team_id,
            record=conf.record,
            points=points,
            order=[r.id for r in rows],
            phones=phones,
            nodes=nodes,
            pacer=Pacer(self.params.dial_rate_per_s, self.params.max_in_flight),
            floor=conf.floor_point_id,
            recording=conf.recording,
        )
        run.linked = any(
            p.is_leader and p.state == PointState.JOINED and p.node == root for p in points.values()
        )
        self.live.running[conference_id] = run
        self.dialler.begin(run)
        return run

    async def _reconcile(self, run: Running, attempts: int = 30) -> None:
        """After a restart, ask each node's bridge who is still there: a point stored as
        joined whose channel no bridge holds left while the service was away; those still
        there get their mute and talking state back. Asterisk may be starting too: tried
        again every ``pbx_retry_s``, ``attempts`` times."""
        for node in run.nodes:
            for attempt in range(attempts):
                try:
                    members = await self.pbx.members(node, run.id)
                    break
                except PbxUnavailable:
                    if attempt == attempts - 1 or run.id not in self.live.running:
                        log.warning("conference %d: node %s not reconciled", run.id, node)
                        return
                    await asyncio.sleep(self.params.pbx_retry_s)
            here = {m.channel: m for m in members}
            for p in run.points.values():
                if p.node != node or p.state != PointState.JOINED:
                    continue
                member = here.get(p.channel or "")
                if member is None:
                    p.left_at, p.talking, p.channel = utcnow(), False, None
                    self.live.set(run, p, PointState.LEFT, "gone_while_away")
                else:
                    p.muted, p.talking = member.muted, member.talking
                    self.live.touch(run.id, p.id)

    async def _stop_dialling(self, run: Running) -> None:
        if run.task is not None:
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task

    # -- the parts' faces ----------------------------------------------------------------------

    def on_signal(self, sig: PointSignal) -> None:
        """One signal from the PBX (never blocks; the changes are written by ``flush``)."""
        self.dialler.on_signal(sig)

    async def flush(self) -> None:
        """Write the changed points and the events in one transaction, then publish."""
        await self.live.flush()

    async def _record_on_join(self, run: Running) -> object:
        return await self.controls.start_recording(run, SYSTEM)

    async def mute_all(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        return await self.controls.mute_all(caller, conference_id)

    async def unmute_all(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        return await self.controls.unmute_all(caller, conference_id)

    async def lock(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        return await self.controls.lock(caller, conference_id)

    async def unlock(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        return await self.controls.unlock(caller, conference_id)

    async def give_floor(self, caller: Caller, conference_id: int, point_id: int) -> dict[str, Any]:
        return await self.controls.give_floor(caller, conference_id, point_id)

    async def release_floor(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        return await self.controls.release_floor(caller, conference_id)

    async def kick(self, caller: Caller, conference_id: int, point_id: int) -> dict[str, Any]:
        return await self.controls.kick(caller, conference_id, point_id)

    async def redial(self, caller: Caller, conference_id: int, point_id: int) -> dict[str, Any]:
        return await self.controls.redial(caller, conference_id, point_id)

    async def dismiss_hand(
        self, caller: Caller, conference_id: int, point_id: int
    ) -> dict[str, Any]:
        return await self.controls.dismiss_hand(caller, conference_id, point_id)

    async def record_start(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        return await self.controls.record_start(caller, conference_id)

    async def record_stop(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        return await self.controls.record_stop(caller, conference_id)

    async def end(self, caller: Caller, conference_id: int) -> dict[str, Any]:
        """Stop dialling, hang up every call (every node), mark the conference ended."""
        return await self.controls.end(caller, conference_id)
