"""The hub alone: ids, the buffer, replay and resync, audiences, one serialization per change."""

from __future__ import annotations

import asyncio
import json

import pytest

from live.hub import Audience, EventHub, Viewer

SUPERVISOR = Viewer("supervisor")
AGENT_7 = Viewer("agent", agent_id=7)
AGENT_8 = Viewer("agent", agent_id=8)
TEAM_DISTRICT = Viewer("team", team_id=3, place_path="/1/5/")
TEAM_ELSEWHERE = Viewer("team", team_id=4, place_path="/1/6/")


def parse(raw: bytes) -> dict[str, object]:
    text = raw.decode()
    assert text.endswith("\n\n")
    fields = dict(line.split(": ", 1) for line in text.strip("\n").split("\n"))
    return {"id": fields["id"], "event": fields["event"], "data": json.loads(fields["data"])}


def test_ids_are_boot_and_sequence_and_frames_are_sse() -> None:
    hub = EventHub(boot="b00t")
    first = hub.publish("queue", {"name": "q1"}, Audience(agents=True))
    second = hub.publish("queue", {"name": "q2 – Dĩ An"}, Audience(agents=True))
    assert (first.id, second.id) == ("b00t-1", "b00t-2")
    assert hub.last_id == "b00t-2"
    assert parse(second.raw) == {"id": "b00t-2", "event": "queue", "data": {"name": "q2 – Dĩ An"}}


def test_two_hubs_have_different_boots() -> None:
    assert EventHub().boot != EventHub().boot


def test_replay_gives_exactly_the_missed_frames_the_viewer_may_see() -> None:
    hub = EventHub(boot="b")
    hub.publish("agent", {"n": 1}, Audience(agent_ids=frozenset({7})))
    hub.publish("agent", {"n": 2}, Audience(agent_ids=frozenset({8})))
    hub.publish("queue", {"n": 3}, Audience(agents=True))
    hub.publish("agent", {"n": 4}, Audience(agent_ids=frozenset({7})))
    missed = hub.replay("b-1", AGENT_7)
    assert missed is not None
    assert [parse(r)["data"] for r in missed] == [{"n": 3}, {"n": 4}]
    all_missed = hub.replay("b-1", SUPERVISOR)
    assert all_missed is not None and len(all_missed) == 3
    assert hub.replay("b-4", AGENT_7) == []
    assert hub.replay("b-0", AGENT_8) is not None


@pytest.mark.parametrize("last_id", ["other-2", "b-99", "b-x", "", "nonsense", "b-1"])
def test_replay_refuses_what_it_cannot_give_whole(last_id: str) -> None:
    hub = EventHub(boot="b", buffer=3)
    for n in range(5):  # seqs 1..5; the buffer keeps 3..5, so "b-1" missed seq 2
        hub.publish("queue", {"n": n}, Audience(agents=True))
    assert hub.replay(last_id, SUPERVISOR) is None
    assert hub.replay("b-2", SUPERVISOR) is not None  # 3..5 are all still there


def test_audiences_follow_the_rest_routes() -> None:
    own_call = Audience(agent_ids=frozenset({7}))
    pop = Audience(staff=frozenset(), agent_ids=frozenset({7}))
    incident = Audience(
        agent_ids=frozenset({7}), team_ids=frozenset({9}), place_paths=("/1/5/12/",)
    )
    queue = Audience(agents=True)
    assert own_call.admits(AGENT_7) and not own_call.admits(AGENT_8)
    assert own_call.admits(SUPERVISOR) and own_call.admits(Viewer("admin"))
    assert not own_call.admits(TEAM_DISTRICT)
    assert pop.admits(AGENT_7) and not pop.admits(AGENT_8) and not pop.admits(SUPERVISOR)
    assert incident.admits(TEAM_DISTRICT) and not incident.admits(TEAM_ELSEWHERE)
    assert incident.admits(Viewer("team", team_id=9, place_path="/2/"))  # holds it
    assert incident.admits(AGENT_7) and not incident.admits(AGENT_8)
    assert queue.admits(AGENT_8) and not queue.admits(TEAM_DISTRICT)
    assert not queue.admits(Viewer("unknown-role"))


async def test_subscribers_get_what_they_may_see_in_order() -> None:
    hub = EventHub(boot="b")
    seven, eight, team = (hub.subscribe(v) for v in (AGENT_7, AGENT_8, TEAM_DISTRICT))
    hub.publish("call", {"agent": 7}, Audience(agent_ids=frozenset({7})))
    hub.publish("pop", {"agent": 8}, Audience(staff=frozenset(), agent_ids=frozenset({8})))
    hub.publish("incident", {"id": 1}, Audience(place_paths=("/1/5/2/",)))
    hub.publish("incident", {"id": 2}, Audience(place_paths=("/1/6/",)))
    assert parse(await _next(seven))["data"] == {"agent": 7}
    assert await seven.next(timeout=0.01) is None
    assert parse(await _next(eight))["event"] == "pop"
    assert await eight.next(timeout=0.01) is None
    assert parse(await _next(team))["data"] == {"id": 1}
    assert await team.next(timeout=0.01) is None


async def _next(sub: object) -> bytes:
    from live.hub import Subscription

    assert isinstance(sub, Subscription)
    raw = await sub.next(timeout=1)
    assert raw is not None
    return raw


async def test_one_serialization_per_change_whatever_the_viewers() -> None:
    hub = EventHub()
    subs = [hub.subscribe(Viewer("supervisor")) for _ in range(300)]
    before = hub.serializations
    frame = hub.publish("queue", {"name": "q"}, Audience(agents=True))
    assert hub.serializations - before == 1
    # Every viewer holds the very same bytes object, not a copy.
    got = [await s.next(timeout=1) for s in subs]
    assert all(g is frame.raw for g in got)


async def test_a_slow_viewer_is_dropped_to_a_resync_without_holding_the_others() -> None:
    hub = EventHub(queue=3)
    slow, fast = hub.subscribe(SUPERVISOR), hub.subscribe(SUPERVISOR)
    for n in range(5):
        hub.publish("queue", {"n": n}, Audience(agents=True))
        assert await fast.next(timeout=1) is not None
    assert slow.overflowed and "slow" in slow.reason
    assert await slow.next(timeout=0.01) is None
    slow.reset()
    hub.publish("queue", {"n": 9}, Audience(agents=True))
    assert parse(await _next(slow))["data"] == {"n": 9}


async def test_close_ends_every_stream_at_once() -> None:
    hub = EventHub()
    sub = hub.subscribe(SUPERVISOR)
    waiter = asyncio.create_task(sub.next(timeout=30))
    await asyncio.sleep(0)
    hub.close()
    assert await asyncio.wait_for(waiter, 1) is None and sub.closed
    assert hub.subscribe(SUPERVISOR).closed


async def test_resync_all_tells_every_viewer() -> None:
    hub = EventHub()
    subs = [hub.subscribe(SUPERVISOR), hub.subscribe(AGENT_7)]
    hub.resync_all("bus reconnected")
    assert all(s.overflowed and s.reason == "bus reconnected" for s in subs)


def test_message_for_one_viewer_carries_the_newest_id_and_is_not_buffered() -> None:
    hub = EventHub(boot="b")
    hub.publish("queue", {}, Audience(agents=True))
    raw = hub.message("heartbeat", {"server_time": "now"})
    assert parse(raw)["id"] == "b-1"
    assert (
        hub.replay("b-0", SUPERVISOR) is not None and len(hub.replay("b-0", SUPERVISOR) or []) == 1
    )
