"""Incidents: dispatched to the team of their commune, escalated up when no one takes them.

An incident is dispatched at once to the rapid-response team nearest its place (the
commune's team, else the district's...). The team has ``ack_deadlines_s[category][urgency]``
seconds to acknowledge it (over REST, or by pressing 1 when the hotline calls its phone);
past the deadline, or when its phone went unanswered ``call_attempts`` times, the incident goes
to the operations center one level up (the district's, then the province's), which gets
the same deadline and the same calls, and can re-assign it to any team under it.

Both timers are columns of the incident (``escalate_at``, ``call_due_at``): ``run()`` fires
whatever is due, so a service restarted after a deadline fires it at once and one that was
restarted mid-call calls again. Every change is an ``IncidentEvent``: who, when, why.

    incidents = IncidentService(db, deadlines=settings.ack_deadlines_s)
    incidents.attach_caller(team_caller)       # the phone (dispatch.phone)
    task = asyncio.create_task(incidents.run())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from dispatch import chain, lifecycle
from dispatch.lifecycle import (
    DEFAULT_ACK_DEADLINES_S,
    OPEN,
    WAITING_FOR_TEAM,
    Deadlines,
    IncidentState,
    PhoneStep,
)
from dispatch.ports import (
    SYSTEM,
    Actor,
    IncidentNotFound,
    IncidentReading,
    LifecycleError,
    PhoneOrder,
    PhoneResult,
    TeamCaller,
)
from dispatch.reading import OrderFacts, order_text
from store.db import Database
from store.models import (
    Incident,
    IncidentEvent,
    IncidentStatus,
    Place,
    Team,
    TeamPhone,
)
from store.types import utcnow

__all__ = ["IncidentService", "IncidentView", "normalise_address"]

log = logging.getLogger(__name__)

S = IncidentStatus
# A call that never reported (the service stopped mid-call) is tried again after this long.
CALL_GUARD_S = 180.0
# The timer loop looks at the database at least this often even if nothing woke it: another
# node may have set a timer.
POLL_S = 5.0
BATCH = 100


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


class IncidentService:
    """Opens, dispatches, escalates and moves incidents; the phone reports here."""

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
        self.deadlines = deadlines
        self.call_attempts = call_attempts
        self.retry_s = retry_s
        self.gateway_endpoint = gateway_endpoint
        self.clock = clock
        self.caller: TeamCaller | None = None
        self._wake = asyncio.Event()
        self._calls: set[asyncio.Task[None]] = set()
        self._stopping = False

    def attach_caller(self, caller: TeamCaller) -> None:
        """Teams' phones are called from now on (without one, timers still escalate)."""
        self.caller = caller
        self.wake()

    def wake(self) -> None:
        """A timer was set: look at the database now rather than at the next poll."""
        self._wake.set()

    def deadline_s(self, category: str, urgency: str) -> int:
        return lifecycle.ack_deadline_s(self.deadlines, category, urgency)

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
        self._event(session, incident, "created", actor, to_status=S.NEW, call_id=call_id)
        team = await chain.first_team(session, place)
        if team is None:
            # Stays new and shows in the monitoring; a center can assign it by hand.
            state = IncidentState.of(incident)
            deadline_s = self.deadline_s(category, urgency)
            lifecycle.leave_unassigned(state, now, deadline_s).write_to(incident)
            self._event(session, incident, "unassigned", SYSTEM, reason="Chưa có đội ở địa bàn")
        else:
            self._assign(session, incident, team, SYSTEM, "", now, kind="dispatched")
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
        self._event(session, incident, "linked", actor, call_id=call_id, reason=why)
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

    async def acknowledge(self, incident_id: int, actor: Actor, reason: str = "") -> Incident:
        """The team holding the incident takes it (or a supervisor records that it did)."""
        async with self.db.session() as session:
            incident = await self._locked(session, incident_id)
            chain.check_may_acknowledge(incident, actor)
            self._acknowledge(session, incident, actor, reason)
            await session.commit()
            return incident

    async def transition(
        self, incident_id: int, status: str, actor: Actor, reason: str = ""
    ) -> Incident:
        """Move the incident on (en route, on scene, resolved) or cancel it."""
        if status == S.ACKNOWLEDGED:
            return await self.acknowledge(incident_id, actor, reason)
        lifecycle.check_transition_target(incident_id, status)
        async with self.db.session() as session:
            incident = await self._locked(session, incident_id)
            await chain.check_may_act(session, incident, actor)
            before = IncidentState.of(incident)
            lifecycle.move(before, status, reason, self.clock()).write_to(incident)
            self._event(
                session,
                incident,
                "status",
                actor,
                from_status=before.status,
                to_status=status,
                reason=reason,
                team_id=incident.team_id,
            )
            await session.commit()
            return incident

    async def assign(
        self, incident_id: int, team_id: int, actor: Actor, reason: str = ""
    ) -> Incident:
        """A center (or a supervisor) gives the incident to another team under it."""
        async with self.db.session() as session:
            incident = await self._locked(session, incident_id)
            area = await chain.assigner_area(session, incident, actor)  # None: anywhere
            lifecycle.check_reassignable(IncidentState.of(incident))
            team = await session.get(Team, team_id)
            if team is None or not team.active:
                raise LifecycleError(f"team {team_id} does not exist or is not active")
            if area is not None:
                await chain.check_team_in_area(session, team, area)
            lifecycle.check_new_holder(IncidentState.of(incident), team.id)
            self._assign(session, incident, team, actor, reason, self.clock(), kind="assigned")
            await session.commit()
            self.wake()
            return incident

    # -- timers ----------------------------------------------------------------------------

    async def close(self) -> None:
        """End ``run()`` after its current pass (never mid-query: a connection cancelled
        inside a query can be left unreturned) and wait for calls being placed."""
        self._stopping = True
        self.wake()
        if self._calls:
            await asyncio.gather(*self._calls, return_exceptions=True)

    async def run(self) -> None:
        """Fire due timers until ``close()``: at once after a start, then as they come due."""
        while not self._stopping:
            try:
                await self.fire_due()
                next_due = await self._next_due()
            except Exception:
                # The database is down: the timers are still in it, fire them when it is back.
                log.exception("incident timers: could not read or fire them; retrying")
                next_due = None
            if self._stopping:
                break
            now = self.clock()
            wait = POLL_S if next_due is None else (next_due - now).total_seconds()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, min(POLL_S, wait)))

    async def fire_due(self) -> int:
        """Escalate every incident past its deadline and call every team that is due."""
        now = self.clock()
        fired = 0
        async with self.db.session() as session:
            overdue = (
                await session.scalars(
                    select(Incident.id)
                    .where(Incident.escalate_at <= now, Incident.status.in_(list(WAITING_FOR_TEAM)))
                    .order_by(Incident.escalate_at)
                    .limit(BATCH)
                )
            ).all()
        for incident_id in overdue:
            fired += await self._escalate_if_due(incident_id)
        if self.caller is None:
            return fired
        async with self.db.session() as session:
            due = (
                await session.scalars(
                    select(Incident.id)
                    .where(Incident.call_due_at <= now, Incident.status == S.DISPATCHED)
                    .order_by(Incident.call_due_at)
                    .limit(BATCH)
                )
            ).all()
        for incident_id in due:
            order = await self._claim_call(incident_id)
            if order is not None:
                fired += 1
                task = asyncio.create_task(self._place(order), name=f"call-team-{incident_id}")
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)
        return fired

    async def _next_due(self) -> datetime | None:
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(func.min(Incident.escalate_at), func.min(Incident.call_due_at)).where(
                        Incident.status.in_(list(WAITING_FOR_TEAM))
                    )
                )
            ).one()
        escalate_at, call_due_at = row
        # Without a phone caller, calls are not placed: their times wake no one.
        times = [t for t in (escalate_at, call_due_at if self.caller else None) if t is not None]
        return min(times) if times else None

    async def _escalate_if_due(self, incident_id: int) -> int:
        async with self.db.session() as session:
            incident = await self._try_lock(session, incident_id)
            now = self.clock()
            if incident is None or not lifecycle.escalation_due(IncidentState.of(incident), now):
                return 0  # another node (or a REST request) got there first
            deadline_s = self.deadline_s(incident.category, incident.urgency)
            await self._escalate(session, incident, lifecycle.overdue_reason(deadline_s), now)
            await session.commit()
        self.wake()
        return 1

    async def _escalate(
        self, session: AsyncSession, incident: Incident, reason: str, now: datetime
    ) -> None:
        target = await chain.center_above(session, incident)
        before = IncidentState.of(incident)
        deadline_s = self.deadline_s(incident.category, incident.urgency)
        after = lifecycle.escalate(before, target.id if target else None, now, deadline_s)
        after.write_to(incident)
        if target is None:
            # Stays overdue at the top; nothing more fires.
            self._event(
                session,
                incident,
                "escalation_exhausted",
                SYSTEM,
                reason=f"{reason}; không còn cấp trên",
                team_id=incident.team_id,
            )
            return
        self._dispatched(session, incident, before.status, target, SYSTEM, reason, "escalated")

    async def _claim_call(self, incident_id: int) -> PhoneOrder | None:
        """Take the due call for this node: count the attempt, set the guard timer."""
        async with self.db.session() as session:
            incident = await self._try_lock(session, incident_id)
            now = self.clock()
            if incident is None:
                return None
            team_id = lifecycle.team_to_call(IncidentState.of(incident), now)
            if team_id is None:
                return None
            phones = (
                await session.scalars(
                    select(TeamPhone)
                    .where(TeamPhone.team_id == team_id)
                    .order_by(TeamPhone.position, TeamPhone.id)
                )
            ).all()
            if not phones:
                lifecycle.stop_calling(IncidentState.of(incident)).write_to(incident)
                self._event(session, incident, "phone", SYSTEM, reason="Đội không có số điện thoại")
                await self._escalate(session, incident, "Đội không có số điện thoại", now)
                await session.commit()
                self.wake()
                return None
            claimed = lifecycle.claim_call(IncidentState.of(incident), now, CALL_GUARD_S)
            claimed.write_to(incident)
            attempt = claimed.call_attempts
            phone = phones[(attempt - 1) % len(phones)]  # the team's phones in turn
            await session.commit()
            if phone.endpoint:
                dial, label = f"PJSIP/{phone.endpoint}", phone.endpoint
            else:
                label = str(phone.number)
                dial = f"PJSIP/{label}@{self.gateway_endpoint}"
            return PhoneOrder(incident.id, team_id, attempt, dial, label)

    async def _place(self, order: PhoneOrder) -> None:
        assert self.caller is not None
        try:
            await self.caller.call(order)
        except Exception as exc:
            log.warning("incident %d: could not call %s: %s", order.incident_id, order.dial, exc)
            await self.phone_result(order, PhoneResult.FAILED)

    # -- PhoneResults ------------------------------------------------------------------------

    async def phone_result(self, order: PhoneOrder, result: PhoneResult) -> None:
        """How a call to a team's phone ended: acknowledged, or tried again, or escalated."""
        async with self.db.session() as session:
            incident = await self._locked(session, order.incident_id)
            now = self.clock()
            actor = Actor(f"phone:{order.phone}", team_id=order.team_id)
            before = IncidentState.of(incident)
            step = lifecycle.after_call(before, order, result, self.call_attempts)
            self._event(
                session,
                incident,
                "phone",
                actor,
                reason=f"lần gọi {order.attempt}: {result.value}",
                team_id=order.team_id,
            )
            if step is PhoneStep.ACKNOWLEDGE:
                self._acknowledge(session, incident, actor, "Nhận lệnh qua điện thoại")
            elif step is PhoneStep.ESCALATE:
                reason = lifecycle.gave_up_reason(result, before.call_attempts)
                await self._escalate(session, incident, reason, now)
            elif step is PhoneStep.RETRY:
                lifecycle.retry_call(before, now, self.retry_s).write_to(incident)
            # PhoneStep.STALE: acknowledged meanwhile, or re-assigned: the history keeps it.
            await session.commit()
        self.wake()

    async def reading(self, incident_id: int) -> IncidentReading | None:
        """The order read to the team, or None when the incident no longer waits for one."""
        async with self.db.session() as session:
            incident = await session.get(Incident, incident_id)
            if incident is None or incident.status != S.DISPATCHED:
                return None
            places = await chain.places_up(session, incident.place_path)
            text = order_text(
                OrderFacts(
                    incident_id=incident.id,
                    category=incident.category,
                    urgency=incident.urgency,
                    places=[p.name for p in places],
                    address=incident.address,
                    caller_number=incident.caller_number,
                )
            )
            return IncidentReading(incident.id, text)

    # -- helpers -----------------------------------------------------------------------------

    async def _locked(self, session: AsyncSession, incident_id: int) -> Incident:
        """The incident, locked for this transaction (PostgreSQL; SQLite has one writer)."""
        incident = await self._try_lock(session, incident_id, skip_locked=False)
        if incident is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        return incident

    @staticmethod
    async def _try_lock(
        session: AsyncSession, incident_id: int, *, skip_locked: bool = True
    ) -> Incident | None:
        """The incident locked, or None if it is gone or (timers) another node holds it."""
        return (
            await session.scalars(
                select(Incident)
                .where(Incident.id == incident_id)
                .with_for_update(skip_locked=skip_locked)
                .execution_options(populate_existing=True)
            )
        ).one_or_none()

    def _acknowledge(
        self, session: AsyncSession, incident: Incident, actor: Actor, reason: str
    ) -> None:
        before = IncidentState.of(incident)
        lifecycle.acknowledge(before, reason, self.clock()).write_to(incident)
        self._event(
            session,
            incident,
            "status",
            actor,
            from_status=before.status,
            to_status=S.ACKNOWLEDGED,
            reason=reason,
            team_id=incident.team_id,
        )

    def _assign(
        self,
        session: AsyncSession,
        incident: Incident,
        team: Team,
        actor: Actor,
        reason: str,
        now: datetime,
        *,
        kind: str,
    ) -> None:
        before = IncidentState.of(incident)
        deadline_s = self.deadline_s(incident.category, incident.urgency)
        lifecycle.dispatch_to(before, team.id, now, deadline_s).write_to(incident)
        self._dispatched(session, incident, before.status, team, actor, reason, kind)

    def _dispatched(
        self,
        session: AsyncSession,
        incident: Incident,
        before: str,
        team: Team,
        actor: Actor,
        reason: str,
        kind: str,
    ) -> None:
        """The history of a dispatch: first, by hand (``assigned``) or ``escalated``."""
        self._event(
            session,
            incident,
            kind,
            actor,
            from_status=before,
            to_status=S.DISPATCHED,
            team_id=team.id,
            reason=reason,
        )

    def _event(
        self,
        session: AsyncSession,
        incident: Incident,
        kind: str,
        actor: Actor,
        *,
        from_status: str | None = None,
        to_status: str | None = None,
        team_id: int | None = None,
        reason: str = "",
        call_id: int | None = None,
    ) -> None:
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                at=self.clock(),
                kind=kind,
                from_status=from_status,
                to_status=to_status,
                team_id=team_id,
                actor=actor.label,
                reason=reason,
                call_id=call_id,
            )
        )


def _real_number(number: str) -> bool:
    """A number that identifies a caller (not withheld, not empty)."""
    digits = number.lstrip("+")
    return digits.isdigit() and len(digits) >= 3
