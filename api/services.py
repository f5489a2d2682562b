"""What the routers are given: the database and the PBX-facing ports, held on ``app.state``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ivr.ports import IvrAdmin
from queues.ports import AgentControl, CallbackAdmin, LiveQueueView
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
    # Cancelling callbacks; None where no callback service runs (cancel then answers 503).
    callbacks: CallbackAdmin | None = None
