"""Create the agents that the provisioned PJSIP endpoints stand for."""

from __future__ import annotations

from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from store.db import Database
from store.models import Agent
from store.types import utcnow

__all__ = ["agent_endpoint", "agent_name", "ensure_agents"]


def agent_endpoint(number: int) -> str:
    """``agent01`` for 1: the PJSIP endpoint name Asterisk is provisioned with."""
    return f"agent{number:02d}"


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
        await session.commit()
