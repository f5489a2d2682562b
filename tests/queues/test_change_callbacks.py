"""The domain tells the live stream of its changes through plain callbacks (no import of it)."""

from __future__ import annotations

from pbx.events import parse_event
from queues.agent_state import AgentLiveState, AgentStateTracker
from queues.calls import CallState, CallTracker
from queues.live import LiveQueues
from store.db import Database
from tests.queues.test_agent_state import agent_ev, member
from tests.queues.test_calls import answered_call


async def test_agent_state_changes_are_told_once_each(db: Database) -> None:
    told: list[tuple[str, str]] = []

    def on_change(agent: AgentLiveState) -> None:
        told.append((agent.endpoint, agent.state))

    tracker = AgentStateTracker(db, on_change=on_change)
    tracker.on_event(member("QueueMemberAdded", "food"))
    tracker.on_event(member("QueueMemberAdded", "medical"))  # the same state: not told again
    tracker.on_event(agent_ev("AgentCalled"))
    tracker.on_event(agent_ev("AgentConnect"))
    tracker.on_event(agent_ev("AgentComplete"))
    assert told == [
        ("agent01", "idle"),
        ("agent01", "ringing"),
        ("agent01", "on_call"),
        ("agent01", "idle"),
    ]


def test_queue_changes_are_told_with_the_queue() -> None:
    told: list[str | None] = []
    live = LiveQueues(on_change=told.append)
    live.on_event(parse_event({"Event": "QueueCallerJoin", "Queue": "medical", "Uniqueid": "a"}, 1))
    live.on_event(parse_event({"Event": "Newchannel", "Uniqueid": "b"}, 1))  # not a queue's
    live.on_event(
        parse_event({"Event": "QueueCallerLeave", "Queue": "medical", "Uniqueid": "a"}, 2)
    )
    live.rebuild([], [])
    assert told == ["medical", "medical", None]


async def test_every_change_of_a_call_is_told(db: Database) -> None:
    told: list[str] = []

    def on_change(call: CallState) -> None:
        told.append(call.status)

    tracker = CallTracker(db, on_change=on_change)
    for event in answered_call():
        tracker.on_event(event)
    assert told[0] == "in_ivr" and told[-1] == "answered"
    assert "queued" in told and "connected" in told
