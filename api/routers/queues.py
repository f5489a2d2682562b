"""``GET /queues``: what is waiting right now, from Asterisk's live queue state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic_core import to_json

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
async def list_queues(_user: QueueReader, services: ServicesDep) -> Response:
    """Every queue (see ``GET /routing`` for the layout) with its waiting callers, longest
    wait, logged-in agents and how many of them are in each state."""
    states = services.agent_states.snapshot() if services.agent_states is not None else None
    # The JSON FastAPI writes for ``response_model=list[QueueOut]`` (the model stays the
    # documented schema), from plain dicts and with pydantic's own serializer: building and
    # re-validating 40 models, then ``json.dumps``, were most of this route's own cost.
    answer = [queue_json(view, states) for view in services.queues.snapshot()]
    return Response(to_json(answer), media_type="application/json")
