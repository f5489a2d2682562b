"""Agents in and out of the queues.

Logging in adds the agent's PJSIP endpoint to every category queue over AMI and records it;
the database, not Asterisk, is the truth of who is logged in, so ``restore()`` puts them back
after Asterisk restarts (queues.conf keeps no persistent members).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select

from queues.categories import CATEGORIES
from queues.ports import AgentNotFound, PbxUnavailable, QueuePbx
from store.db import Database
from store.models import Agent

__all__ = ["AgentService"]

log = logging.getLogger(__name__)


def interface(endpoint: str) -> str:
    return f"PJSIP/{endpoint}"


class AgentService:
    def __init__(self, db: Database, pbx: QueuePbx, queues: tuple[str, ...] | None = None) -> None:
        self.db = db
        self.pbx = pbx
        self.queues = queues or tuple(c.queue for c in CATEGORIES)

    async def _agent(self, agent_id: int) -> Agent:
        async with self.db.session() as s:
            agent = await s.get(Agent, agent_id)
        if agent is None:
            raise AgentNotFound(f"Agent {agent_id} not found")
        return agent

    async def _add_everywhere(self, agent: Agent) -> None:
        added: list[str] = []
        try:
            for q in self.queues:
                await self.pbx.queue_add(q, interface(agent.endpoint), agent.endpoint)
                added.append(q)
        except PbxUnavailable:
            # Leave Asterisk as we found it: half a login is worse than none.
            for q in added:
                try:
                    await self.pbx.queue_remove(q, interface(agent.endpoint))
                except PbxUnavailable:
                    log.warning("could not undo %s in %s", agent.endpoint, q)
            raise

    async def login(self, agent_id: int) -> None:
        agent = await self._agent(agent_id)
        await self._add_everywhere(agent)
        async with self.db.session() as s:
            row = await s.get(Agent, agent_id)
            assert row is not None
            if not row.logged_in:
                row.logged_in = True
                row.logged_in_at = datetime.now(UTC)
            await s.commit()
        log.info("agent %s logged in", agent.endpoint)

    async def logout(self, agent_id: int) -> None:
        agent = await self._agent(agent_id)
        for q in self.queues:
            await self.pbx.queue_remove(q, interface(agent.endpoint))
        async with self.db.session() as s:
            row = await s.get(Agent, agent_id)
            assert row is not None
            row.logged_in = False
            row.logged_in_at = None
            await s.commit()
        log.info("agent %s logged out", agent.endpoint)

    async def restore(self) -> int:
        """Re-add every agent recorded as logged in (after a (re)connect to Asterisk)."""
        async with self.db.session() as s:
            agents = (await s.scalars(select(Agent).where(Agent.logged_in))).all()
        for agent in agents:
            await self._add_everywhere(agent)
        if agents:
            log.info("restored %d logged-in agent(s) to the queues", len(agents))
        return len(agents)
