"""Bodies of ``/places`` and ``/teams``: places of any depth, teams with members and phones."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.errors import explained_pattern
from api.params import Code, Id
from dispatch.teams import MemberSpec, PhoneSpec, PlacedTeam
from store.models import Place, TeamKind

__all__ = [
    "LevelName",
    "MemberIn",
    "MemberOut",
    "PhoneIn",
    "PhoneOut",
    "PlaceDetailOut",
    "PlaceOut",
    "PlacePage",
    "TeamCreate",
    "TeamOut",
    "TeamPage",
    "TeamPatch",
]

# The levels an import from vietnam-provinces names (dispatch/places.py).
LevelName = Literal["province", "district", "commune"]

LEVEL_DOC = "province, district or commune (the 2021 divisions)"
# As dispatch.teams checks them (ENDPOINT_RE, NUMBER_RE), so the document says so too.
ENDPOINT_PATTERN = explained_pattern(
    r"^[a-z][a-z0-9_-]{1,39}$",
    "an endpoint must be 2 to 40 of a-z, 0-9, '_' or '-', starting with a letter",
)
NUMBER_PATTERN = explained_pattern(
    r"^\+?[0-9]{3,15}$", "a phone number must be 3 to 15 digits, a leading + allowed"
)
CODE_DOC = "Official code (vietnam-provinces), unique only within a level"


class PlaceOut(BaseModel):
    """An administrative unit."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    parent_id: int | None = Field(description="The unit it belongs to; null for a province")
    level: str = Field(description=LEVEL_DOC)
    depth: int = Field(description="0 for a province, 1 below it, and so on")
    code: int = Field(description=CODE_DOC)
    name: str = Field(description="Official Vietnamese name, e.g. Phường Hiệp Thành")
    division_type: str = Field(description="What the unit is: tỉnh, thành phố, huyện, phường, xã…")
    codename: str = Field(description="ASCII name, e.g. phuong_hiep_thanh")
    path: str = Field(
        description="Ids from the province down, /1/2/12/: a prefix of everything under it"
    )

    @classmethod
    def from_place(cls, place: Place) -> PlaceOut:
        return cls.model_validate(place)


class PlaceDetailOut(PlaceOut):
    """A place with the units above it (province first) and those directly under it."""

    ancestors: list[PlaceOut] = Field(description="From the province down to the parent")
    children: list[PlaceOut] = Field(description="The units directly under it, by code")


class PlacePage(BaseModel):
    items: list[PlaceOut]
    total: int = Field(description="Places matching the filters, over all pages")
    limit: int
    offset: int


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Full name, e.g. Nguyễn Văn An")
    role: str = Field("member", max_length=50, description="e.g. leader, duty, member")
    phone_number: str | None = Field(
        None,
        pattern=NUMBER_PATTERN,
        description="Personal number: 3 to 15 digits, a leading + allowed",
    )

    def spec(self) -> MemberSpec:
        return MemberSpec(name=self.name, role=self.role, phone_number=self.phone_number)


class PhoneIn(BaseModel):
    """Exactly one of ``endpoint`` and ``number``."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = Field(
        None,
        pattern=ENDPOINT_PATTERN,
        description="A PJSIP endpoint of this Asterisk, e.g. team-c25741: 2 to 40 of a-z, 0-9,"
        " '_' or '-', starting with a letter",
    )
    number: str | None = Field(
        None,
        pattern=NUMBER_PATTERN,
        description="A number reached through the telephone network: 3 to 15 digits, a leading"
        " + allowed",
    )
    label: str = Field("", max_length=100, description="For people, e.g. Máy trực ban")

    def spec(self) -> PhoneSpec:
        return PhoneSpec(endpoint=self.endpoint, number=self.number, label=self.label)


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: str
    phone_number: str | None = Field(
        description="Personal number; null when none, and for roles that may not read it "
        "(only supervisors, admins and the team's own users do)"
    )


class PhoneOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    position: int = Field(description="Phones are called in this order, from 0")
    endpoint: str | None = Field(description="PJSIP endpoint, or null for a number")
    number: str | None = Field(description="Telephone number, or null for an endpoint")
    label: str


class TeamOut(BaseModel):
    """An operations center or a rapid-response team, where it sits, who and how to call."""

    id: int
    name: str = Field(description="Vietnamese name, e.g. Tổ phản ứng nhanh phường Hiệp Thành")
    kind: TeamKind = Field(description="center (operations center) or team (rapid response)")
    active: bool = Field(description="False: no incident is dispatched to it")
    place: PlaceOut
    members: list[MemberOut]
    phones: list[PhoneOut] = Field(description="Called in order with an incident's orders")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_placed(cls, placed: PlacedTeam, *, personal_numbers: bool) -> TeamOut:
        """``personal_numbers``: whether the reader may see the members' own numbers."""
        team = placed.team
        members = [MemberOut.model_validate(m) for m in team.members]
        if not personal_numbers:
            members = [m.model_copy(update={"phone_number": None}) for m in members]
        return cls(
            id=team.id,
            name=team.name,
            kind=TeamKind(team.kind),
            active=team.active,
            place=PlaceOut.from_place(placed.place),
            members=members,
            phones=[PhoneOut.model_validate(p) for p in team.phones],
            created_at=team.created_at,
            updated_at=team.updated_at,
        )


class TeamPage(BaseModel):
    items: list[TeamOut]
    total: int = Field(description="Teams matching the filters, over all pages")
    limit: int
    offset: int


class TeamCreate(BaseModel):
    """A new team at a place given by ``place_id`` or by ``place_level`` and ``place_code``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Vietnamese name")
    kind: TeamKind = Field(description="center or team")
    place_id: Id | None = Field(None, description="The place's id (GET /places)")
    place_level: LevelName | None = Field(None, description=f"With place_code: {LEVEL_DOC}")
    place_code: Code | None = Field(None, description=f"With place_level: {CODE_DOC}")
    active: bool = True
    members: list[MemberIn] = Field(default_factory=list, max_length=100)
    phones: list[PhoneIn] = Field(
        min_length=1, max_length=20, description="At least one; called in this order"
    )


class TeamPatch(BaseModel):
    """Changes to a team; a field left out stays. Lists replace the team's whole list."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200)
    active: bool | None = Field(None, description="False: no incident is dispatched to it")
    members: list[MemberIn] | None = Field(
        None, max_length=100, description="Every member; replaces the list"
    )
    phones: list[PhoneIn] | None = Field(
        None,
        min_length=1,
        max_length=20,
        description="Every phone, at least one; replaces the list",
    )
