"""``/reports`` (supervisors, admins): a range and an interval give plots and tables of the
statistics and monitoring routes, each table with its CSV and XLSX download (the same routes
with ``?format=``), and the whole report as one workbook (``GET /reports/export``).

The page holds no figures of its own: its script (``web/static/js/reports.js``) reads the
REST routes with the session cookie and draws the plots as SVG."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dispatch.monitoring import CATEGORY_LABELS
from store.categories import Category
from store.models import Role
from web.kit import PageKit

__all__ = ["router"]

ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})


def router(kit: PageKit) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/reports", response_class=HTMLResponse)
    async def reports(request: Request) -> Response:
        signed = await kit.require(request, "/reports", ROLES, "Báo cáo")
        if isinstance(signed, Response):
            return signed
        user, csrf = signed
        return kit.page(
            request,
            "reports.html",
            # Pairs, not an object: tojson sorts an object's keys, the plots keep this order.
            {"user": user, "categories": [(c.value, CATEGORY_LABELS[c]) for c in Category]},
            csrf=csrf,
        )

    return pages
