"""What a user may do to an incident now (``IncidentService.actions``, ``offered_moves``):
exactly what the lifecycle and the chain of command would accept."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatch.lifecycle import IncidentState, move, offered_moves
from dispatch.ports import Actor, LifecycleError, NotAllowed
from store.db import Database
from store.models import IncidentStatus
from tests.dispatch.incident_world import SUPERVISOR, build_world

NOW = datetime(2021, 8, 2, 3, 0, tzinfo=UTC)


def accepted(status: str, target: str, reason: str, team: bool) -> bool:
    state = IncidentState(
        id=1, status=status, created_at=NOW, updated_at=NOW, team_id=7 if team else None
    )
    try:
        move(state, target, reason, NOW)
    except LifecycleError:
        return False
    return True


@pytest.mark.parametrize("team", [True, False])
@pytest.mark.parametrize("status", [s.value for s in IncidentStatus])
def test_the_moves_offered_are_those_move_accepts_with_their_need_of_a_reason(
    status: str, team: bool
) -> None:
    offered = dict(offered_moves(status, has_team=team))
    for target in IncidentStatus:
        if target in (IncidentStatus.NEW, IncidentStatus.DISPATCHED, IncidentStatus.ACKNOWLEDGED):
            assert target not in offered  # assigning, and the holder's acknowledgment
            continue
        assert (target.value in offered) == accepted(status, target, "lý do", team), target
        if target.value in offered:
            assert offered[target.value] == (not accepted(status, target, "", team)), target
    if status in ("resolved", "cancelled"):
        assert offered == {}


async def test_each_user_is_offered_what_the_routes_would_let_them_do(db: Database) -> None:
    world = await build_world(db)
    tree = world.tree
    incident = await world.incident(commune=25741)  # dispatched to team-25741
    service = world.incidents

    def team(key: str) -> Actor:
        return Actor(f"user:{key}", role="team", team_id=tree.team(key).id)

    holder = await service.actions(incident.id, team("team-25741"))
    assert holder.status == "dispatched" and holder.acknowledge
    assert [m for m, _ in holder.moves] == ["en_route", "on_scene", "resolved", "cancelled"]
    assert holder.assign_to == []  # a team is no center

    center = await service.actions(incident.id, team("center-718"))
    assert not center.acknowledge  # only the holder (or a supervisor) takes it
    assert [m for m, _ in center.moves] == ["en_route", "on_scene", "resolved", "cancelled"]
    # Teams under the district, not the holder, not the neighbour district's.
    assert {t.name for t, _ in center.assign_to} == {"Đội center-718", "Đội team-718"}

    province = await service.actions(incident.id, team("center-74"))
    assert "Đội team-25942" in {t.name for t, _ in province.assign_to}

    supervisor = await service.actions(incident.id, SUPERVISOR)
    assert supervisor.acknowledge and len(supervisor.assign_to) == len(tree.teams) - 1

    with pytest.raises(NotAllowed):
        await service.actions(incident.id, team("center-724"))  # may not even read it

    await service.acknowledge(incident.id, team("team-25741"))
    await service.transition(incident.id, "en_route", team("team-25741"))
    on_the_way = await service.actions(incident.id, team("center-718"))
    assert on_the_way.assign_to == []  # a team has set off: no re-assigning
    assert [m for m, _ in on_the_way.moves] == ["on_scene", "resolved", "cancelled"]
    await service.transition(incident.id, "resolved", team("team-25741"), reason="xong")
    closed = await service.actions(incident.id, SUPERVISOR)
    assert (closed.acknowledge, list(closed.moves), list(closed.assign_to)) == (False, [], [])
