"""What a commander asks for (who asks, which points, which leaders) and the points it names:
teams chosen by place ("every commune team of province 74"), by id, or bare numbers.

``resolve`` turns a selector into unsaved ``ConferencePoint`` rows (a team's point dials its
first phone; the others are read at dial time), checking that a center names only places
under its own; ``resolve_leader`` does the same for a leader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from conference.errors import InvalidConference, NotAllowed
from conference.roll import PointState
from dispatch.places import find_place, places_under
from dispatch.teams import valid_endpoint, valid_number
from store.models import ConferencePoint, Place, Team, TeamKind, TeamPhone

__all__ = [
    "SYSTEM",
    "Caller",
    "ConferenceSpec",
    "LeaderSpec",
    "NumberSelector",
    "PlaceSelector",
    "Selector",
    "TeamSelector",
    "check_area",
    "resolve",
    "resolve_leader",
]


@dataclass(frozen=True)
class Caller:
    """Who asks: an API user (``None`` user id: the service itself, e.g. a timed start)."""

    user_id: int | None
    name: str
    role: str
    team_id: int | None = None

    @property
    def privileged(self) -> bool:
        return self.role in ("supervisor", "admin")


SYSTEM = Caller(None, "system", "admin")


@dataclass(frozen=True)
class PlaceSelector:
    """Every active team of ``kind`` at the places of ``level`` under (or at) the place
    ``under_level``/``under_code``: "every commune team of province 74"."""

    under_level: str
    under_code: int
    level: str
    kind: str = TeamKind.TEAM


@dataclass(frozen=True)
class TeamSelector:
    team_id: int


@dataclass(frozen=True)
class NumberSelector:
    number: str
    label: str = ""


Selector = PlaceSelector | TeamSelector | NumberSelector


@dataclass(frozen=True)
class LeaderSpec:
    """Who speaks: one of an endpoint (a softphone of this Asterisk), a team, a number."""

    endpoint: str | None = None
    team_id: int | None = None
    number: str | None = None
    label: str = ""


@dataclass(frozen=True)
class ConferenceSpec:
    title: str
    points: Sequence[Selector]
    leaders: Sequence[LeaderSpec] = ()
    record: bool = False
    starts_at: datetime | None = None


# -- the points they name ----------------------------------------------------------------------


async def resolve(s: AsyncSession, sel: Selector, area: Place | None) -> list[ConferencePoint]:
    """The points a selector names (teams of a place's level and kind, a team, a number);
    a center (``area``: its place) may name only what lies under its place."""
    if isinstance(sel, NumberSelector):
        if not valid_number(sel.number):
            raise InvalidConference(f"Số điện thoại không hợp lệ: {sel.number!r}")
        label = sel.label.strip() or sel.number
        return [_point(label=label, number=sel.number)]
    if isinstance(sel, TeamSelector):
        team, place = await _team(s, sel.team_id)
        check_area(area, place)
        return [_team_point(team, place)]
    found = await find_place(s, sel.under_level, sel.under_code)
    if found is None:
        raise InvalidConference(
            f"Không có địa bàn cấp {sel.under_level} mã {sel.under_code} "
            "(nhập bằng lệnh hotline1022 places import)"
        )
    place = found
    check_area(area, place)
    places = {p.id: p for p in await places_under(s, place, level=sel.level, include_self=True)}
    if not places:
        return []
    teams = await s.scalars(
        select(Team)
        .options(selectinload(Team.phones))
        .where(Team.place_id.in_(places), Team.kind == sel.kind, Team.active)
        .order_by(Team.id)
    )
    return [_team_point(t, places[t.place_id]) for t in teams]


async def _team(s: AsyncSession, team_id: int) -> tuple[Team, Place]:
    team = await s.scalar(select(Team).options(selectinload(Team.phones)).where(Team.id == team_id))
    place = await s.get(Place, team.place_id) if team is not None else None
    if team is None or place is None:
        raise InvalidConference(f"Không có đội số {team_id}")
    return team, place


def check_area(area: Place | None, place: Place) -> None:
    if area is not None and not place.path.startswith(area.path):
        raise NotAllowed(
            f"{place.name} không thuộc địa bàn của trung tâm ({area.name}): "
            "trung tâm chỉ tổ chức hội nghị cho các địa bàn trực thuộc"
        )


def _point(**values: Any) -> ConferencePoint:
    return ConferencePoint(
        state=PointState.QUEUED,
        reason="",
        attempts=0,
        phone_index=0,
        muted=True,
        talking=False,
        is_leader=values.pop("is_leader", False),
        **values,
    )


def _team_point(team: Team, place: Place, *, leader: bool = False) -> ConferencePoint:
    phones: list[TeamPhone] = sorted(team.phones, key=lambda p: p.position)
    first = phones[0] if phones else None
    return _point(
        label=team.name,
        team_id=team.id,
        place_id=place.id,
        endpoint=first.endpoint if first else None,
        number=first.number if first else None,
        is_leader=leader,
    )


async def resolve_leader(s: AsyncSession, spec: LeaderSpec, area: Place | None) -> ConferencePoint:
    """A leader's point (joins as admin and marked)."""
    given = [v for v in (spec.endpoint, spec.team_id, spec.number) if v is not None]
    if len(given) != 1:
        raise InvalidConference(
            "Người chủ trì cần đúng một trong: máy nhánh, đội hoặc số điện thoại"
        )
    label = spec.label.strip()
    if spec.endpoint is not None:
        if not valid_endpoint(spec.endpoint):
            raise InvalidConference(f"Máy nhánh không hợp lệ: {spec.endpoint!r}")
        return _point(label=label or spec.endpoint, endpoint=spec.endpoint, is_leader=True)
    if spec.number is not None:
        if not valid_number(spec.number):
            raise InvalidConference(f"Số điện thoại không hợp lệ: {spec.number!r}")
        return _point(label=label or spec.number, number=spec.number, is_leader=True)
    assert spec.team_id is not None
    team, place = await _team(s, spec.team_id)
    check_area(area, place)
    point = _team_point(team, place, leader=True)
    if label:
        point.label = label
    return point
