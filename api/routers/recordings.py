"""Call recordings as evidence (issue 15): search them, read one, listen to it (streamed with
``Range``), verify its digest and the chain, pause and resume a call's recording, and legal
holds that keep recordings past their retention.

Who: supervisors and administrators, every recording. An agent only when the setting
``HOTLINE_RECORDING_AGENT_MAY_LISTEN`` is on, and then only the recordings of the calls they
took (another's answers 404, as ``api/deps.py`` rules); otherwise 403 (decided from the role
and the setting alone). Pausing and resuming: the agent whose call it is, supervisors and
administrators. Holds: supervisors and administrators. Teams: 403 everywhere.

Listening is audited by ``RecordingService.open_audio`` once per audio request (a player that
asks for several ranges of one file is audited once per range it asks for: each request did
read the recording). The logic is ``recordings.service``.

Refusals (``RecordingError``) rise from the routes: ``api.errors`` answers each with its status and
its Vietnamese sentence as ``detail``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, status
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, agent_scope, require_roles
from api.params import Id, Offset
from api.schemas import ErrorOut
from pbx.recording_signals import RecordingKind
from recordings.errors import (
    RecordingNotFound,
)
from recordings.service import RecordingService
from recordings.shapes import RecordingOut
from store.categories import Category
from store.models import Agent, Call, Role, User

__all__ = ["calls_router", "holds_router", "parse_range", "router"]

router = APIRouter(prefix="/recordings", tags=["recordings"], responses=AUTH_RESPONSES)
calls_router = APIRouter(prefix="/calls", tags=["recordings"], responses=AUTH_RESPONSES)
holds_router = APIRouter(prefix="/holds", tags=["recordings"], responses=AUTH_RESPONSES)

NO_SERVICE = "Dịch vụ ghi âm không chạy trên máy chủ này"
AGENTS_MAY_NOT = (
    "Tổng đài viên không được nghe ghi âm (cài đặt HOTLINE_RECORDING_AGENT_MAY_LISTEN tắt)"
)
CHUNK = 64 * 1024
_DIGITS = re.compile(r"[0-9]{0,18}")  # ASCII digits only; 18: no number past a 64-bit size

_Reader = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="read call recordings")),
]
Supervisor = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="manage recordings")),
]
Pauser = Annotated[
    User,
    Depends(
        require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="pause a call's recording")
    ),
]


async def _listener(user: _Reader, services: ServicesDep) -> User:
    """The reader, if an agent may read recordings at all (the setting): else 403."""
    if user.role == Role.AGENT and not services.recording_agent_may_listen:
        raise HTTPException(status.HTTP_403_FORBIDDEN, AGENTS_MAY_NOT)
    return user


Listener = Annotated[User, Depends(_listener)]


async def _service(services: ServicesDep) -> RecordingService:
    if services.recordings is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NO_SERVICE)
    return services.recordings


Recordings = Annotated[RecordingService, Depends(_service)]
RecordingId = Annotated[Id, Path(description="Recording id")]
CallId = Annotated[Id, Path(description="Call id")]
HoldId = Annotated[Id, Path(description="Legal hold id")]

UNAVAILABLE = {
    "model": ErrorOut,
    "description": "No recording service runs here (or, to pause, Asterisk cannot be reached)",
}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "Not a supervisor or an administrator, nor an agent allowed to listen",
    },
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorOut,
        "description": "No such recording (or call), or not one of the agent's calls",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: UNAVAILABLE,
}


# -- schemas ------------------------------------------------------------------------------------


class PauseSpan(BaseModel):
    paused_at: datetime
    resumed_at: datetime | None
    by_name: str


class RecordingModel(BaseModel):
    """One recorded leg. ``sha256`` and ``chain`` are null until the file is closed;
    ``status``: ``recording`` (still open), ``sealed`` (closed, digest taken), ``purged``
    (its file removed at the end of its retention; the row and its digest stay)."""

    id: int
    kind: str = Field(description="call, callback, dispatch, conference")
    ref: str = Field(description="What it belongs to: the call's uniqueid, the callback's id …")
    call_id: int | None
    call_uniqueid: str | None
    incident_id: int | None
    conference_id: int | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    size_bytes: int | None
    sha256: str | None
    chain: str | None = Field(description="SHA-256(previous chain ‖ this recording)")
    seq: int | None = Field(description="Its place in the chain")
    retention_class: str | None
    expires_at: datetime | None
    purged_at: datetime | None
    on_hold: bool
    paused_s: float
    pauses: list[PauseSpan]
    parties: dict[str, Any]
    caller_number: str | None
    category: str | None
    agent_endpoint: str | None
    status: Literal["recording", "sealed", "purged"]


def _model(rec: RecordingOut) -> RecordingModel:
    return RecordingModel.model_validate(rec.model_dump())


class RecordingList(BaseModel):
    items: list[RecordingModel]
    total: int
    limit: int
    offset: int


class CallRecordings(BaseModel):
    items: list[RecordingModel]


class ProblemOut(BaseModel):
    seq: int | None
    recording_id: int | None
    what: str = Field(description="What does not verify (Vietnamese)")


class ChainOut(BaseModel):
    """The chain: ``ok`` when every sealed recording links to the one before it and every
    file not purged still has its digest."""

    ok: bool
    checked: int
    purged: int
    problems: list[ProblemOut]


class ListenModel(BaseModel):
    """One listening of a recording (the audit log's ``listen`` entry)."""

    at: datetime
    user_id: int | None
    user_name: str


class VerifyOut(BaseModel):
    """One recording: its file's SHA-256 against the stored one, and its link in the chain."""

    id: int
    ok: bool
    sha256: str | None
    problems: list[ProblemOut]


class PauseResult(BaseModel):
    recording_id: int
    paused: bool
    at: datetime


class HoldIn(BaseModel):
    """Exactly one of ``call_id`` and ``incident_id``."""

    model_config = ConfigDict(extra="forbid")

    call_id: Id | None = None
    incident_id: Id | None = None
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


class HoldModel(BaseModel):
    id: int
    call_id: int | None
    incident_id: int | None
    reason: str
    created_by: str
    created_at: datetime
    released_at: datetime | None
    released_by: str | None
    active: bool


class HoldList(BaseModel):
    items: list[HoldModel]


# -- who may see what ---------------------------------------------------------------------------


async def _own_endpoint(session: SessionDep, user: User) -> str | None:
    """The agent's endpoint for an agent user; None for the roles that see everything."""
    scope = agent_scope(user)
    if scope is None:
        return None
    endpoint = await session.scalar(select(Agent.endpoint).where(Agent.id == scope))
    return endpoint or ""


async def _check_call(session: SessionDep, user: User, call_id: int) -> Call:
    """The call, if the caller may see it (another agent's: 404 like one that is not)."""
    call = await session.get(Call, call_id)
    scope = agent_scope(user)
    if call is None or (scope is not None and call.agent_id != scope):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Không tìm thấy cuộc gọi {call_id}")
    return call


async def _visible(
    recordings: RecordingService, session: SessionDep, user: User, recording_id: int
) -> RecordingOut:
    rec = await recordings.get(recording_id)
    scope = agent_scope(user)
    if scope is not None:
        owner = None
        if rec.call_id is not None:
            owner = await session.scalar(select(Call.agent_id).where(Call.id == rec.call_id))
        if owner != scope:
            raise RecordingNotFound()
    return rec


# -- reading ------------------------------------------------------------------------------------


@router.get("", summary="Search recordings, newest first", responses=READ_ERRORS)
async def search_recordings(
    user: Listener,
    recordings: Recordings,
    session: SessionDep,
    day_from: Annotated[
        date | None, Query(description="From this day (Vietnam's), inclusive")
    ] = None,
    day_to: Annotated[date | None, Query(description="To this day (Vietnam's), inclusive")] = None,
    category: Annotated[Category | None, Query(description="The call's category")] = None,
    number: Annotated[
        str | None,
        Query(pattern=r"^\+?[0-9]{1,15}$", description="The caller's number, or a part of it"),
    ] = None,
    agent: Annotated[
        str | None,
        Query(pattern=r"^[a-z][a-z0-9_-]{1,39}$", description="The agent's endpoint"),
    ] = None,
    call_id: Annotated[Id | None, Query(description="One call's recordings")] = None,
    kind: Annotated[RecordingKind | None, Query(description="What was recorded")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
    offset: Annotated[Offset, Query(description="Recordings to skip")] = 0,
) -> RecordingList:
    """Recordings matching every filter; an agent (when allowed) sees those of their calls."""
    own = await _own_endpoint(session, user)
    if own is not None and (not own or (agent is not None and agent != own)):
        # Another agent's calls, or an agent whose row is gone: nothing (an empty filter
        # would be no filter at all).
        return RecordingList(items=[], total=0, limit=limit, offset=offset)
    page = await recordings.search(
        day_from=day_from,
        day_to=day_to,
        category=category.value if category is not None else None,
        number=number,
        agent_endpoint=own if own is not None else agent,
        call_id=call_id,
        kind=kind.value if kind is not None else None,
        limit=limit,
        offset=offset,
    )
    return RecordingList(
        items=[_model(r) for r in page.items], total=page.total, limit=limit, offset=offset
    )


@router.get(
    "/verify",
    summary="Verify the whole chain: every digest and every link",
    responses={
        **READ_ERRORS,
        status.HTTP_403_FORBIDDEN: {
            "model": ErrorOut,
            "description": "Not a supervisor or an administrator",
        },
    },
)
async def verify_chain(_user: Supervisor, recordings: Recordings) -> ChainOut:
    """Reads every file kept: slow on a large archive (the CLI does the same:
    ``hotline1022 recordings verify``)."""
    report = await recordings.verify()
    return ChainOut(
        ok=report.ok,
        checked=report.checked,
        purged=report.purged,
        problems=[
            ProblemOut(seq=p.seq, recording_id=p.recording_id, what=p.what) for p in report.problems
        ],
    )


@router.get("/{recording_id}", summary="One recording", responses=READ_ERRORS)
async def get_recording(
    recording_id: RecordingId, user: Listener, recordings: Recordings, session: SessionDep
) -> RecordingModel:
    return _model(await _visible(recordings, session, user, recording_id))


@router.get(
    "/{recording_id}/verify",
    summary="Verify one recording: its file's digest and its link in the chain",
    responses=READ_ERRORS,
)
async def verify_recording(
    recording_id: RecordingId, user: Listener, recordings: Recordings, session: SessionDep
) -> VerifyOut:
    rec = await _visible(recordings, session, user, recording_id)
    report = await recordings.verify(recording_id)
    problems = [
        ProblemOut(seq=p.seq, recording_id=p.recording_id, what=p.what) for p in report.problems
    ]
    return VerifyOut(id=rec.id, ok=report.ok, sha256=rec.sha256, problems=problems)


@router.get(
    "/{recording_id}/listens",
    summary="Who listened to a recording and when (the audit), newest first",
    responses={
        **READ_ERRORS,
        status.HTTP_403_FORBIDDEN: {
            "model": ErrorOut,
            "description": "Not a supervisor or an administrator",
        },
    },
)
async def recording_listens(
    recording_id: RecordingId, _user: Supervisor, recordings: Recordings
) -> list[ListenModel]:
    items = await recordings.listens(recording_id)
    return [ListenModel(at=i.at, user_id=i.user_id, user_name=i.user_name) for i in items]


def parse_range(header: str | None, size: int) -> tuple[int, int] | Literal["unsatisfiable"] | None:
    """The one byte range ``header`` asks of a file of ``size`` bytes, as (first, last)
    inclusive; None to send the whole file (no header, a malformed one or several ranges:
    RFC 9110 lets a server ignore those); ``"unsatisfiable"`` for 416.

    >>> parse_range("bytes=0-99", 1000), parse_range("bytes=-100", 1000)
    ((0, 99), (900, 999))
    """
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or not spec or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash:
        return None
    first_s, last_s = first_s.strip(), last_s.strip()
    if not _DIGITS.fullmatch(first_s) or not _DIGITS.fullmatch(last_s):
        return None  # str.isdigit() would let "²" through, which int() refuses
    if first_s == "":
        if last_s == "":
            return None
        length = int(last_s)
        if length == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    first = int(first_s)
    if last_s and int(last_s) < first:
        return None  # invalid: ignored, like a malformed header
    if first >= size:
        return "unsatisfiable"
    last = int(last_s) if last_s else size - 1
    return first, min(last, size - 1)


async def _chunks(path: FilePath, first: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(first)
        left = length
        while left > 0:
            data = await f.read(min(CHUNK, left))
            if not data:
                break  # the file shrank under us: send what there is
            left -= len(data)
            yield data


@router.get(
    "/{recording_id}/audio",
    summary="Listen: the WAV file, streamed (Range requests answer 206); audited",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "The whole file, as recorded"},
        206: {
            "content": {"audio/wav": {}},
            "description": "The range asked for (`Content-Range: bytes first-last/size`)",
        },
        status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "Still recording"},
        status.HTTP_410_GONE: {
            "model": ErrorOut,
            "description": "Removed at the end of its retention",
        },
        status.HTTP_416_RANGE_NOT_SATISFIABLE: {
            "description": "The range starts past the end (`Content-Range: bytes */size`)"
        },
        **READ_ERRORS,
    },
)
async def get_audio(
    recording_id: RecordingId,
    user: Listener,
    recordings: Recordings,
    session: SessionDep,
    range_header: Annotated[
        str | None,
        Header(
            alias="Range", description="One byte range: `bytes=0-`, `bytes=100-199`, `bytes=-500`"
        ),
    ] = None,
) -> Response:
    """Every request is audited as a listening (who, when, which recording)."""
    await _visible(recordings, session, user, recording_id)
    await session.close()  # the stream may last minutes: hold no connection meanwhile
    audio = await recordings.open_audio(recording_id, user_id=user.id, user_name=user.name)
    size = audio.size
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "no-store"}
    wanted = parse_range(range_header, size)
    if wanted == "unsatisfiable":
        return Response(
            status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE,
            headers={**headers, "Content-Range": f"bytes */{size}"},
        )
    if wanted is None:
        first, last, code = 0, size - 1, status.HTTP_200_OK
    else:
        first, last = wanted
        code = status.HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    length = max(0, last - first + 1)
    headers["Content-Length"] = str(length)
    return StreamingResponse(
        _chunks(audio.path, first, length),
        status_code=code,
        media_type=audio.media_type,
        headers=headers,
    )


# -- a call's recordings; pausing them ---------------------------------------------------------


@calls_router.get(
    "/{call_id}/recordings", summary="A call's recordings, oldest first", responses=READ_ERRORS
)
async def call_recordings(
    call_id: CallId, user: Listener, recordings: Recordings, session: SessionDep
) -> CallRecordings:
    await _check_call(session, user, call_id)
    items = await recordings.for_call(call_id)
    return CallRecordings(items=[_model(r) for r in items])


PAUSE_ERRORS: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "Not an agent, a supervisor or an administrator",
    },
    status.HTTP_404_NOT_FOUND: {
        "model": ErrorOut,
        "description": "No such call, not the agent's, or nothing being recorded on it",
    },
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "Already paused (pause) or not paused (resume)",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: UNAVAILABLE,
}


async def _pause(
    action: Literal["pause", "resume"],
    call_id: int,
    user: User,
    recordings: RecordingService,
    session: SessionDep,
) -> PauseResult:
    call = await _check_call(session, user, call_id)
    await session.close()
    method = recordings.pause if action == "pause" else recordings.resume
    done = await method(call.uniqueid, user_id=user.id, user_name=user.name)
    return PauseResult.model_validate(done.model_dump())


@calls_router.post(
    "/{call_id}/recording/pause",
    summary="Pause the call's recording (e.g. while the caller gives bank details)",
    responses=PAUSE_ERRORS,
)
async def pause_recording(
    call_id: CallId, user: Pauser, recordings: Recordings, session: SessionDep
) -> PauseResult:
    """The file keeps its length: the pause is silence in it, and the pause itself (when,
    by whom) is stored with the recording and audited."""
    return await _pause("pause", call_id, user, recordings, session)


@calls_router.post(
    "/{call_id}/recording/resume", summary="Resume the call's recording", responses=PAUSE_ERRORS
)
async def resume_recording(
    call_id: CallId, user: Pauser, recordings: Recordings, session: SessionDep
) -> PauseResult:
    return await _pause("resume", call_id, user, recordings, session)


# -- legal holds ------------------------------------------------------------------------------

HOLD_ERRORS: dict[int | str, dict[str, Any]] = {
    status.HTTP_403_FORBIDDEN: {
        "model": ErrorOut,
        "description": "Not a supervisor or an administrator",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: UNAVAILABLE,
}


@holds_router.post(
    "",
    summary="Put a legal hold on a call's or an incident's recordings",
    status_code=status.HTTP_201_CREATED,
    responses={
        **HOLD_ERRORS,
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": ErrorOut,
            "description": "Neither or both of call_id and incident_id, no such call or "
            "incident, an empty reason",
        },
    },
)
async def create_hold(body: HoldIn, user: Supervisor, recordings: Recordings) -> HoldModel:
    """Held recordings are not purged, whatever their retention, until the hold is
    released."""
    hold = await recordings.hold(
        call_id=body.call_id,
        incident_id=body.incident_id,
        reason=body.reason,
        user_id=user.id,
        user_name=user.name,
    )
    return HoldModel.model_validate(hold.model_dump())


@holds_router.get("", summary="Legal holds, newest first", responses=HOLD_ERRORS)
async def list_holds(
    _user: Supervisor,
    recordings: Recordings,
    active: Annotated[bool, Query(description="Only the holds not released")] = True,
) -> HoldList:
    items = await recordings.holds(active_only=active)
    return HoldList(items=[HoldModel.model_validate(h.model_dump()) for h in items])


@holds_router.delete(
    "/{hold_id}",
    summary="Release a legal hold (it stays, with who released it and when)",
    responses={
        **HOLD_ERRORS,
        status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such hold"},
        status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "Released already"},
    },
)
async def release_hold(hold_id: HoldId, user: Supervisor, recordings: Recordings) -> HoldModel:
    hold = await recordings.release(hold_id, user_id=user.id, user_name=user.name)
    return HoldModel.model_validate(hold.model_dump())
