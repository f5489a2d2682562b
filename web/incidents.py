"""``/incidents``: the incident board of the operations centers, teams and supervisors.

Open incidents, overdue first, filtered by district, commune, category, urgency and status
(kept in the page's query string); an incident's history and what the user may do to it
(``GET /incidents/{id}``, ``/incidents/{id}/actions``); the counts per district
(``GET /monitoring/summary``). Live from ``GET /events`` (its ``incident`` messages).

Who: supervisors and admins see everything; a ``team`` user sees what ``/monitoring`` lets
it see (under its team's place, and what its team holds elsewhere); agents get the 403
page. The page carries only the labels and the places of its filters: the data comes from
the REST routes and the event stream, which apply the same scoping.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import aliased

from api.deps import get_services
from dispatch.filters import OPEN_STATUSES, team_place
from dispatch.lifecycle import STATUS_LABELS
from dispatch.monitoring import CATEGORY_LABELS, URGENCY_LABELS
from dispatch.places import under
from store.models import Place, Role, Team, User
from web.kit import PageKit

__all__ = ["BOARD_ROLES", "router"]

BOARD_ROLES = frozenset({Role.TEAM.value, Role.SUPERVISOR.value, Role.ADMIN.value})
WHAT = "Bảng điều hành sự vụ"


async def board_config(request: Request, user: User) -> dict[str, Any] | None:
    """What the page's script needs besides the REST routes: who is looking, the places its
    filters offer (districts and communes within what the user may see) and the labels.
    None for a ``team`` user without a team (who may see nothing)."""
    db = (await get_services(request)).db
    async with db.session() as session:
        scope: Place | None = None
        team: Team | None = None
        if user.role == Role.TEAM:
            if user.team_id is None:
                return None
            team = await session.get(Team, user.team_id)
            scope = await team_place(session, user.team_id)
            if team is None or scope is None:
                return None
        parent = aliased(Place)
        stmt = (
            select(Place.level, Place.code, Place.name, parent.code)
            .outerjoin(parent, parent.id == Place.parent_id)
            .where(Place.level.in_(("district", "commune")))
            .order_by(Place.code)
        )
        if scope is not None:
            stmt = stmt.where(under(Place.path, scope.path))
        rows = (await session.execute(stmt)).all()
    return {
        "role": user.role,
        "team_id": user.team_id,
        "team_name": team.name if team else None,
        "scope": {"code": scope.code, "name": scope.name, "level": scope.level}
        if scope is not None
        else None,
        "districts": [{"code": c, "name": n} for lv, c, n, _ in rows if lv == "district"],
        "communes": [
            {"code": c, "name": n, "district_code": p} for lv, c, n, p in rows if lv == "commune"
        ],
        "statuses": {s: STATUS_LABELS[s] for s in (*OPEN_STATUSES, "resolved", "cancelled")},
        "open_statuses": list(OPEN_STATUSES),
        "categories": dict(CATEGORY_LABELS),
        "urgencies": dict(URGENCY_LABELS),
    }


def router(kit: PageKit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/incidents", response_class=HTMLResponse)
    async def incident_board(request: Request) -> Response:
        signed = await kit.require(request, "/incidents", BOARD_ROLES, WHAT)
        if isinstance(signed, Response):
            return signed
        user, csrf = signed
        config = await board_config(request, user)
        if config is None:
            return kit.forbidden(request, user, csrf, WHAT)
        return kit.page(request, "incidents.html", {"user": user, "board": config}, csrf=csrf)

    return pages
