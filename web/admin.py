"""``/admin``: managing the hotline without the command line (supervisors and admins).

Tabs for the agents (skills, home district, active), the users (create with a generated or
typed password, reset a password, deactivate: admins for every user, supervisors for agent and
team users only, the staff rows shown read-only), the teams (members and phones),
the information announcements (a draft is heard in the browser before it goes live; keep or
revert) and the pause reasons. The page holds no rule: every change is a REST call that the
API checks (``/agents``, ``/users``, ``/teams``, ``/ivr/announcements``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.routers.users import MANAGED_ROLES
from store.categories import Category
from store.models import Role
from web.kit import PageKit

__all__ = ["ROLES", "router"]

ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})

ROLE_LABELS = {
    Role.AGENT.value: "Tổng đài viên",
    Role.SUPERVISOR.value: "Giám sát viên",
    Role.TEAM.value: "Đội / trung tâm",
    Role.ADMIN.value: "Quản trị viên",
}


# Skills by category, as a column header reads them (the categories' own labels are what
# callers hear in the menu).
SKILL_LABELS = {
    Category.MEDICAL: "Y tế",
    Category.FOOD: "Lương thực",
    Category.VIOLATION: "Vi phạm",
    Category.GENERAL: "Chung",
}


def router(kit: PageKit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/admin", response_class=HTMLResponse)
    async def admin(request: Request) -> Response:
        signed = await kit.require(request, "/admin", ROLES, "Trang quản trị")
        if isinstance(signed, Response):
            return signed
        user, csrf = signed
        config = {
            "role": user.role,
            "user_id": user.id,
            "categories": [[c.value, SKILL_LABELS.get(c, c.label_vi)] for c in Category],
            "roles": list(ROLE_LABELS.items()),
            # The roles whose users this viewer may create and act on (the API's rule).
            "manages": [
                role
                for role in ROLE_LABELS
                if Role(role) in MANAGED_ROLES.get(Role(user.role), frozenset())
            ],
        }
        return kit.page(request, "admin.html", {"user": user, "config": config}, csrf=csrf)

    return pages
