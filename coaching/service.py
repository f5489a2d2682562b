"""A supervisor listening in on an agent's call, whispering to the agent, or barging in.

    coaching = CoachingService(db, AmiSpyPbx(link), agent_states, AmiPbx(link),
                               CoachingParams(), publish=bus.publish)
    await coaching.start()                    # adopts what Asterisk spies on now; polls
    s = await coaching.begin(agent_id=3, mode=SpyMode.WHISPER, phone="sup01", by=who)
    await coaching.change_mode(s.id, SpyMode.BARGE, by=who)
    await coaching.stop(s.id, by=who)

The supervisor's phone rings (``SpyPbx.spy``) and, once answered, joins the agent's channel
in the chosen mode; keys 4/5/6 on that phone or ``change_mode`` switch it. The target is the
agent's own channel (whispering must reach the agent alone, not the caller): the live state
(``queues``) says the agent is on a call and the caller's uniqueid; Asterisk's channel list
(``ChannelList``) gives the agent endpoint's channel in that call (its ``Linkedid`` is the
caller's), else the agent's one channel that is up.

Sessions are what Asterisk shows: ``sessions()`` and a poll every ``poll_s`` compare ours with
``SpyPbx.sessions()`` and the channel list. A session ends when its spy channel is gone from
Asterisk (the supervisor hung up, the call ended, or the phone was never answered); a channel
still there but not spying is ringing, or between two ChanSpy runs while its mode changes.
The mode Asterisk shows is taken (keys 4/5/6 on the phone) once ``settle_s`` have passed
since the service changed it itself (a Redirect takes a moment to show). On start the service
adopts the spy channels Asterisk already has (after a restart), so nothing is lost with the
process.

Every begin, change, stop and end is audited (``audit_log``, target ``agent:<id>``) with the
PBX's latency. Supervisors and admins get a ``coaching`` event with each change; the agent
gets one (``{agent_id, mode, active}``, only their own) when ``notify_agent`` says they should
know: ``never``; ``coaching`` (whisper and barge, the modes in which they hear the
supervisor); ``always``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select

from coaching.errors import (
    CoachingConflict,
    InvalidCoaching,
    NotOnCall,
    PbxDown,
    SessionNotFound,
)
from coaching.ports import ChannelList, SpyPbx
from live.hub import Audience
from pbx.errors import PbxError
from pbx.recording_signals import SpyMode, SpySession
from queues.ports import AgentStateView
from store import audit
from store.db import Database
from store.models import Agent
from store.types import utcnow

__all__ = [
    "CoachingParams",
    "CoachingService",
    "NotifyPolicy",
    "Publish",
    "SessionOut",
    "Who",
    "agent_told",
    "supervisor_phones",
]

log = logging.getLogger(__name__)

Publish = Callable[[str, Mapping[str, Any], Audience], None]
NotifyPolicy = Literal["never", "coaching", "always"]

# The modes in which the agent hears the supervisor: "coaching" tells the agent of these.
_HEARD = frozenset({SpyMode.WHISPER, SpyMode.BARGE})


def supervisor_phones(count: int) -> list[str]:
    """``sup01`` … ``supNN``: the supervisors' PJSIP endpoints (as provisioned)."""
    return [f"sup{n:02d}" for n in range(1, count + 1)]


def agent_told(policy: NotifyPolicy, mode: SpyMode | None) -> bool:
    """Whether the agent is told they are being coached in ``mode`` (None: no session)."""
    if mode is None or policy == "never":
        return False
    return policy == "always" or mode in _HEARD


@dataclass(frozen=True)
class CoachingParams:
    ring_s: int = 30  # how long the supervisor's phone rings
    notify_agent: NotifyPolicy = "coaching"
    phone_count: int = 4  # sup01 … supNN
    poll_s: float = 2.0  # how often the sessions are compared with Asterisk's
    settle_s: float = 3.0  # after a mode change, before Asterisk's shown mode is believed
    channel_tech: str = "PJSIP"


@dataclass(frozen=True)
class SessionOut:
    """A supervisor's phone on an agent's call. ``started_at``: when it was asked for."""

    id: int
    agent_id: int
    agent_endpoint: str
    mode: SpyMode
    phone: str
    spy_channel: str
    target_channel: str
    started_at: datetime
    by_name: str

    def model_dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent_id": self.agent_id,
            "agent_endpoint": self.agent_endpoint,
            "mode": self.mode.value,
            "phone": self.phone,
            "spy_channel": self.spy_channel,
            "target_channel": self.target_channel,
            "started_at": self.started_at,
            "by_name": self.by_name,
        }


@dataclass
class _Session:
    out: SessionOut
    settled_at: float  # monotonic: from then on, the mode Asterisk shows is the truth
    seen: bool = False  # Asterisk has shown it spying
    told: bool = False  # the agent was last told they are being coached


@dataclass(frozen=True)
class Who:
    """Who asks (for the audit)."""

    user_id: int | None
    name: str


SYSTEM = Who(None, "system")


@dataclass
class CoachingService:
    db: Database
    pbx: SpyPbx
    agents: AgentStateView | None
    channels: ChannelList
    params: CoachingParams = field(default_factory=CoachingParams)
    publish: Publish | None = None
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._sessions: dict[int, _Session] = {}
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- lifetime -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Adopt the spy channels Asterisk has now (if it answers), then poll."""
        try:
            await self.refresh()
        except PbxDown:
            log.warning("coaching: Asterisk not reachable at start; sessions adopted later")
        self._task = asyncio.create_task(self._poll(), name="coaching-poll")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.params.poll_s)
            try:
                await self.refresh()
            except PbxDown:
                pass  # the link is down: keep the sessions until it answers again
            except Exception:  # one bad poll must not end the loop
                log.exception("coaching: refreshing the sessions failed")

    # -- what exists ------------------------------------------------------------------------------

    @property
    def phones(self) -> list[str]:
        return supervisor_phones(self.params.phone_count)

    async def target_of(self, endpoint: str, call_uniqueid: str) -> str | None:
        """The agent's channel in the call ``call_uniqueid`` (see the module's docstring)."""
        try:
            rows = await self.channels.channels()
        except PbxError as exc:
            raise PbxDown() from exc
        prefix = f"{self.params.channel_tech}/{endpoint}-"
        mine = [r for r in rows if r.get("Channel", "").startswith(prefix)]
        for row in mine:
            if call_uniqueid and call_uniqueid in (row.get("Linkedid"), row.get("Uniqueid")):
                return row["Channel"]
        up = [r["Channel"] for r in mine if r.get("ChannelStateDesc", "").lower() == "up"]
        return up[0] if len(up) == 1 else None

    async def sessions(self) -> list[SessionOut]:
        """The active sessions, as Asterisk confirms them now."""
        await self.refresh()
        return [s.out for s in sorted(self._sessions.values(), key=lambda s: s.out.id)]

    async def get(self, session_id: int) -> SessionOut:
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionNotFound()
        return session.out

    async def refresh(self) -> None:
        """Compare ours with Asterisk's: end the ones whose spy channel is gone, adopt the
        ones it shows that we do not know (after a restart), and take the mode it shows
        (keys 4/5/6 pressed on the phone)."""
        async with self._lock:  # read under the lock: no change of ours is half seen
            by_channel = {s.spy_channel: s for s in await self._pbx_sessions()}
            alive = await self._alive()
            now = self.clock()
            for sid, session in list(self._sessions.items()):
                there = by_channel.pop(session.out.spy_channel, None)
                if there is not None:
                    session.seen = True
                    if there.mode != session.out.mode and now >= session.settled_at:
                        session.out = replace(session.out, mode=there.mode)
                        await self._audit("monitor_mode", session.out, SYSTEM, None, "phone keys")
                        self._tell(session, active=True)
                elif session.out.spy_channel not in alive:
                    del self._sessions[sid]
                    why = "hung up" if session.seen else "not answered"
                    await self._audit("monitor_end", session.out, SYSTEM, None, why)
                    self._tell(session, active=False)
            for spy in by_channel.values():
                await self._adopt(spy)

    async def _adopt(self, spy: SpySession) -> None:
        phone = _endpoint_of(spy.spy_channel)
        agent = _endpoint_of(spy.target_channel)
        if not phone or phone not in self.phones or not agent:
            return  # someone else's ChanSpy (e.g. from a dialplan test): not ours
        async with self.db.session() as s:
            agent_id = await s.scalar(select(Agent.id).where(Agent.endpoint == agent))
        if agent_id is None:
            return
        out = SessionOut(
            next(self._ids),
            agent_id,
            agent,
            spy.mode,
            phone,
            spy.spy_channel,
            spy.target_channel,
            utcnow(),
            SYSTEM.name,
        )
        session = _Session(out, self.clock(), seen=True)
        self._sessions[out.id] = session
        self._tell(session, active=True)
        log.info("coaching: adopted %s spying on %s", spy.spy_channel, spy.target_channel)

    async def _pbx_sessions(self) -> list[SpySession]:
        try:
            return await self.pbx.sessions()
        except PbxError as exc:
            raise PbxDown() from exc

    async def _alive(self) -> set[str]:
        try:
            return {r.get("Channel", "") for r in await self.channels.channels()}
        except PbxError as exc:
            raise PbxDown() from exc

    # -- controls ---------------------------------------------------------------------------------

    async def begin(self, *, agent_id: int, mode: SpyMode, phone: str, by: Who) -> SessionOut:
        """Ring ``phone`` to join the agent's current call in ``mode``."""
        if phone not in self.phones:
            raise InvalidCoaching(
                f"Máy {phone!r} không phải máy giám sát viên; chọn một trong: "
                + ", ".join(self.phones)
            )
        async with self.db.session() as s:
            endpoint = await s.scalar(select(Agent.endpoint).where(Agent.id == agent_id))
        if endpoint is None:
            raise SessionNotFound(f"Không có tổng đài viên số {agent_id}.")
        state = self.agents.snapshot().get(endpoint) if self.agents is not None else None
        if state is None or not state.on_call:
            raise NotOnCall()
        async with self._lock:
            busy = [s for s in self._sessions.values() if s.out.phone == phone]
            if busy:
                raise CoachingConflict(
                    f"Máy {phone} đang giám sát tổng đài viên {busy[0].out.agent_endpoint}; "
                    "kết thúc phiên đó trước."
                )
            target = await self.target_of(endpoint, state.on_call)
            if target is None:
                raise NotOnCall()
            started = time.perf_counter()
            try:
                channel = await self.pbx.spy(
                    phone=phone, target_channel=target, mode=mode, ring_s=self.params.ring_s
                )
            except LookupError as exc:
                raise NotOnCall() from exc
            except PbxError as exc:
                raise PbxDown() from exc
            latency = (time.perf_counter() - started) * 1000
            out = SessionOut(
                next(self._ids), agent_id, endpoint, mode, phone, channel, target, utcnow(), by.name
            )
            session = _Session(out, self.clock() + self.params.settle_s)
            self._sessions[out.id] = session
            await self._audit("monitor_start", out, by, latency)
        self._tell(session, active=True)
        return out

    async def change_mode(self, session_id: int, mode: SpyMode, *, by: Who) -> SessionOut:
        async with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise SessionNotFound()
            started = time.perf_counter()
            try:
                await self.pbx.change_mode(session.out.spy_channel, mode)
            except LookupError as exc:
                del self._sessions[session_id]
                await self._audit("monitor_end", session.out, SYSTEM, None, "gone")
                self._tell(session, active=False)
                raise SessionNotFound() from exc
            except PbxError as exc:
                raise PbxDown() from exc
            latency = (time.perf_counter() - started) * 1000
            before = session.out.mode
            session.out = replace(session.out, mode=mode)
            session.settled_at = self.clock() + self.params.settle_s
            await self._audit("monitor_mode", session.out, by, latency, f"{before} -> {mode}")
        self._tell(session, active=True)
        return session.out

    async def stop(self, session_id: int, *, by: Who) -> SessionOut:
        async with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise SessionNotFound()
            started = time.perf_counter()
            try:
                await self.pbx.stop(session.out.spy_channel)
            except PbxError as exc:
                raise PbxDown() from exc
            latency = (time.perf_counter() - started) * 1000
            del self._sessions[session_id]
            await self._audit("monitor_stop", session.out, by, latency)
        self._tell(session, active=False)
        return session.out

    # -- audit and events -------------------------------------------------------------------------

    async def _audit(
        self, action: str, out: SessionOut, by: Who, latency_ms: float | None, note: str = ""
    ) -> None:
        detail: dict[str, Any] = {
            "session": out.id,
            "mode": out.mode.value,
            "phone": out.phone,
            "spy_channel": out.spy_channel,
        }
        if note:
            detail["note"] = note
        async with self.db.session() as s:
            await audit.record(
                s,
                action=action,
                target=audit.target_of("agent", out.agent_id),
                user_id=by.user_id,
                user_name=by.name,
                detail=detail,
                latency_ms=latency_ms,
            )
            await s.commit()

    def agent_view(self, agent_id: int) -> dict[str, Any] | None:
        """What the agent's console shows of being coached now (its snapshot, after a
        reload): the message the agent was last sent, while it says they are; else None."""
        for session in self._sessions.values():
            if session.out.agent_id == agent_id and session.told:
                return {"agent_id": agent_id, "mode": session.out.mode.value, "active": True}
        return None

    def _tell(self, session: _Session, *, active: bool) -> None:
        """Supervisors see every change; the agent only what the policy lets them know, and
        only when that changes (a listen-only session never reaches them, not even as an
        event that says nothing)."""
        if self.publish is None:
            return
        out = session.out
        staff = {**out.model_dump(), "active": active}
        self.publish("coaching", staff, Audience(agent_ids=frozenset()))
        told = active and agent_told(self.params.notify_agent, out.mode)
        if told or session.told:
            session.told = told
            mine = {"agent_id": out.agent_id, "mode": out.mode.value if told else None}
            mine["active"] = told
            self.publish(
                "coaching", mine, Audience(staff=frozenset(), agent_ids=frozenset({out.agent_id}))
            )


def _endpoint_of(channel: str) -> str:
    """``PJSIP/sup01-0000002a`` → ``sup01``."""
    name = channel.split("/", 1)[-1]
    return name.rsplit("-", 1)[0] if "-" in name else name
