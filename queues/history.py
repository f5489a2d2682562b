"""What the hotline remembers of a caller: their last district (``ivr.ports.CallerHistory``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from store.db import Database
from store.models import Call

__all__ = ["CallHistory"]

log = logging.getLogger(__name__)


class CallHistory:
    """``wait_s`` (``HOTLINE_IVR_HISTORY_WAIT_MS``): the longest a caller in the menu waits
    for the database; then the menu goes on without the history."""

    def __init__(self, db: Database, *, wait_s: float = 0.3) -> None:
        self.db = db
        self.wait_s = wait_s

    async def last_district(self, caller_number: str, within_days: int) -> int | None:
        """None when there is none — or when the database cannot say within ``wait_s``:
        then the caller is simply asked for the district, rather than kept waiting or
        dropped."""
        try:
            async with asyncio.timeout(self.wait_s):
                return await self._last_district(caller_number, within_days)
        except TimeoutError:
            log.warning(
                "caller history took over %.0f ms; asking for the district", self.wait_s * 1000
            )
            return None
        except (SQLAlchemyError, OSError) as exc:
            log.warning("caller history unavailable (%s); asking for the district", exc)
            return None

    async def _last_district(self, caller_number: str, within_days: int) -> int | None:
        since = datetime.now(UTC) - timedelta(days=within_days)
        async with self.db.session() as session:
            code: int | None = await session.scalar(
                select(Call.district_code)
                .where(
                    Call.caller_number == caller_number,
                    Call.arrived_at >= since,
                    Call.district_code.is_not(None),
                )
                .order_by(Call.arrived_at.desc())
                .limit(1)
            )
        return code
