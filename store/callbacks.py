"""Callback queries behind ``GET /callbacks``."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Callback

__all__ = ["get_callback", "list_callbacks"]


async def list_callbacks(
    session: AsyncSession, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Callback], int]:
    """One page of callbacks, newest request first, and how many match ``status``."""
    stmt = select(Callback)
    if status is not None:
        stmt = stmt.where(Callback.status == status)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = stmt.order_by(Callback.requested_at.desc(), Callback.id.desc()).limit(limit)
    return list((await session.scalars(page.offset(offset))).all()), int(total or 0)


async def get_callback(session: AsyncSession, callback_id: int) -> Callback | None:
    return await session.get(Callback, callback_id)
