"""Response bodies of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from queues.ports import QueueView
from store.models import Agent, Call, Callback

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
]


class ErrorOut(BaseModel):
    detail: str


class DatabaseHealth(BaseModel):
    ok: bool


class HealthOut(BaseModel):
    status: str = Field(description='"ok" when AMI and the database both work, else "degraded"')
    ami: dict[str, Any]
    database: DatabaseHealth


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint: str
    name: str
    logged_in: bool
    logged_in_at: datetime | None

    @classmethod
    def from_agent(cls, agent: Agent) -> AgentOut:
        return cls.model_validate(agent)


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
        fields = {name: getattr(call, name) for name in cls.model_fields if name != "agent"}
        agent = call.agent.endpoint if call.agent is not None else call.agent_endpoint
        return cls(**fields, agent=agent)


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
    estimated_wait_s: float | None = Field(
        default=None,
        description=(
            "What a caller joining now would wait: (waiting + 1 - free agents) x AHT /"
            " agents able to answer; null when no agent can take the queue"
        ),
    )
    callbacks_pending: int = Field(
        default=0, description="Of `waiting`, places held for callers to be called back"
    )

    @classmethod
    def from_view(cls, view: QueueView) -> QueueOut:
        return cls(
            name=view.name,
            category=view.category,
            waiting=view.waiting,
            longest_wait_s=view.longest_wait_s,
            logged_in_agents=list(view.logged_in_agents),
            estimated_wait_s=view.estimated_wait_s,
            callbacks_pending=view.callbacks_pending,
        )


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
