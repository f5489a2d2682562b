from __future__ import annotations

import pytest

from queues.agents import AgentService
from queues.ports import AgentNotFound, PbxUnavailable
from store.db import Database
from store.models import Agent
from store.seed import ensure_agents


class FakePbx:
    def __init__(self, fail_on: str | None = None) -> None:
        self.members: set[tuple[str, str]] = set()
        self.fail_on = fail_on

    async def queue_add(
        self, queue: str, interface: str, member_name: str, penalty: int = 0
    ) -> None:
        if queue == self.fail_on:
            raise PbxUnavailable("Asterisk did not answer")
        self.members.add((queue, interface))

    async def queue_remove(self, queue: str, interface: str) -> None:
        self.members.discard((queue, interface))


async def test_login_adds_to_every_queue_and_logout_removes(db: Database) -> None:
    await ensure_agents(db, 2)
    pbx = FakePbx()
    svc = AgentService(db, pbx)
    await svc.login(2)
    assert pbx.members == {(q, "PJSIP/agent02") for q in svc.queues}
    async with db.session() as s:
        agent = await s.get(Agent, 2)
        assert agent is not None and agent.logged_in and agent.logged_in_at is not None
    await svc.logout(2)
    assert pbx.members == set()
    async with db.session() as s:
        agent = await s.get(Agent, 2)
        assert agent is not None and not agent.logged_in


async def test_failed_login_leaves_asterisk_and_database_unchanged(db: Database) -> None:
    await ensure_agents(db, 1)
    pbx = FakePbx(fail_on="violation")
    with pytest.raises(PbxUnavailable):
        await AgentService(db, pbx).login(1)
    assert pbx.members == set()
    async with db.session() as s:
        agent = await s.get(Agent, 1)
        assert agent is not None and not agent.logged_in


async def test_unknown_agent(db: Database) -> None:
    with pytest.raises(AgentNotFound):
        await AgentService(db, FakePbx()).login(99)


async def test_restore_re_adds_logged_in_agents(db: Database) -> None:
    await ensure_agents(db, 3)
    svc = AgentService(db, FakePbx())
    await svc.login(1)
    await svc.login(3)
    fresh = FakePbx()  # Asterisk restarted: no members
    assert await AgentService(db, fresh).restore() == 2
    assert {i for _, i in fresh.members} == {"PJSIP/agent01", "PJSIP/agent03"}
