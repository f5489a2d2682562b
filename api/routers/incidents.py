"""Call outcomes (``/calls/{id}/outcome``) and incidents: their history and their lifecycle.

An agent records what a call was about; an incident is dispatched to the team of its commune
and moves on as the team acknowledges it, goes, arrives and resolves it. See
``dispatch/lifecycle.py`` for the rules and ``dispatch/escalation.py`` for escalation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AUTH_RESPONSES, ServicesDep, require_roles
from api.params import Code, Id
from api.schemas import ErrorOut
from dispatch.incidents import IncidentService, IncidentView, OfferedActions
from dispatch.lifecycle import STATUS_LABELS
from dispatch.outcomes import (
    CallNotFound,
    InvalidOutcome,
    OutcomeConflict,
    OutcomeRequest,
    OutcomeService,
)
from dispatch.ports import (
    Actor,
    DispatchError,
    IncidentNotFound,
    LifecycleError,
    NotAllowed,
    UnknownPlace,
)
from store.categories import Category
from store.models import (
    CallOutcome,
    Disposition,
    Incident,
    IncidentStatus,
    Role,
    Urgency,
    User,
)

__all__ = ["actor_of", "router"]

router = APIRouter(tags=["incidents"], responses=AUTH_RESPONSES)

Staff = Annotated[
    User,
    Depends(require_roles(Role.AGENT, Role.SUPERVISOR, Role.ADMIN, action="record call outcomes")),
]
Responder = Annotated[
    User,
    Depends(
        require_roles(Role.TEAM, Role.SUPERVISOR, Role.ADMIN, action="change incidents"),
    ),
]
Reader = Annotated[
    User,
    Depends(
        require_roles(Role.AGENT, Role.TEAM, Role.SUPERVISOR, Role.ADMIN, action="read incidents")
    ),
]
CallId = Annotated[Id, Path(description="Call id (see GET /calls)")]
IncidentId = Annotated[Id, Path(description="Incident id")]

ERRORS: dict[int | str, dict[str, object]] = {
    status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such call or incident"},
    status.HTTP_409_CONFLICT: {
        "model": ErrorOut,
        "description": "Not allowed from where it is now, or already recorded",
    },
    status.HTTP_422_UNPROCESSABLE_CONTENT: {"model": ErrorOut, "description": "Invalid input"},
    status.HTTP_503_SERVICE_UNAVAILABLE: {
        "model": ErrorOut,
        "description": "No dispatch service runs here",
    },
}


def actor_of(user: User) -> Actor:
    return Actor(
        f"user:{user.name}",
        role=user.role,
        team_id=user.team_id,
        agent_id=user.agent_id,
        user_id=user.id,
    )


def _http(exc: DispatchError) -> HTTPException:
    if isinstance(exc, IncidentNotFound | CallNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, NotAllowed):
        return HTTPException(status.HTTP_403_FORBIDDEN, str(exc))
    if isinstance(exc, InvalidOutcome | UnknownPlace):
        return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    if isinstance(exc, LifecycleError | OutcomeConflict):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))  # pragma: no cover


async def _incidents(services: ServicesDep) -> IncidentService:
    if services.incidents is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "No dispatch service runs here")
    return services.incidents


async def _outcomes(services: ServicesDep) -> OutcomeService:
    if services.outcomes is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "No dispatch service runs here")
    return services.outcomes


Incidents = Annotated[IncidentService, Depends(_incidents)]
Outcomes = Annotated[OutcomeService, Depends(_outcomes)]


# -- outcomes ---------------------------------------------------------------------------------


class OutcomeIn(BaseModel):
    """What the call was about. An incident needs a commune, a category and an urgency."""

    model_config = ConfigDict(extra="forbid")

    disposition: Disposition = Field(
        description="advice, information, incident, duplicate (of an open incident), "
        "wrong_number or prank"
    )
    notes: str = Field("", max_length=4000)
    address: str = Field(
        "", max_length=500, description="Street address; the commune is commune_code"
    )
    commune_code: Code | None = Field(
        None, description="The caller's commune-level unit (vietnam-provinces ward code)"
    )
    category: Category | None = Field(
        None, description="medical, food, violation or general; an incident's default: the call's"
    )
    urgency: Urgency | None = Field(None, description="critical, urgent or normal (incidents)")
    duplicate_of: Id | None = Field(None, description="The open incident this call is about")


class OutcomeOut(BaseModel):
    id: int
    call_id: int
    agent_id: int | None
    disposition: str = Field(
        description='As recorded; "duplicate" also when an incident was asked for but one '
        "was already open for the same caller or address (the call is linked to it)"
    )
    notes: str
    address: str
    place_id: int | None
    category: str | None
    urgency: str | None
    incident_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, outcome: CallOutcome) -> OutcomeOut:
        return cls(
            id=outcome.id,
            call_id=outcome.call_id,
            agent_id=outcome.agent_id,
            disposition=outcome.disposition,
            notes=outcome.notes,
            address=outcome.address,
            place_id=outcome.place_id,
            category=outcome.category,
            urgency=outcome.urgency,
            incident_id=outcome.incident_id,
            created_at=outcome.created_at,
        )


@router.post(
    "/calls/{call_id}/outcome",
    summary="Record a call's outcome (once)",
    status_code=status.HTTP_201_CREATED,
    responses={**ERRORS, status.HTTP_200_OK: {"description": "A replay: recorded before"}},
)
async def record_outcome(
    user: Staff,
    outcomes: Outcomes,
    call_id: CallId,
    body: OutcomeIn,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            max_length=200,
            description="Send the same key when retrying: the outcome is recorded once and "
            "the retry gets the first answer (200). Keys are per user.",
        ),
    ] = None,
) -> OutcomeOut:
    """Only the agent who took the call, or a supervisor, may record it; a call has one
    outcome. ``incident`` dispatches a new incident to the commune's team, unless one is
    open for the same caller, or the same address and category: then the call is linked to
    it (disposition ``duplicate``)."""
    request = OutcomeRequest(
        disposition=body.disposition.value,
        notes=body.notes,
        address=body.address,
        commune_code=body.commune_code,
        category=body.category.value if body.category else None,
        urgency=body.urgency.value if body.urgency else None,
        duplicate_of=body.duplicate_of,
    )
    try:
        outcome, replayed = await outcomes.record(
            call_id, request, actor_of(user), idempotency_key=idempotency_key
        )
    except NotAllowed:
        # Another agent's call answers as one that does not exist (api/deps.py).
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no call {call_id}") from None
    except DispatchError as exc:
        raise _http(exc) from None
    if replayed:
        response.status_code = status.HTTP_200_OK
    return OutcomeOut.of(outcome)


@router.get("/calls/{call_id}/outcome", summary="A call's outcome", responses=ERRORS)
async def get_outcome(user: Staff, outcomes: Outcomes, call_id: CallId) -> OutcomeOut:
    outcome = await outcomes.get(call_id)
    if outcome is None or (user.role == Role.AGENT and outcome.agent_id != user.agent_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Call {call_id} has no outcome")
    return OutcomeOut.of(outcome)


# -- incidents --------------------------------------------------------------------------------


class IncidentEventOut(BaseModel):
    at: datetime
    kind: str = Field(
        description="created, dispatched, assigned, escalated, escalation_exhausted, "
        "unassigned, status, phone, linked"
    )
    from_status: str | None
    to_status: str | None
    team_id: int | None
    actor: str = Field(description='"user:<name>", "phone:<endpoint or number>" or "system"')
    reason: str
    call_id: int | None


class IncidentOut(BaseModel):
    id: int
    status: str
    status_label: str = Field(description="The status in Vietnamese")
    category: str
    urgency: str
    caller_number: str
    address: str
    notes: str
    place_id: int
    place_names: list[str] = Field(description="Commune, district, province")
    team_id: int | None
    team_name: str | None
    escalation: int = Field(description="Levels it went up from its first team")
    call_id: int | None
    linked_calls: int = Field(description="Other calls about this incident")
    created_at: datetime
    dispatched_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    ack_due_at: datetime | None = Field(description="Deadline for the team to acknowledge")
    call_attempts: int = Field(description="Calls to the current team's phone so far")
    events: list[IncidentEventOut]

    @classmethod
    def of(cls, view: IncidentView) -> IncidentOut:
        i = view.incident
        return cls(
            id=i.id,
            status=i.status,
            status_label=STATUS_LABELS.get(i.status, i.status),
            category=i.category,
            urgency=i.urgency,
            caller_number=i.caller_number,
            address=i.address,
            notes=i.notes,
            place_id=i.place_id,
            place_names=list(view.place_names),
            team_id=i.team_id,
            team_name=view.team_name,
            escalation=i.escalation,
            call_id=i.call_id,
            linked_calls=view.linked_calls,
            created_at=i.created_at,
            dispatched_at=i.dispatched_at,
            acknowledged_at=i.acknowledged_at,
            resolved_at=i.resolved_at,
            closed_at=i.closed_at,
            ack_due_at=i.ack_due_at,
            call_attempts=i.call_attempts,
            events=[
                IncidentEventOut(
                    at=e.at,
                    kind=e.kind,
                    from_status=e.from_status,
                    to_status=e.to_status,
                    team_id=e.team_id,
                    actor=e.actor,
                    reason=e.reason,
                    call_id=e.call_id,
                )
                for e in view.events
            ],
        )


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", max_length=1000)


class TransitionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: IncidentStatus = Field(description="en_route, on_scene, resolved or cancelled")
    reason: str = Field(
        "", max_length=1000, description="Needed to cancel, and to skip a step forward"
    )


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team_id: Id
    reason: str = Field("", max_length=1000)


async def _changed(
    incidents: IncidentService,
    incident_id: int,
    actor: Actor,
    change: Callable[[], Awaitable[Incident]],
) -> IncidentOut:
    """Make the change, answer with the incident as it is now; domain refusals as 4xx."""
    try:
        await change()
        return IncidentOut.of(await incidents.get(incident_id))
    except NotAllowed as exc:
        # May it even read it? If not, it answers as one that does not exist (api/deps.py).
        try:
            await incidents.get(incident_id, actor)
        except NotAllowed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}") from None
        raise _http(exc) from None
    except DispatchError as exc:
        raise _http(exc) from None


@router.get("/incidents/{incident_id}", summary="An incident and its history", responses=ERRORS)
async def get_incident(user: Reader, incidents: Incidents, incident_id: IncidentId) -> IncidentOut:
    """A team user sees the incidents it holds (or held first) and those under its place."""
    try:
        return IncidentOut.of(await incidents.get(incident_id, actor_of(user)))
    except NotAllowed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}") from None
    except DispatchError as exc:
        raise _http(exc) from None


@router.post(
    "/incidents/{incident_id}/acknowledge",
    summary="The team takes the incident",
    responses=ERRORS,
)
async def acknowledge(
    user: Responder, incidents: Incidents, incident_id: IncidentId, body: AcknowledgeIn
) -> IncidentOut:
    """Only a user of the team that holds it (or a supervisor) may; stops its escalation."""
    return await _changed(
        incidents,
        incident_id,
        actor_of(user),
        lambda: incidents.acknowledge(incident_id, actor_of(user), body.reason),
    )


@router.post(
    "/incidents/{incident_id}/transitions",
    summary="Move an incident on, or cancel it",
    responses=ERRORS,
)
async def transition(
    user: Responder, incidents: Incidents, incident_id: IncidentId, body: TransitionIn
) -> IncidentOut:
    """new → dispatched → acknowledged → en_route → on_scene → resolved, or cancelled.
    Skipping a step, and cancelling, need a reason; nothing goes back. The team holding
    it, a center above its place, or a supervisor may."""
    return await _changed(
        incidents,
        incident_id,
        actor_of(user),
        lambda: incidents.transition(incident_id, body.status.value, actor_of(user), body.reason),
    )


@router.post(
    "/incidents/{incident_id}/assign",
    summary="Re-assign an incident to another team",
    responses=ERRORS,
)
async def assign(
    user: Responder, incidents: Incidents, incident_id: IncidentId, body: AssignIn
) -> IncidentOut:
    """An operations center above the incident's place (to a team under it), or a
    supervisor. The new team gets a fresh deadline and its phone is called."""
    return await _changed(
        incidents,
        incident_id,
        actor_of(user),
        lambda: incidents.assign(incident_id, body.team_id, actor_of(user), body.reason),
    )


class MoveOut(BaseModel):
    status: str = Field(description="A status POST /incidents/{id}/transitions accepts now")
    label: str = Field(description="The status in Vietnamese")
    needs_reason: bool = Field(description="Cancelling, or skipping a step: give a reason")


class AssignableTeamOut(BaseModel):
    id: int
    name: str
    kind: str = Field(description="center or team")
    place_id: int
    place_name: str


class IncidentActionsOut(BaseModel):
    incident_id: int
    status: str
    acknowledge: bool = Field(description="POST /incidents/{id}/acknowledge is allowed")
    transitions: list[MoveOut]
    assign_to: list[AssignableTeamOut] = Field(
        description="Teams POST /incidents/{id}/assign accepts (empty: no re-assigning)"
    )

    @classmethod
    def of(cls, incident_id: int, offered: OfferedActions) -> IncidentActionsOut:
        return cls(
            incident_id=incident_id,
            status=offered.status,
            acknowledge=offered.acknowledge,
            transitions=[
                MoveOut(status=s, label=STATUS_LABELS.get(s, s), needs_reason=r)
                for s, r in offered.moves
            ],
            assign_to=[
                AssignableTeamOut(
                    id=t.id, name=t.name, kind=t.kind, place_id=p.id, place_name=p.name
                )
                for t, p in offered.assign_to
            ],
        )


@router.get(
    "/incidents/{incident_id}/actions",
    summary="What the asking user may do to an incident now",
    responses=ERRORS,
)
async def incident_actions(
    user: Reader, incidents: Incidents, incident_id: IncidentId
) -> IncidentActionsOut:
    """By the rules the three routes that change an incident apply: the acknowledgment (its
    holder, or a supervisor, while it is dispatched), the transitions from where it is (the
    holder, a center above its place, or a supervisor; cancelling and skipping a step need a
    reason) and the teams it may be re-assigned to (a center: teams under its place; a
    supervisor: any active team; until a team sets off). Agents read no actions.

    **Tiếng Việt:** các thao tác người dùng được phép làm với sự vụ lúc này."""
    actor = actor_of(user)
    try:
        offered = await incidents.actions(incident_id, actor)
    except NotAllowed:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}") from None
    except DispatchError as exc:
        raise _http(exc) from None
    if user.role == Role.AGENT:
        offered = OfferedActions(offered.status, False, [], [])
    return IncidentActionsOut.of(incident_id, offered)
