"""Column types shared by the models: timestamps that are always timezone-aware UTC.

SQLite has no timezone-aware timestamp type, so a plain ``DateTime(timezone=True)`` comes back
naive from it while PostgreSQL returns aware values. ``UTCDateTime`` makes both behave alike:
it stores UTC and always hands back an aware ``datetime`` in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["UTCDateTime", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware, in UTC (the only kind of timestamp the store keeps)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that rejects naive values and always returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive timestamp is ambiguous (local time? UTC?); refusing it finds the bug at
            # the line that made it rather than hours off in a report.
            raise ValueError(
                f"naive datetime {value.isoformat()!r}: pass an aware one, e.g. datetime.now(UTC)"
            )
        # SQLite keeps the text "YYYY-MM-DD HH:MM:SS.ffffff" without an offset and compares
        # it as text, so every value must be in the same zone for WHERE clauses to be right.
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
