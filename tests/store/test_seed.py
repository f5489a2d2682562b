"""ensure_agents creates the provisioned agents once, whatever it is called with."""

from __future__ import annotations

from sqlalchemy import select

from store.db import Database
from store.models import Agent
from store.seed import ensure_agents


async def agents(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.execute(select(Agent.endpoint, Agent.name).order_by(Agent.endpoint))
        return [(endpoint, name) for endpoint, name in rows]


async def test_creates_numbered_agents_with_vietnamese_names(db: Database) -> None:
    await ensure_agents(db, 3)

    assert await agents(db) == [
        ("agent01", "Tổng đài viên 01"),
        ("agent02", "Tổng đài viên 02"),
        ("agent03", "Tổng đài viên 03"),
    ]


async def test_is_idempotent_and_leaves_existing_agents_alone(db: Database) -> None:
    await ensure_agents(db, 2)
    async with db.session() as session:
        agent = await session.scalar(select(Agent).where(Agent.endpoint == "agent01"))
        assert agent is not None
        agent.name = "Phạm Minh Châu"
        await session.commit()

    await ensure_agents(db, 2)
    await ensure_agents(db, 3)

    assert await agents(db) == [
        ("agent01", "Phạm Minh Châu"),
        ("agent02", "Tổng đài viên 02"),
        ("agent03", "Tổng đài viên 03"),
    ]


async def test_concurrent_calls_do_not_collide(db: Database) -> None:
    import asyncio

    await asyncio.gather(ensure_agents(db, 5), ensure_agents(db, 5))

    assert len(await agents(db)) == 5
