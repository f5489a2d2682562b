"""The agent-state tracker on synthetic Asterisk 22 member and agent events."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pbx.events import AmiEvent, parse_event
from queues.agent_state import AgentStateTracker
from store.db import Database
from store.models import AgentStateChange
from store.seed import ensure_agents

QUEUES = ("medical", "medical-718", "food")


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_316_528.0

    def __call__(self) -> float:
        return self.now


def member(name: str, queue: str, *, paused: bool = False, reason: str = "") -> AmiEvent:
    return parse_event(
        {
            "Event": name,
            "Queue": queue,
            "MemberName": "agent01",
            "Interface": "PJSIP/agent01",
            "StateInterface": "PJSIP/agent01",
            "Status": "1",
            "Paused": "1" if paused else "0",
            "PausedReason": reason,
            "InCall": "0",
            "Penalty": "7",
            "CallsTaken": "0",
        },
        0.0,
    )


def agent_ev(name: str, caller: str = "c1", **extra: str) -> AmiEvent:
    headers = {
        "Event": name,
        "Queue": "food",
        "MemberName": "agent01",
        "Interface": "PJSIP/agent01",
        "Uniqueid": caller,
        "Channel": "PJSIP/pstn-1",
        "DestChannel": "PJSIP/agent01-1",
        "DestUniqueid": "a1",
        "HoldTime": "3",
        "RingTime": "1",
        "TalkTime": "20",
        "Reason": "caller",
    }
    headers.update(extra)
    return parse_event(headers, 0.0)


def states(tracker: AgentStateTracker) -> list[tuple[str, str | None]]:
    return [(state, reason) for _, _, state, reason, _ in tracker.flusher]


async def test_one_state_per_agent_from_events_of_every_queue(db: Database) -> None:
    clock = Clock()
    t = AgentStateTracker(db, wrapup_s=10, clock=clock)
    for q in QUEUES:  # one login: one QueueMemberAdded per queue
        t.on_event(member("QueueMemberAdded", q))
    for q in QUEUES:  # one pause: one QueueMemberPause per queue
        t.on_event(member("QueueMemberPause", q, paused=True, reason="meal"))
    clock.now += 60
    for q in QUEUES:
        t.on_event(member("QueueMemberPause", q))
    t.on_event(agent_ev("AgentCalled"))
    t.on_event(agent_ev("AgentConnect"))
    clock.now += 20
    t.on_event(agent_ev("AgentComplete"))
    clock.now += 5
    t.tick()  # still in wrap-up
    clock.now += 6
    t.tick()  # wrap-up over
    for q in QUEUES:
        t.on_event(member("QueueMemberRemoved", q))
    assert states(t) == [
        ("idle", None),
        ("paused", "meal"),
        ("idle", None),
        ("ringing", None),
        ("on_call", None),
        ("wrapup", None),
        ("idle", None),
        ("logged_out", None),
    ]
    await ensure_agents(db, 1)
    assert await t.flush() == 8
    async with db.session() as s:
        rows = (await s.scalars(select(AgentStateChange).order_by(AgentStateChange.id))).all()
    assert [(r.state, r.reason, r.call_uniqueid) for r in rows][3:6] == [
        ("ringing", None, "c1"),
        ("on_call", None, "c1"),
        ("wrapup", None, "c1"),
    ]
    assert (rows[2].at - rows[1].at).total_seconds() == 60  # the meal pause


async def test_ring_without_answer_and_caller_abandon_end_ringing(db: Database) -> None:
    t = AgentStateTracker(db, clock=Clock())
    t.on_event(member("QueueMemberAdded", "food"))
    t.on_event(agent_ev("AgentCalled"))
    t.on_event(agent_ev("AgentRingNoAnswer"))
    t.on_event(agent_ev("AgentCalled", "c2"))
    t.on_event(
        parse_event(
            {
                "Event": "QueueCallerAbandon",
                "Queue": "food",
                "Uniqueid": "c2",
                "Position": "1",
                "OriginalPosition": "1",
                "HoldTime": "4",
            },
            0.0,
        )
    )
    assert states(t) == [("idle", None), ("ringing", None), ("idle", None)] * 1 + [
        ("ringing", None),
        ("idle", None),
    ]


async def test_rebuild_from_queue_status_and_no_repeat_after_restart(db: Database) -> None:
    await ensure_agents(db, 2)
    clock = Clock()
    t = AgentStateTracker(db, wrapup_s=10, clock=clock)
    members = [
        {
            "Queue": q,
            "Name": "agent01",
            "Location": "PJSIP/agent01",
            "Status": "1",
            "Paused": "1",
            "PausedReason": "training",
            "InCall": "0",
            "LastCall": "0",
        }
        for q in QUEUES
    ] + [
        {
            "Queue": q,
            "Name": "agent02",
            "Location": "PJSIP/agent02",
            "Status": "2",
            "Paused": "0",
            "PausedReason": "",
            "InCall": "1",
            "LastCall": "0",
        }
        for q in QUEUES
    ]
    t.rebuild(members)
    assert sorted(states(t)) == [("on_call", None), ("paused", "training")]
    await t.flush()
    # The service restarts: a new tracker, the same Asterisk state: nothing new to write.
    again = AgentStateTracker(db, wrapup_s=10, clock=clock)
    await again.load_last_states()
    again.rebuild(members)
    assert again.pending == 0
    # Asterisk restarted meanwhile: no members at all -> both logged out.
    again.rebuild([])
    assert sorted(states(again)) == [("logged_out", None), ("logged_out", None)]


async def test_changes_wait_in_memory_while_the_database_is_down(db: Database) -> None:
    down = Database("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    t = AgentStateTracker(down, clock=Clock())
    t.on_event(member("QueueMemberAdded", "food"))
    t.on_event(member("QueueMemberPause", "food", paused=True, reason="break"))
    with pytest.raises(OSError):
        await t.flush()
    assert t.pending == 2
    await down.dispose()
    await ensure_agents(db, 1)
    t.db = db  # the database is back
    assert await t.flush() == 2
    async with db.session() as s:
        rows = (await s.scalars(select(AgentStateChange).order_by(AgentStateChange.id))).all()
    assert [(r.state, r.reason) for r in rows] == [("idle", None), ("paused", "break")]


async def test_a_status_event_without_a_reason_keeps_the_pause_reason(db: Database) -> None:
    t = AgentStateTracker(db, clock=Clock())
    t.on_event(member("QueueMemberAdded", "food"))
    t.on_event(member("QueueMemberPause", "food", paused=True, reason="training"))
    t.on_event(member("QueueMemberStatus", "food", paused=True, reason=""))
    assert states(t) == [("idle", None), ("paused", "training")]
