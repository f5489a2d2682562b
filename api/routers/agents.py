"""``/agents``: who the agents are, what they can take, what they are doing; login, logout,
pause and unpause. ``/routing``: the routing policy as a supervisor reads it."""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge, Le
from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api.deps import AUTH_RESPONSES, ServicesDep, SessionDep, agent_scope, require_roles
from api.errors import explained_pattern
from api.params import Code, Id
from api.schemas import AgentOut, ErrorOut
from api.services import Services
from queues.ports import AgentNotFound, AgentStateError, PbxUnavailable, UnknownPauseReason
from queues.routing import MAX_PROFICIENCY, normalise_skill
from store.agents import create_agent, get_agent, list_agents, set_skills
from store.models import Agent, Role, User

__all__ = ["router", "routing_router"]

router = APIRouter(prefix="/agents", tags=["agents"], responses=AUTH_RESPONSES)
routing_router = APIRouter(tags=["agents"], responses=AUTH_RESPONSES)

AgentReader = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="read the agents")),
]
AgentSwitcher = Annotated[
    User,
    Depends(
        require_roles(
            Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="log in, out, pause or unpause agents"
        )
    ),
]
AgentEditor = Annotated[
    User, Depends(require_roles(Role.SUPERVISOR, Role.ADMIN, action="create or edit agents"))
]
AgentId = Annotated[Id, Path(description="Agent id (see GET /agents)")]

SWITCH_RESPONSES: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such agent"},
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "Not possible in the agent's state (e.g. pausing a logged-out agent)",
    },
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "Asterisk did not answer; nothing was changed",
    },
}
ENDPOINT_PATTERN = explained_pattern(
    r"^[a-z][a-z0-9_-]{1,39}$",
    "an endpoint must be 2 to 40 of a-z, 0-9, '_' or '-', starting with a letter",
)
# The categories and their aliases (queues.routing.SKILL_ALIASES), as the document lists them.
SkillName = Literal["medical", "food", "aid", "violation", "general", "information", "info"]
Proficiency = Annotated[int, Ge(1), Le(MAX_PROFICIENCY)]


def _skills(value: dict[SkillName, Proficiency] | None) -> dict[str, int] | None:
    if value is None:
        return None
    out: dict[str, int] = {}
    for name, level in value.items():
        key = normalise_skill(name)
        if not 1 <= level <= MAX_PROFICIENCY:
            raise ValueError(f"proficiency of {name!r} must be 1..{MAX_PROFICIENCY}, not {level}")
        out[key] = level
    return out


SKILLS_DOC = (
    "Category -> proficiency 1 (can) .. 5 (expert). Categories: medical, food (alias aid),"
    " violation, general (alias information). A category left out is not a skill: the agent"
    " takes those callers only once the window has widened to anyone."
)


class AgentCreate(BaseModel):
    endpoint: str = Field(
        pattern=ENDPOINT_PATTERN,
        description="The agent's PJSIP endpoint, e.g. agent21: 2-40 of a-z, 0-9, '_' or '-',"
        " starting with a letter",
    )
    name: str = Field(min_length=1, max_length=200)
    home_district: Code | None = Field(None, description="District-level unit code, e.g. 718")
    skills: dict[SkillName, Proficiency] = Field(default_factory=dict, description=SKILLS_DOC)

    @field_validator("skills")
    @classmethod
    def _check_skills(cls, v: dict[SkillName, Proficiency]) -> dict[str, int]:
        return _skills(v) or {}


class AgentPatch(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    home_district: Code | None = Field(None, description="Set; see also clear_home_district")
    clear_home_district: bool = Field(False, description="True: no home district (the pool)")
    skills: dict[SkillName, Proficiency] | None = Field(
        None, description=SKILLS_DOC + " Replaces them all."
    )
    active: bool | None = Field(None, description="False: may not log in")

    @field_validator("skills")
    @classmethod
    def _check_skills(cls, v: dict[SkillName, Proficiency] | None) -> dict[str, int] | None:
        return _skills(v)


class PauseIn(BaseModel):
    reason: str = Field(max_length=50, description="One of GET /agents/pause-reasons")


def _check_district(services: Services, code: int | None) -> None:
    if code is not None and code not in services.routing.districts:
        known = ", ".join(str(d) for d in services.routing.districts) or "none configured"
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"unknown home district {code} (known: {known})",
        )


def _out(services: Services, agent: Agent) -> AgentOut:
    live = None
    if services.agent_states is not None:
        live = services.agent_states.snapshot().get(agent.endpoint)
    return AgentOut.from_agent(agent, live)


@router.get("", summary="List agents with their skills and live state")
async def agents(user: AgentReader, services: ServicesDep, session: SessionDep) -> list[AgentOut]:
    """Every agent with skills, home district, login and pause, and live state (from AMI:
    logged_out, idle, ringing, on_call, wrapup, paused with its reason and since when).
    An agent sees only themself."""
    rows = await list_agents(session, agent_id=agent_scope(user))
    return [_out(services, a) for a in rows]


@router.get("/pause-reasons", summary="The pause reasons an agent may give")
async def pause_reasons(user: AgentReader, services: ServicesDep) -> dict[str, str]:
    """Code -> what the supervisor reads (configured with ``HOTLINE_PAUSE_REASONS``)."""
    return services.agents.pause_reasons


@router.post(
    "",
    summary="Create an agent",
    status_code=status.HTTP_201_CREATED,
    responses={status.HTTP_409_CONFLICT: {"model": ErrorOut, "description": "Endpoint taken"}},
)
async def create(
    body: AgentCreate, user: AgentEditor, services: ServicesDep, session: SessionDep
) -> AgentOut:
    """A new agent on ``endpoint``. The endpoint must also exist in Asterisk's PJSIP
    configuration (``HOTLINE_AGENT_COUNT`` provisions agent01..NN) for their phone to ring."""
    _check_district(services, body.home_district)
    if await session.scalar(select(Agent.id).where(Agent.endpoint == body.endpoint)):
        raise HTTPException(status.HTTP_409_CONFLICT, f"endpoint {body.endpoint!r} is taken")
    agent = await create_agent(
        session,
        endpoint=body.endpoint,
        name=body.name,
        home_district=body.home_district,
        skills={str(k): v for k, v in body.skills.items()},  # normalised by the model
    )
    try:
        await session.commit()
    except IntegrityError:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"endpoint {body.endpoint!r} is taken"
        ) from None
    fresh = await get_agent(session, agent.id)
    assert fresh is not None
    return _out(services, fresh)


@router.patch(
    "/{agent_id}",
    summary="Edit an agent (skills take effect at once)",
    responses=SWITCH_RESPONSES,
)
async def edit(
    body: AgentPatch,
    user: AgentEditor,
    services: ServicesDep,
    session: SessionDep,
    agent_id: AgentId,
) -> AgentOut:
    """Name, home district, skills, active. A logged-in agent's queue penalties follow new
    skills or a new home district at once (AMI ``QueuePenalty``): nothing restarts."""
    agent = await get_agent(session, agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Agent {agent_id} not found")
    routing_changed = False
    if body.name is not None:
        agent.name = body.name
    if body.clear_home_district:
        routing_changed |= agent.home_district is not None
        agent.home_district = None
    elif body.home_district is not None:
        _check_district(services, body.home_district)
        routing_changed |= agent.home_district != body.home_district
        agent.home_district = body.home_district
    if body.skills is not None:
        set_skills(agent, {str(k): v for k, v in body.skills.items()})
        routing_changed = True
    if body.active is not None:
        agent.active = body.active
    await session.commit()
    if routing_changed:
        try:
            await services.agents.apply_skills(agent_id)
        except PbxUnavailable:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "Saved, but Asterisk did not answer: the agent's queues follow the new skills"
                " at their next login or when this request is repeated",
            ) from None
    fresh = await get_agent(session, agent_id)
    assert fresh is not None
    return _out(services, fresh)


async def _switch(
    user: User,
    services: ServicesDep,
    session: SessionDep,
    agent_id: int,
    action: str,
    reason: str = "",
) -> AgentOut:
    scope = agent_scope(user)
    if scope is not None and scope != agent_id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"An agent may {action} only as themself")
    by = f"user {user.name}"  # the phone's feature codes say "phone" (queues.agent_phone)
    try:
        if action == "log in":
            await services.agents.login(agent_id, by=by)
        elif action == "log out":
            await services.agents.logout(agent_id, by=by)
        elif action == "pause":
            await services.agents.pause(agent_id, reason, by=by)
        else:
            await services.agents.unpause(agent_id, by=by)
    except AgentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Agent {agent_id} not found") from None
    except UnknownPauseReason as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    except AgentStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except PbxUnavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"Asterisk did not answer; could not {action} the agent",
        ) from None
    # Read after the PBX call: AgentControl records the new state itself.
    agent = await get_agent(session, agent_id)
    if agent is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Agent {agent_id} not found")
    return _out(services, agent)


@router.post("/{agent_id}/login", summary="Log an agent in", responses=SWITCH_RESPONSES)
async def login(
    user: AgentSwitcher, services: ServicesDep, session: SessionDep, agent_id: AgentId
) -> AgentOut:
    """Adds the agent's endpoint to every queue at the penalties of their skills.
    An agent may log in only as themself."""
    return await _switch(user, services, session, agent_id, "log in")


@router.post("/{agent_id}/logout", summary="Log an agent out", responses=SWITCH_RESPONSES)
async def logout(
    user: AgentSwitcher, services: ServicesDep, session: SessionDep, agent_id: AgentId
) -> AgentOut:
    """Removes the agent's endpoint from every queue. An agent may log out only as themself."""
    return await _switch(user, services, session, agent_id, "log out")


@router.post(
    "/{agent_id}/pause", summary="Pause an agent, with a reason", responses=SWITCH_RESPONSES
)
async def pause(
    body: PauseIn,
    user: AgentSwitcher,
    services: ServicesDep,
    session: SessionDep,
    agent_id: AgentId,
) -> AgentOut:
    """No call is offered to a paused agent; a call in progress goes on. The reason is one
    of ``GET /agents/pause-reasons`` and shows in the state and in the statistics."""
    return await _switch(user, services, session, agent_id, "pause", body.reason)


@router.post("/{agent_id}/unpause", summary="Unpause an agent", responses=SWITCH_RESPONSES)
async def unpause(
    user: AgentSwitcher, services: ServicesDep, session: SessionDep, agent_id: AgentId
) -> AgentOut:
    return await _switch(user, services, session, agent_id, "unpause")


RoutingReader = Annotated[
    User,
    Depends(
        require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="read the routing policy")
    ),
]


@routing_router.get("/routing", summary="The routing policy (Chính sách phân phối cuộc gọi)")
async def routing(user: RoutingReader, services: ServicesDep) -> dict[str, object]:
    """Which queue each caller waits in, the penalty each agent has in it, how the window
    widens as the caller waits, and the order of callers — as configured now."""
    return services.routing.policy_table(services.district_names)
