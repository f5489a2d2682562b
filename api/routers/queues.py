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
    """Every queue with its waiting callers, longest wait and logged-in agents."""
    return [QueueOut.from_view(view) for view in services.queues.snapshot()]
