"""``/calls``: calls and their recordings, for supervisors and admins (issue 15).

- ``/calls``: a search over the recordings (``GET /recordings``) by day (yesterday and
  today unless chosen), category, number and agent; each row links to its call.
- ``/calls/{id}``: one call: its facts (``GET /calls/{id}``), its recordings
  (``GET /calls/{id}/recordings``) each with a player that streams
  ``/recordings/{rid}/audio`` (range requests; every listening is audited by the API),
  its digest checked against the chain (``GET /recordings/{rid}/verify``), the pauses of
  the recording, and the legal holds on the call (``/holds``).

The same paths are the API's JSON routes (``GET /calls``, ``GET /calls/{id}``): these pages
answer only a browser's navigation (``web.routes.HtmlRoute``). The page carries who is
looking and the labels; the data comes from the REST routes, which apply the same rules.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.params import Id
from store.categories import Category
from store.models import Role, User
from web.kit import PageKit
from web.labels import LABELS
from web.routes import HtmlRoute

__all__ = ["PATH", "ROLES", "router"]

PATH = "/calls"
ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
WHAT = "Cuộc gọi và bản ghi âm"


def page_config(user: User, **more: Any) -> dict[str, Any]:
    """What the scripts need to know about the viewer (the rules stay in the API)."""
    return {
        "role": user.role,
        "user_id": user.id,
        # Holds are placed and released by supervisors and admins (the API checks again).
        "may_hold": user.role in (Role.SUPERVISOR, Role.ADMIN),
        "categories": [c.value for c in Category],
        **more,
    }


def router(kit: PageKit) -> APIRouter:
    pages = APIRouter(include_in_schema=False, route_class=HtmlRoute)

    @pages.get(PATH, response_class=HTMLResponse)
    async def calls(request: Request) -> Response:
        signed = await kit.require(request, PATH, ROLES, WHAT)
        if isinstance(signed, Response):
            return signed
        user, csrf = signed
        config = page_config(user)
        context = {"user": user, "config": config, "labels": LABELS}
        return kit.page(request, "calls.html", context, csrf=csrf)

    @pages.get(PATH + "/{call_id}", response_class=HTMLResponse)
    async def call(request: Request, call_id: Id) -> Response:
        signed = await kit.require(request, f"{PATH}/{call_id}", ROLES, WHAT)
        if isinstance(signed, Response):
            return signed
        user, csrf = signed
        # Whether the call exists is the API's answer (404), which the page's script shows.
        config = page_config(user, call_id=call_id)
        context = {"user": user, "config": config, "labels": LABELS}
        return kit.page(request, "call.html", context, csrf=csrf)

    return pages
