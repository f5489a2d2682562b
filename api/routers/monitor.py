"""Listen, whisper, barge (``/monitor``): a supervisor's phone joins an agent's live call.

Who: supervisors and administrators (everyone else 403). ``POST /monitor`` rings the
supervisor's phone (``sup01`` … ``supNN``) and answers 201 once Asterisk accepted the call,
before it is answered; the mode can then change (``PATCH``, or keys 4/5/6 on the phone) and
``DELETE`` hangs the phone up. ``GET /monitor`` lists the sessions Asterisk shows now. Each
step is audited; the agent is told on the console only as ``HOTLINE_SPY_NOTIFY_AGENT`` says.
The logic is ``coaching.service``.

Refusals (``CoachingError``) rise from the routes: ``api.errors`` answers each with its status and
its Vietnamese sentence as ``detail``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AUTH_RESPONSES, ServicesDep, require_roles
from api.params import Id
from api.schemas import ErrorOut
from coaching.service import CoachingService, SessionOut, Who
from pbx.recording_signals import SpyMode
from store.models import Role, User

__all__ = ["router"]

router = APIRouter(prefix="/monitor", tags=["monitor"], responses=AUTH_RESPONSES)

Coach = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="monitor agents' calls")),
]
SessionId = Annotated[Id, Path(description="Monitoring session id")]

ERRORS: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "Not a supervisor or an administrator",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "No coaching service runs here, or Asterisk cannot be reached",
    },
}
SESSION_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorOut,
        "description": "No such session (it may have ended: the phone hung up, the call ended)",
    },
}


async def _service(services: ServicesDep) -> CoachingService:
    if services.coaching is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "Dịch vụ giám sát cuộc gọi không chạy trên máy chủ này",
        )
    return services.coaching


Coaching = Annotated[CoachingService, Depends(_service)]


def _who(user: User) -> Who:
    return Who(user.id, user.name)


class MonitorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: Id
    mode: SpyMode = Field(
        description="listen: hear both; whisper: speak to the agent alone; barge: speak to both"
    )
    phone: str = Field(
        pattern=r"^sup[0-9]{2}$", description="The supervisor's phone: sup01 … supNN"
    )


class ModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: SpyMode


class MonitorOut(BaseModel):
    id: int
    agent_id: int
    agent_endpoint: str
    mode: SpyMode
    phone: str
    spy_channel: str = Field(description="The supervisor phone's channel")
    target_channel: str = Field(description="The agent's channel (a ChanSpy prefix)")
    started_at: datetime
    by_name: str


class MonitorList(BaseModel):
    items: list[MonitorOut]
    phones: list[str] = Field(description="The supervisors' phones one may ring")


def _out(session: SessionOut) -> MonitorOut:
    return MonitorOut.model_validate(session.model_dump())


@router.get("", summary="The active monitoring sessions", responses=ERRORS)
async def list_sessions(_user: Coach, coaching: Coaching) -> MonitorList:
    items = await coaching.sessions()
    return MonitorList(items=[_out(s) for s in items], phones=coaching.phones)


@router.post(
    "",
    summary="Ring a supervisor's phone to listen to, whisper to or barge into an agent's call",
    status_code=status.HTTP_201_CREATED,
    responses={
        **ERRORS,
        status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such agent"},
        status.HTTP_409_CONFLICT: {
            "model": ErrorOut,
            "description": "The agent is on no call, or the phone is in another session",
        },
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": ErrorOut,
            "description": "Not a supervisor's phone, an unknown mode",
        },
    },
)
async def start_session(body: MonitorIn, user: Coach, coaching: Coaching) -> MonitorOut:
    session = await coaching.begin(
        agent_id=body.agent_id, mode=body.mode, phone=body.phone, by=_who(user)
    )
    return _out(session)


@router.patch("/{session_id}", summary="Change the session's mode", responses=SESSION_ERRORS)
async def change_mode(
    session_id: SessionId, body: ModeIn, user: Coach, coaching: Coaching
) -> MonitorOut:
    return _out(await coaching.change_mode(session_id, body.mode, by=_who(user)))


@router.delete(
    "/{session_id}",
    summary="End the session: hang up the supervisor's phone",
    responses=SESSION_ERRORS,
)
async def stop_session(session_id: SessionId, user: Coach, coaching: Coaching) -> MonitorOut:
    return _out(await coaching.stop(session_id, by=_who(user)))
