"""Operations centers and rapid-response teams: the default ones of a province, and edits.

The defaults of an imported province (``ensure_default_teams``): an operations center
(``center``) at every place of a ``CENTER_LEVELS`` level (the province and each district)
and a rapid-response team (``team``) at every place (province, district, commune). Bình
Dương 2021 gets 1 + 9 centers and 1 + 9 + 91 teams. Each has a duty officer ("Trực ban")
and one phone, a PJSIP endpoint named by ``team_endpoint``:

    <kind>-<level letter><code>     team-c25741  (the team of commune 25741)
                                    team-d718, center-d718 (district 718)
                                    team-p74, center-p74   (province 74)

The letter is p, d or c for province, district, commune (codes are unique only within a
level, so the letter keeps district 74 and province 74 apart); a level without a letter
(data deeper than 2021's) is written out. Provisioning renders the same names from
vietnam-provinces without a database (``default_team_specs``), so Asterisk has an endpoint
for every default phone.

``TeamService`` lists, reads, creates and edits teams for the API and the command line;
its refusals are ``TeamNotFound`` and ``InvalidTeam`` (and ``UnknownPlace``).

One concern, teams as data, from their defaults to their edits; it stays whole because the
default teams and the edited ones share the same validation and phone naming.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from dispatch.places import (
    COMMUNE,
    DISTRICT,
    PROVINCE,
    Division,
    import_province,
    province_division,
    serialise_writers,
    under,
)
from dispatch.ports import DispatchError, UnknownPlace
from store.db import Database
from store.models import Place, Team, TeamKind, TeamMember, TeamPhone
from store.types import utcnow

__all__ = [
    "CENTER_LEVELS",
    "DUTY_MEMBER",
    "DUTY_ROLE",
    "DefaultTeams",
    "InvalidTeam",
    "MemberSpec",
    "PhoneSpec",
    "PlacedTeam",
    "TeamEdit",
    "TeamNotFound",
    "TeamService",
    "TeamSpec",
    "default_team_specs",
    "ensure_default_teams",
    "ensure_places_and_teams",
    "province_team_specs",
    "team_endpoint",
    "team_name",
    "valid_endpoint",
    "valid_number",
]

# Levels that have an operations center; every level has a rapid-response team.
CENTER_LEVELS = (PROVINCE, DISTRICT)
DUTY_MEMBER = "Trực ban"
DUTY_ROLE = "duty"
DUTY_PHONE_LABEL = "Máy trực ban"

LEVEL_LETTERS = {PROVINCE: "p", DISTRICT: "d", COMMUNE: "c"}
NAME_PREFIXES = {
    TeamKind.CENTER: "Trung tâm điều hành",
    TeamKind.TEAM: "Tổ phản ứng nhanh",
}
# The words a place's name starts with, lower-cased inside a team's name as Vietnamese writes
# them mid-sentence ("Tổ phản ứng nhanh phường Hiệp Thành"); proper nouns keep their case.
_DIVISION_WORDS = ("thành phố", "thị xã", "thị trấn", "tỉnh", "quận", "huyện", "phường", "xã")

# What Asterisk may dial as PJSIP/<endpoint>: no '/', '@', ',', '&' or spaces, which would
# change the dial string. The same shape as the agents' endpoints.
ENDPOINT_RE = re.compile(r"[a-z][a-z0-9_-]{1,39}")
# A number for the telephone network: digits, a leading + for international form.
NUMBER_RE = re.compile(r"\+?[0-9]{3,15}")
MAX_NAME = 200


class TeamNotFound(DispatchError, LookupError):
    """No team with that id."""


class InvalidTeam(DispatchError, ValueError):
    """A team's data was refused (no phone, endpoint and number both, a bad number...)."""


# -- names -------------------------------------------------------------------------------------


def team_endpoint(kind: str, level: str, code: int) -> str:
    """The PJSIP endpoint of a default team's phone: ``team-c25741``, ``center-d718``."""
    kind = TeamKind(kind).value  # ValueError for anything but center or team
    return f"{kind}-{LEVEL_LETTERS.get(level, level)}{code}"


def team_name(kind: str, place_name: str) -> str:
    """``Trung tâm điều hành tỉnh Bình Dương``, ``Tổ phản ứng nhanh phường Hiệp Thành``."""
    lowered = place_name.lower()
    for word in _DIVISION_WORDS:
        if lowered.startswith(word + " "):
            place_name = word + place_name[len(word) :]
            break
    return f"{NAME_PREFIXES[TeamKind(kind)]} {place_name}"


@dataclass(frozen=True)
class TeamSpec:
    """A default team: what it is, where, what it is called, and its phone's endpoint."""

    kind: str
    level: str
    code: int
    name: str
    endpoint: str


def default_team_specs(units: Iterable[tuple[str, int, str]]) -> list[TeamSpec]:
    """The default teams of places given as (level, code, name), centers first at each.

    The one rule for both the database (``ensure_default_teams``) and provisioning.
    """
    specs: list[TeamSpec] = []
    for level, code, place_name in units:
        kinds = (TeamKind.CENTER, TeamKind.TEAM) if level in CENTER_LEVELS else (TeamKind.TEAM,)
        specs.extend(
            TeamSpec(
                kind=kind.value,
                level=level,
                code=code,
                name=team_name(kind, place_name),
                endpoint=team_endpoint(kind, level, code),
            )
            for kind in kinds
        )
    return specs


def province_team_specs(province_code: int) -> list[TeamSpec]:
    """The default teams of a province from vietnam-provinces, without a database.

    Provisioning renders one PJSIP endpoint per spec. Raises ``UnknownPlace``.
    """
    province: Division = province_division(province_code)
    return default_team_specs((d.level, d.code, d.name) for d, _ in province.walk())


# -- the defaults in the database ----------------------------------------------------------------


@dataclass(frozen=True)
class DefaultTeams:
    """What ``ensure_default_teams`` did: teams created per kind, and those already there."""

    created: dict[str, int]
    existing: int


def _default_team(spec: TeamSpec, place_id: int) -> Team:
    return Team(
        name=spec.name,
        kind=spec.kind,
        place_id=place_id,
        active=True,
        members=[TeamMember(name=DUTY_MEMBER, role=DUTY_ROLE)],
        phones=[TeamPhone(position=0, endpoint=spec.endpoint, label=DUTY_PHONE_LABEL)],
    )


async def ensure_default_teams(session: AsyncSession, province_code: int) -> DefaultTeams:
    """Create the default teams of an imported province that are missing; the caller commits.

    A place "has" its default team of a kind when any team of that kind sits there, so a
    renamed or re-equipped team is not duplicated. Raises ``UnknownPlace`` when the province
    is not imported.
    """
    await serialise_writers(session)
    province = await session.scalar(
        select(Place).where(Place.level == PROVINCE, Place.code == province_code)
    )
    if province is None:
        raise UnknownPlace(
            f"province {province_code} is not imported: "
            f"hotline1022 places import --province {province_code}"
        )
    places = list(
        await session.scalars(
            select(Place).where(under(Place.path, province.path)).order_by(Place.depth, Place.code)
        )
    )
    ids = {(p.level, p.code): p.id for p in places}
    have = set(
        (
            await session.execute(
                select(Team.place_id, Team.kind).where(Team.place_id.in_(ids.values()))
            )
        ).all()
    )
    created: dict[str, int] = {kind.value: 0 for kind in TeamKind}
    existing = 0
    for spec in default_team_specs((p.level, p.code, p.name) for p in places):
        place_id = ids[(spec.level, spec.code)]
        if (place_id, spec.kind) in have:
            existing += 1
            continue
        session.add(_default_team(spec, place_id))
        created[spec.kind] += 1
    await session.flush()
    return DefaultTeams(created=created, existing=existing)


async def ensure_places_and_teams(db: Database, province_code: int) -> None:
    """At service start: import the province and its default teams unless it is there.

    One query when the province is already imported (whatever was done to its teams since).
    Raises ``UnknownPlace`` for a province code vietnam-provinces does not have.
    """
    present = select(Place.id).where(Place.level == PROVINCE, Place.code == province_code)
    async with db.session() as session:
        if await session.scalar(present) is not None:
            return
        await serialise_writers(session)
        # Another node may have imported it while this one waited for the lock.
        if await session.scalar(present) is None:
            await import_province(session, province_code)
            await ensure_default_teams(session, province_code)
        await session.commit()


# -- view and edit ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberSpec:
    name: str
    role: str = "member"
    phone_number: str | None = None


@dataclass(frozen=True)
class PhoneSpec:
    """A phone: a PJSIP ``endpoint`` of this Asterisk or a ``number``, never both."""

    endpoint: str | None = None
    number: str | None = None
    label: str = ""


@dataclass(frozen=True)
class TeamEdit:
    """A new team, or the changes to one: None leaves a field as it is (on update)."""

    name: str | None = None
    kind: str | None = None
    place_id: int | None = None
    active: bool | None = None
    members: Sequence[MemberSpec] | None = None
    phones: Sequence[PhoneSpec] | None = None


@dataclass(frozen=True)
class PlacedTeam:
    """A team with its members and phones loaded, and the place it sits at."""

    team: Team
    place: Place


def valid_endpoint(value: str) -> bool:
    return ENDPOINT_RE.fullmatch(value) is not None


def valid_number(value: str) -> bool:
    return NUMBER_RE.fullmatch(value) is not None


def _check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidTeam("a team needs a name")
    if len(name) > MAX_NAME:
        raise InvalidTeam(f"a team's name is at most {MAX_NAME} characters")
    return name


def _members(members: Sequence[MemberSpec]) -> list[TeamMember]:
    rows = []
    for i, m in enumerate(members, 1):
        name = m.name.strip()
        if not name or len(name) > MAX_NAME:
            raise InvalidTeam(f"member {i}: a name of 1 to {MAX_NAME} characters")
        role = m.role.strip() or "member"
        number = m.phone_number.strip() if m.phone_number else None
        if number is not None and not valid_number(number):
            raise InvalidTeam(
                f"member {i}: phone number {m.phone_number!r} must be 3 to 15 digits, "
                "a leading + allowed"
            )
        rows.append(TeamMember(name=name, role=role, phone_number=number))
    return rows


def _phones(phones: Sequence[PhoneSpec]) -> list[TeamPhone]:
    if not phones:
        raise InvalidTeam("a team needs at least one phone: the hotline calls it with orders")
    rows = []
    for i, p in enumerate(phones, 1):
        endpoint = p.endpoint.strip() if p.endpoint else None
        number = p.number.strip() if p.number else None
        if (endpoint is None) == (number is None):
            raise InvalidTeam(f"phone {i}: give an endpoint or a number, not both nor neither")
        if endpoint is not None and not valid_endpoint(endpoint):
            raise InvalidTeam(
                f"phone {i}: endpoint {endpoint!r} must be 2 to 40 of a-z, 0-9, '_' or '-', "
                "starting with a letter"
            )
        if number is not None and not valid_number(number):
            raise InvalidTeam(
                f"phone {i}: number {number!r} must be 3 to 15 digits, a leading + allowed"
            )
        rows.append(TeamPhone(position=i - 1, endpoint=endpoint, number=number, label=p.label))
    return rows


class TeamService:
    """Teams for the API and the command line, in the caller's session; the caller commits.

    teams = TeamService(session)
    page, total = await teams.list(level="commune", kind="team", limit=50)
    placed = await teams.create(TeamEdit(name=..., kind="team", place_id=..., phones=[...]))
    await session.commit()
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(
        self,
        *,
        place_id: int | None = None,
        within: int | None = None,
        level: str | None = None,
        code: int | None = None,
        kind: str | None = None,
        active: bool | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[PlacedTeam], int]:
        """Teams matching every filter given, by depth of place, place code, kind (centers
        first), id; and how many match in all.

        ``place_id``: at that place; ``within``: at that place or any under it; ``level``
        and ``code``: at the place of that level (and code). Raises ``UnknownPlace`` for an
        unknown ``within`` place.
        """
        conditions = []
        if place_id is not None:
            conditions.append(Team.place_id == place_id)
        if within is not None:
            area = await self.session.get(Place, within)
            if area is None:
                raise UnknownPlace(f"no place with id {within}")
            conditions.append(under(Place.path, area.path))
        if level is not None:
            conditions.append(Place.level == level)
        if code is not None:
            conditions.append(Place.code == code)
        if kind is not None:
            conditions.append(Team.kind == kind)
        if active is not None:
            conditions.append(Team.active.is_(active))
        total = await self.session.scalar(
            select(func.count(Team.id)).join(Place, Place.id == Team.place_id).where(*conditions)
        )
        rows = await self.session.execute(
            select(Team, Place)
            .join(Place, Place.id == Team.place_id)
            .options(selectinload(Team.members), selectinload(Team.phones))
            .where(*conditions)
            .order_by(Place.depth, Place.code, Team.kind, Team.id)
            .limit(limit)
            .offset(offset)
        )
        return [PlacedTeam(team, place) for team, place in rows], int(total or 0)

    async def get(self, team_id: int) -> PlacedTeam:
        """The team with members and phones, read fresh; ``TeamNotFound`` if there is none."""
        row = (
            await self.session.execute(
                select(Team, Place)
                .join(Place, Place.id == Team.place_id)
                .options(selectinload(Team.members), selectinload(Team.phones))
                .where(Team.id == team_id)
                .execution_options(populate_existing=True)
            )
        ).first()
        if row is None:
            raise TeamNotFound(f"team {team_id} not found")
        return PlacedTeam(row[0], row[1])

    async def create(self, edit: TeamEdit) -> PlacedTeam:
        """A new team; name, kind, place and at least one phone are required."""
        if edit.name is None or edit.kind is None or edit.place_id is None:
            raise InvalidTeam("a new team needs a name, a kind and a place")
        try:
            kind = TeamKind(edit.kind)
        except ValueError:
            raise InvalidTeam(f"unknown kind {edit.kind!r}: center or team") from None
        place = await self.session.get(Place, edit.place_id)
        if place is None:
            raise UnknownPlace(f"no place with id {edit.place_id}")
        team = Team(
            name=_check_name(edit.name),
            kind=kind.value,
            place_id=place.id,
            active=True if edit.active is None else edit.active,
            members=_members(edit.members or ()),
            phones=_phones(edit.phones or ()),
        )
        self.session.add(team)
        await self.session.flush()
        return await self.get(team.id)

    async def update(self, team_id: int, edit: TeamEdit) -> PlacedTeam:
        """Change name, active, and the members and phones, each list replaced as a whole.

        Kind and place stay: a team that moves is a new team (its incidents stay with it).
        """
        if edit.kind is not None or edit.place_id is not None:
            raise InvalidTeam("a team's kind and place cannot change: create another team")
        team = (await self.get(team_id)).team
        if edit.name is not None:
            team.name = _check_name(edit.name)
        if edit.active is not None:
            team.active = edit.active
        if edit.members is not None:
            team.members = _members(edit.members)
        if edit.phones is not None:
            team.phones = _phones(edit.phones)
        # Members and phones live in their own tables: touch the team so updated_at tells.
        team.updated_at = utcnow()
        await self.session.flush()
        return await self.get(team_id)
