"""The recordings' tables read: the call facts a recording's retention and page need, which
recordings a legal hold keeps, and the ``RecordingOut`` shapes.

Everything takes the caller's session and commits nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from recordings.shapes import HoldOut, PauseInfo, RecordingOut, RecordingStatus
from store.models import Call, CallOutcome, Incident, LegalHold, Recording, RecordingPause

__all__ = [
    "CallFacts",
    "call_facts",
    "held_ids",
    "hold_out",
    "outs",
    "parties_of",
    "status_of",
]


@dataclass(frozen=True)
class CallFacts:
    """What is known of a recording's call now: the call, the agent's outcome, the incident
    that came of it (the outcome's, or one made from the call)."""

    call: Call | None
    disposition: str | None
    incident_id: int | None


async def call_facts(
    session: AsyncSession, uniqueids: Iterable[str | None]
) -> dict[str, CallFacts]:
    """The facts of each call by uniqueid (calls not found are left out), in three queries."""
    wanted = sorted({u for u in uniqueids if u})
    if not wanted:
        return {}
    calls = {
        c.uniqueid: c for c in await session.scalars(select(Call).where(Call.uniqueid.in_(wanted)))
    }
    ids = [c.id for c in calls.values()]
    outcomes: dict[int, CallOutcome] = {}
    made: dict[int, int] = {}
    if ids:
        outcomes = {
            o.call_id: o
            for o in await session.scalars(select(CallOutcome).where(CallOutcome.call_id.in_(ids)))
        }
        rows = await session.execute(
            select(Incident.call_id, Incident.id)
            .where(Incident.call_id.in_(ids))
            .order_by(Incident.id)
        )
        for call_id, incident_id in rows.all():
            if call_id is not None:
                made.setdefault(call_id, incident_id)
    out = {}
    for uniqueid, call in calls.items():
        outcome = outcomes.get(call.id)
        incident = outcome.incident_id if outcome and outcome.incident_id else made.get(call.id)
        out[uniqueid] = CallFacts(call, outcome.disposition if outcome else None, incident)
    return out


async def held_ids(session: AsyncSession, recordings: Sequence[Recording]) -> set[int]:
    """Which of ``recordings`` an active legal hold keeps: a hold on their call, or on an
    incident that came of their call (made from it, or its outcome's) or that they name."""
    if not recordings:
        return set()
    holds = list(await session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None))))
    if not holds:
        return set()
    call_ids = {h.call_id for h in holds if h.call_id is not None}
    incident_ids = {h.incident_id for h in holds if h.incident_id is not None}
    if incident_ids:
        call_ids |= {
            cid
            for cid in await session.scalars(
                select(Incident.call_id).where(
                    Incident.id.in_(incident_ids), Incident.call_id.is_not(None)
                )
            )
            if cid is not None
        }
        call_ids |= set(
            await session.scalars(
                select(CallOutcome.call_id).where(CallOutcome.incident_id.in_(incident_ids))
            )
        )
    uniqueids: set[str] = set()
    if call_ids:
        uniqueids = set(await session.scalars(select(Call.uniqueid).where(Call.id.in_(call_ids))))
    return {
        r.id
        for r in recordings
        if (r.call_uniqueid is not None and r.call_uniqueid in uniqueids)
        or (r.incident_id is not None and r.incident_id in incident_ids)
    }


def status_of(rec: Recording) -> RecordingStatus:
    if rec.purged_at is not None:
        return "purged"
    if rec.seq is not None:
        return "sealed"
    return "recording"


def parties_of(rec: Recording) -> dict[str, Any]:
    try:
        value = json.loads(rec.parties or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


async def outs(session: AsyncSession, recordings: Sequence[Recording]) -> list[RecordingOut]:
    """``RecordingOut`` of each recording, in the same order (pauses, holds and the calls'
    facts in a few queries for the lot)."""
    if not recordings:
        return []
    ids = [r.id for r in recordings]
    pauses: dict[int, list[PauseInfo]] = {}
    for p in await session.scalars(
        select(RecordingPause)
        .where(RecordingPause.recording_id.in_(ids))
        .order_by(RecordingPause.paused_at, RecordingPause.id)
    ):
        pauses.setdefault(p.recording_id, []).append(
            PauseInfo(p.paused_at, p.resumed_at, p.by_name)
        )
    held = await held_ids(session, recordings)
    facts = await call_facts(session, (r.call_uniqueid for r in recordings))
    out = []
    for r in recordings:
        fact = facts.get(r.call_uniqueid or "")
        call = fact.call if fact else None
        parties = parties_of(r)
        out.append(
            RecordingOut(
                id=r.id,
                kind=r.kind,
                ref=r.ref,
                call_id=call.id if call else None,
                call_uniqueid=r.call_uniqueid,
                incident_id=r.incident_id
                if r.incident_id is not None
                else (fact.incident_id if fact else None),
                conference_id=r.conference_id,
                started_at=r.started_at,
                ended_at=r.ended_at,
                duration_s=r.duration_s,
                size_bytes=r.size_bytes,
                sha256=r.sha256,
                chain=r.chain,
                seq=r.seq,
                retention_class=r.retention_class,
                expires_at=r.expires_at,
                purged_at=r.purged_at,
                on_hold=r.id in held,
                paused_s=r.paused_s,
                pauses=pauses.get(r.id, []),
                parties=parties,
                caller_number=call.caller_number if call else parties.get("caller_number"),
                category=call.category if call else None,
                agent_endpoint=call.agent_endpoint if call else parties.get("agent_endpoint"),
                status=status_of(r),
            )
        )
    return out


def hold_out(h: LegalHold) -> HoldOut:
    return HoldOut(
        id=h.id,
        call_id=h.call_id,
        incident_id=h.incident_id,
        reason=h.reason,
        created_by=h.created_by,
        created_at=h.created_at,
        released_at=h.released_at,
        released_by=h.released_by,
        active=h.released_at is None,
    )
