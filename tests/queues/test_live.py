from __future__ import annotations

from pbx.events import AmiEvent, parse_event
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


def member(
    name: str, queue: str = "food", *, event: str = "QueueMemberAdded", **h: str
) -> AmiEvent:
    headers = {"Event": event, "Queue": queue, "MemberName": name, "Interface": f"PJSIP/{name}"}
    headers.update(h)
    return parse_event(headers, 0)


def join(uid: str, queue: str = "food", channel: str = "PJSIP/pstn-1") -> AmiEvent:
    return parse_event(
        {"Event": "QueueCallerJoin", "Queue": queue, "Uniqueid": uid, "Channel": channel}, 0
    )


def test_estimated_wait_from_callers_ahead_free_agents_and_aht() -> None:
    live = LiveQueues(clock=lambda: 0.0, wrapup_s=10, default_aht_s=180)
    assert live.estimated_wait_s("food") is None  # no agent at all
    for name, status in (("agent01", "1"), ("agent02", "2"), ("agent03", "1")):
        live.on_event(member(name, Status=status, Paused="0"))
    live.on_event(member("agent03", event="QueueMemberPause", Status="1", Paused="1"))
    # able: agent01 (free), agent02 (on a call); agent03 is paused.
    assert live.estimated_wait_s("food") == 0.0  # the free agent takes the next caller
    live.on_event(join("a"))
    live.on_event(join("b"))
    # Third in line, one free agent: two calls of the default AHT shared by two agents.
    assert live.estimated_wait_s("food") == 2 * 180 / 2
    # AHT is talk + wrap-up of the category's recent calls (food-724 is food too).
    for talk in ("50", "70"):
        live.on_event(
            parse_event({"Event": "AgentComplete", "Queue": "food-724", "TalkTime": talk}, 0)
        )
    assert live.aht_s("food") == 70.0
    assert live.estimated_wait_s("food") == 2 * 70 / 2
    assert live.aht_s("violation") == 70.0  # no call of its own yet: any category's
    live.on_event(member("agent01", event="QueueMemberStatus", Status="5"))
    assert live.estimated_wait_s("food") == 3 * 70 / 1  # agent01's phone is unreachable


def test_callbacks_placeholders_are_counted_apart() -> None:
    live = LiveQueues(clock=lambda: 10.0)
    live.on_event(join("a"))
    live.on_event(join("cb", channel="Local/cb4@hotline-callback-00000003;2"))
    view = {q.name: q for q in live.snapshot()}["food"]
    assert (view.waiting, view.callbacks_pending, view.estimated_wait_s) == (2, 1, None)
    live.rebuild(
        entries=[
            {
                "Queue": "food",
                "Uniqueid": "cb",
                "Wait": "3",
                "Channel": "Local/cb4@hotline-callback-00000003;2",
            }
        ],
        members=[{"Queue": "food", "Name": "agent02", "Status": "1", "Paused": "0"}],
    )
    view = {q.name: q for q in live.snapshot()}["food"]
    assert (view.waiting, view.callbacks_pending) == (1, 1)
    assert view.estimated_wait_s == 180.0  # one ahead, one free agent: AHT / 1


def test_a_member_s_device_state_is_one_for_all_its_queues() -> None:
    """app_queue sends a device-state change once per queue; the link may pass on only the
    first (pbx.member_status): the member is busy in every queue at once."""
    live = LiveQueues(clock=lambda: 0.0)

    def status(queue: str, state: str, paused: str = "0") -> AmiEvent:
        headers = {"Queue": queue, "MemberName": "agent01", "Interface": "PJSIP/agent01"}
        return parse_event(
            {"Event": "QueueMemberStatus", **headers, "Status": state, "Paused": paused}, 0
        )

    for queue in ("medical", "food"):
        live.on_event(status(queue, "1"))
    assert live.estimated_wait_s("food") == 0  # a free agent: no wait
    live.on_event(status("medical", "2"))  # in use: the food queue's copy never comes
    assert live.estimated_wait_s("food") == live.aht_s("food")  # one able agent, not free
    live.on_event(status("medical", "2", paused="1"))  # paused counts per queue
    assert live.estimated_wait_s("medical") is None
    assert live.estimated_wait_s("food") == live.aht_s("food")
