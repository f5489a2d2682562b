"""The settings a command conference runs with (``HOTLINE_CONFERENCE_*``).

Apart from the service so that its parts (the dialling, the writer) can take them without
importing the service that composes them; ``conference.service`` re-exports the class.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ConferenceParams"]


@dataclass(frozen=True)
class ConferenceParams:
    """The settings the service runs with (``HOTLINE_CONFERENCE_*``)."""

    dial_rate_per_s: float = 20.0
    max_in_flight: int = 200
    max_attempts: int = 3
    ring_s: int = 30
    # Most points one node holds (``conference.plan.assign_nodes``).
    per_node: int = 200
    # How often changed points are written and published.
    flush_s: float = 0.2
    # How long the dialling waits for Asterisk to come back.
    pbx_retry_s: float = 2.0
    # A call with no signal this long after its ring time is taken as failed (a lost event).
    lost_after_s: float = 30.0
