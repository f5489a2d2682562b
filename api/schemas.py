"""Response bodies of the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.errors import ErrorOut
from queues.agent_state import AgentLiveState
from queues.ports import QueueView
from store.models import Agent, Call, Callback, IvrEvent

__all__ = [
    "AgentOut",
    "CallOut",
    "CallPage",
    "CallbackOut",
    "CallbackPage",
    "DatabaseHealth",
    "ErrorOut",
    "HealthOut",
    "QueueOut",
    "RecordingsUsage",
    "queue_json",
]


class DatabaseHealth(BaseModel):
    ok: bool


class RecordingsUsage(BaseModel):
    """The recordings kept (not purged) and the room left on their disk."""

    files: int
    bytes: int
    oldest: datetime | None = Field(description="When the oldest recording kept started")
    disk_free_bytes: int
    disk_total_bytes: int


class HealthOut(BaseModel):
    status: str = Field(description='"ok" when AMI and the database both work, else "degraded"')
    ami: dict[str, Any]
    database: DatabaseHealth
    recordings: RecordingsUsage | None = Field(
        None, description="The recordings kept and the disk's room; null where none are made"
    )


class AgentOut(BaseModel):
    """An agent: who they are, what they can take, and what they are doing now."""

    id: int
    endpoint: str
    name: str
    active: bool
    home_district: int | None = Field(description="District-level unit code (vietnam-provinces)")
    skills: dict[str, int] = Field(description="Category -> proficiency 1 (can) .. 5 (expert)")
    logged_in: bool
    logged_in_at: datetime | None
    paused: bool
    pause_reason: str | None
    paused_at: datetime | None
    state: str = Field(
        description="logged_out, idle, ringing, on_call, wrapup or paused, from AMI events"
    )
    state_since: datetime | None
    call: str | None = Field(None, description="The caller's uniqueid when ringing/on a call")

    @classmethod
    def from_agent(cls, agent: Agent, live: AgentLiveState | None = None) -> AgentOut:
        state = live.state if live is not None else "logged_out"
        since = datetime.fromtimestamp(live.since, UTC) if live is not None and live.since else None
        call = None
        if live is not None:
            call = live.on_call or live.ringing or None
            call = None if call == "unknown" else call
        return cls(
            id=agent.id,
            endpoint=agent.endpoint,
            name=agent.name,
            active=agent.active,
            home_district=agent.home_district,
            skills={s.category: s.proficiency for s in agent.skills},
            logged_in=agent.logged_in,
            logged_in_at=agent.logged_in_at,
            paused=agent.paused,
            pause_reason=agent.pause_reason,
            paused_at=agent.paused_at,
            state=state,
            state_since=since,
            call=call,
        )


class CallOut(BaseModel):
    """A call record; ``agent`` is the endpoint of the agent who took it, if any."""

    id: int
    uniqueid: str
    linkedid: str
    caller_number: str
    caller_name: str
    arrived_at: datetime
    queue_entered_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    ivr_choice: str | None
    category: str | None
    priority: int | None
    route: str | None
    queue: str | None
    agent_id: int | None
    agent_endpoint: str | None
    status: str
    wait_s: float | None
    talk_s: float | None
    hangup_cause: str | None
    complete: bool
    updated_at: datetime
    district_code: int | None = Field(
        description="District-level unit the caller is in (vietnam-provinces code)"
    )
    ivr_outcome: str | None = Field(
        description="How the call left the menu: transferred, self_served or abandoned"
    )
    ivr_exit_node: str | None = Field(description="The last menu node the caller reached")
    agent: str | None = Field(
        description="Endpoint of the agent (from agent_id), else the endpoint recorded"
    )

    @classmethod
    def from_call(cls, call: Call) -> CallOut:
        """Needs ``call.agent`` loaded (store.calls does)."""
        return cls(**_call_fields(call))


class IvrStepOut(BaseModel):
    """One step through the menu: ``kind`` is enter, key, invalid, timeout, back, exhausted,
    district, confirm, heard, queue or hangup."""

    at: datetime
    node: str
    kind: str
    key: str | None


class CallDetailOut(CallOut):
    """A call record with its path through the menu."""

    ivr_path: list[IvrStepOut]

    @classmethod
    def from_call_path(cls, call: Call, path: Sequence[IvrEvent]) -> CallDetailOut:
        """Built once from the rows (not a ``CallOut`` dumped and validated again)."""
        steps = [{"at": e.at, "node": e.node, "kind": e.kind, "key": e.key} for e in path]
        return cls(**_call_fields(call), ivr_path=steps)  # type: ignore[arg-type]


_CALL_COLUMNS = tuple(name for name in CallOut.model_fields if name != "agent")


def _call_fields(call: Call) -> dict[str, Any]:
    fields = {name: getattr(call, name) for name in _CALL_COLUMNS}
    fields["agent"] = call.agent.endpoint if call.agent is not None else call.agent_endpoint
    return fields


class CallPage(BaseModel):
    items: list[CallOut]
    total: int = Field(description="Calls matching the filters, over all pages")
    limit: int
    offset: int


class QueueOut(BaseModel):
    name: str
    category: str
    waiting: int = Field(description="Callers waiting, callbacks' placeholders included")
    longest_wait_s: float
    logged_in_agents: list[str]
    agents_by_state: dict[str, int] = Field(
        default_factory=dict,
        description="The queue's members by live state: idle, ringing, on_call, wrapup, paused",
    )
    estimated_wait_s: float | None = Field(
        default=None,
        description=(
            "What a caller joining now would wait: (callers ahead + 1 - free agents) x AHT"
            " / agents able to answer, the callers ahead being those waiting in the queues"
            " of its category and weight and in heavier queues; null when no agent can take"
            " the queue"
        ),
    )
    callbacks_pending: int = Field(
        default=0, description="Of `waiting`, places held for callers to be called back"
    )

    @classmethod
    def from_view(
        cls, view: QueueView, states: Mapping[str, AgentLiveState] | None = None
    ) -> QueueOut:
        return cls(
            name=view.name,
            category=view.category,
            waiting=view.waiting,
            longest_wait_s=view.longest_wait_s,
            logged_in_agents=list(view.logged_in_agents),
            agents_by_state=_by_state(view, states),
            estimated_wait_s=view.estimated_wait_s,
            callbacks_pending=view.callbacks_pending,
        )


def _by_state(view: QueueView, states: Mapping[str, AgentLiveState] | None) -> dict[str, int]:
    if states is None:
        return {"unknown": len(view.logged_in_agents)} if view.logged_in_agents else {}
    by_state: dict[str, int] = {}
    for endpoint in view.logged_in_agents:
        live = states.get(endpoint)
        state = live.state if live is not None else "unknown"
        by_state[state] = by_state.get(state, 0) + 1
    return by_state


def queue_json(
    view: QueueView, states: Mapping[str, AgentLiveState] | None = None
) -> dict[str, Any]:
    """``QueueOut.from_view(view, states).model_dump(mode="json")`` without building and
    validating the model: ``GET /queues`` answers 40 of them per request, polled by every
    console (tests/api/test_queues.py checks the two stay equal). The types are coerced as
    the model's validation would: an int wait becomes a float."""
    estimated = view.estimated_wait_s
    return {
        "name": str(view.name),
        "category": str(view.category),
        "waiting": int(view.waiting),
        "longest_wait_s": float(view.longest_wait_s),
        "logged_in_agents": list(view.logged_in_agents),  # endpoints: str (QueueView)
        "agents_by_state": _by_state(view, states),
        "estimated_wait_s": None if estimated is None else float(estimated),
        "callbacks_pending": int(view.callbacks_pending),
    }


class CallbackOut(BaseModel):
    """A callback: a caller who chose to be called back keeping their place in the queue."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    call_uniqueid: str = Field(description="The call that asked for it")
    caller_number: str
    category: str | None
    queue: str
    priority: int
    district_code: int | None
    status: str = Field(description="waiting, calling, retry; final: completed, failed, cancelled")
    attempts: int = Field(description="Calls to the citizen that went unanswered")
    requested_at: datetime
    queued_since: datetime = Field(
        description="The place it keeps: when the caller would have joined the queue"
    )
    next_attempt_at: datetime | None = Field(description="When it goes back to the queue (retry)")
    agent_endpoint: str | None = Field(description="The agent who took it last")
    result: str | None = Field(
        description="Last outcome: answered, noanswer, busy, unavailable, served, cancelled by …"
    )
    completed_at: datetime | None
    updated_at: datetime

    @classmethod
    def from_callback(cls, callback: Callback) -> CallbackOut:
        return cls.model_validate(callback)


class CallbackPage(BaseModel):
    items: list[CallbackOut]
    total: int = Field(description="Callbacks matching the filter, over all pages")
    limit: int
    offset: int
