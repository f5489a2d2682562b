"""IVR queries: per-node statistics, announcements."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Call, IvrEvent, IvrOutcome

__all__ = ["ivr_stats"]

# Step kinds counted per node (see ivr.ports.IvrStep).
COUNTED = ("invalid", "timeout", "back", "exhausted", "heard")


async def ivr_stats(
    session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """Per node: callers who reached it, each key chosen, invalid keys, timeouts, "*" backs,
    menus given up on, announcements heard to the end, and callers who hung up there."""
    steps = select(IvrEvent.node, IvrEvent.kind, IvrEvent.key, func.count()).group_by(
        IvrEvent.node, IvrEvent.kind, IvrEvent.key
    )
    if since is not None:
        steps = steps.where(IvrEvent.at >= since)
    if until is not None:
        steps = steps.where(IvrEvent.at < until)
    nodes: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"reached": 0, "keys": {}, **{k: 0 for k in COUNTED}, "hung_up": 0}
    )
    for node, kind, key, count in (await session.execute(steps)).all():
        entry = nodes[node]
        if kind == "enter":
            entry["reached"] += count
        elif kind == "key":
            entry["keys"][key or ""] = entry["keys"].get(key or "", 0) + count
        elif kind in COUNTED:
            entry[kind] += count
    hangups = (
        select(Call.ivr_exit_node, func.count())
        .where(Call.ivr_outcome == IvrOutcome.ABANDONED.value, Call.ivr_exit_node.is_not(None))
        .group_by(Call.ivr_exit_node)
    )
    if since is not None:
        hangups = hangups.where(Call.arrived_at >= since)
    if until is not None:
        hangups = hangups.where(Call.arrived_at < until)
    for exit_node, count in (await session.execute(hangups)).all():
        if exit_node is not None:
            nodes[exit_node]["hung_up"] += count
    return [{"node": name, **data} for name, data in sorted(nodes.items())]
