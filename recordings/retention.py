"""Which retention class a recording falls in, and when it expires (pure).

The classes a recording may belong to, each with its days in the settings
(``recording_retention_days``; a class not listed keeps ``recording_retention_default_days``):

* by what was recorded: ``callback``, ``dispatch``, ``conference`` (a call has none);
* ``incident`` when an incident came of the call (or the recording names one);
* by the agent's outcome: ``wrong_number`` (a wrong number or a prank: the agent found the
  call was no request, so the menu's category does not apply), ``information``
  (information or advice given);
* by the call's category, as the menu classified it, unless the outcome was a wrong number:
  ``emergency`` (medical), ``violation``, ``food``, ``general``.

The longest applicable wins: an emergency call where information was given keeps the
emergency's days; a callback to a wrong number keeps the callback's. Until the agent records
the outcome (during wrap-up, after the file closed) the class is provisional: the purge
classifies again before it removes anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "CATEGORY_CLASSES",
    "CLASSES",
    "DEFAULT_RETENTION_DAYS",
    "Retention",
    "applicable_classes",
    "check_days",
    "classify",
    "expires_at",
]

# The call's category (store.categories.Category) → its class.
CATEGORY_CLASSES: Mapping[str, str] = {
    "medical": "emergency",
    "violation": "violation",
    "food": "food",
    "general": "general",
}
# The outcome's disposition (store.models.Disposition) → its class.
DISPOSITION_CLASSES: Mapping[str, str] = {
    "wrong_number": "wrong_number",
    "prank": "wrong_number",
    "information": "information",
    "advice": "information",
    "incident": "incident",
    "duplicate": "incident",
}
KIND_CLASSES: Mapping[str, str] = {
    "callback": "callback",
    "dispatch": "dispatch",
    "conference": "conference",
}
# When nothing at all is known of a recording.
UNCLASSIFIED = "default"
# Every class a recording can get (what the settings may give days to).
CLASSES: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *KIND_CLASSES.values(),
            "incident",
            *DISPOSITION_CLASSES.values(),
            *CATEGORY_CLASSES.values(),
        ]
    )
)
# The settings' defaults (``recording_retention_days``): a setting that names some classes
# keeps these for the others, so changing one class never shortens another's by accident.
DEFAULT_RETENTION_DAYS: Mapping[str, int] = {
    "incident": 3650,
    "emergency": 1825,
    "violation": 730,
    "callback": 365,
    "conference": 1825,
    "dispatch": 1825,
    "information": 90,
    "wrong_number": 31,
}


def check_days(days: Mapping[str, int]) -> dict[str, int]:
    """The days per class with the defaults for the classes not given; ``ValueError`` for
    an unknown class (a typo would keep nothing longer) or fewer than 1 day."""
    unknown = set(days) - set(CLASSES)
    if unknown:
        raise ValueError(
            f"unknown retention class(es) {', '.join(sorted(unknown))}; "
            f"the classes are {', '.join(CLASSES)}"
        )
    short = sorted(name for name, n in days.items() if n < 1)
    if short:
        raise ValueError(f"retention must be at least 1 day: {', '.join(short)}")
    return {**DEFAULT_RETENTION_DAYS, **days}


@dataclass(frozen=True)
class Retention:
    """A class and how many days it keeps a recording."""

    retention_class: str
    days: int


def applicable_classes(
    kind: str, category: str | None, disposition: str | None, has_incident: bool
) -> list[str]:
    """Every class that applies, in a stable order (see the module's doc)."""
    out: list[str] = []
    if kind in KIND_CLASSES:
        out.append(KIND_CLASSES[kind])
    if has_incident:
        out.append("incident")
    by_outcome = DISPOSITION_CLASSES.get(disposition or "")
    if by_outcome is not None:
        out.append(by_outcome)
    if category and by_outcome != "wrong_number":
        out.append(CATEGORY_CLASSES.get(category, category))
    return list(dict.fromkeys(out))


def classify(
    *,
    kind: str,
    category: str | None,
    disposition: str | None,
    has_incident: bool,
    days: Mapping[str, int],
    default_days: int,
) -> Retention:
    """The applicable class with the most days (the first listed on a tie); ``default`` with
    ``default_days`` when none applies."""
    best: Retention | None = None
    for cls in applicable_classes(kind, category, disposition, has_incident):
        keep = days.get(cls, default_days)
        if best is None or keep > best.days:
            best = Retention(cls, keep)
    return best or Retention(UNCLASSIFIED, default_days)


def expires_at(ended_at: datetime, days: int) -> datetime:
    """When a recording that ended at ``ended_at`` may be purged."""
    return ended_at + timedelta(days=days)
