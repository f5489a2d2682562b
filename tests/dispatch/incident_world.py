"""A small hotline for the incident tests: the place tree of ``tests.dispatch.tree``, one
agent, the incident service on the test's clock with a fake phone, and the outcomes that
open incidents as an agent does.

The clock is the test's: deadlines pass when the test says so, never by waiting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from dispatch.incidents import IncidentService
from dispatch.outcomes import OutcomeRequest, OutcomeService
from dispatch.ports import Actor, PhoneOrder
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
        for task in list(self.incidents.escalation._calls):
            await task
        return self.caller.orders[before:]


async def build_world(db: Database) -> World:
    await ensure_agents(db, 1)
    tree = await small_tree(db)
    return World(db, tree, agent_id=1)
