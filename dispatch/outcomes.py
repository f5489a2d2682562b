"""A call's outcome, recorded by the agent who took it: once, whatever the network does.

    outcome, replayed = await outcomes.record(call_id, request, actor, idempotency_key="k1")

The outcome and what it causes (a new incident dispatched to its team, or the call linked to
an incident already open) are written in one transaction. A request retried with the same
``Idempotency-Key`` by the same user returns the first answer (``replayed`` True) and writes
nothing; the same key with a different request is refused, as is a second outcome for a
call that already has one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.incidents import IncidentService
from dispatch.lifecycle import OPEN
from dispatch.places import COMMUNE, find_place
from dispatch.ports import Actor, DispatchError, NotAllowed, UnknownPlace
from store.categories import Category
from store.db import Database
from store.models import Call, CallOutcome, Disposition, Incident, Place, Urgency

__all__ = [
    "CallNotFound",
    "InvalidOutcome",
    "OutcomeConflict",
    "OutcomeRequest",
    "OutcomeService",
]


class CallNotFound(DispatchError, LookupError):
    """No call with that id."""


class InvalidOutcome(DispatchError, ValueError):
    """The outcome is missing what its disposition needs (a commune, an urgency...)."""


class OutcomeConflict(DispatchError):
    """The call already has an outcome, or the idempotency key was used for another one."""

    def __init__(self, message: str, outcome_id: int | None = None) -> None:
        super().__init__(message)
        self.outcome_id = outcome_id


@dataclass(frozen=True)
class OutcomeRequest:
    disposition: str
    notes: str = ""
    address: str = ""
    commune_code: int | None = None
    category: str | None = None
    urgency: str | None = None
    duplicate_of: int | None = None

    def digest(self, call_id: int) -> str:
        body = json.dumps({"call_id": call_id, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


class OutcomeService:
    def __init__(self, db: Database, incidents: IncidentService) -> None:
        self.db = db
        self.incidents = incidents

    async def get(self, call_id: int) -> CallOutcome | None:
        async with self.db.session() as session:
            return (
                await session.scalars(select(CallOutcome).where(CallOutcome.call_id == call_id))
            ).one_or_none()

    async def record(
        self,
        call_id: int,
        request: OutcomeRequest,
        actor: Actor,
        *,
        idempotency_key: str | None = None,
    ) -> tuple[CallOutcome, bool]:
        """Record the outcome; ``(outcome, True)`` when it is a replay of an earlier request."""
        digest = request.digest(call_id)
        for attempt in range(2):
            async with self.db.session() as session:
                # Who may comes first: an agent must not learn another's outcome from a 409.
                existing = await self._may_record_and_existing(session, call_id, actor)
                earlier = await self._earlier(
                    session, call_id, digest, actor, idempotency_key, existing
                )
                if earlier is not None:
                    return earlier, True
                try:
                    outcome = await self._write(
                        session, call_id, request, actor, idempotency_key, digest
                    )
                    await session.commit()
                    self.incidents.committed(session)
                except IntegrityError:
                    # A concurrent request for the same call or key won the race: answer as
                    # it did (the next pass finds its row).
                    await session.rollback()
                    if attempt:
                        raise
                    continue
            if outcome.incident_id is not None:
                self.incidents.wake()  # a new incident's phone call is due now
            return outcome, False
        raise AssertionError("unreachable")  # pragma: no cover

    async def _may_record(self, session: AsyncSession, call_id: int, actor: Actor) -> Call:
        call = await session.get(Call, call_id)
        if call is None:
            raise CallNotFound(f"no call {call_id}")
        _check_may_record(call, actor)
        return call

    @staticmethod
    async def _may_record_and_existing(
        session: AsyncSession, call_id: int, actor: Actor
    ) -> CallOutcome | None:
        """``_may_record``, and the call's outcome if it has one, in one query (the call
        stays in the session: ``_write`` finds it there)."""
        row = (
            await session.execute(
                select(Call, CallOutcome)
                .outerjoin(CallOutcome, CallOutcome.call_id == Call.id)
                .where(Call.id == call_id)
            )
        ).one_or_none()
        if row is None:
            raise CallNotFound(f"no call {call_id}")
        call, existing = row
        _check_may_record(call, actor)
        return existing

    async def _earlier(
        self,
        session: AsyncSession,
        call_id: int,
        digest: str,
        actor: Actor,
        key: str | None,
        existing: CallOutcome | None,
    ) -> CallOutcome | None:
        if key is not None and actor.user_id is not None:
            by_key = (
                await session.scalars(
                    select(CallOutcome).where(
                        CallOutcome.recorded_by == actor.user_id,
                        CallOutcome.idempotency_key == key,
                    )
                )
            ).one_or_none()
            if by_key is not None:
                if by_key.request_hash != digest:
                    raise OutcomeConflict(
                        f"Idempotency-Key {key!r} was already used for another request "
                        f"(outcome {by_key.id} of call {by_key.call_id}); use a new key",
                        by_key.id,
                    )
                return by_key
        if existing is not None:
            if (
                key is not None
                and existing.idempotency_key == key
                and existing.recorded_by == actor.user_id
                and existing.request_hash == digest
            ):
                return existing  # the same request, committed since the look-up by key
            raise OutcomeConflict(
                f"call {call_id} already has an outcome (outcome {existing.id}, "
                f"{existing.disposition})",
                existing.id,
            )
        return None

    async def _write(
        self,
        session: AsyncSession,
        call_id: int,
        request: OutcomeRequest,
        actor: Actor,
        key: str | None,
        digest: str,
    ) -> CallOutcome:
        call = await self._may_record(session, call_id, actor)
        disposition = _choice(Disposition, request.disposition, "disposition")
        place = await self._commune(session, request.commune_code)
        outcome = CallOutcome(
            call_id=call.id,
            agent_id=call.agent_id,
            recorded_by=actor.user_id,
            idempotency_key=key,
            request_hash=digest,
            disposition=disposition,
            notes=request.notes,
            address=request.address.strip(),
            place_id=place.id if place else None,
            category=request.category,
            urgency=request.urgency,
        )
        if disposition == Disposition.INCIDENT:
            await self._incident(session, call, request, outcome, place, actor)
        elif disposition == Disposition.DUPLICATE:
            if request.duplicate_of is None:
                raise InvalidOutcome("a duplicate needs duplicate_of: the open incident's id")
            incident = await session.get(Incident, request.duplicate_of)
            if incident is None:
                raise InvalidOutcome(f"duplicate_of: no incident {request.duplicate_of}")
            if incident.status not in OPEN:
                raise InvalidOutcome(
                    f"incident {incident.id} is {incident.status}: record a new incident"
                )
            await self.incidents.link_call(
                session, incident, call.id, actor, "Cuộc gọi trùng (tổng đài viên xác định)"
            )
            outcome.incident_id = incident.id
        elif request.duplicate_of is not None:
            raise InvalidOutcome("duplicate_of is only for the disposition 'duplicate'")
        session.add(outcome)
        await session.flush()
        return outcome

    async def _incident(
        self,
        session: AsyncSession,
        call: Call,
        request: OutcomeRequest,
        outcome: CallOutcome,
        place: Place | None,
        actor: Actor,
    ) -> None:
        if place is None:
            raise InvalidOutcome("an incident needs commune_code: where the team must go")
        category = _choice(Category, request.category or call.category, "category")
        if request.urgency is None:
            raise InvalidOutcome("an incident needs an urgency: critical, urgent or normal")
        urgency = _choice(Urgency, request.urgency, "urgency")
        outcome.category, outcome.urgency = category, urgency
        duplicate = await self.incidents.find_duplicate(
            session,
            caller_number=call.caller_number,
            place_id=place.id,
            category=category,
            address=request.address,
        )
        if duplicate is not None:
            # Linked, not duplicated: the team already has its order.
            await self.incidents.link_call(
                session, duplicate, call.id, actor, "Cùng người gọi hoặc cùng địa chỉ"
            )
            outcome.disposition = Disposition.DUPLICATE
            outcome.incident_id = duplicate.id
            return
        incident = await self.incidents.open_incident(
            session,
            call_id=call.id,
            caller_number=call.caller_number,
            category=category,
            urgency=urgency,
            place=place,
            address=request.address,
            notes=request.notes,
            actor=actor,
        )
        outcome.incident_id = incident.id

    @staticmethod
    async def _commune(session: AsyncSession, code: int | None) -> Place | None:
        if code is None:
            return None
        place = await find_place(session, COMMUNE, code)
        if place is None:
            raise UnknownPlace(f"no commune with code {code}")
        return place


def _check_may_record(call: Call, actor: Actor) -> None:
    if not actor.privileged and (actor.agent_id is None or call.agent_id != actor.agent_id):
        raise NotAllowed(
            f"call {call.id} was taken by another agent: only they (or a supervisor) "
            "can record its outcome"
        )


def _choice(
    kind: type[Disposition] | type[Category] | type[Urgency], value: str | None, what: str
) -> str:
    if value is None:
        raise InvalidOutcome(f"{what} is missing")
    try:
        return kind(value).value
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidOutcome(f"unknown {what} {value!r}; one of: {allowed}") from None
