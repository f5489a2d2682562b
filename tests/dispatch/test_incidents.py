"""Dispatch, phone results, deadlines and escalation, on a real database (both kinds).

The clock is the test's: deadlines pass when the test says so, never by waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from dispatch.incidents import IncidentService
from dispatch.outcomes import OutcomeRequest, OutcomeService
from dispatch.ports import Actor, NotAllowed, PhoneOrder, PhoneResult
from store.db import Database
from store.models import Incident, IncidentEvent
from store.seed import ensure_agents
from tests.dispatch.tree import Tree, answered_call, small_tree

DEADLINES = {
    "medical": {"critical": 180, "urgent": 300, "normal": 900},
    "*": {"critical": 600, "urgent": 1800, "normal": 3600},
}
SUPERVISOR = Actor("user:giám sát", role="supervisor", user_id=None)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2021, 8, 2, 3, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeCaller:
    """Records the orders; the test reports how each call ended."""

    def __init__(self) -> None:
        self.orders: list[PhoneOrder] = []

    async def call(self, order: PhoneOrder) -> None:
        self.orders.append(order)


class World:
    def __init__(self, db: Database, tree: Tree, agent_id: int) -> None:
        self.db = db
        self.tree = tree
        self.agent_id = agent_id
        self.clock = Clock()
        self.caller = FakeCaller()
        self.incidents = self.service()
        self.outcomes = OutcomeService(db, self.incidents)
        self.calls = 0

    def service(self) -> IncidentService:
        service = IncidentService(
            self.db, deadlines=DEADLINES, call_attempts=3, retry_s=60, clock=self.clock
        )
        service.attach_caller(self.caller)
        return service

    async def incident(
        self,
        commune: int = 25741,
        *,
        caller: str = "0912345678",
        category: str = "medical",
        urgency: str = "critical",
        address: str = "15 Yersin",
    ) -> Incident:
        self.calls += 1
        call = await answered_call(
            self.db, f"1.{self.calls}", agent_id=self.agent_id, caller_number=caller
        )
        outcome, _ = await self.outcomes.record(
            call.id,
            OutcomeRequest(
                disposition="incident",
                commune_code=commune,
                category=category,
                urgency=urgency,
                address=address,
            ),
            Actor("user:agent", role="agent", agent_id=self.agent_id),
        )
        assert outcome.incident_id is not None
        return await self.load(outcome.incident_id)

    async def load(self, incident_id: int) -> Incident:
        async with self.db.session() as session:
            incident = await session.get(Incident, incident_id)
            assert incident is not None
            return incident

    async def events(self, incident_id: int) -> list[tuple[str, str]]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(IncidentEvent)
                .where(IncidentEvent.incident_id == incident_id)
                .order_by(IncidentEvent.id)
            )
            return [(e.kind, e.reason) for e in rows]

    async def fire(self) -> list[PhoneOrder]:
        """Fire due timers; the orders placed by this pass."""
        before = len(self.caller.orders)
        await self.incidents.fire_due()
        for task in list(self.incidents._calls):
            await task
        return self.caller.orders[before:]


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    await ensure_agents(db, 1)
    tree = await small_tree(db)
    yield World(db, tree, agent_id=1)


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


async def test_a_commune_without_a_team_gets_the_districts_team(world: World) -> None:
    incident = await world.incident(25744, urgency="normal", category="food")

    assert incident.team_id == world.tree.team("team-718").id
    assert incident.ack_due_at == world.clock.now + timedelta(seconds=3600)  # "*", normal


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


async def test_a_district_team_escalates_to_its_own_center_first(world: World) -> None:
    incident = await world.incident(25744)  # no commune team: the district's team has it

    world.clock.advance(181)
    await world.fire()

    assert (await world.load(incident.id)).team_id == world.tree.team("center-718").id


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
