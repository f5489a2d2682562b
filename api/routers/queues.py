"""``GET /queues``: what is waiting right now, from Asterisk's live queue state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.deps import AUTH_RESPONSES, ServicesDep, require_roles
from api.schemas import QueueOut, queue_json
from store.models import Role, User

__all__ = ["router"]

router = APIRouter(prefix="/queues", tags=["queues"], responses=AUTH_RESPONSES)

QueueReader = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="read the queues")),
]


@router.get("", summary="Live queue state", response_model=list[QueueOut])
async def list_queues(_user: QueueReader, services: ServicesDep) -> JSONResponse:
    """Every queue (see ``GET /routing`` for the layout) with its waiting callers, longest
    wait, logged-in agents and how many of them are in each state."""
    states = services.agent_states.snapshot() if services.agent_states is not None else None
    # The JSON QueueOut would give (the model stays the documented schema), written from
    # plain dicts: building and re-validating 40 models was most of this route's own cost.
    return JSONResponse([queue_json(view, states) for view in services.queues.snapshot()])
