from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from queues.agents import AgentService
from queues.ports import AgentNotFound, AgentStateError, PbxUnavailable, UnknownPauseReason
from queues.routing import RoutingPolicy
from store.db import Database
from store.models import Agent, AgentSkill
from store.seed import ensure_agents

POLICY = RoutingPolicy(districts=(718, 724))
REASONS = {"break": "Nghỉ giải lao", "meal": "Nghỉ ăn"}


class FakePbx:
    def __init__(self, fail_on: str | None = None) -> None:
        self.members: dict[tuple[str, str], int] = {}
        self.paused: dict[str, str] = {}
        self.fail_on = fail_on

    async def queue_add(
        self, queue: str, interface: str, member_name: str, penalty: int = 0
    ) -> None:
        if queue == self.fail_on:
            raise PbxUnavailable("Asterisk did not answer")
        self.members.setdefault((queue, interface), penalty)

    async def queue_remove(self, queue: str, interface: str) -> None:
        self.members.pop((queue, interface), None)

    async def queue_penalty(self, queue: str, interface: str, penalty: int) -> None:
        assert (queue, interface) in self.members
        self.members[(queue, interface)] = penalty

    async def queue_pause(self, interface: str, paused: bool, reason: str = "") -> None:
        if paused:
            self.paused[interface] = reason
        else:
            self.paused.pop(interface, None)


def service(db: Database, pbx: FakePbx) -> AgentService:
    return AgentService(db, pbx, POLICY, REASONS)


async def give_skills(db: Database, agent_id: int, home: int | None, **skills: int) -> None:
    """Replace the agent's skills (seeded agents have every one at 3) and home."""
    async with db.session() as s:
        agent = await s.get(Agent, agent_id)
        assert agent is not None
        agent.home_district = home
        await s.execute(delete(AgentSkill).where(AgentSkill.agent_id == agent_id))
        for category, level in skills.items():
            s.add(AgentSkill(agent_id=agent_id, category=category, proficiency=level))
        await s.commit()


async def test_login_joins_every_queue_at_the_penalty_of_skills_and_district(
    db: Database,
) -> None:
    await ensure_agents(db, 2)
    await give_skills(db, 2, 718, medical=5, food=2)
    pbx = FakePbx()
    svc = service(db, pbx)
    await svc.login(2)
    me = "PJSIP/agent02"
    assert {q for q, _ in pbx.members} == set(POLICY.queue_names())
    assert pbx.members[("medical-718", me)] == 0  # expert, own district
    assert pbx.members[("medical-724", me)] == 10  # expert, another district
    assert pbx.members[("medical", me)] == 0  # no district: skill alone
    assert pbx.members[("emergency", me)] == 0
    assert pbx.members[("food-718", me)] == 3
    assert pbx.members[("food-724", me)] == 13
    assert pbx.members[("violation-718", me)] == 20  # no skill
    assert pbx.members[("operator", me)] == 20
    async with db.session() as s:
        agent = await s.get(Agent, 2)
        assert agent is not None and agent.logged_in and agent.logged_in_at is not None
    await svc.logout(2)
    assert pbx.members == {}
    async with db.session() as s:
        agent = await s.get(Agent, 2)
        assert agent is not None and not agent.logged_in


async def test_changed_skills_reach_a_logged_in_agent_without_a_new_login(db: Database) -> None:
    await ensure_agents(db, 1)
    pbx = FakePbx()
    svc = service(db, pbx)
    await svc.login(1)
    assert pbx.members[("violation-724", "PJSIP/agent01")] == 7  # seeded: 3 everywhere
    await give_skills(db, 1, 724, violation=4)
    await svc.apply_skills(1)
    assert pbx.members[("violation-724", "PJSIP/agent01")] == 1
    assert pbx.members[("violation-718", "PJSIP/agent01")] == 11


async def test_failed_login_leaves_asterisk_and_database_unchanged(db: Database) -> None:
    await ensure_agents(db, 1)
    pbx = FakePbx(fail_on="violation")
    with pytest.raises(PbxUnavailable):
        await service(db, pbx).login(1)
    assert pbx.members == {}
    async with db.session() as s:
        agent = await s.get(Agent, 1)
        assert agent is not None and not agent.logged_in


async def test_unknown_agent(db: Database) -> None:
    with pytest.raises(AgentNotFound):
        await service(db, FakePbx()).login(99)


async def test_pause_with_a_listed_reason_then_unpause(db: Database) -> None:
    await ensure_agents(db, 1)
    pbx = FakePbx()
    svc = service(db, pbx)
    with pytest.raises(AgentStateError):
        await svc.pause(1, "meal")  # not logged in
    await svc.login(1)
    with pytest.raises(UnknownPauseReason, match="break, meal"):
        await svc.pause(1, "smoke")
    await svc.pause(1, "meal")
    assert pbx.paused == {"PJSIP/agent01": "meal"}
    async with db.session() as s:
        agent = await s.get(Agent, 1)
        assert agent is not None
        assert (agent.paused, agent.pause_reason) == (True, "meal")
        assert agent.paused_at is not None
    await svc.unpause(1)
    assert pbx.paused == {}
    async with db.session() as s:
        agent = await s.get(Agent, 1)
        assert agent is not None and not agent.paused and agent.pause_reason is None


async def test_restore_re_adds_logged_in_agents_and_their_pause(db: Database) -> None:
    await ensure_agents(db, 3)
    svc = service(db, FakePbx())
    await svc.login(1)
    await svc.login(3)
    await svc.pause(3, "break")
    fresh = FakePbx()  # Asterisk restarted: no members
    assert await service(db, fresh).restore() == 2
    assert {i for _, i in fresh.members} == {"PJSIP/agent01", "PJSIP/agent03"}
    assert fresh.paused == {"PJSIP/agent03": "break"}


async def _commit_fails(self: AsyncSession) -> None:
    raise OperationalError("COMMIT", {}, ConnectionError("the database went away"))


async def test_a_logout_whose_commit_fails_leaves_asterisk_and_the_database_agreeing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_agents(db, 1)
    pbx = FakePbx()
    svc = service(db, pbx)
    await svc.login(1)
    await svc.pause(1, "meal")
    before = dict(pbx.members)
    with monkeypatch.context() as m:
        m.setattr(AsyncSession, "commit", _commit_fails)
        with pytest.raises(OperationalError):
            await svc.logout(1)
    async with db.session() as s:
        agent = await s.get(Agent, 1)
        assert agent is not None and agent.logged_in and agent.paused
    # Asterisk put back as the database has it: in every queue, still paused.
    assert pbx.members == before and pbx.paused == {"PJSIP/agent01": "meal"}
    # The next reconnect restores exactly that, and a logout once the database is back works.
    await svc.restore()
    assert pbx.members == before
    await svc.logout(1)
    assert pbx.members == {}


async def test_a_pause_or_unpause_whose_commit_fails_is_undone_in_asterisk(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_agents(db, 1)
    pbx = FakePbx()
    svc = service(db, pbx)
    await svc.login(1)
    with monkeypatch.context() as m:
        m.setattr(AsyncSession, "commit", _commit_fails)
        with pytest.raises(OperationalError):
            await svc.pause(1, "break")
    assert pbx.paused == {}
    await svc.pause(1, "break")
    with monkeypatch.context() as m:
        m.setattr(AsyncSession, "commit", _commit_fails)
        with pytest.raises(OperationalError):
            await svc.unpause(1)
    assert pbx.paused == {"PJSIP/agent01": "break"}


async def test_a_login_whose_commit_fails_leaves_no_member_behind(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_agents(db, 1)
    pbx = FakePbx()
    svc = service(db, pbx)
    with monkeypatch.context() as m:
        m.setattr(AsyncSession, "commit", _commit_fails)
        with pytest.raises(OperationalError):
            await svc.login(1)
    assert pbx.members == {}


async def test_restore_goes_on_past_an_agent_asterisk_refuses(db: Database) -> None:
    await ensure_agents(db, 2)
    pbx = FakePbx()
    svc = service(db, pbx)
    await svc.login(1)
    await svc.login(2)
    pbx.members.clear()  # Asterisk restarted
    pbx.fail_on = "medical"
    with pytest.raises(PbxUnavailable, match="agent01, agent02"):
        await svc.restore()
    pbx.fail_on = None
    assert await svc.restore() == 2
    assert {i for _, i in pbx.members} == {"PJSIP/agent01", "PJSIP/agent02"}
