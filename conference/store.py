"""The conference tables read and written: conferences, their points with their places, the
roll's inputs, the events and the actions; the shapes the API and the event stream send.

Everything here takes the caller's session; nothing commits except where a function says so.
The dicts ``summary_of`` and ``point_of`` make are Contract D's ``summary`` and ``point``:
the routes and the ``conference`` event send the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conference.roll import PointState, RollPoint, bucket
from dispatch.places import COMMUNE, DISTRICT, PROVINCE, ancestor_ids
from store.models import Conference, ConferenceEvent, ConferencePoint, Place, User

__all__ = [
    "EMPTY_TOTALS",
    "PlacedPoint",
    "action_items",
    "conference_nodes",
    "hands_of",
    "list_conferences",
    "placed_points",
    "point_of",
    "roll_points",
    "summary_of",
    "totals_of",
    "write_points",
]

EMPTY_TOTALS = {"present": 0, "absent": 0, "dialling": 0, "left": 0, "total": 0}

# Event kinds that are no person's action: a point's state, a raised hand, a node's link.
NOT_ACTIONS = ("state", "hand", "node")

# What a point's write may change (``write_points``).
POINT_FIELDS = (
    "node",
    "state",
    "reason",
    "attempts",
    "phone_index",
    "channel",
    "muted",
    "hand_at",
    "talking",
    "joined_at",
    "left_at",
)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat()


def summary_of(conf: Conference, totals: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Contract D's summary of a conference (``totals``: its points' roll totals)."""
    return {
        "id": conf.id,
        "title": conf.title,
        "status": conf.status,
        "created_by": conf.created_by,
        "team_id": conf.team_id,
        "created_at": _iso(conf.created_at),
        "starts_at": _iso(conf.starts_at),
        "started_at": _iso(conf.started_at),
        "ended_at": _iso(conf.ended_at),
        "record": conf.record,
        "recording_active": conf.recording,
        "locked": conf.locked,
        "muted_all": conf.muted_all,
        "totals": dict(totals or EMPTY_TOTALS),
        "floor_point_id": conf.floor_point_id,
    }


async def totals_of(session: AsyncSession, ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """The roll's totals of each conference (leaders not counted), from one query."""
    out = {cid: dict(EMPTY_TOTALS) for cid in ids}
    if not ids:
        return out
    rows = await session.execute(
        select(ConferencePoint.conference_id, ConferencePoint.state, func.count())
        .where(ConferencePoint.conference_id.in_(ids), ConferencePoint.is_leader.is_(False))
        .group_by(ConferencePoint.conference_id, ConferencePoint.state)
    )
    for cid, state, count in rows.all():
        totals = out[cid]
        totals[bucket(PointState(state))] += count
        totals["total"] += count
    return out


async def list_conferences(session: AsyncSession, *, team_id: int | None) -> list[Conference]:
    """Newest first; only those of ``team_id``'s center when given (a center's user)."""
    stmt = select(Conference).order_by(Conference.id.desc())
    if team_id is not None:
        stmt = stmt.where(Conference.team_id == team_id)
    return list(await session.scalars(stmt))


@dataclass(frozen=True)
class PlacedPoint:
    """A point with its place and the province, district and commune above (or at) it."""

    point: ConferencePoint
    place: Place | None
    province: Place | None
    district: Place | None
    commune: Place | None


async def placed_points(
    session: AsyncSession, conference_id: int, ids: Iterable[int] | None = None
) -> list[PlacedPoint]:
    """The conference's points (or those of ``ids``), by id, each with its places."""
    stmt = select(ConferencePoint).where(ConferencePoint.conference_id == conference_id)
    if ids is not None:
        stmt = stmt.where(ConferencePoint.id.in_(list(ids)))
    points = list(await session.scalars(stmt.order_by(ConferencePoint.id)))
    place_ids = {p.place_id for p in points if p.place_id is not None}
    places: dict[int, Place] = {}
    if place_ids:
        own = {p.id: p for p in await session.scalars(select(Place).where(Place.id.in_(place_ids)))}
        wanted = {i for p in own.values() for i in ancestor_ids(p.path)} - own.keys()
        above = list(await session.scalars(select(Place).where(Place.id.in_(wanted))))
        places = {**own, **{p.id: p for p in above}}
    out = []
    for point in points:
        place = places.get(point.place_id) if point.place_id is not None else None
        levels: dict[str, Place] = {}
        if place is not None:
            for pid in ancestor_ids(place.path):
                if pid in places:
                    levels[places[pid].level] = places[pid]
        out.append(
            PlacedPoint(
                point, place, levels.get(PROVINCE), levels.get(DISTRICT), levels.get(COMMUNE)
            )
        )
    return out


def point_of(placed: PlacedPoint) -> dict[str, Any]:
    """Contract D's point."""
    p, place = placed.point, placed.place
    return {
        "id": p.id,
        "label": p.label,
        "team_id": p.team_id,
        "place": None
        if place is None
        else {"level": place.level, "code": place.code, "name": place.name},
        "province": placed.province.name if placed.province else None,
        "district": placed.district.name if placed.district else None,
        "commune": placed.commune.name if placed.commune else None,
        "is_leader": p.is_leader,
        "node": p.node,
        "state": p.state,
        "reason": p.reason,
        "attempts": p.attempts,
        "muted": p.muted,
        "hand_at": _iso(p.hand_at),
        "talking": p.talking,
        "updated_at": _iso(p.updated_at),
    }


def roll_points(placed: Iterable[PlacedPoint]) -> list[RollPoint]:
    """The roll's inputs (a point without a place counts in the totals only)."""
    out = []
    for pp in placed:
        province, district, commune = pp.province, pp.district, pp.commune
        out.append(
            RollPoint(
                point_id=pp.point.id,
                state=PointState(pp.point.state),
                province_code=province.code if province else None,
                province_name=province.name if province else None,
                district_code=district.code if district else None,
                district_name=district.name if district else None,
                commune_code=commune.code if commune else None,
                commune_name=commune.name if commune else None,
                is_leader=pp.point.is_leader,
            )
        )
    return out


def hands_of(points: Iterable[ConferencePoint]) -> list[dict[str, Any]]:
    """The raised hands, the earliest first."""
    raised = sorted((p for p in points if p.hand_at is not None), key=lambda p: p.hand_at)  # type: ignore[arg-type, return-value]
    return [{"point_id": p.id, "at": _iso(p.hand_at)} for p in raised]


async def conference_nodes(session: AsyncSession, conference_id: int) -> list[str]:
    """The nodes the conference's points were given (not the root unless a point is there)."""
    rows = await session.scalars(
        select(ConferencePoint.node)
        .where(ConferencePoint.conference_id == conference_id, ConferencePoint.node.is_not(None))
        .distinct()
    )
    return sorted(n for n in rows if n)


async def action_items(session: AsyncSession, conference_id: int) -> list[dict[str, Any]]:
    """The controls people asked for, newest first (Contract D ``/actions``)."""
    rows = await session.execute(
        select(ConferenceEvent, User.name)
        .outerjoin(User, User.id == ConferenceEvent.user_id)
        .where(
            ConferenceEvent.conference_id == conference_id,
            ConferenceEvent.kind.not_in(NOT_ACTIONS),
        )
        .order_by(ConferenceEvent.at.desc(), ConferenceEvent.id.desc())
    )
    return [
        {
            "at": _iso(ev.at),
            "user": name,
            "action": ev.kind,
            "point_id": ev.point_id,
            "detail": ev.reason,
            "ok": ev.ok,
            "latency_ms": ev.latency_ms,
        }
        for ev, name in rows.all()
    ]


async def write_points(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Update many points at once (each a dict with ``id`` and fields of ``POINT_FIELDS``):
    one executemany, not one statement per point."""
    if rows:
        await session.execute(update(ConferencePoint), list(rows))
