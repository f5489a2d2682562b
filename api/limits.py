"""The bounds every input of the API keeps, in one place.

Integers that reach the database stay within the narrowest integer column of both
databases: PostgreSQL's ``integer`` (int4, what ``Mapped[int]`` becomes), 1 .. 2**31 − 1
for ids. SQLite's integers are 64-bit and Python's are unbounded, so without these bounds
an id of 2**63 was a 500 on SQLite (``OverflowError``) and one of 2**31 a 500 on
PostgreSQL (``DataError``); with them it is a 422 that says the range.

``ApiLimits`` are the ones an operator tunes (``HOTLINE_API_MAX_BODY_BYTES``,
``HOTLINE_STAFFING_TIME_LIMIT_S``); the others are facts of the schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "DB_INT_MAX",
    "EARLIEST",
    "LATEST",
    "MAX_CALLS_PER_DAY",
    "ApiLimits",
]

DB_INT_MAX = 2**31 - 1
"""The largest id, code or offset the API accepts: PostgreSQL's ``integer``."""

# Instants outside these are refused: before them no call was recorded, after them no one
# plans; and a range's arithmetic (a week before, a Vietnam day's start) stays in datetime's.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

# A whole country's hotline at the worst of a surge is well under this; beyond it the
# Erlang arithmetic only burns CPU.
MAX_CALLS_PER_DAY = 1_000_000


@dataclass(frozen=True)
class ApiLimits:
    """What an operator may tune: the largest request body, and how long one staffing
    computation may run (in a worker thread) before the request answers 422."""

    max_body_bytes: int = 1_048_576
    staffing_time_limit_s: float = 10.0
