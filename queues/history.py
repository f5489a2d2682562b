"""What the hotline remembers of a caller: their last district (``ivr.ports.CallerHistory``)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from store.db import Database
from store.models import Call

__all__ = ["CallHistory"]

log = logging.getLogger(__name__)


class CallHistory:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def last_district(self, caller_number: str, within_days: int) -> int | None:
        """None when there is none — or when the database cannot say: then the caller is
        simply asked for the district, rather than kept waiting or dropped."""
        try:
            return await self._last_district(caller_number, within_days)
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
