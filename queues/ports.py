"""The small interfaces the queues domain and the API see of the PBX and of each other.

Unit tests pass fakes of these; the service passes the real AMI-backed objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pbx.errors import PbxUnavailable

if TYPE_CHECKING:
    from queues.agent_state import AgentLiveState

__all__ = [
    "AgentControl",
    "AgentNotFound",
    "AgentStateError",
    "AgentStateView",
    "CallbackAdmin",
    "CallbackNotFound",
    "CallbackPbx",
    "CallbackStateError",
    "LiveQueueView",
    "PbxUnavailable",
    "QueueLoad",
    "QueuePbx",
    "QueueView",
    "UnknownPauseReason",
]


class AgentNotFound(LookupError):
    """No agent with that id."""


class AgentStateError(Exception):
    """The agent is not in a state that allows this (e.g. pausing a logged-out agent)."""


class UnknownPauseReason(ValueError):
    """The reason is not in the configured list."""


class QueuePbx(Protocol):
    """What the queues domain asks of Asterisk's app_queue."""

    async def queue_add(
        self, queue: str, interface: str, member_name: str, penalty: int = 0
    ) -> None: ...

    async def queue_remove(self, queue: str, interface: str) -> None: ...

    async def queue_penalty(self, queue: str, interface: str, penalty: int) -> None: ...

    async def queue_pause(self, interface: str, paused: bool, reason: str = "") -> None: ...


@dataclass(frozen=True)
class QueueView:
    """Live state of one queue, as a supervisor reads it."""

    name: str
    category: str
    waiting: int  # everyone app_queue holds, callbacks' placeholders included
    longest_wait_s: float
    logged_in_agents: list[str] = field(default_factory=list)
    # What a caller joining now would wait (queues/live.py says how it is estimated); None
    # when no agent can take the queue now (none logged in, or all paused).
    estimated_wait_s: float | None = None
    # Of ``waiting``, the placeholders holding a place for a caller to be called back.
    callbacks_pending: int = 0


class AgentStateView(Protocol):
    """Each agent's live state by endpoint (``queues.agent_state.AgentStateTracker``)."""

    def snapshot(self) -> Mapping[str, AgentLiveState]: ...


class LiveQueueView(Protocol):
    def snapshot(self) -> list[QueueView]: ...


class QueueLoad(Protocol):
    """How busy a queue is, for deciding to offer a callback (``queues.live.LiveQueues``)."""

    def estimated_wait_s(self, queue: str) -> float | None:
        """What a caller joining ``queue`` now would wait; None when nobody can answer."""
        ...


class CallbackPbx(Protocol):
    """What callbacks ask of Asterisk: a placeholder call that waits in a queue, hanging up a
    channel, a queue's callers and the channels that exist."""

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        ring_timeout_ms: int = 30000,
    ) -> Mapping[str, str]:
        """Sent once, never retried; raises when Asterisk is unreachable or silent."""
        ...

    async def hangup(self, channel: str) -> None:
        """Hang up ``channel`` (one that is gone already counts as success)."""
        ...

    async def queue_entries(self, queue: str) -> Sequence[Mapping[str, str]]:
        """``QueueStatus``'s ``QueueEntry`` events of one queue: Channel, Position, Wait,
        Priority..."""
        ...

    async def channels(self) -> Sequence[Mapping[str, str]]:
        """Every channel Asterisk has now (``CoreShowChannels``): Channel,
        ChannelStateDesc..."""
        ...


class CallbackNotFound(LookupError):
    """No callback with that id."""


class CallbackStateError(Exception):
    """The callback is not in a state that allows this (e.g. cancelling a completed one)."""


class CallbackAdmin(Protocol):
    """What supervisors do with callbacks over REST (``queues.callbacks.CallbackService``)."""

    async def cancel(self, callback_id: int, by: str) -> None:
        """Cancel a waiting or retrying callback and free its place in the queue; cancelling
        a cancelled one is a no-op. Raises ``CallbackNotFound``, or ``CallbackStateError``
        when it completed, failed or the citizen is being called right now."""
        ...


class AgentControl(Protocol):
    """Logs an agent's endpoint in and out of the queues.

    Raises ``AgentNotFound`` for an unknown id and ``PbxUnavailable`` when Asterisk does not
    answer (the agent's stored state is then left unchanged; trying again is safe).
    ``by`` says who asked (``"user alice"``, ``"phone"``), for the change's log line.
    """

    async def login(self, agent_id: int, *, by: str = "") -> None: ...

    async def logout(self, agent_id: int, *, by: str = "") -> None: ...

    async def pause(self, agent_id: int, reason: str, *, by: str = "") -> None: ...

    async def unpause(self, agent_id: int, *, by: str = "") -> None: ...

    async def apply_skills(self, agent_id: int) -> None:
        """Bring a logged-in agent's queue penalties in line with their stored skills."""
        ...

    @property
    def pause_reasons(self) -> dict[str, str]: ...

    @property
    def pause_digits(self) -> dict[str, str]:
        """The N of the phone code *2N -> the reason's code, for the reasons in use."""
        ...

    async def load_pause_reasons(self) -> None:
        """Read the pause reasons again (after a supervisor changed them)."""
        ...
