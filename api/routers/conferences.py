"""The command conference (``/conferences``): create one from places, teams and numbers, start
it, take the roll, lead it, read its actions and its recording.

Who: supervisors and administrators, every conference; a ``team`` user whose team is an
operations center, for the places under its center and the conferences its center made
(any other team: 403). Agents: 403. The logic is ``conference.service``; each control is
answered once Asterisk confirmed it (503 when it cannot be reached), and is audited.

Refusals (``ConferenceError``) rise from the routes: ``api.errors`` answers each with its status and
its Vietnamese sentence as ``detail``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AUTH_RESPONSES, ServicesDep, require_roles
from api.params import Code, Id
from api.schemas import ErrorOut
from api.tabular import FORMAT_RESPONSES, FormatParam, respond
from conference.points import (
    Caller,
    ConferenceSpec,
    LeaderSpec,
    NumberSelector,
    PlaceSelector,
    Selector,
    TeamSelector,
)
from conference.service import ConferenceService
from store.models import Role, User

__all__ = ["router"]

router = APIRouter(prefix="/conferences", tags=["conferences"], responses=AUTH_RESPONSES)

Commander = Annotated[
    User,
    Depends(require_roles(Role.TEAM, Role.SUPERVISOR, Role.ADMIN, action="lead conferences")),
]
ConferenceId = Annotated[Id, Path(description="Conference id")]
PointId = Annotated[Id, Path(description="Point id (see the conference's points)")]

UNAVAILABLE = {
    "model": ErrorOut,
    "description": "No conference service runs here, or Asterisk cannot be reached",
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "Not a supervisor, an administrator or an operations center's user",
    },
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorOut,
        "description": "No such conference (or point), or not the caller's center's",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: UNAVAILABLE,
}
CONTROL_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "Not from where the conference or the point is (e.g. it ended)",
    },
}


async def _service(services: ServicesDep) -> ConferenceService:
    if services.conferences is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "Dịch vụ hội nghị không chạy trên máy chủ này"
        )
    return services.conferences


Conferences = Annotated[ConferenceService, Depends(_service)]


def _caller(user: User) -> Caller:
    return Caller(user.id, user.name, user.role, user.team_id)


# -- schemas ------------------------------------------------------------------------------------


PlaceLevel = Literal["province", "district", "commune"]


class PlaceRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: PlaceLevel
    code: Code


class UnderIn(BaseModel):
    """Every team of ``kind`` at the places of ``level`` under (or at) the place ``under``."""

    model_config = ConfigDict(extra="forbid")

    under: PlaceRef
    level: PlaceLevel = Field(description="The level of the teams' places (may be under's)")
    kind: Literal["team", "center"] = Field("team", description="Rapid-response teams or centers")


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team_id: Id


class NumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(pattern=r"^\+?[0-9]{3,15}$", description="Through the gateway")
    label: str = Field("", max_length=200)


class LeaderIn(BaseModel):
    """Exactly one of ``endpoint`` (a softphone of this Asterisk), ``team_id``, ``number``."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = Field(None, pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    team_id: Id | None = None
    number: str | None = Field(None, pattern=r"^\+?[0-9]{3,15}$")
    label: str = Field("", max_length=200)


class ConferenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, pattern=r"\S")
    points: list[UnderIn | TeamIn | NumberIn] = Field(min_length=1, max_length=200)
    leaders: list[LeaderIn] = Field(default_factory=list, max_length=20)
    record: bool = False
    starts_at: datetime | None = Field(
        None, description="Started by the service then; null: waits for POST …/start"
    )

    def spec(self) -> ConferenceSpec:
        selectors: list[Selector] = []
        for p in self.points:
            if isinstance(p, UnderIn):
                selectors.append(PlaceSelector(p.under.level, p.under.code, p.level, p.kind))
            elif isinstance(p, TeamIn):
                selectors.append(TeamSelector(p.team_id))
            else:
                selectors.append(NumberSelector(p.number, p.label))
        return ConferenceSpec(
            title=self.title,
            points=selectors,
            leaders=[LeaderSpec(x.endpoint, x.team_id, x.number, x.label) for x in self.leaders],
            record=self.record,
            starts_at=self.starts_at,
        )


class Totals(BaseModel):
    present: int
    absent: int
    dialling: int
    left: int
    total: int


class SummaryOut(BaseModel):
    id: int
    title: str
    status: Literal["scheduled", "running", "ended"]
    created_by: int | None
    team_id: int | None = Field(description="The center whose users see it; null: staff's")
    created_at: datetime | None
    starts_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    record: bool
    recording_active: bool = Field(description="Being recorded now")
    locked: bool
    muted_all: bool
    totals: Totals
    floor_point_id: int | None


class SummaryList(BaseModel):
    items: list[SummaryOut]


class PlaceOut(BaseModel):
    level: str
    code: int
    name: str


class PointOut(BaseModel):
    id: int
    label: str
    team_id: int | None
    place: PlaceOut | None
    province: str | None
    district: str | None
    commune: str | None
    is_leader: bool
    node: str | None
    state: str = Field(
        description="queued, dialling, ringing, answered, present, joined, left, absent, failed"
    )
    reason: str
    attempts: int
    muted: bool
    hand_at: datetime | None
    talking: bool
    updated_at: datetime | None


class CommuneRoll(Totals):
    code: int
    name: str


class DistrictRoll(Totals):
    code: int
    name: str
    communes: list[CommuneRoll]


class ProvinceRoll(Totals):
    code: int
    name: str
    districts: list[DistrictRoll]


class RollOut(BaseModel):
    totals: Totals
    provinces: list[ProvinceRoll]


class HandOut(BaseModel):
    point_id: int
    at: datetime | None


class RecordingOut(BaseModel):
    available: bool
    url: str | None


class DetailOut(SummaryOut):
    points: list[PointOut]
    roll: RollOut
    hands: list[HandOut]
    recording: RecordingOut
    nodes: list[str]


class ActionOut(BaseModel):
    at: datetime | None
    user: str | None
    action: str
    point_id: int | None
    detail: str
    ok: bool
    latency_ms: float | None


class ActionList(BaseModel):
    items: list[ActionOut]


class ControlOut(BaseModel):
    """Done: Asterisk confirmed it in ``latency_ms``."""

    action: str
    ok: bool
    latency_ms: float
    point_id: int | None


# -- reading ------------------------------------------------------------------------------------


@router.get("", summary="Conferences, newest first", responses=READ_ERRORS)
async def list_conferences(user: Commander, conferences: Conferences) -> SummaryList:
    items = await conferences.summaries(_caller(user))
    return SummaryList.model_validate({"items": items})


@router.post(
    "",
    summary="Create a conference (scheduled: it starts at starts_at, or on POST …/start)",
    status_code=status.HTTP_201_CREATED,
    responses={
        **READ_ERRORS,
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": ErrorOut,
            "description": "No point, an unknown place or team, a bad number or endpoint",
        },
    },
)
async def create_conference(
    body: ConferenceIn, user: Commander, conferences: Conferences
) -> DetailOut:
    detail = await conferences.create(_caller(user), body.spec())
    return DetailOut.model_validate(detail)


@router.get("/{conference_id}", summary="A conference: points, roll, hands", responses=READ_ERRORS)
async def get_conference(
    conference_id: ConferenceId, user: Commander, conferences: Conferences
) -> DetailOut:
    return DetailOut.model_validate(await conferences.detail(_caller(user), conference_id))


def _roll_rows(roll: RollOut) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def counts(x: Totals) -> dict[str, int]:
        return {k: getattr(x, k) for k in Totals.model_fields}

    for p in roll.provinces:
        rows.append({"level": "province", "province": p.name, "code": p.code, **counts(p)})
        for d in p.districts:
            rows.append(
                {"level": "district", "province": p.name, "district": d.name, "code": d.code}
                | counts(d)
            )
            for c in d.communes:
                rows.append(
                    {
                        "level": "commune",
                        "province": p.name,
                        "district": d.name,
                        "commune": c.name,
                        "code": c.code,
                    }
                    | counts(c)
                )
    rows.append({"level": "total", **roll.totals.model_dump()})
    return rows


@router.get(
    "/{conference_id}/roll",
    summary="The roll: present, absent, still dialling, left per province, district, commune",
    response_model=RollOut,
    responses={**READ_ERRORS, **FORMAT_RESPONSES},
)
async def get_roll(
    conference_id: ConferenceId,
    user: Commander,
    conferences: Conferences,
    format: FormatParam = "json",
) -> RollOut | Response:
    roll = RollOut.model_validate(await conferences.roll(_caller(user), conference_id))
    return await respond(
        roll, _roll_rows(roll), format, name=f"conference-{conference_id}-roll", title="Điểm danh"
    )


@router.get(
    "/{conference_id}/actions",
    summary="What was done to the conference, by whom, how fast Asterisk answered",
    responses=READ_ERRORS,
)
async def get_actions(
    conference_id: ConferenceId, user: Commander, conferences: Conferences
) -> ActionList:
    items = await conferences.actions(_caller(user), conference_id)
    return ActionList.model_validate({"items": items})


@router.get(
    "/{conference_id}/recording",
    summary="The conference's recording",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "WAV, as Asterisk recorded it"},
        **READ_ERRORS,
    },
)
async def get_recording(
    conference_id: ConferenceId, user: Commander, conferences: Conferences
) -> Response:
    path = await conferences.recording(_caller(user), conference_id)
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})


# -- controls -----------------------------------------------------------------------------------


async def _do(call: Any) -> ControlOut:
    result = await call
    return ControlOut.model_validate(result)


@router.post(
    "/{conference_id}/start",
    summary="Start: the title prompt, then dial the leaders and every point",
    responses=CONTROL_ERRORS,
)
async def start(
    conference_id: ConferenceId, user: Commander, conferences: Conferences
) -> DetailOut:
    detail = await conferences.start_conference(_caller(user), conference_id)
    return DetailOut.model_validate(detail)


def _control(path: str, summary: str, method: str) -> None:
    async def endpoint(
        conference_id: ConferenceId, user: Commander, conferences: Conferences
    ) -> ControlOut:
        return await _do(getattr(conferences, method)(_caller(user), conference_id))

    endpoint.__name__ = method
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        summary=summary,
        responses=CONTROL_ERRORS,
        response_model=ControlOut,
    )


def _point_control(path: str, summary: str, method: str) -> None:
    async def endpoint(
        conference_id: ConferenceId, point_id: PointId, user: Commander, conferences: Conferences
    ) -> ControlOut:
        return await _do(getattr(conferences, method)(_caller(user), conference_id, point_id))

    endpoint.__name__ = method
    router.add_api_route(
        path,
        endpoint,
        methods=["POST"],
        summary=summary,
        responses=CONTROL_ERRORS,
        response_model=ControlOut,
    )


_control("/{conference_id}/end", "End: hang up every point on every node", "end")
_control("/{conference_id}/mute-all", "Mute every point (leaders stay heard)", "mute_all")
_control("/{conference_id}/unmute-all", "Unmute every point", "unmute_all")
_control("/{conference_id}/lock", "Lock: no one else joins", "lock")
_control("/{conference_id}/unlock", "Unlock", "unlock")
_control("/{conference_id}/record/start", "Record the conference (on the root)", "record_start")
_control("/{conference_id}/record/stop", "Stop recording", "record_stop")
_control("/{conference_id}/floor/release", "Mute the point that has the floor", "release_floor")
_point_control(
    "/{conference_id}/points/{point_id}/floor",
    "Give the floor: unmute this point, mute the one that had it, lower its hand",
    "give_floor",
)
_point_control("/{conference_id}/points/{point_id}/kick", "Remove a point", "kick")
_point_control(
    "/{conference_id}/points/{point_id}/redial",
    "Call a point again (absent, failed, left)",
    "redial",
)
_point_control(
    "/{conference_id}/points/{point_id}/hand/dismiss", "Lower a point's hand", "dismiss_hand"
)
