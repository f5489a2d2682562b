"""``/conferences``: the commander's conferences (issue 14, Contract E).

- ``/conferences``: the list (live) and the "Tạo hội nghị" form: a title, the points chosen
  by place (a province's commune teams, its district centers or district teams, one
  district's commune teams), by number, the leaders, recording, start now or later.
- ``/conferences/{id}``: one conference: the live roll per province → district → commune,
  the points (filtered by state), the raised hands, and the controls.

Who: supervisors and admins; a ``team`` user whose team is a **center** (for places under
its center's place, as ``POST /conferences`` checks). Others get the 403 page.

The same paths are the API's JSON routes (``GET /conferences``, ``GET /conferences/{id}``):
these pages answer only a browser's navigation (``web.routes.HtmlRoute``). The page carries
who is looking and the scope of its form; the data comes from the REST routes and the event
stream (its ``conference`` messages), which apply the same rules.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import get_services
from api.params import Id
from store.models import Place, Role, Team, TeamKind, User
from web.kit import PageKit
from web.routes import HtmlRoute

__all__ = ["PATH", "ROLES", "page_config", "router"]

PATH = "/conferences"
# The roles that may open the pages at all; a team user also needs a center (page_config).
ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value, Role.TEAM.value})
WHAT = "Hội nghị trực tuyến"


async def page_config(request: Request, user: User) -> dict[str, Any] | None:
    """Who is looking and the places its form may pick from: everything for supervisors
    and admins (``scope`` None), its center's place for a center's user; None for anyone
    else (a team user whose team is no center, or who has no team)."""
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        return {"role": user.role, "user_id": user.id, "scope": None, "team_name": None}
    if user.role != Role.TEAM or user.team_id is None:
        return None
    async with (await get_services(request)).db.session() as session:
        team = await session.get(Team, user.team_id)
        if team is None or team.kind != TeamKind.CENTER or not team.active:
            return None
        place = await session.get(Place, team.place_id)
        if place is None:
            return None
        scope = {"level": place.level, "code": place.code, "name": place.name}
        return {"role": user.role, "user_id": user.id, "scope": scope, "team_name": team.name}


def router(kit: PageKit) -> APIRouter:
    pages = APIRouter(include_in_schema=False, route_class=HtmlRoute)

    async def signed(request: Request, path: str) -> tuple[User, str, dict[str, Any]] | Response:
        checked = await kit.require(request, path, ROLES, WHAT)
        if isinstance(checked, Response):
            return checked
        user, csrf = checked
        config = await page_config(request, user)
        if config is None:
            return kit.forbidden(request, user, csrf, WHAT)
        return user, csrf, config

    @pages.get(PATH, response_class=HTMLResponse)
    async def conferences(request: Request) -> Response:
        checked = await signed(request, PATH)
        if isinstance(checked, Response):
            return checked
        user, csrf, config = checked
        return kit.page(request, "conferences.html", {"user": user, "config": config}, csrf=csrf)

    @pages.get(PATH + "/{conference_id}", response_class=HTMLResponse)
    async def conference(request: Request, conference_id: Id) -> Response:
        checked = await signed(request, f"{PATH}/{conference_id}")
        if isinstance(checked, Response):
            return checked
        user, csrf, config = checked
        # Whether it exists and this user may see it is the API's answer (404 for both),
        # which the page's script shows: the page itself says nothing about it.
        config = {**config, "conference_id": conference_id}
        return kit.page(request, "conference.html", {"user": user, "config": config}, csrf=csrf)

    return pages
