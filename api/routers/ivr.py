"""The IVR: per-node statistics, announcements supervisors rewrite, menu reload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, require_roles
from api.errors import ErrorOut
from api.params import Instant
from api.tabular import FORMAT_RESPONSES, FormatParam, respond
from ivr.menu_file import MenuError
from ivr.ports import AnnouncementNotFound, DraftMismatch, IvrAdmin, NothingToRevert
from ivr.prompts import PromptError
from store.ivr import ivr_stats
from store.models import Role, User

__all__ = ["router"]

NOT_RUNNING: dict[int | str, dict[str, object]] = {
    status.HTTP_503_SERVICE_UNAVAILABLE: {"model": ErrorOut, "description": "No IVR runs here"},
}
router = APIRouter(prefix="/ivr", tags=["ivr"], responses=AUTH_RESPONSES)


class MenuFaultOut(BaseModel):
    line: int | None
    message: str


class MenuInvalidDetail(BaseModel):
    message: str
    faults: list[MenuFaultOut]


class MenuInvalidOut(BaseModel):
    detail: MenuInvalidDetail


Supervisor = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="manage the IVR")),
]


class AnnouncementIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000, description="What callers will hear")


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    draft_id: str = Field(
        min_length=1, max_length=40, description="The draft listened to (its 'id')"
    )


AnnouncementName = Annotated[str, Path(max_length=100, description="An announcement's name")]
NOT_FOUND: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such announcement"},
}
SPOKEN: dict[int | str, dict[str, object]] = {
    **NOT_FOUND,
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "The IVR is not running, or the text could not be spoken: nothing changed",
    },
}


def _admin(services: ServicesDep) -> IvrAdmin:
    if services.ivr is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "The IVR is not running")
    return services.ivr


@router.get(
    "/stats",
    summary="Callers per menu node",
    response_model=list[dict[str, Any]],
    responses=FORMAT_RESPONSES,
)
async def stats(
    _user: Supervisor,
    session: SessionDep,
    since: Annotated[Instant | None, Query(description="From (ISO 8601; no offset: UTC)")] = None,
    until: Annotated[Instant | None, Query(description="Before (ISO 8601, exclusive)")] = None,
    format: FormatParam = "json",
) -> list[dict[str, Any]] | Response:
    """Per node: `reached` (callers who got there), `keys` (how many chose each key),
    `invalid`, `timeout` (no key in time), `back` (`*`), `exhausted` (sent to the default
    after every attempt), `heard` (announcements played to the end) and `hung_up` (callers
    who left the hotline at that node)."""
    nodes = await ivr_stats(session, since=since, until=until)
    return await respond(
        nodes, nodes, format, name="ivr-stats", title="Tổng đài tự động", since=since, until=until
    )


@router.get(
    "/announcements", summary="Recorded information callers can hear", responses=NOT_RUNNING
)
async def list_announcements(_user: Supervisor, services: ServicesDep) -> list[dict[str, object]]:
    return await _admin(services).announcements()


@router.put(
    "/announcements/{name}",
    summary="Rewrite an announcement",
    responses={
        status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such announcement"},
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "model": ErrorOut,
            "description": "The IVR is not running, or the text could not be spoken (the"
            " speech tools failed or timed out): nothing was saved, the announcement in"
            " force stays",
        },
    },
)
async def put_announcement(
    name: AnnouncementName,
    body: AnnouncementIn,
    user: Supervisor,
    services: ServicesDep,
) -> dict[str, object]:
    """The new text is spoken (espeak-ng) into the sound file first; only then is it saved,
    and the next caller who chooses it hears it in full, however long it is. It is kept
    across restarts and overrides the menu file. If it cannot be spoken, 503: nothing is
    saved and callers keep hearing the announcement in force."""
    try:
        return await _admin(services).set_announcement(name, body.text.strip(), user.name)
    except AnnouncementNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except PromptError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"The announcement could not be spoken; nothing was saved and callers keep"
            f" hearing the one in force: {exc}",
        ) from exc


@router.post(
    "/reload",
    summary="Take a changed menu file without restarting anything",
    responses={
        **NOT_RUNNING,
        status.HTTP_422_UNPROCESSABLE_CONTENT: {
            "model": MenuInvalidOut,
            "description": "The menu file is invalid; the menu in force is unchanged",
        },
    },
)
async def reload_menu(_user: Supervisor, services: ServicesDep) -> dict[str, object]:
    """An invalid file is refused with its faults (422) and the menu in force stays."""
    try:
        return await _admin(services).reload()
    except MenuError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "message": "The menu file is invalid; the menu in force is unchanged",
                "faults": [{"line": f.line, "message": f.message} for f in exc.faults],
            },
        ) from exc


def _not_spoken(exc: PromptError) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"The text could not be spoken; nothing changed: {exc}",
    )


@router.post(
    "/announcements/{name}/draft",
    summary="Speak a new text into a draft to listen to (callers do not hear it)",
    responses=SPOKEN,
)
async def make_draft(
    name: AnnouncementName, body: AnnouncementIn, user: Supervisor, services: ServicesDep
) -> dict[str, object]:
    """The draft replaces any earlier draft of the announcement. Listen to it at
    ``GET /ivr/announcements/{name}/draft.wav``, then publish it with its ``draft.id``
    or discard it; callers go on hearing the live version meanwhile."""
    try:
        return await _admin(services).make_draft(name, body.text.strip(), user.name)
    except AnnouncementNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except PromptError as exc:
        raise _not_spoken(exc) from exc


def _wav(services: ServicesDep, name: str, *, draft: bool) -> Response:
    try:
        path = _admin(services).audio(name, draft=draft)
    except AnnouncementNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    if path is None:
        what = "no draft" if draft else "no sound file yet"
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Announcement {name!r} has {what}")
    # 8 kHz 16-bit PCM WAV, as Asterisk plays it: browsers play it as it is.
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "no-store"})


WAV_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"audio/wav": {}}, "description": "8 kHz mono 16-bit PCM WAV"},
    **NOT_FOUND,
}


@router.get(
    "/announcements/{name}/draft.wav",
    summary="The draft's sound, to listen to before publishing",
    response_class=FileResponse,
    responses=WAV_RESPONSES,
)
async def draft_audio(name: AnnouncementName, _user: Supervisor, services: ServicesDep) -> Response:
    return _wav(services, name, draft=True)


@router.get(
    "/announcements/{name}/audio.wav",
    summary="What callers hear now",
    response_class=FileResponse,
    responses=WAV_RESPONSES,
)
async def live_audio(name: AnnouncementName, _user: Supervisor, services: ServicesDep) -> Response:
    return _wav(services, name, draft=False)


@router.post(
    "/announcements/{name}/draft/publish",
    summary="Put the draft live (the version it replaces is kept for a revert)",
    responses={
        **SPOKEN,
        status.HTTP_409_CONFLICT: {
            "model": ErrorOut,
            "description": "Not the draft in place (published, discarded or replaced meanwhile)",
        },
    },
)
async def publish_draft(
    name: AnnouncementName, body: PublishIn, user: Supervisor, services: ServicesDep
) -> dict[str, object]:
    """The next caller who chooses the announcement hears the draft's very sound file."""
    try:
        return await _admin(services).publish_draft(name, body.draft_id, user.name)
    except AnnouncementNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except DraftMismatch as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.delete(
    "/announcements/{name}/draft",
    summary="Discard the draft",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=NOT_FOUND,
)
async def discard_draft(name: AnnouncementName, _user: Supervisor, services: ServicesDep) -> None:
    """404 if the announcement has no draft (nothing to discard)."""
    try:
        had = await _admin(services).discard_draft(name)
    except AnnouncementNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    if not had:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Announcement {name!r} has no draft")


@router.post(
    "/announcements/{name}/revert",
    summary="Put the previous version live again",
    responses={
        **SPOKEN,
        status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "No previous version kept"},
    },
)
async def revert(
    name: AnnouncementName, user: Supervisor, services: ServicesDep
) -> dict[str, object]:
    """The version replaced by the last rewrite goes live again, and the one in force
    becomes the previous: a second revert undoes the first."""
    try:
        return await _admin(services).revert(name, user.name)
    except AnnouncementNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except NothingToRevert as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except PromptError as exc:
        raise _not_spoken(exc) from exc
