"""The timers and the team's phone: calls, their results, deadlines and escalation, on a
real database (both kinds), through the incident service.

The clock is the test's: deadlines pass when the test says so, never by waiting.
"""

from __future__ import annotations

import pytest

from dispatch.ports import Actor, PhoneResult
from store.db import Database
from tests.dispatch.incident_world import World, build_world


@pytest.fixture
async def world(db: Database) -> World:
    return await build_world(db)


async def test_pressing_1_acknowledges_and_stops_every_timer(world: World) -> None:
    incident = await world.incident()
    [order] = await world.fire()
    world.clock.advance(42)

    await world.incidents.phone_result(order, PhoneResult.ACCEPTED)

    incident = await world.load(incident.id)
    assert incident.status == "acknowledged"
    assert incident.acknowledged_by_team_id == world.tree.team("team-25741").id
    assert incident.ack_s == 42
    assert (incident.escalate_at, incident.call_due_at) == (None, None)
    world.clock.advance(3600)
    assert await world.incidents.fire_due() == 0
    assert ("status", "Nhận lệnh qua điện thoại") in await world.events(incident.id)


async def test_unanswered_calls_are_retried_on_the_next_phone_then_escalated(
    world: World,
) -> None:
    incident = await world.incident()
    dials = []
    for result in (PhoneResult.NO_ANSWER, PhoneResult.REFUSED):
        [order] = await world.fire()
        dials.append(order.dial)
        await world.incidents.phone_result(order, result)
        assert await world.fire() == []  # not before the retry delay
        world.clock.advance(60)
    [order] = await world.fire()
    dials.append(order.dial)
    await world.incidents.phone_result(order, PhoneResult.BUSY)

    # Its two phones in turn; after the third failed call the district's center has it.
    assert dials == ["PJSIP/team-c25741", "PJSIP/0912000111@pstn-out", "PJSIP/team-c25741"]
    incident = await world.load(incident.id)
    assert incident.team_id == world.tree.team("center-718").id
    assert (incident.escalation, incident.call_attempts) == (1, 0)
    events = await world.events(incident.id)
    assert ("escalated", "Đội không nhận lệnh sau 3 cuộc gọi") in events
    [order] = await world.fire()  # the center is called at once
    assert order.dial == "PJSIP/center-d718"


async def test_deadlines_escalate_commune_district_province_then_stay_overdue(
    world: World,
) -> None:
    incident = await world.incident()
    holders = []
    for _ in range(3):
        world.clock.advance(181)
        await world.fire()
        holders.append((await world.load(incident.id)).team_id)

    t = world.tree
    assert holders == [t.team("center-718").id, t.team("center-74").id, t.team("center-74").id]
    incident = await world.load(incident.id)
    assert incident.status == "dispatched"
    assert incident.escalation == 2
    assert incident.escalate_at is None  # nothing above the province: nothing more fires
    assert incident.ack_due_at is not None and incident.ack_due_at < world.clock.now
    kinds = [k for k, _ in await world.events(incident.id)]
    assert kinds.count("escalated") == 2
    assert kinds[-1] == "escalation_exhausted"


async def test_an_overdue_timer_fires_in_a_service_started_after_the_deadline(
    world: World,
) -> None:
    incident = await world.incident()
    world.clock.advance(600)  # the service was down past the deadline

    restarted = world.service()
    assert await restarted.fire_due() >= 1

    assert (await world.load(incident.id)).team_id == world.tree.team("center-718").id


async def test_a_result_for_an_old_call_only_goes_into_the_history(world: World) -> None:
    incident = await world.incident()
    [order] = await world.fire()
    team = Actor("user:đội", role="team", team_id=world.tree.team("team-25741").id)
    await world.incidents.acknowledge(incident.id, team)

    await world.incidents.phone_result(order, PhoneResult.NO_ANSWER)

    incident = await world.load(incident.id)
    assert incident.status == "acknowledged"
    assert incident.call_due_at is None
    assert ("phone", "lần gọi 1: no_answer") in await world.events(incident.id)


async def test_a_call_that_never_reports_is_placed_again_after_its_guard(
    world: World,
) -> None:
    await world.incident(category="food", urgency="normal")  # an hour to acknowledge
    [first] = await world.fire()  # the service dies before the call reports

    world.clock.advance(179)
    assert await world.fire() == []
    world.clock.advance(2)
    [again] = await world.fire()

    assert (first.attempt, again.attempt) == (1, 2)
    assert again.team_id == first.team_id
