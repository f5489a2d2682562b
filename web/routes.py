"""Page routes that share their path with a JSON route.

``GET /conferences`` is both the commander's page and the API's list (Contract D and E of
issue 14): a browser that navigates there asks for HTML (``Accept: text/html…``), the
pages' scripts and API clients ask for JSON (or anything, ``*/*``). ``HtmlRoute`` matches
only the former; ``pages_first`` puts such routes ahead of the API's, so the API keeps
every request a page route does not take.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

__all__ = ["HtmlRoute", "pages_first", "wants_html"]


def wants_html(scope: Scope) -> bool:
    """True for a browser's navigation: its Accept names ``text/html`` explicitly."""
    for name, value in scope.get("headers", ()):
        if name == b"accept":
            return b"text/html" in value.lower()
    return False


class HtmlRoute(APIRoute):
    """An ``APIRoute`` that matches only requests asking for HTML."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") == "http" and not wants_html(scope):
            return Match.NONE, {}
        return super().matches(scope)


def _holds_html(route: BaseRoute) -> bool:
    if isinstance(route, HtmlRoute):
        return True
    # FastAPI keeps an included router whole, wrapped (``_IncludedRouter.original_router``).
    inner = getattr(route, "original_router", None)
    return inner is not None and any(_holds_html(r) for r in inner.routes)


def pages_first(app: FastAPI) -> None:
    """Move the ``HtmlRoute``s (and the included routers holding them) ahead of the other
    routes, in their order: the first route that matches fully wins, so the API's route on
    the same path would otherwise shadow the page."""
    app.router.routes.sort(key=lambda route: not _holds_html(route))
