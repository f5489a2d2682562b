"""``/places`` and ``/teams``: the administrative units and the teams that sit at them.

Any signed-in role reads them (an agent picks the caller's commune, a team sees its
neighbours); supervisors and admins create and edit teams. Places come only from
``hotline1022 places import``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from sqlalchemy import func, literal, or_, select

from api.deps import AUTH_RESPONSES, SessionDep, require_roles
from api.params import Code, Id
from api.params import Offset as OffsetInt
from api.places_schemas import (
    LevelName,
    PlaceDetailOut,
    PlaceOut,
    PlacePage,
    TeamCreate,
    TeamOut,
    TeamPage,
    TeamPatch,
)
from api.schemas import ErrorOut
from dispatch.places import ancestor_ids, find_place, place_search_key
from dispatch.ports import UnknownPlace
from dispatch.teams import InvalidTeam, TeamEdit, TeamNotFound, TeamService
from store.models import Place, Role, TeamKind, User

__all__ = ["router", "teams_router"]

router = APIRouter(prefix="/places", tags=["places"], responses=AUTH_RESPONSES)
teams_router = APIRouter(prefix="/teams", tags=["places"], responses=AUTH_RESPONSES)

Reader = Annotated[
    User,
    Depends(
        require_roles(
            Role.AGENT, Role.SUPERVISOR, Role.TEAM, Role.ADMIN, action="read places and teams"
        )
    ),
]
Editor = Annotated[
    User, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="create or edit teams"))
]
PlaceId = Annotated[Id, Path(description="Place id (see GET /places)")]
TeamId = Annotated[Id, Path(description="Team id (see GET /teams)")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size")]
Offset = Annotated[OffsetInt, Query(description="Rows to skip")]

NOT_FOUND: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such place or team"},
}
REFUSED: dict[int | str, dict[str, object]] = {
    status.HTTP_422_UNPROCESSABLE_CONTENT: {
        "model": ErrorOut,
        "description": "Refused: no phone, an endpoint and a number together, a bad number or "
        "endpoint, an unknown place",
    },
}


def may_read_personal_numbers(user: User, team_id: int) -> bool:
    """Members' own phone numbers are personal data: supervisors and admins, who edit the
    teams (an edit replaces the whole member list, so they must read it), and the users of
    the team itself (colleagues on duty together). Agents and other teams reach a team
    through its phones, which every role reads."""
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        return True
    return user.role == Role.TEAM and user.team_id == team_id


def _unprocessable(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


@router.get("", summary="List places", responses=NOT_FOUND)
async def list_places(
    _user: Reader,
    session: SessionDep,
    level: Annotated[LevelName | None, Query(description="Only this level")] = None,
    parent_id: Annotated[Id | None, Query(description="Directly under this place id")] = None,
    parent_level: Annotated[
        LevelName | None, Query(description="With parent_code: directly under that place")
    ] = None,
    parent_code: Annotated[
        Code | None, Query(description="With parent_level: the parent's official code")
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="Name contains this, with or without diacritics (Thủ Dầu Một, thu dau mot)",
        ),
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> PlacePage:
    """Places matching every filter given, by depth then code: the province first, then its
    districts, then its communes."""
    if (parent_level is None) != (parent_code is None):
        raise _unprocessable(
            "parent_level and parent_code go together (codes repeat across levels)"
        )
    if parent_id is not None and parent_code is not None:
        raise _unprocessable("give the parent by parent_id or by parent_level and parent_code")
    conditions = []
    if level is not None:
        conditions.append(Place.level == level)
    if parent_level is not None and parent_code is not None:
        parent = await find_place(session, parent_level, parent_code)
        if parent is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"No {parent_level} with code {parent_code}"
            )
        parent_id = parent.id
    elif parent_id is not None and await session.get(Place, parent_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Place {parent_id} not found")
    if parent_id is not None:
        conditions.append(Place.parent_id == parent_id)
    if q is not None and q.strip():
        # A word of the codename starts with the search ("an phu" finds phuong_an_phu, not
        # thi_tran_phuoc_vinh); the name as typed also matches, diacritics and all.
        words = literal("_") + Place.codename
        conditions.append(
            or_(
                words.contains("_" + place_search_key(q), autoescape=True),
                Place.name.contains(q.strip(), autoescape=True),
            )
        )
    total = await session.scalar(select(func.count(Place.id)).where(*conditions))
    rows = await session.scalars(
        select(Place)
        .where(*conditions)
        .order_by(Place.depth, Place.code)
        .limit(limit)
        .offset(offset)
    )
    return PlacePage(
        items=[PlaceOut.from_place(p) for p in rows],
        total=int(total or 0),
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{place_id}", summary="One place, with its ancestors and children", responses=NOT_FOUND
)
async def get_place(_user: Reader, session: SessionDep, place_id: PlaceId) -> PlaceDetailOut:
    place = await session.get(Place, place_id)
    if place is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Place {place_id} not found")
    above = ancestor_ids(place.path)[:-1]
    ancestors = list(await session.scalars(select(Place).where(Place.id.in_(above))))
    ancestors.sort(key=lambda p: p.depth)
    children = await session.scalars(
        select(Place).where(Place.parent_id == place.id).order_by(Place.code)
    )
    return PlaceDetailOut(
        **PlaceOut.from_place(place).model_dump(),
        ancestors=[PlaceOut.from_place(p) for p in ancestors],
        children=[PlaceOut.from_place(p) for p in children],
    )


@teams_router.get("", summary="List teams with their members and phones", responses=NOT_FOUND)
async def list_teams(
    user: Reader,
    session: SessionDep,
    place_id: Annotated[Id | None, Query(description="Teams at this place id")] = None,
    within: Annotated[
        Id | None, Query(description="Teams at this place id or anywhere under it")
    ] = None,
    level: Annotated[LevelName | None, Query(description="Teams at places of this level")] = None,
    code: Annotated[
        Code | None, Query(description="With level: teams at the place of this code")
    ] = None,
    kind: Annotated[TeamKind | None, Query(description="center or team")] = None,
    active: Annotated[bool | None, Query(description="Only active (or inactive) teams")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> TeamPage:
    """Teams matching every filter given, by place (province first), centers before teams."""
    if code is not None and level is None:
        raise _unprocessable("code needs level: codes are unique only within a level")
    try:
        rows, total = await TeamService(session).list(
            place_id=place_id,
            within=within,
            level=level,
            code=code,
            kind=kind,
            active=active,
            limit=limit,
            offset=offset,
        )
    except UnknownPlace as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return TeamPage(
        items=[
            TeamOut.from_placed(p, personal_numbers=may_read_personal_numbers(user, p.team.id))
            for p in rows
        ],
        total=total,
        limit=limit,
        offset=offset,
    )


@teams_router.get("/{team_id}", summary="One team", responses=NOT_FOUND)
async def get_team(user: Reader, session: SessionDep, team_id: TeamId) -> TeamOut:
    try:
        placed = await TeamService(session).get(team_id)
    except TeamNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Team {team_id} not found") from None
    return TeamOut.from_placed(placed, personal_numbers=may_read_personal_numbers(user, team_id))


@teams_router.post(
    "", summary="Create a team", status_code=status.HTTP_201_CREATED, responses=REFUSED
)
async def create_team(body: TeamCreate, _user: Editor, session: SessionDep) -> TeamOut:
    """A new operations center or rapid-response team at a place, with members and at least
    one phone. A PJSIP endpoint must also exist in Asterisk for its phone to ring (the
    default teams' endpoints are provisioned)."""
    place_id = body.place_id
    by_code = body.place_level is not None or body.place_code is not None
    if by_code and place_id is not None:
        raise _unprocessable("give the place by place_id or by place_level and place_code")
    if place_id is None:
        if body.place_level is None or body.place_code is None:
            raise _unprocessable("a team needs a place: place_id, or place_level and place_code")
        place = await find_place(session, body.place_level, body.place_code)
        if place is None:
            raise _unprocessable(f"no {body.place_level} with code {body.place_code}")
        place_id = place.id
    edit = TeamEdit(
        name=body.name,
        kind=body.kind,
        place_id=place_id,
        active=body.active,
        members=[m.spec() for m in body.members],
        phones=[p.spec() for p in body.phones],
    )
    try:
        placed = await TeamService(session).create(edit)
    except (InvalidTeam, UnknownPlace) as exc:
        raise _unprocessable(str(exc)) from None
    await session.commit()
    return TeamOut.from_placed(placed, personal_numbers=True)


@teams_router.patch("/{team_id}", summary="Edit a team", responses={**NOT_FOUND, **REFUSED})
async def edit_team(
    body: TeamPatch, _user: Editor, session: SessionDep, team_id: TeamId
) -> TeamOut:
    """Name, active, and members and phones each replaced as a whole list (at least one
    phone). Kind and place do not change: a team that moves is a new team."""
    edit = TeamEdit(
        name=body.name,
        active=body.active,
        members=None if body.members is None else [m.spec() for m in body.members],
        phones=None if body.phones is None else [p.spec() for p in body.phones],
    )
    try:
        placed = await TeamService(session).update(team_id, edit)
    except TeamNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Team {team_id} not found") from None
    except InvalidTeam as exc:
        raise _unprocessable(str(exc)) from None
    await session.commit()
    return TeamOut.from_placed(placed, personal_numbers=True)
