"""What the incident board reads besides /monitoring: ``GET /incidents/{id}/actions`` (who
may do what, over REST) and the event stream's audience when a team loses an incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from api.live_feed import LiveFeed
from dispatch.ports import Actor
from live.bus import InProcessBus
from live.hub import EventHub, Subscription, Viewer
from store.db import Database
from store.users import create_user
from tests.api.support import Api, FakeQueueView
from tests.api.test_incidents import INCIDENT
from tests.dispatch.incident_world import SUPERVISOR, build_world
from tests.dispatch.tree import small_tree


async def test_actions_say_what_the_asking_user_may_do(api: Api) -> None:
    world_tree = await small_tree(api.db)
    call = await api.add_call(
        uniqueid="7.1",
        caller_number="0912000001",
        arrived_at=datetime(2021, 8, 2, 3, 1, tzinfo=UTC),
        agent_id=api.agent_ids["agent01"],
        category="medical",
    )
    created = await api.client.post(
        f"/calls/{call.id}/outcome", json=INCIDENT, headers=api.auth("supervisor")
    )
    incident_id = created.json()["incident_id"]

    async def as_team(key: str) -> dict[str, str]:
        _, token = await create_user(
            api.db, name=f"user of {key}", role="team", team_id=world_tree.team(key).id
        )
        return {"Authorization": f"Bearer {token}"}

    holder = await api.client.get(
        f"/incidents/{incident_id}/actions", headers=await as_team("team-25741")
    )
    assert holder.status_code == 200, holder.text
    body = holder.json()
    assert body["status"] == "dispatched" and body["acknowledge"] is True
    assert body["transitions"][0] == {
        "status": "en_route",
        "label": "Đang di chuyển",
        "needs_reason": True,  # from dispatched it skips the acknowledgment
    }
    assert body["transitions"][-1]["status"] == "cancelled"
    assert body["assign_to"] == []

    center = (
        await api.client.get(
            f"/incidents/{incident_id}/actions", headers=await as_team("center-718")
        )
    ).json()
    assert center["acknowledge"] is False
    assert {t["name"] for t in center["assign_to"]} == {"Đội center-718", "Đội team-718"}
    assert {t["place_name"] for t in center["assign_to"]} == {"Thành phố Thủ Dầu Một"}

    # Another district's center may not read it: as if it did not exist.
    other = await api.client.get(
        f"/incidents/{incident_id}/actions", headers=await as_team("center-724")
    )
    assert other.status_code == 404
    missing = await api.client.get("/incidents/99999/actions", headers=api.auth("admin"))
    assert missing.status_code == 404
    # The agent who took the call reads the incident but may do nothing to it.
    agent = await api.client.get(f"/incidents/{incident_id}/actions", headers=api.auth("agent"))
    assert agent.status_code == 200
    assert (agent.json()["acknowledge"], agent.json()["transitions"]) == (False, [])
    assert (await api.client.get(f"/incidents/{incident_id}/actions")).status_code == 401


async def _messages(sub: Subscription, wait: float = 0.3) -> list[dict[str, Any]]:
    out = []
    while (raw := await sub.next(timeout=wait)) is not None:
        lines = dict(line.split(": ", 1) for line in raw.decode().strip().split("\n"))
        out.append({"event": lines["event"], "data": json.loads(lines["data"])})
    return out


async def test_a_team_that_loses_an_incident_held_elsewhere_is_told_once(db: Database) -> None:
    world = await build_world(db)
    feed = LiveFeed(
        InProcessBus(EventHub(boot="b")),
        db,
        agent_states=None,
        queues=FakeQueueView(),
        coalesce_s=0.01,
    )
    await feed.start()
    world.incidents.on_change = feed.incident_changed
    world.outcomes.incidents = world.incidents
    tree = world.tree
    neighbour = tree.team("team-25942")  # in Dĩ An: the incident is not under its place
    viewer = feed.hub.subscribe(
        Viewer("team", team_id=neighbour.id, place_path=tree.place(25942).path)
    )
    incident = await world.incident(commune=25741)
    assert await _messages(viewer, 0.05) == []

    await world.incidents.assign(incident.id, neighbour.id, SUPERVISOR, "tăng cường")
    (lent,) = await _messages(viewer)
    assert (lent["data"]["id"], lent["data"]["team_id"]) == (incident.id, neighbour.id)
    # Its snapshot has it too, as /monitoring/incidents lists it for this team.
    assert [i["id"] for i in await feed.incidents_data(viewer.viewer)] == [incident.id]

    back = tree.team("team-25741")
    await world.incidents.assign(incident.id, back.id, SUPERVISOR, "trả lại")
    (gone,) = await _messages(viewer)
    assert (gone["data"]["id"], gone["data"]["team_name"]) == (incident.id, "Đội team-25741")
    assert await feed.incidents_data(viewer.viewer) == []
    # Told once: what happens to it afterwards is no longer this team's.
    await world.incidents.acknowledge(incident.id, Actor("user:x", role="team", team_id=back.id))
    assert await _messages(viewer) == []
    await feed.close()
