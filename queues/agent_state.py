"""What each agent is doing, from app_queue's AMI events, kept live and written down.

An agent's endpoint is a member of every queue (queues/routing.py), so Asterisk reports each
change once per queue; the tracker folds them into one state per agent:

==============  ==============================================================
state           when
==============  ==============================================================
logged_out      a member of no queue
on_call         ``AgentConnect`` until ``AgentComplete`` (or the member's
                ``InCall``/in-use device state after a rebuild)
ringing         ``AgentCalled`` until ``AgentConnect`` or ``AgentRingNoAnswer``
paused          ``Paused: 1`` (``PausedReason`` is the reason), when not on a call
wrapup          ``wrapup_s`` after ``AgentComplete`` (app_queue offers no call then)
idle            otherwise
==============  ==============================================================

Every change of state is appended to ``agent_state_changes`` (the statistics read pause
time by reason, occupancy and wrap-up from it) by a flusher, in batches; while the database
is down the changes wait in memory. ``rebuild()`` sets the state from a ``QueueStatus``
reply after the AMI link (re)connects or the service restarts, writing a change only for
agents whose state differs from the last one written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import func, select

from pbx.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentEvent,
    AgentRingNoAnswer,
    AmiEvent,
    QueueCallerAbandon,
    QueueMemberAdded,
    QueueMemberEvent,
    QueueMemberPause,
    QueueMemberRemoved,
    QueueMemberStatus,
    event_names,
)
from queues.flusher import Flusher
from store.db import Database
from store.models import Agent, AgentState, AgentStateChange

__all__ = ["AgentLiveState", "AgentStateTracker"]

log = logging.getLogger(__name__)

# Asterisk device states (AST_DEVICE_*) in QueueMember events.
DEVICE_INUSE = {2, 3, 7, 8}  # in use, busy, ringing while in use, on hold
DEVICE_RINGING = 6

# A change to write: endpoint, when (epoch seconds), state, reason, call uniqueid.
_Change = tuple[str, float, str, str | None, str | None]


@dataclass
class AgentLiveState:
    """One agent as the tracker sees them now."""

    endpoint: str
    queues: set[str] = field(default_factory=set)
    paused: bool = False
    reason: str | None = None
    ringing: str | None = None  # caller uniqueid
    on_call: str | None = None  # caller uniqueid
    last_call: str | None = None
    wrapup_until: float = 0.0
    state: str = AgentState.LOGGED_OUT.value
    since: float = 0.0

    def derive(self, now: float) -> tuple[str, str | None, str | None]:
        """(state, reason, call uniqueid) from the facts."""
        if not self.queues:
            return AgentState.LOGGED_OUT.value, None, None
        if self.on_call:
            return AgentState.ON_CALL.value, None, self.on_call
        if self.ringing:
            return AgentState.RINGING.value, None, self.ringing
        if self.paused:
            return AgentState.PAUSED.value, self.reason, None
        if now < self.wrapup_until:
            return AgentState.WRAPUP.value, None, self.last_call
        return AgentState.IDLE.value, None, None


def _endpoint(interface: str, member_name: str = "") -> str:
    return member_name or interface.split("/", 1)[-1]


class AgentStateTracker:
    EVENTS: ClassVar[frozenset[str]] = event_names(QueueMemberEvent, AgentEvent, QueueCallerAbandon)
    """What ``on_event`` acts on (``AmiLink.add_listener(..., events=...)``)."""

    def __init__(
        self,
        db: Database,
        *,
        wrapup_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        flush_interval_s: float = 0.5,
        on_change: Callable[[AgentLiveState], None] | None = None,
    ) -> None:
        """``on_change(agent)``: told of every change of an agent's state (the live stream)."""
        self.db = db
        self.on_change = on_change
        self.wrapup_s = wrapup_s
        self._clock = clock
        self.agents: dict[str, AgentLiveState] = {}
        self.flusher = Flusher(
            self._write, what="agent state change(s)", log=log, interval_s=flush_interval_s
        )
        self._reason: dict[str, str | None] = {}
        self._call: dict[str, str | None] = {}
        self._ids: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def _agent(self, endpoint: str) -> AgentLiveState:
        agent = self.agents.get(endpoint)
        if agent is None:
            agent = self.agents[endpoint] = AgentLiveState(endpoint, since=self._clock())
        return agent

    # -- events ------------------------------------------------------------------------

    def on_event(self, ev: AmiEvent) -> None:
        if isinstance(ev, QueueMemberEvent):
            self._on_member(ev)
        elif isinstance(ev, AgentEvent):
            self._on_agent(ev)
        elif isinstance(ev, QueueCallerAbandon):
            self.caller_gone(ev.uniqueid)

    def _on_member(self, ev: QueueMemberEvent) -> None:
        agent = self._agent(_endpoint(ev.interface, ev.member_name))
        if isinstance(ev, QueueMemberRemoved):
            agent.queues.discard(ev.queue)
            if not agent.queues:
                agent.paused, agent.reason = False, None
        else:
            agent.queues.add(ev.queue)
            if isinstance(ev, QueueMemberAdded | QueueMemberPause | QueueMemberStatus):
                # A status event of a paused member may come without the reason; the reason
                # then is the one the pause gave.
                reason = ev.paused_reason or (agent.reason if agent.paused else None)
                agent.paused = ev.paused
                agent.reason = reason if ev.paused else None
        self._settle(agent)

    def _on_agent(self, ev: AgentEvent) -> None:
        agent = self._agent(_endpoint(ev.interface, ev.member_name))
        if isinstance(ev, AgentCalled):
            agent.ringing = ev.uniqueid
        elif isinstance(ev, AgentRingNoAnswer):
            if agent.ringing == ev.uniqueid:
                agent.ringing = None
        elif isinstance(ev, AgentConnect):
            agent.ringing = None
            agent.on_call = ev.uniqueid
        elif isinstance(ev, AgentComplete):
            agent.on_call = None
            agent.last_call = ev.uniqueid
            if self.wrapup_s > 0:
                agent.wrapup_until = self._clock() + self.wrapup_s
                self._schedule_wrapup_end(agent)
        else:
            return
        self._settle(agent)

    def caller_gone(self, uniqueid: str) -> None:
        """A caller left the queue: any agent still ringing for them is not any more."""
        for agent in self.agents.values():
            if agent.ringing == uniqueid:
                agent.ringing = None
                self._settle(agent)

    def _schedule_wrapup_end(self, agent: AgentLiveState) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (unit tests): ``tick()`` settles it
        old = self._timers.pop(agent.endpoint, None)
        if old is not None:
            old.cancel()
        self._timers[agent.endpoint] = loop.call_later(
            max(0.0, agent.wrapup_until - self._clock()) + 0.01, self._settle, agent
        )

    def tick(self) -> None:
        """Re-derive every agent's state (ends wrap-ups that are over)."""
        for agent in self.agents.values():
            self._settle(agent)

    def _settle(self, agent: AgentLiveState) -> None:
        now = self._clock()
        state, reason, call = agent.derive(now)
        if call == "unknown":  # on a call since before a rebuild: which one, we cannot say
            call = None
        if (state, reason) == (agent.state, self._reason.get(agent.endpoint)) and (
            call == self._call.get(agent.endpoint)
        ):
            return
        agent.state, agent.since = state, now
        self._reason[agent.endpoint] = reason
        self._call[agent.endpoint] = call
        self.flusher.add((agent.endpoint, now, state, reason, call))
        if self.on_change is not None:
            self.on_change(agent)

    # -- after a (re)connect -----------------------------------------------------------

    def rebuild(self, members: Iterable[Mapping[str, str]]) -> None:
        """Set every agent's facts from a ``QueueStatus`` reply's ``QueueMember`` entries."""
        now = self._clock()
        seen: dict[str, AgentLiveState] = {}
        for m in members:
            ep = _endpoint(m.get("Location", "") or m.get("StateInterface", ""), m.get("Name", ""))
            if not ep:
                continue
            agent = seen.get(ep)
            if agent is None:
                old = self.agents.get(ep)
                agent = seen[ep] = AgentLiveState(ep)
                if old is not None:
                    agent.state, agent.since = old.state, old.since
                    agent.on_call, agent.last_call = old.on_call, old.last_call
            agent.queues.add(m.get("Queue", ""))
            agent.paused = m.get("Paused", "0") == "1"
            agent.reason = (m.get("PausedReason") or None) if agent.paused else None
            status = int(m.get("Status", "0") or 0)
            in_call = m.get("InCall", "0") == "1" or status in DEVICE_INUSE
            if in_call:
                agent.on_call = agent.on_call or "unknown"
            else:
                agent.on_call = None
            if status == DEVICE_RINGING and not in_call:
                agent.ringing = agent.ringing or "unknown"
            last = int(m.get("LastCall", "0") or 0)
            wrapup = float(m.get("Wrapuptime", "") or self.wrapup_s)
            if last and not in_call:
                agent.wrapup_until = max(agent.wrapup_until, last + wrapup)
        for ep, old in self.agents.items():
            if ep not in seen:
                seen[ep] = AgentLiveState(ep, state=old.state, since=old.since)
        self.agents = seen
        for agent in self.agents.values():
            if agent.wrapup_until > now:
                self._schedule_wrapup_end(agent)
            self._settle(agent)

    async def load_last_states(self) -> None:
        """Start from the last state written for each agent, so a restart of the service
        writes a change only where something did change."""
        async with self.db.session() as s:
            last = (
                select(AgentStateChange.agent_id, func.max(AgentStateChange.id).label("last_id"))
                .group_by(AgentStateChange.agent_id)
                .subquery()
            )
            rows = await s.execute(
                select(Agent.endpoint, Agent.id, AgentStateChange)
                .join(AgentStateChange, AgentStateChange.agent_id == Agent.id)
                .join(last, last.c.last_id == AgentStateChange.id)
            )
            for endpoint, agent_id, change in rows.all():
                self._ids[endpoint] = agent_id
                agent = self._agent(endpoint)
                agent.state, agent.since = change.state, change.at.timestamp()
                if change.state == AgentState.PAUSED.value:
                    agent.paused, agent.reason = True, change.reason
                self._reason[endpoint] = change.reason
                self._call[endpoint] = change.call_uniqueid

    # -- reading -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, AgentLiveState]:
        return dict(self.agents)

    # -- persistence -------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Changes of state noted and not written yet."""
        return self.flusher.pending

    async def flush(self) -> int:
        """Write every pending change in one transaction; return how many were written. On
        a database error they stay pending for the next try."""
        return await self.flusher.flush()

    async def _write(self, batch: list[_Change]) -> None:
        async with self.db.session() as s:
            wanted = {ep for ep, *_ in batch if ep not in self._ids}
            if wanted:
                rows = await s.execute(
                    select(Agent.endpoint, Agent.id).where(Agent.endpoint.in_(wanted))
                )
                self._ids.update({ep: aid for ep, aid in rows.all()})
            for ep, at, state, reason, call in batch:
                agent_id = self._ids.get(ep)
                if agent_id is None:
                    continue  # an endpoint that is no agent of ours
                s.add(
                    AgentStateChange(
                        agent_id=agent_id,
                        at=datetime.fromtimestamp(at, UTC),
                        state=state,
                        reason=reason,
                        call_uniqueid=call,
                    )
                )
            await s.commit()
