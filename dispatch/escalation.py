"""Escalation: an incident's timers, and the calls to the phone of the team holding it.

A dispatched incident waits for its holder's acknowledgment under two timers, columns of the
incident so that every node, and a restarted service, finds them: ``escalate_at`` (the
deadline; past it the incident goes to the center above, see ``dispatch.chain``) and
``call_due_at`` (call the holder's phone, first or again). ``run()`` fires whatever is due,
so a service restarted after a deadline fires it at once and one stopped mid-call calls
again. Each timer is claimed by locking its row with SKIP LOCKED: two nodes never fire the
same one. A call's end comes back through ``phone_result``: 1 acknowledges, anything else is
tried again on the team's next phone and, after ``call_attempts`` calls, escalated at once.

What each step does to the incident is decided by ``dispatch.lifecycle``; this module reads
the rows, asks it, and keeps the history. Dispatching starts the timers and acknowledging
stops them, so both are here too, and the incident service calls them on people's behalf.

    escalation = Escalation(db, deadlines=..., call_attempts=3, retry_s=60,
                            gateway_endpoint="pstn-out", clock=utcnow)
    escalation.attach_caller(team_caller)       # the phone (dispatch.phone)
    task = asyncio.create_task(escalation.run())

One concern, the incidents' timers; dispatching, acknowledging, escalating and the calls they
place stay together because they claim the same row lock and move the same two timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch import chain, lifecycle
from dispatch.lifecycle import WAITING_FOR_TEAM, Deadlines, IncidentState, PhoneStep
from dispatch.ports import (
    SYSTEM,
    Actor,
    IncidentNotFound,
    IncidentReading,
    PhoneOrder,
    PhoneResult,
    TeamCaller,
)
from dispatch.reading import OrderFacts, order_text
from store.db import Database
from store.models import Incident, IncidentEvent, IncidentStatus, Team, TeamPhone

__all__ = [
    "BATCH",
    "CALL_GUARD_S",
    "POLL_S",
    "Escalation",
    "locked",
    "record_event",
    "try_lock",
]

log = logging.getLogger(__name__)

S = IncidentStatus
# A call that never reported (the service stopped mid-call) is tried again after this long.
CALL_GUARD_S = 180.0
# The timer loop looks at the database at least this often even if nothing woke it: another
# node may have set a timer.
POLL_S = 5.0
BATCH = 100
NO_PHONE = "Đội không có số điện thoại"
# ``session.info`` key: the incidents a transaction changed.
CHANGED = "incidents_changed"


class Escalation:
    """Fires the incidents' timers, escalates, calls the holder's phone; the phone reports
    here (``PhoneResults``)."""

    def __init__(
        self,
        db: Database,
        *,
        deadlines: Deadlines,
        call_attempts: int,
        retry_s: float,
        gateway_endpoint: str,
        clock: Callable[[], datetime],
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
        # Told of each incident whose history grew, once committed (the live stream).
        self.on_change: Callable[[int], None] | None = None

    def attach_caller(self, caller: TeamCaller) -> None:
        """Teams' phones are called from now on (without one, timers still escalate)."""
        self.caller = caller
        self.wake()

    def wake(self) -> None:
        """A timer was set: look at the database now rather than at the next poll."""
        self._wake.set()

    def committed(self, session: AsyncSession) -> None:
        """After ``session`` committed: tell ``on_change`` of the incidents it changed."""
        changed: set[int] = session.info.pop(CHANGED, set())
        if self.on_change is not None:
            for incident_id in sorted(changed):
                self.on_change(incident_id)

    def deadline_s(self, category: str, urgency: str) -> int:
        return lifecycle.ack_deadline_s(self.deadlines, category, urgency)

    # -- starting and stopping the timers (inside the caller's transaction) -----------------

    def dispatch(
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
        """Give the incident to ``team`` with a fresh deadline; its phone is due at once.

        ``kind`` names it in the history: ``dispatched`` (the first), ``assigned`` (by hand).
        """
        before = IncidentState.of(incident)
        deadline_s = self.deadline_s(incident.category, incident.urgency)
        lifecycle.dispatch_to(before, team.id, now, deadline_s).write_to(incident)
        self._dispatched(session, incident, before.status, team, actor, reason, kind)

    def acknowledge(
        self, session: AsyncSession, incident: Incident, actor: Actor, reason: str
    ) -> None:
        """The holder took it (who may say so is the caller's check): the timers stop."""
        before = IncidentState.of(incident)
        lifecycle.acknowledge(before, reason, self.clock()).write_to(incident)
        record_event(
            session,
            incident,
            "status",
            actor,
            at=self.clock(),
            from_status=before.status,
            to_status=S.ACKNOWLEDGED,
            reason=reason,
            team_id=incident.team_id,
        )

    # -- the timer loop ----------------------------------------------------------------------

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
            incident = await try_lock(session, incident_id)
            now = self.clock()
            if incident is None or not lifecycle.escalation_due(IncidentState.of(incident), now):
                return 0  # another node (or a REST request) got there first
            deadline_s = self.deadline_s(incident.category, incident.urgency)
            await self._escalate(session, incident, lifecycle.overdue_reason(deadline_s), now)
            await session.commit()
            self.committed(session)
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
            record_event(
                session,
                incident,
                "escalation_exhausted",
                SYSTEM,
                at=self.clock(),
                reason=f"{reason}; không còn cấp trên",
                team_id=incident.team_id,
            )
            return
        self._dispatched(session, incident, before.status, target, SYSTEM, reason, "escalated")

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
        """The history of a dispatch: the first, by hand (``assigned``) or ``escalated``."""
        record_event(
            session,
            incident,
            kind,
            actor,
            at=self.clock(),
            from_status=before,
            to_status=S.DISPATCHED,
            team_id=team.id,
            reason=reason,
        )

    # -- the holder's phone -----------------------------------------------------------------

    async def _claim_call(self, incident_id: int) -> PhoneOrder | None:
        """Take the due call for this node: count the attempt, set the guard timer."""
        async with self.db.session() as session:
            incident = await try_lock(session, incident_id)
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
                record_event(session, incident, "phone", SYSTEM, at=self.clock(), reason=NO_PHONE)
                await self._escalate(session, incident, NO_PHONE, now)
                await session.commit()
                self.committed(session)
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
            incident = await locked(session, order.incident_id)
            now = self.clock()
            actor = Actor(f"phone:{order.phone}", team_id=order.team_id)
            before = IncidentState.of(incident)
            step = lifecycle.after_call(before, order, result, self.call_attempts)
            record_event(
                session,
                incident,
                "phone",
                actor,
                at=self.clock(),
                reason=f"lần gọi {order.attempt}: {result.value}",
                team_id=order.team_id,
            )
            if step is PhoneStep.ACKNOWLEDGE:
                self.acknowledge(session, incident, actor, "Nhận lệnh qua điện thoại")
            elif step is PhoneStep.ESCALATE:
                reason = lifecycle.gave_up_reason(result, before.call_attempts)
                await self._escalate(session, incident, reason, now)
            elif step is PhoneStep.RETRY:
                lifecycle.retry_call(before, now, self.retry_s).write_to(incident)
            # PhoneStep.STALE: acknowledged meanwhile, or re-assigned: the history keeps it.
            await session.commit()
            self.committed(session)
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


# -- the row and its history, for the timers and for people's actions --------------------------


async def locked(session: AsyncSession, incident_id: int) -> Incident:
    """The incident, locked for this transaction (PostgreSQL; SQLite has one writer)."""
    incident = await try_lock(session, incident_id, skip_locked=False)
    if incident is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    return incident


async def try_lock(
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


def record_event(
    session: AsyncSession,
    incident: Incident,
    kind: str,
    actor: Actor,
    *,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    team_id: int | None = None,
    reason: str = "",
    call_id: int | None = None,
) -> None:
    """One entry of the incident's history, kept forever: who, when, why."""
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            at=at,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            team_id=team_id,
            actor=actor.label,
            reason=reason,
            call_id=call_id,
        )
    )
    # Told once the transaction commits (``Escalation.committed``): the live stream.
    session.info.setdefault(CHANGED, set()).add(incident.id)
