"""The chain of command: the places above an incident, the teams and operations centers at
them, and who may read or change an incident.

An incident goes first to the rapid-response team nearest its place, then up to the center
above whoever holds it: the district's, then the province's. The same tree says who may act:
the holding team, a center above the incident's place, or a supervisor. Dispatching,
escalating and people's actions ask here; nothing here writes.

``teams_up`` lists the active teams and centers at the places of a path, deepest place
first; ``nearest_team`` and ``next_center`` choose from that list without a database.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dispatch.places import ancestor_ids
from dispatch.ports import Actor, NotAllowed
from store.models import Call, Incident, IncidentEvent, Place, Team, TeamKind

__all__ = [
    "assigner_area",
    "center_above",
    "center_of",
    "check_may_acknowledge",
    "check_may_act",
    "check_may_read",
    "check_team_in_area",
    "first_team",
    "nearest_team",
    "next_center",
    "places_up",
    "teams_up",
]

# -- up the tree --------------------------------------------------------------------------------


async def places_up(session: AsyncSession, path: str) -> list[Place]:
    """The places of ``path``, deepest first."""
    rows = (await session.scalars(select(Place).where(Place.id.in_(ancestor_ids(path))))).all()
    return sorted(rows, key=lambda p: -p.depth)


async def teams_up(session: AsyncSession, path: str) -> list[tuple[Team, Place]]:
    """Active teams and centers at the places of ``path``, deepest place first."""
    rows = (
        await session.execute(
            select(Team, Place)
            .join(Place, Team.place_id == Place.id)
            .where(Team.place_id.in_(ancestor_ids(path)), Team.active)
            .order_by(Place.depth.desc(), Team.id)
        )
    ).all()
    return [(team, place) for team, place in rows]


def nearest_team(teams: Sequence[tuple[Team, Place]]) -> Team | None:
    """The rapid-response team nearest the place; a center if no team is anywhere.

    ``teams`` as ``teams_up`` lists them, deepest place first.
    """
    for team, _ in teams:
        if team.kind == TeamKind.TEAM:
            return team
    return teams[0][0] if teams else None


def next_center(teams: Sequence[tuple[Team, Place]], holder_id: int | None) -> Team | None:
    """The center an incident held by ``holder_id`` goes to next: at or above a team's
    place, strictly above a center's; the deepest such center.

    ``teams`` as ``teams_up`` lists them for the incident's place, deepest place first.
    """
    holder = next((tp for tp in teams if tp[0].id == holder_id), None)
    for team, place in teams:
        if team.kind != TeamKind.CENTER or team.id == holder_id:
            continue
        if holder is None:
            return team
        holder_team, holder_place = holder
        if holder_team.kind == TeamKind.TEAM and place.depth <= holder_place.depth:
            return team
        if holder_team.kind == TeamKind.CENTER and place.depth < holder_place.depth:
            return team
    return None


async def first_team(session: AsyncSession, place: Place) -> Team | None:
    """The team a new incident at ``place`` is dispatched to (``nearest_team``)."""
    return nearest_team(await teams_up(session, place.path))


async def center_above(session: AsyncSession, incident: Incident) -> Team | None:
    """The center the incident goes to next (``next_center``), or None at the top."""
    return next_center(await teams_up(session, incident.place_path), incident.team_id)


async def center_of(session: AsyncSession, actor: Actor) -> Team | None:
    """The operations center ``actor`` acts for, if it acts for one."""
    if actor.team_id is None:
        return None
    team = await session.get(Team, actor.team_id)
    return team if team is not None and team.kind == TeamKind.CENTER else None


# -- who may ------------------------------------------------------------------------------------


async def check_may_read(session: AsyncSession, incident: Incident, reader: Actor | None) -> None:
    """A team user reads the incidents its team holds or held first, and those under its
    team's place; an agent those about a call they took (the first or a linked one: callers'
    numbers, addresses and notes are not every agent's to read); supervisors, admins (and
    the service itself, ``None``) read every incident."""
    if reader is not None and reader.role == "agent":
        if reader.agent_id is not None and await _about_a_call_of(
            session, incident, reader.agent_id
        ):
            return
        raise NotAllowed(f"incident {incident.id} is about no call you took")
    if reader is None or reader.role != "team":
        return
    if reader.team_id is not None and reader.team_id in (
        incident.team_id,
        incident.first_team_id,
    ):
        return
    team = await session.get(Team, reader.team_id) if reader.team_id else None
    place = await session.get(Place, team.place_id) if team else None
    if place is None or not incident.place_path.startswith(place.path):
        raise NotAllowed(f"incident {incident.id} is neither your team's nor under its place")


async def _about_a_call_of(session: AsyncSession, incident: Incident, agent_id: int) -> bool:
    own = select(Call.id).where(Call.agent_id == agent_id)
    if incident.call_id is not None and await session.scalar(
        own.where(Call.id == incident.call_id)
    ):
        return True
    linked = await session.scalar(
        select(IncidentEvent.id)
        .where(IncidentEvent.incident_id == incident.id, IncidentEvent.call_id.in_(own))
        .limit(1)
    )
    return linked is not None


def check_may_acknowledge(incident: Incident, actor: Actor) -> None:
    """The team holding the incident acknowledges it, or a supervisor records that it did."""
    if not actor.privileged and (actor.team_id is None or actor.team_id != incident.team_id):
        holder = f"team {incident.team_id}" if incident.team_id else "no team"
        raise NotAllowed(
            f"incident {incident.id} is held by {holder}; only that team "
            "(or a supervisor) can acknowledge it"
        )


async def check_may_act(session: AsyncSession, incident: Incident, actor: Actor) -> None:
    """The holder team, a center above the place, or a supervisor."""
    if actor.privileged:
        return
    if actor.team_id is not None and actor.team_id == incident.team_id:
        return
    center = await center_of(session, actor)
    if center is not None:
        place = await session.get(Place, center.place_id)
        if place is not None and incident.place_path.startswith(place.path):
            return
    raise NotAllowed(
        f"incident {incident.id} is not held by your team; only its team, a center "
        "above it or a supervisor can change it"
    )


async def assigner_area(session: AsyncSession, incident: Incident, actor: Actor) -> Place | None:
    """The place under which ``actor`` may re-assign the incident: its center's, which must
    be above the incident's place. None for a supervisor, who may re-assign anywhere."""
    if actor.privileged:
        return None
    center = await center_of(session, actor)
    area = await session.get(Place, center.place_id) if center else None
    if area is None or not incident.place_path.startswith(area.path):
        raise NotAllowed(
            "only an operations center above the incident's place (or a "
            "supervisor) can re-assign it"
        )
    return area


async def check_team_in_area(session: AsyncSession, team: Team, area: Place) -> None:
    """A center re-assigns only to a team under its own place."""
    team_place = await session.get(Place, team.place_id)
    if team_place is None or not team_place.path.startswith(area.path):
        raise NotAllowed(f"team {team.id} is not under your center")
