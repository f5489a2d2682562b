"""What every page module shares: templates, the signed-in check, the 403 page.

    kit = PageKit(templates)
    signed = await kit.require(request, "/wallboard", {"supervisor", "admin"}, "Bảng tổng hợp")
    if isinstance(signed, Response):
        return signed            # to /login, or the 403 page
    user, csrf = signed
    return kit.page(request, "wallboard.html", {"user": user}, csrf=csrf)

Each page lives in its own module (``web/wallboard.py``, ``web/incidents.py``, ``web/reports.py``,
``web/admin.py``) with a ``router(kit) -> APIRouter``; ``web/pages.py`` includes them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import quote

from fastapi import Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.deps import get_services
from store.models import Role, Team, TeamKind, User
from web.session import page_user

__all__ = ["CENTER", "NAV", "ROLE_PAGES", "PageKit", "is_center", "role_page"]

# Where each role lands after signing in.
ROLE_PAGES = {
    Role.AGENT.value: "/console",
    Role.SUPERVISOR.value: "/wallboard",
    Role.ADMIN.value: "/wallboard",
    Role.TEAM.value: "/incidents",
    # Each page of issue 13 adds its roles here as it lands:
    # supervisor, admin -> /wallboard; team -> /incidents.
}
DEFAULT_PAGE = "/docs"
# Issue 14: not a role but what a team user is when its team is an operations center (it may
# call conferences); PageKit.require finds it out, the top bar shows its links.
CENTER = "center"

# The top bar's links: (path, Vietnamese label, roles that may open it).
NAV: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/console", "Bàn làm việc", frozenset({Role.AGENT.value})),
    ("/wallboard", "Bảng giám sát", frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})),
    ("/incidents", "Sự vụ", frozenset({Role.TEAM.value, Role.SUPERVISOR.value, Role.ADMIN.value})),
    # Each page of issue 13 adds its line here as it lands (wallboard, incidents, reports, admin).
    ("/reports", "Báo cáo", frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})),
    ("/admin", "Quản trị", frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})),
    # Issue 14: the commander's conferences; of the team users, only a center's (CENTER).
    ("/conferences", "Hội nghị", frozenset({Role.SUPERVISOR.value, Role.ADMIN.value, CENTER})),
    # Issue 15: calls and their recordings.
    ("/calls", "Cuộc gọi", frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})),
    ("/docs", "API", frozenset(r.value for r in Role)),
)


def role_page(role: str) -> str:
    return ROLE_PAGES.get(role, DEFAULT_PAGE)


def nav_for(role: str, *, center: bool = False) -> list[tuple[str, str]]:
    mine = {role, CENTER} if center else {role}
    return [(path, label) for path, label, roles in NAV if mine & roles]


async def is_center(request: Request, user: User) -> bool:
    """True for a team user whose team is an active operations center (issue 14)."""
    if user.role != Role.TEAM.value or user.team_id is None:
        return False
    async with (await get_services(request)).db.session() as session:
        team = await session.get(Team, user.team_id)
    return team is not None and team.active and team.kind == TeamKind.CENTER


class PageKit:
    def __init__(self, templates: Jinja2Templates) -> None:
        self.templates = templates

    def page(
        self,
        request: Request,
        name: str,
        context: dict[str, Any],
        *,
        csrf: str = "",
        status_code: int = status.HTTP_200_OK,
    ) -> HTMLResponse:
        user = context.get("user")
        center = bool(getattr(request.state, "center", False))
        nav = nav_for(user.role, center=center) if isinstance(user, User) else []
        response = self.templates.TemplateResponse(
            request,
            name,
            {"csrf_token": csrf, "nav": nav, "current": request.url.path, **context},
            status_code=status_code,
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def to_login(next_path: str) -> RedirectResponse:
        return RedirectResponse(
            f"/login?next={quote(next_path, safe='/')}", status.HTTP_303_SEE_OTHER
        )

    def forbidden(self, request: Request, user: User, csrf: str, what: str) -> HTMLResponse:
        return self.page(
            request,
            "forbidden.html",
            {"user": user, "what": what, "home": role_page(user.role)},
            csrf=csrf,
            status_code=status.HTTP_403_FORBIDDEN,
        )

    async def require(
        self, request: Request, path: str, roles: Collection[str], what: str
    ) -> tuple[User, str] | Response:
        """The signed-in user and their CSRF token if their role is in ``roles``; else the
        response to send (a redirect to ``/login?next=path``, or the 403 page)."""
        signed_in = await page_user(request)
        if signed_in is None:
            return self.to_login(path)
        user, csrf = signed_in
        request.state.center = await is_center(request, user)
        if user.role not in roles:
            return self.forbidden(request, user, csrf, what)
        return user, csrf
