"""Query-parameter types with error messages a caller can act on."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["Instant", "parse_instant"]

EXAMPLE = "2024-05-01T08:00:00+07:00"

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


Instant = Annotated[datetime, BeforeValidator(parse_instant)]
