"""What people do with incidents: opening one from an outcome, acknowledging, re-assigning,
and who may, on a real database (both kinds), through the incident service.

The clock is the test's: deadlines pass when the test says so, never by waiting.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.ports import Actor, NotAllowed
from store.db import Database
from tests.dispatch.incident_world import SUPERVISOR, World, build_world


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


async def test_an_incident_goes_to_its_communes_team_with_its_deadline(world: World) -> None:
    incident = await world.incident()

    assert incident.status == "dispatched"
    assert incident.team_id == world.tree.team("team-25741").id
    assert incident.first_team_id == incident.team_id
    assert incident.ack_due_at == world.clock.now + timedelta(seconds=180)  # medical, critical
    assert incident.escalate_at == incident.ack_due_at
    assert [k for k, _ in await world.events(incident.id)] == ["created", "dispatched"]

    orders = await world.fire()

    assert [(o.dial, o.attempt, o.phone) for o in orders] == [
        ("PJSIP/team-c25741", 1, "team-c25741")
    ]
    assert await world.fire() == []  # the call is out: not placed twice


async def test_only_the_holding_team_acknowledges(world: World) -> None:
    incident = await world.incident()
    other = Actor("user:đội khác", role="team", team_id=world.tree.team("team-25942").id)

    with pytest.raises(NotAllowed, match="held by team"):
        await world.incidents.acknowledge(incident.id, other)

    await world.incidents.acknowledge(incident.id, SUPERVISOR, "Đội báo qua bộ đàm")
    assert (await world.load(incident.id)).status == "acknowledged"


async def test_a_center_reassigns_only_within_its_area(world: World) -> None:
    incident = await world.incident()
    t = world.tree
    district = Actor("user:TTĐH TDM", role="team", team_id=t.team("center-718").id)
    other_district = Actor("user:TTĐH Dĩ An", role="team", team_id=t.team("center-724").id)

    with pytest.raises(NotAllowed):
        await world.incidents.assign(incident.id, t.team("team-718").id, other_district)
    with pytest.raises(NotAllowed):
        await world.incidents.assign(incident.id, t.team("team-25942").id, district)

    await world.incidents.assign(incident.id, t.team("team-718").id, district, "Đội phường bận")
    incident = await world.load(incident.id)
    assert incident.team_id == t.team("team-718").id
    assert incident.call_attempts == 0
    assert incident.ack_due_at == world.clock.now + timedelta(seconds=180)
    [order] = await world.fire()
    assert order.dial == "PJSIP/team-d718"
