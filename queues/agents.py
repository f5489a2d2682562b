"""Agents in and out of the queues, paused and unpaused, at the penalties their skills give.

Logging in adds the agent's PJSIP endpoint to every queue of the routing layout over AMI,
each at the penalty ``RoutingPolicy.memberships`` gives for the agent's skills and home
district, and records it. The database, not Asterisk, is the truth of who is logged in and
who is paused (and why), so ``restore()`` puts them back after Asterisk restarts
(queues.conf keeps no persistent members). A change of skills reaches a logged-in agent's
queues at once (``apply_skills``): nothing restarts.

A change reaches Asterisk and the database together or not at all: Asterisk is changed
first, and if the database then fails to record it, Asterisk is put back as the database
still has it (compensation) before the error is raised. Otherwise a logout whose commit
failed would leave the agent logged in on record, and the next reconnect's ``restore()``
would put them back in every queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from queues.feature_codes import reason_digits
from queues.ports import (
    AgentNotFound,
    AgentStateError,
    PbxUnavailable,
    QueuePbx,
    UnknownPauseReason,
)
from queues.routing import RoutingPolicy
from store.db import Database
from store.models import Agent
from store.pause_reasons import ensure_pause_reasons

__all__ = ["AgentService", "interface"]

log = logging.getLogger(__name__)

# QueueAdd/QueuePenalty actions in flight at once: enough to log 100 agents into 41 queues
# in a few seconds after a restart, few enough not to flood Asterisk's manager thread.
PARALLEL_ACTIONS = 16


def interface(endpoint: str) -> str:
    return f"PJSIP/{endpoint}"


def _by(who: str) -> str:
    """Who made a change, for its log line: " by phone", " by user alice"."""
    return f" by {who}" if who else ""


def skills_of(agent: Agent) -> dict[str, int]:
    return {s.category: s.proficiency for s in agent.skills}


class AgentService:
    def __init__(
        self,
        db: Database,
        pbx: QueuePbx,
        policy: RoutingPolicy | None = None,
        pause_reasons: Mapping[str, str] | None = None,
    ) -> None:
        self.db = db
        self.pbx = pbx
        self.policy = policy or RoutingPolicy()
        # The configured reasons until ``load_pause_reasons`` reads the table (which they
        # fill when it is empty).
        self._initial_reasons = dict(pause_reasons or {"break": "Nghỉ giải lao"})
        self._pause_reasons = dict(self._initial_reasons)
        self._pause_digits = reason_digits(list(self._pause_reasons))
        self._reason_listeners: list[Callable[[], Awaitable[None]]] = []
        self._gate = asyncio.Semaphore(PARALLEL_ACTIONS)

    @property
    def pause_reasons(self) -> dict[str, str]:
        """The reasons in use, code -> label, by phone code."""
        return dict(self._pause_reasons)

    @property
    def pause_digits(self) -> dict[str, str]:
        return dict(self._pause_digits)

    def on_pause_reasons_changed(self, listener: Callable[[], Awaitable[None]]) -> None:
        """Call ``listener`` after the reasons are read again (the phone's prompts)."""
        self._reason_listeners.append(listener)

    async def load_pause_reasons(self) -> None:
        """Read the reasons from the database (filled with the configured ones if empty);
        retired reasons are refused from now on, and their phone codes stay unused."""
        rows = await ensure_pause_reasons(self.db, self._initial_reasons)
        active = [r for r in rows if not r.retired]
        self._pause_reasons = {r.code: r.label for r in active}
        self._pause_digits = {str(r.position): r.code for r in active}
        for listener in self._reason_listeners:
            await listener()

    async def _agent(self, agent_id: int) -> Agent:
        async with self.db.session() as s:
            agent = await s.get(Agent, agent_id, options=[selectinload(Agent.skills)])
        if agent is None:
            raise AgentNotFound(f"Agent {agent_id} not found")
        return agent

    async def _each(self, calls: list[tuple[str, int]], agent: Agent, *, add: bool) -> list[str]:
        """Add (or set the penalty of) the agent in each (queue, penalty); return the queues
        done, raising the first failure (``PbxUnavailable``, ``AmiActionError``) after the
        others finished."""
        done: list[str] = []
        failed: list[BaseException] = []
        iface = interface(agent.endpoint)

        async def one(queue: str, penalty: int) -> None:
            async with self._gate:
                try:
                    if add:
                        await self.pbx.queue_add(queue, iface, agent.endpoint, penalty)
                    else:
                        await self.pbx.queue_penalty(queue, iface, penalty)
                    done.append(queue)
                except Exception as exc:  # e.g. "No such queue": the others go on
                    failed.append(exc)

        await asyncio.gather(*(one(q, p) for q, p in calls))
        if failed:
            raise failed[0]
        return done

    async def _add_everywhere(self, agent: Agent) -> None:
        members = self.policy.memberships(skills_of(agent), agent.home_district)
        try:
            await self._each(list(members.items()), agent, add=True)
        except Exception:
            # Leave Asterisk as we found it: half a login is worse than none.
            for q in members:
                try:
                    await self.pbx.queue_remove(q, interface(agent.endpoint))
                except Exception:
                    log.warning("could not undo %s in %s", agent.endpoint, q)
            raise
        if agent.paused:
            await self.pbx.queue_pause(interface(agent.endpoint), True, agent.pause_reason or "")

    async def _compensate(
        self, what: str, agent: Agent, undo: Callable[[], Awaitable[None]]
    ) -> None:
        """The database did not record ``what``: put Asterisk back as the database has it."""
        try:
            await undo()
        except Exception:
            log.exception(
                "agent %s: %s not recorded and Asterisk could not be put back; the next "
                "reconnect restores it from the database",
                agent.endpoint,
                what,
            )
        else:
            log.warning("agent %s: %s not recorded; Asterisk put back", agent.endpoint, what)

    async def _remove_everywhere(self, agent: Agent) -> None:
        for q in self.policy.queue_names():
            await self.pbx.queue_remove(q, interface(agent.endpoint))

    async def _set_pause(self, agent: Agent) -> None:
        """Asterisk's pause as the (unchanged) record ``agent`` says."""
        await self.pbx.queue_pause(
            interface(agent.endpoint),
            agent.paused,
            (agent.pause_reason or "") if agent.paused else "",
        )

    async def login(self, agent_id: int, *, by: str = "") -> None:
        agent = await self._agent(agent_id)
        if not agent.active:
            raise AgentStateError(f"Agent {agent_id} is deactivated")
        await self._add_everywhere(agent)
        try:
            async with self.db.session() as s:
                row = await s.get(Agent, agent_id)
                assert row is not None
                if not row.logged_in:
                    row.logged_in = True
                    row.logged_in_at = datetime.now(UTC)
                await s.commit()
        except Exception:
            if not agent.logged_in:
                await self._compensate("login", agent, lambda: self._remove_everywhere(agent))
            raise
        log.info("agent %s logged in%s", agent.endpoint, _by(by))

    async def logout(self, agent_id: int, *, by: str = "") -> None:
        agent = await self._agent(agent_id)
        try:
            await self._remove_everywhere(agent)
            async with self.db.session() as s:
                row = await s.get(Agent, agent_id)
                assert row is not None
                row.logged_in = False
                row.logged_in_at = None
                row.paused = False
                row.pause_reason = None
                row.paused_at = None
                await s.commit()
        except Exception:
            if agent.logged_in:
                await self._compensate("logout", agent, lambda: self._add_everywhere(agent))
            raise
        log.info("agent %s logged out%s", agent.endpoint, _by(by))

    async def pause(self, agent_id: int, reason: str, *, by: str = "") -> None:
        if reason not in self._pause_reasons:
            known = ", ".join(sorted(self._pause_reasons))
            raise UnknownPauseReason(f"unknown pause reason {reason!r} (one of: {known})")
        agent = await self._agent(agent_id)
        if not agent.logged_in:
            raise AgentStateError(f"Agent {agent_id} is not logged in")
        await self.pbx.queue_pause(interface(agent.endpoint), True, reason)
        try:
            async with self.db.session() as s:
                row = await s.get(Agent, agent_id)
                assert row is not None
                if not row.paused or row.pause_reason != reason:
                    row.paused_at = datetime.now(UTC)
                row.paused = True
                row.pause_reason = reason
                await s.commit()
        except Exception:
            await self._compensate("pause", agent, lambda: self._set_pause(agent))
            raise
        log.info("agent %s paused (%s)%s", agent.endpoint, reason, _by(by))

    async def unpause(self, agent_id: int, *, by: str = "") -> None:
        agent = await self._agent(agent_id)
        if not agent.logged_in:
            raise AgentStateError(f"Agent {agent_id} is not logged in")
        await self.pbx.queue_pause(interface(agent.endpoint), False)
        try:
            async with self.db.session() as s:
                row = await s.get(Agent, agent_id)
                assert row is not None
                row.paused = False
                row.pause_reason = None
                row.paused_at = None
                await s.commit()
        except Exception:
            await self._compensate("unpause", agent, lambda: self._set_pause(agent))
            raise
        log.info("agent %s unpaused%s", agent.endpoint, _by(by))

    async def apply_skills(self, agent_id: int) -> None:
        agent = await self._agent(agent_id)
        if not agent.logged_in:
            return  # the next login uses the new skills
        members = self.policy.memberships(skills_of(agent), agent.home_district)
        await self._each(list(members.items()), agent, add=False)
        log.info("agent %s: penalties updated from skills", agent.endpoint)

    async def restore(self) -> int:
        """Re-add every agent recorded as logged in (after a (re)connect to Asterisk)."""
        async with self.db.session() as s:
            agents = (
                await s.scalars(
                    select(Agent).where(Agent.logged_in).options(selectinload(Agent.skills))
                )
            ).all()
        # Each agent on its own: one failing QueueAdd does not keep the others out.
        failed: list[str] = []
        for agent in agents:
            try:
                await self._add_everywhere(agent)
            except Exception as exc:
                log.warning("could not restore agent %s: %s", agent.endpoint, exc)
                failed.append(agent.endpoint)
        if agents:
            log.info(
                "restored %d of %d logged-in agent(s) to the queues",
                len(agents) - len(failed),
                len(agents),
            )
        if failed:
            raise PbxUnavailable(f"could not restore agent(s) {', '.join(failed)}")
        return len(agents)
