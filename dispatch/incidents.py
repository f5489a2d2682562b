"""Incidents: opened from an agent's outcome, dispatched to the team of their commune, moved
on by people, escalated up when no one takes them.

An incident is dispatched at once to the rapid-response team nearest its place (the
commune's team, else the district's...). The team has ``ack_deadlines_s[category][urgency]``
seconds to acknowledge it (over REST, or by pressing 1 when the hotline calls its phone);
past the deadline, or when its phone went unanswered ``call_attempts`` times, the incident goes
to the operations center one level up (the district's, then the province's), which gets
the same deadline and the same calls, and can re-assign it to any team under it. Every
change is an ``IncidentEvent``: who, when, why.

``IncidentService`` is the one face the service, the API and the outcomes see. People's
actions are here: opening (and finding the open incident a new call is about), reading one
with its history, acknowledging, moving on, re-assigning. The timer loop, escalation and the
phone are ``dispatch.escalation``'s, which the service holds and passes on to; where an
incident goes and who may act are ``dispatch.chain``'s; what each step does is decided by
``dispatch.lifecycle``.

    incidents = IncidentService(db, deadlines=settings.ack_deadlines_s)
    incidents.attach_caller(team_caller)       # the phone (dispatch.phone)
    task = asyncio.create_task(incidents.run())
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from dispatch import chain, lifecycle
from dispatch.escalation import Escalation, locked, record_event
from dispatch.lifecycle import DEFAULT_ACK_DEADLINES_S, OPEN, Deadlines, IncidentState
from dispatch.ports import (
    SYSTEM,
    Actor,
    IncidentNotFound,
    IncidentReading,
    LifecycleError,
    NotAllowed,
    PhoneOrder,
    PhoneResult,
    TeamCaller,
)
from store.db import Database
from store.models import Incident, IncidentEvent, IncidentStatus, Place, Team
from store.types import utcnow

__all__ = ["IncidentService", "IncidentView", "OfferedActions", "normalise_address"]

S = IncidentStatus


def normalise_address(address: str) -> str:
    """Case and spacing do not make two addresses different."""
    return " ".join(address.casefold().split())


@dataclass(frozen=True)
class IncidentView:
    """An incident with its history, its team's and its place's names."""

    incident: Incident
    events: Sequence[IncidentEvent]
    team_name: str | None
    place_names: Sequence[str]  # from the commune up to the province
    linked_calls: int


@dataclass(frozen=True)
class OfferedActions:
    """What one user may do to an incident now, as the routes that do it would judge: the
    acknowledgment, the transitions (target, needs a reason) and the teams it may be
    re-assigned to (with their places), and the status they start from."""

    status: str
    acknowledge: bool
    moves: Sequence[tuple[str, bool]]
    assign_to: Sequence[tuple[Team, Place]]


class IncidentService:
    """Opens incidents and carries out what people do to them; its timers and the team's
    phone are ``escalation``'s (the phone reports here all the same)."""

    def __init__(
        self,
        db: Database,
        *,
        deadlines: Deadlines = DEFAULT_ACK_DEADLINES_S,
        call_attempts: int = 3,
        retry_s: float = 60.0,
        gateway_endpoint: str = "pstn-out",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.clock = clock
        self.escalation = Escalation(
            db,
            deadlines=deadlines,
            call_attempts=call_attempts,
            retry_s=retry_s,
            gateway_endpoint=gateway_endpoint,
            clock=clock,
        )

    # -- the timers and the phone: dispatch.escalation -------------------------------------

    def attach_caller(self, caller: TeamCaller) -> None:
        """Teams' phones are called from now on (without one, timers still escalate)."""
        self.escalation.attach_caller(caller)

    def wake(self) -> None:
        """A timer was set: look at the database now rather than at the next poll."""
        self.escalation.wake()

    @property
    def on_change(self) -> Callable[[int], None] | None:
        """Told of each incident created or changed, once committed (the live stream)."""
        return self.escalation.on_change

    @on_change.setter
    def on_change(self, callback: Callable[[int], None] | None) -> None:
        self.escalation.on_change = callback

    def committed(self, session: AsyncSession) -> None:
        """After a transaction that opened or changed incidents (the outcomes') committed."""
        self.escalation.committed(session)

    async def run(self) -> None:
        """Fire due timers until ``close()``."""
        await self.escalation.run()

    async def close(self) -> None:
        """End ``run()`` after its current pass and wait for calls being placed."""
        await self.escalation.close()

    async def fire_due(self) -> int:
        """Escalate every incident past its deadline and call every team that is due."""
        return await self.escalation.fire_due()

    async def phone_result(self, order: PhoneOrder, result: PhoneResult) -> None:
        """How a call to a team's phone ended (``PhoneResults``)."""
        await self.escalation.phone_result(order, result)

    async def reading(self, incident_id: int) -> IncidentReading | None:
        """The order read to the team, or None when the incident no longer waits for one."""
        return await self.escalation.reading(incident_id)

    # -- opening (inside the outcome's transaction) ----------------------------------------

    async def open_incident(
        self,
        session: AsyncSession,
        *,
        call_id: int | None,
        caller_number: str,
        category: str,
        urgency: str,
        place: Place,
        address: str,
        notes: str,
        actor: Actor,
    ) -> Incident:
        """Create the incident and dispatch it to its team; the caller commits."""
        now = self.clock()
        incident = Incident(
            call_id=call_id,
            caller_number=caller_number,
            category=category,
            urgency=urgency,
            place_id=place.id,
            place_path=place.path,
            address=address.strip(),
            notes=notes,
            status=S.NEW,
            created_at=now,
            updated_at=now,
        )
        session.add(incident)
        await session.flush()
        record_event(
            session, incident, "created", actor, at=self.clock(), to_status=S.NEW, call_id=call_id
        )
        team = await chain.first_team(session, place)
        if team is None:
            # Stays new and shows in the monitoring; a center can assign it by hand.
            state = IncidentState.of(incident)
            deadline_s = self.escalation.deadline_s(category, urgency)
            lifecycle.leave_unassigned(state, now, deadline_s).write_to(incident)
            record_event(
                session,
                incident,
                "unassigned",
                SYSTEM,
                at=self.clock(),
                reason="Chưa có đội ở địa bàn",
            )
        else:
            self.escalation.dispatch(session, incident, team, SYSTEM, "", now, kind="dispatched")
            incident.first_team_id = team.id
        return incident

    async def find_duplicate(
        self,
        session: AsyncSession,
        *,
        caller_number: str,
        place_id: int,
        category: str,
        address: str,
    ) -> Incident | None:
        """An open incident from the same caller, or of the same category at the same address."""
        # The address is compared below, in Python: SQLite's lower() knows only ASCII.
        same_place = (Incident.place_id == place_id) & (Incident.category == category)
        conditions: list[ColumnElement[bool]] = [same_place] if normalise_address(address) else []
        if _real_number(caller_number):
            conditions.append(Incident.caller_number == caller_number)
        if not conditions:
            return None
        candidates = (
            await session.scalars(
                select(Incident)
                .where(Incident.status.in_(list(OPEN)), or_(*conditions))
                .order_by(Incident.id)
            )
        ).all()
        for incident in candidates:
            if incident.caller_number == caller_number and _real_number(caller_number):
                return incident
            if (
                incident.place_id == place_id
                and incident.category == category
                and normalise_address(incident.address) == normalise_address(address)
            ):
                return incident
        return None

    async def link_call(
        self, session: AsyncSession, incident: Incident, call_id: int, actor: Actor, why: str
    ) -> None:
        """Another call about an open incident: kept on the incident, not a new one."""
        linked = lifecycle.link_call(IncidentState.of(incident), self.clock())
        record_event(
            session, incident, "linked", actor, at=self.clock(), call_id=call_id, reason=why
        )
        linked.write_to(incident)

    # -- what people do over REST ----------------------------------------------------------

    async def get(self, incident_id: int, reader: Actor | None = None) -> IncidentView:
        """The incident; a team ``reader`` sees only those it holds or under its place."""
        async with self.db.session() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                raise IncidentNotFound(f"no incident {incident_id}")
            await chain.check_may_read(session, incident, reader)
            events = (
                await session.scalars(
                    select(IncidentEvent)
                    .where(IncidentEvent.incident_id == incident_id)
                    .order_by(IncidentEvent.id)
                )
            ).all()
            team = await session.get(Team, incident.team_id) if incident.team_id else None
            places = await chain.places_up(session, incident.place_path)
            linked = sum(1 for e in events if e.kind == "linked")
            return IncidentView(
                incident, events, team.name if team else None, [p.name for p in places], linked
            )

    async def actions(self, incident_id: int, actor: Actor) -> OfferedActions:
        """What ``actor`` may do to the incident now (``OfferedActions``), by the same rules
        as ``acknowledge``, ``transition`` and ``assign``; one it may not read is refused."""
        async with self.db.session() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None:
                raise IncidentNotFound(f"no incident {incident_id}")
            await chain.check_may_read(session, incident, actor)
            acknowledge = incident.status == S.DISPATCHED
            if acknowledge:
                try:
                    chain.check_may_acknowledge(incident, actor)
                except NotAllowed:
                    acknowledge = False
            moves: list[tuple[str, bool]] = []
            try:
                await chain.check_may_act(session, incident, actor)
                moves = lifecycle.offered_moves(incident.status, incident.team_id is not None)
            except NotAllowed:
                pass
            teams: list[tuple[Team, Place]] = []
            if incident.status in lifecycle.REASSIGNABLE:
                try:
                    area = await chain.assigner_area(session, incident, actor)
                except NotAllowed:
                    pass
                else:
                    stmt = (
                        select(Team, Place)
                        .join(Place, Place.id == Team.place_id)
                        .where(Team.active, Team.id != (incident.team_id or 0))
                        .order_by(Place.depth, Place.code, Team.id)
                    )
                    rows = (await session.execute(stmt)).all()
                    teams = [
                        (team, place)
                        for team, place in rows
                        if area is None or place.path.startswith(area.path)
                    ]
            return OfferedActions(incident.status, acknowledge, moves, teams)

    async def acknowledge(self, incident_id: int, actor: Actor, reason: str = "") -> Incident:
        """The team holding the incident takes it (or a supervisor records that it did)."""
        async with self.db.session() as session:
            incident = await locked(session, incident_id)
            chain.check_may_acknowledge(incident, actor)
            self.escalation.acknowledge(session, incident, actor, reason)
            await session.commit()
            self.escalation.committed(session)
            return incident

    async def transition(
        self, incident_id: int, status: str, actor: Actor, reason: str = ""
    ) -> Incident:
        """Move the incident on (en route, on scene, resolved) or cancel it."""
        if status == S.ACKNOWLEDGED:
            return await self.acknowledge(incident_id, actor, reason)
        lifecycle.check_transition_target(incident_id, status)
        async with self.db.session() as session:
            incident = await locked(session, incident_id)
            await chain.check_may_act(session, incident, actor)
            before = IncidentState.of(incident)
            lifecycle.move(before, status, reason, self.clock()).write_to(incident)
            record_event(
                session,
                incident,
                "status",
                actor,
                at=self.clock(),
                from_status=before.status,
                to_status=status,
                reason=reason,
                team_id=incident.team_id,
            )
            await session.commit()
            self.escalation.committed(session)
            return incident

    async def assign(
        self, incident_id: int, team_id: int, actor: Actor, reason: str = ""
    ) -> Incident:
        """A center (or a supervisor) gives the incident to another team under it."""
        async with self.db.session() as session:
            incident = await locked(session, incident_id)
            area = await chain.assigner_area(session, incident, actor)  # None: anywhere
            lifecycle.check_reassignable(IncidentState.of(incident))
            team = await session.get(Team, team_id)
            if team is None or not team.active:
                raise LifecycleError(f"team {team_id} does not exist or is not active")
            if area is not None:
                await chain.check_team_in_area(session, team, area)
            lifecycle.check_new_holder(IncidentState.of(incident), team.id)
            now = self.clock()
            self.escalation.dispatch(session, incident, team, actor, reason, now, kind="assigned")
            await session.commit()
            self.escalation.committed(session)
            self.wake()
            return incident


def _real_number(number: str) -> bool:
    """A number that identifies a caller (not withheld, not empty)."""
    digits = number.lstrip("+")
    return digits.isdigit() and len(digits) >= 3
