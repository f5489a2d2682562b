"""The chain of command: where an incident goes (the nearest team, then the centers above)
and who may acknowledge it, alone on lists of teams; then where incidents go on a real
database (both kinds), through the incident service. Who may act over REST is tested with
the actions, in test_incidents.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.chain import check_may_acknowledge, nearest_team, next_center
from dispatch.ports import Actor, NotAllowed
from store.db import Database
from store.models import Incident, Place, Team
from tests.dispatch.incident_world import SUPERVISOR, World, build_world

# province 1 ── district 2 ── commune 3: a center and a team at the province and the
# district, a team at the commune; as teams_up lists them, deepest place first.
PROVINCE = Place(id=1, depth=0, path="/1/")
DISTRICT = Place(id=2, depth=1, path="/1/2/")
COMMUNE = Place(id=3, depth=2, path="/1/2/3/")
CENTER_P = Team(id=10, kind="center", place_id=1)
TEAM_P = Team(id=11, kind="team", place_id=1)
CENTER_D = Team(id=20, kind="center", place_id=2)
TEAM_D = Team(id=21, kind="team", place_id=2)
TEAM_C = Team(id=31, kind="team", place_id=3)
UP_FROM_COMMUNE = [
    (TEAM_C, COMMUNE),
    (CENTER_D, DISTRICT),
    (TEAM_D, DISTRICT),
    (CENTER_P, PROVINCE),
    (TEAM_P, PROVINCE),
]


def test_a_new_incident_goes_to_the_nearest_team_else_the_nearest_center() -> None:
    assert nearest_team(UP_FROM_COMMUNE) is TEAM_C
    assert nearest_team(UP_FROM_COMMUNE[1:]) is TEAM_D
    assert nearest_team([(CENTER_D, DISTRICT), (CENTER_P, PROVINCE)]) is CENTER_D
    assert nearest_team([]) is None


def test_the_next_center_is_at_a_teams_level_or_above_a_centers() -> None:
    assert next_center(UP_FROM_COMMUNE, TEAM_C.id) is CENTER_D
    assert next_center(UP_FROM_COMMUNE, TEAM_D.id) is CENTER_D  # its own district's first
    assert next_center(UP_FROM_COMMUNE, CENTER_D.id) is CENTER_P
    assert next_center(UP_FROM_COMMUNE, TEAM_P.id) is CENTER_P
    assert next_center(UP_FROM_COMMUNE, CENTER_P.id) is None  # the top


def test_an_incident_held_outside_its_chain_goes_to_the_deepest_center() -> None:
    """No holder, or one a center handed it from elsewhere: the center nearest its place."""
    assert next_center(UP_FROM_COMMUNE, None) is CENTER_D
    assert next_center(UP_FROM_COMMUNE, 99) is CENTER_D
    assert next_center([(TEAM_C, COMMUNE)], TEAM_C.id) is None


def test_only_the_holding_team_or_a_supervisor_may_acknowledge() -> None:
    held = Incident(id=7, team_id=TEAM_C.id)

    check_may_acknowledge(held, Actor("user:đội", role="team", team_id=TEAM_C.id))
    check_may_acknowledge(held, SUPERVISOR)
    check_may_acknowledge(held, Actor("user:admin", role="admin"))
    with pytest.raises(NotAllowed, match="incident 7 is held by team 31; only that team"):
        check_may_acknowledge(held, Actor("user:đội khác", role="team", team_id=TEAM_D.id))
    with pytest.raises(NotAllowed, match="held by team 31"):
        check_may_acknowledge(held, Actor("user:agent", role="agent", agent_id=1))
    with pytest.raises(NotAllowed, match="held by no team"):
        check_may_acknowledge(Incident(id=8), Actor("user:đội", role="team", team_id=31))


# -- on a database, through the incident service -----------------------------------------------


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


async def test_a_commune_without_a_team_gets_the_districts_team(world: World) -> None:
    incident = await world.incident(25744, urgency="normal", category="food")

    assert incident.team_id == world.tree.team("team-718").id
    assert incident.ack_due_at == world.clock.now + timedelta(seconds=3600)  # "*", normal


async def test_a_district_team_escalates_to_its_own_center_first(world: World) -> None:
    incident = await world.incident(25744)  # no commune team: the district's team has it

    world.clock.advance(181)
    await world.fire()

    assert (await world.load(incident.id)).team_id == world.tree.team("center-718").id
