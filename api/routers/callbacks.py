"""``/callbacks``: callers who chose to be called back, and cancelling one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, require_roles
from api.params import Id, Offset
from api.schemas import CallbackOut, CallbackPage, ErrorOut
from queues.ports import CallbackNotFound, CallbackStateError
from store import callbacks as store_callbacks
from store.models import CallbackStatus, Role, User

__all__ = ["router"]

router = APIRouter(prefix="/callbacks", tags=["callbacks"], responses=AUTH_RESPONSES)

Supervisor = Annotated[
    User,
    Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="manage callbacks")),
]
CallbackId = Annotated[Id, Path(description="Callback id (see GET /callbacks)")]

CANCEL_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such callback"},
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "It completed or failed already, or the citizen is being called now",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "No callback service runs here",
    },
}


@router.get("", summary="List callbacks, newest first")
async def list_callbacks(
    _user: Supervisor,
    session: SessionDep,
    status: Annotated[
        CallbackStatus | None,
        Query(description="waiting, calling, retry, completed, failed or cancelled"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
    offset: Annotated[Offset, Query(description="Callbacks to skip")] = 0,
) -> CallbackPage:
    items, total = await store_callbacks.list_callbacks(
        session, status=status, limit=limit, offset=offset
    )
    return CallbackPage(
        items=[CallbackOut.from_callback(c) for c in items], total=total, limit=limit, offset=offset
    )


@router.post("/{callback_id}/cancel", summary="Cancel a callback", responses=CANCEL_RESPONSES)
async def cancel_callback(
    user: Supervisor, services: ServicesDep, session: SessionDep, callback_id: CallbackId
) -> CallbackOut:
    """Frees the callback's place in the queue; the citizen will not be called. Cancelling a
    cancelled callback changes nothing and answers as the first time did."""
    if services.callbacks is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "No callback service runs here")
    try:
        await services.callbacks.cancel(callback_id, user.name)
    except CallbackNotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"Callback {callback_id} not found"
        ) from None
    except CallbackStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    callback = await store_callbacks.get_callback(session, callback_id)
    if callback is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Callback {callback_id} not found")
    return CallbackOut.from_callback(callback)
