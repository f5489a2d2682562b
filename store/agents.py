"""Agent look-ups shared by the API and the command line."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Agent

__all__ = ["find_agent", "get_agent", "list_agents"]


async def list_agents(session: AsyncSession, *, agent_id: int | None = None) -> list[Agent]:
    """All agents by id, or only ``agent_id`` when given."""
    stmt = select(Agent).order_by(Agent.id)
    if agent_id is not None:
        stmt = stmt.where(Agent.id == agent_id)
    return list((await session.scalars(stmt)).all())


async def get_agent(session: AsyncSession, agent_id: int) -> Agent | None:
    """The agent, read fresh from the database (not from the session's identity map)."""
    return await session.get(Agent, agent_id, populate_existing=True)


async def find_agent(session: AsyncSession, ref: str) -> Agent | None:
    """An agent by endpoint (``agent01``) or, if ``ref`` is all digits, by id."""
    if ref.isdigit():
        return await session.get(Agent, int(ref))
    return await session.scalar(select(Agent).where(Agent.endpoint == ref))
