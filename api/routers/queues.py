"""``GET /queues``: what is waiting right now, from Asterisk's live queue state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import AUTH_RESPONSES, ServicesDep, require_roles
from api.schemas import QueueOut
from store.models import Role, User

__all__ = ["router"]

router = APIRouter(prefix="/queues", tags=["queues"], responses=AUTH_RESPONSES)

QueueReader = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="read the queues")),
]


@router.get("", summary="Live queue state")
async def list_queues(_user: QueueReader, services: ServicesDep) -> list[QueueOut]:
    """Every queue (see ``GET /routing`` for the layout) with its waiting callers, longest
    wait, logged-in agents and how many of them are in each state."""
    states = services.agent_states.snapshot() if services.agent_states is not None else None
    return [QueueOut.from_view(view, states) for view in services.queues.snapshot()]
