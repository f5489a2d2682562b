"""Agent look-ups and edits shared by the API and the command line."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from store.models import Agent, AgentSkill

__all__ = ["create_agent", "find_agent", "get_agent", "list_agents", "set_skills"]


async def list_agents(session: AsyncSession, *, agent_id: int | None = None) -> list[Agent]:
    """All agents by id, with their skills, or only ``agent_id`` when given."""
    stmt = select(Agent).options(selectinload(Agent.skills)).order_by(Agent.id)
    if agent_id is not None:
        stmt = stmt.where(Agent.id == agent_id)
    return list((await session.scalars(stmt)).all())


async def get_agent(session: AsyncSession, agent_id: int) -> Agent | None:
    """The agent with skills, read fresh from the database (not the identity map)."""
    return await session.get(
        Agent, agent_id, populate_existing=True, options=[selectinload(Agent.skills)]
    )


async def find_agent(session: AsyncSession, ref: str) -> Agent | None:
    """An agent by endpoint (``agent01``) or, if ``ref`` is all digits, by id."""
    if ref.isdigit():
        return await session.get(Agent, int(ref))
    return await session.scalar(select(Agent).where(Agent.endpoint == ref))


def set_skills(agent: Agent, skills: Mapping[str, int]) -> None:
    """Replace the agent's skills (the agent's ``skills`` must be loaded)."""
    agent.skills = [
        AgentSkill(agent_id=agent.id, category=c, proficiency=p) for c, p in sorted(skills.items())
    ]


async def create_agent(
    session: AsyncSession,
    *,
    endpoint: str,
    name: str,
    home_district: int | None,
    skills: Mapping[str, int],
) -> Agent:
    agent = Agent(endpoint=endpoint, name=name, home_district=home_district, skills=[])
    session.add(agent)
    await session.flush()
    set_skills(agent, skills)
    return agent
