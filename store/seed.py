"""Create the agents that the provisioned PJSIP endpoints stand for."""

from __future__ import annotations

from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import Database
from store.models import Agent, AgentSkill
from store.types import utcnow

__all__ = ["DEFAULT_SKILLS", "agent_endpoint", "agent_name", "ensure_agents"]


def agent_endpoint(number: int) -> str:
    """``agent01`` for 1: the PJSIP endpoint name Asterisk is provisioned with."""
    return f"agent{number:02d}"


# What a new agent can do until a supervisor says otherwise: every category, proficiency 3,
# no home district (the province pool; see queues/routing.py).
DEFAULT_SKILLS = {"medical": 3, "food": 3, "violation": 3, "general": 3}


def agent_name(number: int) -> str:
    return f"Tổng đài viên {number:02d}"


async def ensure_agents(db: Database, count: int) -> None:
    """Create agents ``agent01``…``agentNN`` that do not exist yet; leaves others alone.

    Idempotent, and safe when two service nodes on one PostgreSQL start together: a row the
    other node inserted first is skipped instead of failing on the unique endpoint.
    """
    async with db.session() as session:
        existing = set((await session.scalars(select(Agent.endpoint))).all())
        now = utcnow()
        rows = [
            {"endpoint": agent_endpoint(n), "name": agent_name(n), "created_at": now}
            for n in range(1, count + 1)
            if agent_endpoint(n) not in existing
        ]
        if not rows:
            return
        dialect = db.engine.dialect.name
        stmt: Insert
        if dialect == "postgresql":
            stmt = postgresql.insert(Agent).on_conflict_do_nothing(index_elements=["endpoint"])
        elif dialect == "sqlite":
            stmt = sqlite.insert(Agent).on_conflict_do_nothing(index_elements=["endpoint"])
        else:  # pragma: no cover - only the two databases above are supported
            stmt = insert(Agent)
        await session.execute(stmt, rows)
        created = (
            await session.scalars(
                select(Agent.id).where(Agent.endpoint.in_([r["endpoint"] for r in rows]))
            )
        ).all()
        have = set((await session.scalars(select(AgentSkill.agent_id).distinct())).all())
        session.add_all(
            AgentSkill(agent_id=aid, category=c, proficiency=p)
            for aid in created
            if aid not in have
            for c, p in DEFAULT_SKILLS.items()
        )
        await session.commit()
