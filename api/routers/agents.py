"""``/agents``: who the agents are and logging them in and out of their queues."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, agent_scope, require_roles
from api.schemas import AgentOut, ErrorOut
from queues.ports import AgentNotFound, PbxUnavailable
from store.agents import get_agent, list_agents
from store.models import Role, User

__all__ = ["router"]

router = APIRouter(prefix="/agents", tags=["agents"], responses=AUTH_RESPONSES)

AgentReader = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="read the agents")),
]
AgentSwitcher = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="log agents in or out")),
]
AgentId = Annotated[int, Path(description="Agent id (see GET /agents)")]

SWITCH_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such agent"},
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "Asterisk did not answer; nothing was changed",
    },
}


@router.get("", summary="List agents")
async def agents(user: AgentReader, session: SessionDep) -> list[AgentOut]:
    """Every agent with their login state; an agent sees only themself."""
    return [AgentOut.from_agent(a) for a in await list_agents(session, agent_id=agent_scope(user))]


async def _switch(
    user: User, services: ServicesDep, session: SessionDep, agent_id: int, *, login: bool
) -> AgentOut:
    verb = "log in" if login else "log out"
    scope = agent_scope(user)
    if scope is not None and scope != agent_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"An agent may {verb} only as themself")
    try:
        if login:
            await services.agents.login(agent_id)
        else:
            await services.agents.logout(agent_id)
    except AgentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Agent {agent_id} not found") from None
    except PbxUnavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Asterisk did not answer; the agent was not logged {'in' if login else 'out'}",
        ) from None
    # Read after the PBX call: AgentControl records the new state itself.
    agent = await get_agent(session, agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Agent {agent_id} not found")
    return AgentOut.from_agent(agent)


@router.post("/{agent_id}/login", summary="Log an agent in", responses=SWITCH_RESPONSES)
async def login(
    user: AgentSwitcher, services: ServicesDep, session: SessionDep, agent_id: AgentId
) -> AgentOut:
    """Adds the agent's endpoint to their queues and returns the agent's state after.
    An agent may log in only as themself."""
    return await _switch(user, services, session, agent_id, login=True)


@router.post("/{agent_id}/logout", summary="Log an agent out", responses=SWITCH_RESPONSES)
async def logout(
    user: AgentSwitcher, services: ServicesDep, session: SessionDep, agent_id: AgentId
) -> AgentOut:
    """Removes the agent's endpoint from their queues and returns the agent's state after.
    An agent may log out only as themself."""
    return await _switch(user, services, session, agent_id, login=False)
