"""Call-record queries behind ``GET /calls``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from store.models import Call, IvrEvent

__all__ = ["get_call", "ivr_path", "list_calls"]


async def list_calls(
    session: AsyncSession,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    category: str | None = None,
    status: str | None = None,
    agent_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Call], int]:
    """One page of calls, newest first, and the number of calls matching the filters.

    ``since`` is inclusive and ``until`` exclusive (on ``arrived_at``), so consecutive windows
    neither overlap nor leave gaps. Both must be timezone-aware.
    """
    stmt = select(Call)
    if since is not None:
        stmt = stmt.where(Call.arrived_at >= since)
    if until is not None:
        stmt = stmt.where(Call.arrived_at < until)
    if category is not None:
        stmt = stmt.where(Call.category == category)
    if status is not None:
        stmt = stmt.where(Call.status == status)
    if agent_id is not None:
        stmt = stmt.where(Call.agent_id == agent_id)

    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = (
        stmt.options(selectinload(Call.agent))
        # id breaks ties between calls that arrived in the same microsecond: stable paging.
        .order_by(Call.arrived_at.desc(), Call.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list((await session.scalars(page)).all()), int(total or 0)


# Built once (``GET /calls/{id}`` runs both on every request): constructing an ORM
# statement with its options costs about as much as SQLAlchemy's cached compile of it.
_CALL_WITH_AGENT = (
    select(Call).where(Call.id == bindparam("call_id")).options(joinedload(Call.agent))
)
_IVR_PATH = (
    select(IvrEvent).where(IvrEvent.call_uniqueid == bindparam("uniqueid")).order_by(IvrEvent.seq)
)


async def get_call(session: AsyncSession, call_id: int) -> Call | None:
    """The call with its agent loaded (joined: one query), or None."""
    return await session.scalar(_CALL_WITH_AGENT, {"call_id": call_id})


async def ivr_path(session: AsyncSession, uniqueid: str) -> list[IvrEvent]:
    """The call's steps through the menu, in order."""
    rows = await session.scalars(_IVR_PATH, {"uniqueid": uniqueid})
    return list(rows.all())
