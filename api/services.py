"""What the routers are given: the database and the PBX-facing ports, held on ``app.state``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from api.limits import ApiLimits
from api.live_feed import LiveFeed
from api.wallboard import WallboardFigures
from coaching.service import CoachingService
from conference.service import ConferenceService
from dispatch.incidents import IncidentService
from dispatch.outcomes import OutcomeService
from ivr.ports import IvrAdmin
from queues.ports import AgentControl, AgentStateView, CallbackAdmin, LiveQueueView
from queues.routing import RoutingPolicy
from recordings.service import RecordingService
from stats.history import DEFAULT_SL_THRESHOLDS
from store.db import Database

__all__ = ["Services"]


@dataclass(frozen=True)
class Services:
    """The objects ``create_app`` was given; tests pass fakes for the two ports."""

    db: Database
    agents: AgentControl
    queues: LiveQueueView
    # Returns the AMI link's state; ``{"connected": True, ...}`` when it is up.
    ami_status: Callable[[], dict[str, object]]
    # The IVR's administration; None where no IVR runs (its routes then answer 503).
    ivr: IvrAdmin | None = None
    # What each agent is doing (from AMI); None: every agent shows as logged out.
    agent_states: AgentStateView | None = None
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    # District code -> name, for people (from the menu file).
    district_names: dict[int, str] = field(default_factory=dict)
    # Service-level thresholds in seconds per category ("*": the others): the settings'.
    sl_thresholds: Mapping[str, Sequence[int]] = field(
        default_factory=lambda: DEFAULT_SL_THRESHOLDS
    )
    # Cancelling callbacks; None where no callback service runs (cancel then answers 503).
    callbacks: CallbackAdmin | None = None
    # Outcomes and incidents (dispatch/); None: their routes answer 503.
    incidents: IncidentService | None = None
    outcomes: OutcomeService | None = None
    # The bounds an operator tunes (body size, staffing's time limit).
    limits: ApiLimits = field(default_factory=ApiLimits)
    # The live event stream (GET /events); None: it answers 503.
    feed: LiveFeed | None = None
    # The wallboard's figures of the day, computed once for all (None: per request).
    wallboard: WallboardFigures | None = None
    # The command conference (issue 14); None: its routes answer 503.
    conferences: ConferenceService | None = None
    # Recordings (issue 15); None: their routes answer 503, health shows no usage.
    recordings: RecordingService | None = None
    # Whether an agent may list and listen to the recordings of their own calls.
    recording_agent_may_listen: bool = False
    # Listen, whisper, barge (issue 15); None: /monitor answers 503.
    coaching: CoachingService | None = None
