"""The live feed over a real database: the pop (call id, the number's history and open
incidents, to the agent rung only), incidents published once committed with who may see them,
the snapshot's incidents as /monitoring filters them, queue items only when they change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from api.live_feed import LiveFeed, _AgentRow, same_queue_item
from dispatch.ports import Actor
from live.bus import InProcessBus
from live.hub import EventHub, Subscription, Viewer
from queues.calls import CallState
from queues.ports import QueueView
from store.db import Database
from store.models import Agent, CallOutcome
from store.types import utcnow
from store.users import create_user
from tests.api.support import FakeQueueView
from tests.dispatch.incident_world import SUPERVISOR, build_world
from tests.dispatch.tree import answered_call


def _feed(
    db: Database, calls: dict[str, CallState], queues: FakeQueueView | None = None
) -> LiveFeed:
    return LiveFeed(
        InProcessBus(EventHub(boot="f")),
        db,
        agent_states=None,
        queues=queues or FakeQueueView(),
        calls=lambda: calls,
        coalesce_s=0.01,
    )


async def _messages(
    sub: Subscription, wait: float = 0.3, *, some: bool = True
) -> list[dict[str, Any]]:
    """The messages until none came for ``wait`` s. With ``some`` the first one is waited for
    up to 5 s: an incident is read back from the database before it is published, which on a
    loaded machine can take longer than ``wait`` (seen once in a full run on PostgreSQL)."""
    out = []
    timeout = 5.0 if some else wait
    while (raw := await sub.next(timeout=timeout)) is not None:
        timeout = wait
        lines = dict(line.split(": ", 1) for line in raw.decode().strip().split("\n"))
        out.append({"event": lines["event"], "data": json.loads(lines["data"])})
    return out


async def test_a_pop_carries_the_call_id_the_history_and_open_incidents(db: Database) -> None:
    world = await build_world(db)
    earlier = await world.incident(caller="0988777666")  # an open incident of this number
    old = await answered_call(db, "0.9", agent_id=1, caller_number="0988777666")
    async with db.session() as s:
        s.add(CallOutcome(call_id=old.id, agent_id=1, request_hash="x", disposition="info"))
        await s.commit()
    await answered_call(db, "0.8", agent_id=1, caller_number="0111222333")  # another number
    ringing = await answered_call(db, "9.1", agent_id=None, caller_number="0988777666")
    calls = {
        "9.1": CallState(
            uniqueid="9.1",
            linkedid="9.1",
            caller_number="0988777666",
            caller_name="Trần Thị Bình",
            arrived_at=utcnow(),
            status="queued",
            category="medical",
            priority=10,
            route="ivr",
            district_code=718,
        )
    }
    feed = _feed(db, calls)
    feed.district_names = {718: "Thủ Dầu Một"}
    await feed.start()
    agent = feed.hub.subscribe(Viewer("agent", agent_id=1))
    other = feed.hub.subscribe(Viewer("agent", agent_id=2))
    supervisor = feed.hub.subscribe(Viewer("supervisor"))
    endpoint = next(ep for ep, row in feed._agents.items() if row.id == 1)

    pop = await feed.pop(endpoint, "9.1")

    assert pop is not None
    (message,) = await _messages(agent)
    assert message["event"] == "pop" and message["data"] == json.loads(json.dumps(pop))
    data = message["data"]
    assert data["agent_id"] == 1
    assert data["call"]["call_id"] == ringing.id
    assert data["call"]["caller_name"] == "Trần Thị Bình"
    assert data["call"]["district_name"] == "Thủ Dầu Một"
    assert (data["call"]["category"], data["call"]["route"]) == ("medical", "ivr")
    previous = data["previous_calls"]
    # Same number, newest first, this call excluded; the other number's call not there.
    assert {p["call_id"] for p in previous} == {old.id, earlier.call_id}
    assert {p["disposition"] for p in previous} == {"info", "incident"}
    assert [i["id"] for i in data["open_incidents"]] == [earlier.id]
    assert data["open_incidents"][0]["commune_name"] == "Phường Hiệp Thành"
    assert data["open_incidents"][0]["team_name"] == "Đội team-25741"
    # Only the agent rung: not another agent, not even a supervisor.
    assert await _messages(other, 0.05, some=False) == []
    assert await _messages(supervisor, 0.05, some=False) == []
    # A snapshot made now shows it to that agent.
    assert feed.pops[1]["call"]["uniqueid"] == "9.1"
    await feed.close()


async def test_a_pop_for_a_number_never_heard_has_empty_history(db: Database) -> None:
    world = await build_world(db)
    del world
    await answered_call(db, "5.1", agent_id=None, caller_number="")
    calls = {
        "5.1": CallState("5.1", "5.1", "", "", utcnow(), status="queued"),
    }
    feed = _feed(db, calls)
    await feed.start()
    endpoint = next(iter(feed._agents))
    pop = await feed.pop(endpoint, "5.1")
    assert pop is not None and pop["previous_calls"] == [] and pop["open_incidents"] == []
    assert await feed.pop(endpoint, "not-a-call") is None
    await feed.close()


async def test_incidents_are_published_once_committed_to_who_may_see_them(db: Database) -> None:
    world = await build_world(db)
    feed = _feed(db, {})
    await feed.start()
    world.incidents.on_change = feed.incident_changed
    world.outcomes.incidents = world.incidents
    tree = world.tree
    district = tree.place(718)
    team_here = feed.hub.subscribe(
        Viewer("team", team_id=tree.team("center-718").id, place_path=district.path)
    )
    team_elsewhere = feed.hub.subscribe(
        Viewer("team", team_id=tree.team("center-724").id, place_path=tree.place(724).path)
    )
    the_agent = feed.hub.subscribe(Viewer("agent", agent_id=1))
    another_agent = feed.hub.subscribe(Viewer("agent", agent_id=2))

    incident = await world.incident()  # commune 25741, under district 718
    created = await _messages(team_here)
    assert [m["event"] for m in created] == ["incident"]
    data = created[0]["data"]
    assert (data["id"], data["status"], data["team_name"]) == (
        incident.id,
        "dispatched",
        "Đội team-25741",
    )
    assert (data["commune_code"], data["district_code"]) == (25741, 718)
    assert data["call_id"] == incident.call_id and data["ack_due_at"]
    assert [m["data"]["id"] for m in await _messages(the_agent, 0.05)] == [incident.id]
    assert await _messages(team_elsewhere, 0.05, some=False) == []
    assert await _messages(another_agent, 0.05, some=False) == []

    holder = Actor("user:team", role="team", team_id=tree.team("team-25741").id)
    await world.incidents.acknowledge(incident.id, holder)
    (ack,) = await _messages(team_here)
    assert ack["data"]["status"] == "acknowledged"
    await world.incidents.transition(incident.id, "en_route", SUPERVISOR)
    assert [m["data"]["status"] for m in await _messages(team_here)] == ["en_route"]

    # Escalation by the timers is published too.
    second = await world.incident(commune=25744, caller="0900000002", address="1 Phú Lợi")
    await _messages(team_here)
    world.clock.advance(10_000)
    await world.fire()
    got = await _messages(team_here)
    escalated = [m["data"] for m in got if m["data"]["id"] == second.id]
    assert escalated and escalated[-1]["team_name"] == "Đội center-718"
    await feed.close()


async def test_the_snapshot_shows_open_incidents_as_monitoring_filters_them(db: Database) -> None:
    world = await build_world(db)
    feed = _feed(db, {})
    await feed.start()
    here = await world.incident(commune=25741)
    there = await world.incident(commune=25942, caller="0900000003", address="3 Dĩ An")
    closed = await world.incident(commune=25744, caller="0900000001", address="2 Phú Lợi")
    await world.incidents.transition(closed.id, "cancelled", SUPERVISOR, reason="nhầm")
    tree = world.tree

    def ids(rows: list[dict[str, Any]]) -> set[int]:
        return {r["id"] for r in rows}

    assert ids(await feed.incidents_data(Viewer("supervisor"))) == {here.id, there.id}
    district_718 = Viewer(
        "team", team_id=tree.team("center-718").id, place_path=tree.place(718).path
    )
    assert ids(await feed.incidents_data(district_718)) == {here.id}
    assert ids(await feed.incidents_data(Viewer("agent", agent_id=1))) == {here.id, there.id}
    assert ids(await feed.incidents_data(Viewer("agent", agent_id=2))) == set()
    await feed.close()


async def test_queue_items_go_out_only_when_they_change_and_bursts_coalesce(db: Database) -> None:
    queues = FakeQueueView(
        [QueueView("food-724", "food", 0, 0.0), QueueView("medical", "medical", 0, 0.0)]
    )
    feed = _feed(db, {}, queues)
    await feed.start()
    viewer = feed.hub.subscribe(Viewer("agent", agent_id=1))
    for _ in range(50):  # one caller joining comes as many AMI events
        feed.queue_changed("food-724")
    first = await _messages(viewer)
    assert sorted(m["data"]["name"] for m in first) == ["food-724", "medical"]
    queues.views[0] = QueueView("food-724", "food", 1, 3.0)
    for _ in range(50):
        feed.queue_changed("food-724")
    again = await _messages(viewer)
    assert [(m["data"]["name"], m["data"]["waiting"]) for m in again] == [("food-724", 1)]
    assert feed.hub.seq == 3  # 2 + 1 whatever the number of changes told
    await feed.close()


async def test_answered_today_counts_each_answered_call_once(db: Database) -> None:
    await build_world(db)
    await answered_call(db, "a.1", agent_id=1)  # answered earlier today, in the database
    feed = _feed(db, {})
    await feed.start()
    endpoint = next(ep for ep, row in feed._agents.items() if row.id == 1)
    now = datetime.now(UTC)
    call = CallState("a.2", "a.2", "0912", "", now - timedelta(seconds=30), answered_at=now)
    call.agent_endpoint = endpoint
    for _ in range(3):
        feed.call_changed(call)
    from queues.agent_state import AgentLiveState

    assert feed.agent_data(AgentLiveState(endpoint))["answered_today"] == 2
    await asyncio.sleep(0.05)
    await feed.close()


class _DownDatabase:
    """A database that is down: every session fails to open."""

    def session(self) -> Any:
        raise OSError("connection refused")


async def test_a_pop_goes_out_without_its_history_when_the_database_is_down() -> None:
    calls = {"7.1": CallState("7.1", "7.1", "0912", "Lê Văn C", utcnow(), status="queued")}
    feed = _feed(_DownDatabase(), calls)  # type: ignore[arg-type]
    feed._agents = {"agent01": _AgentRow(1, "Một")}
    agent = feed.hub.subscribe(Viewer("agent", agent_id=1))
    pop = await feed.pop("agent01", "7.1")
    assert pop is not None and pop["call"]["caller_name"] == "Lê Văn C"
    assert pop["call"]["call_id"] is None and pop["previous_calls"] == []
    (message,) = await _messages(agent)
    assert message["event"] == "pop"


def _queue(waiting: int, longest: float, **changes: object) -> dict[str, object]:
    item: dict[str, object] = {"name": "medical-718", "waiting": waiting, "longest_wait_s": longest}
    return {**item, **changes}


def test_a_queue_item_whose_wait_only_grew_is_not_sent_again() -> None:
    # The same oldest caller, 10 s later: the wait grew by 10 s (a page counts it itself).
    assert same_queue_item(_queue(2, 30.0), 100.0, _queue(2, 40.0), 110.0)
    assert same_queue_item(_queue(2, 30.0), 100.0, _queue(2, 40.9), 110.0)  # within a second
    assert same_queue_item(_queue(0, 0.0), 100.0, _queue(0, 0.0), 160.0)
    assert same_queue_item(_queue(2, 30.0), 100.0, _queue(2, 30.0), 160.0)  # a still view


def test_a_queue_item_with_another_oldest_caller_or_field_is_sent() -> None:
    # The oldest caller was answered: the next one waited 12 s, not 40.
    assert not same_queue_item(_queue(2, 30.0), 100.0, _queue(1, 12.0), 110.0)
    assert not same_queue_item(_queue(2, 30.0), 100.0, _queue(2, 12.0), 110.0)
    assert not same_queue_item(_queue(2, 30.0), 100.0, _queue(3, 40.0), 110.0)
    assert not same_queue_item(_queue(0, 0.0), 100.0, _queue(1, 0.5), 110.0)
    assert not same_queue_item(
        _queue(2, 30.0, logged_in_agents=["agent01"]), 100.0, _queue(2, 40.0), 110.0
    )


async def test_an_agents_snapshot_says_whether_they_are_coached_and_their_recording_paused(
    db: Database,
) -> None:
    """Issue 15: a console reloaded mid-call learns it from the snapshot (the hooks the
    wiring sets: the coaching service's and the recordings' views), and only its own."""
    async with db.session() as s:
        lan, minh = Agent(endpoint="agent07", name="Lan"), Agent(endpoint="agent08", name="Minh")
        s.add_all([lan, minh])
        await s.commit()
        lan_id, minh_id = lan.id, minh.id
    mine = CallState(
        uniqueid="u.1", linkedid="u.1", caller_number="0909", caller_name="", arrived_at=utcnow()
    )
    mine.agent_endpoint, mine.status = "agent07", "connected"
    feed = _feed(db, {"u.1": mine})
    await feed.load_agents()
    asked: list[list[str]] = []
    since = utcnow()

    async def paused(uids: Iterable[str]) -> dict[str, datetime]:
        wanted = sorted(uids)
        asked.append(wanted)
        return {uid: since for uid in wanted if uid == "u.1"}

    feed.coaching_view = lambda agent_id: (
        {"agent_id": lan_id, "mode": "whisper", "active": True} if agent_id == lan_id else None
    )
    feed.paused_view = paused
    as_lan, _ = await create_user(db, name="lan", role="agent", agent_id=lan_id)
    snap = await feed.snapshot(as_lan, Viewer("agent", agent_id=lan_id))
    assert snap["coaching"] == {"agent_id": lan_id, "mode": "whisper", "active": True}
    assert snap["recording_paused"] == {"u.1": since.isoformat()}
    assert asked == [["u.1"]]
    as_minh, _ = await create_user(db, name="minh", role="agent", agent_id=minh_id)
    other = await feed.snapshot(as_minh, Viewer("agent", agent_id=minh_id))
    assert other["coaching"] is None and other["recording_paused"] == {}
    assert asked == [["u.1"], []]  # not Lan's call: not asked about
    boss, _ = await create_user(db, name="boss", role="supervisor")
    sup = await feed.snapshot(boss, Viewer("supervisor"))
    assert sup["coaching"] is None and sup["recording_paused"] == {}
