"""The audit log: what people did, to what, whether it worked (``audit_log``).

Written in the caller's session, so an action and its entry commit together::

    async with db.session() as session:
        ...  # the change itself
        await audit.record(session, action="mute_all", target="conference:7",
                           user_id=user.id, user_name=user.name, latency_ms=42.0)
        await session.commit()

``detail`` is text; a mapping is stored as JSON. ``read`` lists entries newest first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import AuditEntry
from store.types import utcnow

__all__ = ["read", "record", "target_of"]


def target_of(kind: str, ident: int | str) -> str:
    """``conference:7``: what an entry is about."""
    return f"{kind}:{ident}"


async def record(
    session: AsyncSession,
    *,
    action: str,
    target: str = "",
    user_id: int | None = None,
    user_name: str = "",
    detail: str | Mapping[str, Any] = "",
    ok: bool = True,
    latency_ms: float | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Add one entry to the session (the caller commits)."""
    text = (
        detail
        if isinstance(detail, str)
        else json.dumps(detail, ensure_ascii=False, separators=(",", ":"), default=str)
    )
    entry = AuditEntry(
        at=at or utcnow(),
        user_id=user_id,
        user_name=user_name,
        action=action,
        target=target,
        detail=text,
        ok=ok,
        latency_ms=latency_ms,
    )
    session.add(entry)
    return entry


async def read(
    session: AsyncSession,
    *,
    target: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Entries (about ``target``, from ``since``), newest first, at most ``limit``."""
    stmt = select(AuditEntry)
    if target is not None:
        stmt = stmt.where(AuditEntry.target == target)
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(await session.scalars(stmt))
