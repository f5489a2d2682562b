"""``/wallboard``: the supervisor's wallboard (supervisors and admins).

The page loads ``GET /wallboard/data`` once, then follows ``GET /events``: queues, agents and
incidents as they change, and the figures of the day as the service publishes them
(``figures``). ``?wall=1`` is the large layout for a screen on the wall (1920×1080).

Issue 15: per agent on a call, "Nghe" / "Nhắc" / "Chen" ring the supervisor's phone (one of
the coaching service's ``sup01``…, chosen on the page) into the call (``POST /monitor``);
the active session's mode can change (``PATCH``) or end (``DELETE``); the sessions follow
the stream's ``coaching`` messages. The recordings' disk line comes with the figures.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.routers.wallboard import wallboard_figures
from api.services import Services
from store.categories import Category
from store.models import Role
from web.kit import PageKit
from web.labels import LABELS

__all__ = ["PATH", "ROLES", "router"]

PATH = "/wallboard"
ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})


def supervisor_phones(services: Services) -> list[str]:
    """The endpoints a supervisor's phone may be (``sup01``…), from the coaching service."""
    return list(services.coaching.phones) if services.coaching is not None else []


def router(kit: PageKit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get(PATH, response_class=HTMLResponse)
    async def wallboard(request: Request, wall: bool = False) -> Response:
        signed = await kit.require(request, PATH, ROLES, "Bảng giám sát")
        if isinstance(signed, Response):
            return signed
        user, csrf = signed
        services: Services = request.app.state.services
        config = {
            "thresholds": wallboard_figures(services).thresholds.as_dict(),
            "pause_reasons": dict(services.agents.pause_reasons),
            # The rows' order (the labels' table is sorted by key once rendered).
            "categories": [c.value for c in Category],
            # The supervisors' phones; none where no coaching service runs, nor on the
            # wall's screen (no one clicks there): no controls then.
            "phones": [] if wall else supervisor_phones(services),
        }
        return kit.page(
            request,
            "wallboard.html",
            {
                "user": user,
                "wall": wall,
                "labels": LABELS,
                "config": config,
            },
            csrf=csrf,
        )

    return pages
