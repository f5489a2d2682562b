"""The recordings' disk usage, for ``GET /health`` and the wallboard's JSON."""

from __future__ import annotations

import asyncio
import logging

from api.schemas import RecordingsUsage
from api.services import Services

__all__ = ["RecordingsUsage", "recordings_usage"]

log = logging.getLogger(__name__)

# Health must answer within a few seconds even when the database hangs.
USAGE_TIMEOUT_S = 3.0


async def recordings_usage(services: Services) -> RecordingsUsage | None:
    """None where no recording service runs, or when it cannot tell in time."""
    if services.recordings is None:
        return None
    try:
        async with asyncio.timeout(USAGE_TIMEOUT_S):
            usage = await services.recordings.usage()
    except Exception as exc:  # health and the wallboard answer without it
        log.warning("recordings usage failed: %s: %s", type(exc).__name__, exc)
        return None
    return RecordingsUsage(
        files=usage.files,
        bytes=usage.bytes,
        oldest=usage.oldest_started_at,
        disk_free_bytes=usage.disk_free_bytes,
        disk_total_bytes=usage.disk_total_bytes,
    )
