"""``GET /calls`` and ``GET /calls/{id}``: the call records."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status

from api.deps import AUTH_RESPONSES, SessionDep, agent_scope, require_roles
from api.params import TIME_NOTE, Id, Instant, Offset
from api.schemas import CallDetailOut, CallOut, CallPage, ErrorOut
from store import calls as store_calls
from store.categories import Category
from store.models import CallStatus, Role, User

__all__ = ["router"]

router = APIRouter(prefix="/calls", tags=["calls"], responses=AUTH_RESPONSES)

CallReader = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="read call records")),
]


@router.get("", summary="List calls, newest first")
async def list_calls(
    user: CallReader,
    session: SessionDep,
    since: Annotated[
        Instant | None, Query(description=f"Arrived at or after this instant. {TIME_NOTE}")
    ] = None,
    until: Annotated[
        Instant | None, Query(description=f"Arrived before this instant. {TIME_NOTE}")
    ] = None,
    category: Annotated[Category | None, Query(description="What the call is about")] = None,
    status: Annotated[CallStatus | None, Query(description="Live or final state")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 50,
    offset: Annotated[Offset, Query(description="Calls to skip")] = 0,
) -> CallPage:
    """Calls matching every given filter, ordered by arrival (newest first). Supervisors
    and admins see every call; an agent sees the calls they took."""
    items, total = await store_calls.list_calls(
        session,
        since=since,
        until=until,
        category=category,
        status=status,
        agent_id=agent_scope(user),
        limit=limit,
        offset=offset,
    )
    return CallPage(
        items=[CallOut.from_call(call) for call in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/{call_id}",
    summary="One call",
    responses={status.HTTP_404_NOT_FOUND: {"model": ErrorOut}},
)
async def get_call(
    user: CallReader, session: SessionDep, call_id: Annotated[Id, Path(description="Call id")]
) -> CallDetailOut:
    """One call record with its path through the menu; an agent may read only the calls
    they took."""
    call = await store_calls.get_call(session, call_id)
    scope = agent_scope(user)
    # Another agent's call answers as one that does not exist (api/deps.py).
    if call is None or (scope is not None and call.agent_id != scope):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Call {call_id} not found")
    path = await store_calls.ivr_path(session, call.uniqueid)
    return CallDetailOut.from_call_path(call, path)
