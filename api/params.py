"""Query-parameter types with error messages a caller can act on, and the parameter groups
several routes share.

A group is one FastAPI dependency that takes the group's query parameters; a route names
the group (``kind: KindParams``) instead of repeating them, and the OpenAPI document lists
the same parameters as before. Groups only parse. Checks of one value against another, or
against who is asking, stay in the route's own dependency: FastAPI calls that only once
every parameter is valid, so a malformed value is still the error a caller sees first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from annotated_types import Ge, Le
from fastapi import Depends, Query
from pydantic import AfterValidator, BeforeValidator

from api.limits import DB_INT_MAX, EARLIEST, LATEST
from stats.rollups import vietnam_day_start
from store.categories import Category
from store.models import Urgency
from store.types import utcnow

__all__ = [
    "EXAMPLE",
    "TIME_NOTE",
    "CategoryParam",
    "Code",
    "CreatedParams",
    "CreatedRange",
    "Id",
    "IncidentKind",
    "Instant",
    "KindParams",
    "Offset",
    "UrgencyParam",
    "created_range",
    "incident_kind",
    "parse_instant",
    "today_by_default",
]

EXAMPLE = "2024-05-01T08:00:00+07:00"
TIME_NOTE = f"ISO 8601, e.g. `{EXAMPLE}`; without an offset it is taken as UTC."

# "+07:00" in an unencoded query string arrives as " 07:00" ('+' means space in a query).
_PLUS_AS_SPACE = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def parse_instant(value: object) -> object:
    """An ISO 8601 date-time (or date) as an aware datetime; naive input is taken as UTC."""
    if not isinstance(value, str):
        return value
    text = _PLUS_AS_SPACE.sub(r"\1+\2", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 date-time such as {EXAMPLE} (no offset means UTC), got {value!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _within_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(
            f"expected an instant from {EARLIEST.year} to {LATEST.year - 1}, "
            f"got {value.isoformat()}"
        )
    return value


Instant = Annotated[datetime, BeforeValidator(parse_instant), AfterValidator(_within_range)]

# -- integers the database keeps (api/limits.py says why the range) ---------------------------

Id = Annotated[int, Ge(1), Le(DB_INT_MAX)]
"""A row's id: 1 .. 2**31 − 1. Wrap it for a place: ``Annotated[Id, Path(description=…)]``."""
Code = Annotated[int, Ge(0), Le(DB_INT_MAX)]
"""An official code (place, district, commune): 0 .. 2**31 − 1."""
Offset = Annotated[int, Ge(0), Le(DB_INT_MAX)]
"""Rows to skip in a page."""


def today_by_default(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The range asked for; by default until now, from midnight in Vietnam of the day it ends.

    The statistics and the monitoring's figures both open on today: one rule for both.
    """
    until = until or utcnow()
    since = since or vietnam_day_start(until - timedelta(microseconds=1))
    return since, until


# -- incidents: category and urgency -----------------------------------------------------------

CategoryParam = Annotated[Category | None, Query(description="Only this category")]
UrgencyParam = Annotated[Urgency | None, Query(description="Only this urgency")]


@dataclass(frozen=True)
class IncidentKind:
    """The category and urgency asked for, as the values stored (None: any)."""

    category: str | None = None
    urgency: str | None = None


async def incident_kind(
    category: CategoryParam = None, urgency: UrgencyParam = None
) -> IncidentKind:
    return IncidentKind(
        category=category.value if category else None,
        urgency=urgency.value if urgency else None,
    )


KindParams = Annotated[IncidentKind, Depends(incident_kind)]


# -- incidents: created in a range -------------------------------------------------------------


@dataclass(frozen=True)
class CreatedRange:
    """``since`` and ``until`` on the incidents' creation, as given (None: not given).

    Unchecked against each other: the route decides the defaults and the longest range.
    """

    since: datetime | None = None
    until: datetime | None = None


async def created_range(
    since: Annotated[Instant | None, Query(description=f"Created at or after. {TIME_NOTE}")] = None,
    until: Annotated[Instant | None, Query(description=f"Created before. {TIME_NOTE}")] = None,
) -> CreatedRange:
    return CreatedRange(since=since, until=until)


CreatedParams = Annotated[CreatedRange, Depends(created_range)]
