from __future__ import annotations

from pbx.events import parse_event
from queues.live import LiveQueues


def test_waiting_callers_and_members_follow_events() -> None:
    now = [1000.0]
    live = LiveQueues(clock=lambda: now[0])
    live.on_event(
        parse_event({"Event": "QueueCallerJoin", "Queue": "medical", "Uniqueid": "a"}, 990.0)
    )
    live.on_event(
        parse_event({"Event": "QueueCallerJoin", "Queue": "medical", "Uniqueid": "b"}, 995.0)
    )
    live.on_event(
        parse_event(
            {
                "Event": "QueueMemberAdded",
                "Queue": "medical",
                "MemberName": "agent01",
                "Interface": "PJSIP/agent01",
            },
            0,
        )
    )
    view = {q.name: q for q in live.snapshot()}["medical"]
    assert (view.waiting, view.longest_wait_s, view.logged_in_agents) == (2, 10.0, ["agent01"])
    assert view.category == "medical"
    live.on_event(
        parse_event({"Event": "QueueCallerLeave", "Queue": "medical", "Uniqueid": "a"}, 999.0)
    )
    live.on_event(
        parse_event({"Event": "QueueMemberRemoved", "Queue": "medical", "MemberName": "agent01"}, 0)
    )
    view = {q.name: q for q in live.snapshot()}["medical"]
    assert (view.waiting, view.longest_wait_s, view.logged_in_agents) == (1, 5.0, [])


def test_rebuild_replaces_stale_state_with_queue_status() -> None:
    live = LiveQueues(clock=lambda: 100.0)
    live.on_event(
        parse_event({"Event": "QueueCallerJoin", "Queue": "food", "Uniqueid": "gone"}, 1.0)
    )
    live.rebuild(
        entries=[{"Queue": "violation", "Uniqueid": "x", "Wait": "12"}],
        members=[{"Queue": "violation", "Name": "agent02"}],
    )
    views = {q.name: q for q in live.snapshot()}
    assert views["food"].waiting == 0
    assert (views["violation"].waiting, views["violation"].longest_wait_s) == (1, 12.0)
    assert views["violation"].logged_in_agents == ["agent02"]
