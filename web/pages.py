"""The pages: ``/login``, ``/console`` (agents), ``/`` and ``/docs`` from local Swagger UI.

    create_pages(app)   # after api.create_app(..., api_docs=False)

Pages read the session cookie themselves (``web/session.py``): no valid session sends the
visitor to ``/login?next=…``; a signed-in user whose role may not see a page gets a page that
says so in Vietnamese (403), never the JSON error of the API.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.deps import get_services
from store.categories import Category
from store.models import Role, User
from web import admin, calls, conferences, incidents, reports, wallboard
from web.assets import StaticAssets
from web.kit import PageKit, role_page
from web.labels import DISPOSITIONS, LABELS, URGENCIES
from web.routes import pages_first
from web.security import SecurityHeaders
from web.session import page_user

__all__ = ["create_pages", "role_page", "safe_next"]

# Each page module's ``router(kit)``; the issue-13 pages add themselves here.
PAGE_MODULES: list[Callable[[PageKit], APIRouter]] = [
    wallboard.router,
    incidents.router,
    reports.router,
    admin.router,
    conferences.router,  # issue 14
    calls.router,  # issue 15
]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a path on this site (``/console?x=1``), else None: never another
    host (``//evil.example``, ``https://…``, ``/\\evil``), never a control character."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def _templates(assets: StaticAssets) -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = assets.url
    return Jinja2Templates(env=env)


def create_pages(app: FastAPI) -> None:
    """Mount ``/static``, add the pages' routes and the security headers to ``app``."""
    assets = StaticAssets()
    templates = _templates(assets)
    router = APIRouter(include_in_schema=False)

    kit = PageKit(templates)
    page = kit.page
    to_login = kit.to_login

    def forbidden(request: Request, user: User, csrf: str, what: str) -> HTMLResponse:
        return kit.forbidden(request, user, csrf, what)

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> Response:
        signed_in = await page_user(request)
        if signed_in is None:
            return RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
        return RedirectResponse(role_page(signed_in[0].role), status.HTTP_303_SEE_OTHER)

    @router.get("/login", response_class=HTMLResponse)
    async def login(request: Request, next: str | None = None) -> Response:
        signed_in = await page_user(request)
        target = safe_next(next)
        if signed_in is not None:
            user, csrf = signed_in
            return page(
                request,
                "login.html",
                {"next": target or "", "user": user, "home": target or role_page(user.role)},
                csrf=csrf,
            )
        return page(request, "login.html", {"next": target or "", "user": None, "home": ""})

    @router.get("/console", response_class=HTMLResponse)
    async def console(request: Request) -> Response:
        signed_in = await page_user(request)
        if signed_in is None:
            return to_login("/console")
        user, csrf = signed_in
        if user.role != Role.AGENT or user.agent_id is None:
            return forbidden(request, user, csrf, "Bàn làm việc của tổng đài viên")
        services = await get_services(request)
        return page(
            request,
            "console.html",
            {
                "user": user,
                "labels": LABELS,
                "dispositions": [(d.value, label) for d, label in DISPOSITIONS.items()],
                "urgencies": [(u.value, label) for u, label in URGENCIES.items()],
                "categories": [(c.value, c.label_vi) for c in Category],
                # Issue 15: whether the agent may play their own calls' recordings.
                "may_listen": bool(
                    services.recordings is not None and services.recording_agent_may_listen
                ),
            },
            csrf=csrf,
        )

    @router.get("/docs", response_class=HTMLResponse)
    async def docs(request: Request) -> Response:
        # Signed in, "Try it out" works with the session cookie: the page carries its CSRF
        # token, which docs-init.js adds to every request that changes something.
        signed_in = await page_user(request)
        return page(
            request,
            "docs.html",
            {"title": f"{app.title} — API", "openapi_url": app.openapi_url or "/openapi.json"},
            csrf=signed_in[1] if signed_in is not None else "",
        )

    app.include_router(router)
    for module in PAGE_MODULES:
        app.include_router(module(kit))
    pages_first(app)  # /conferences, /calls: a page and a JSON route each (web/routes.py)
    app.mount("/static", assets, name="static")
    app.add_middleware(SecurityHeaders)
