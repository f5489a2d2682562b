"""The package's static files at ``/static``: each URL carries its content's hash
(``/static/js/console.js?v=3f2a9c1b``), so a browser may keep it a year and still never run a
stale script after an upgrade."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["STATIC_DIR", "StaticAssets"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
LONG_CACHE = "public, max-age=31536000, immutable"


class StaticAssets(StaticFiles):
    """StaticFiles that knows each file's hash: ``url(path)`` for templates; a request that
    names the current hash may be cached for good, any other must be revalidated."""

    def __init__(self, directory: Path = STATIC_DIR) -> None:
        super().__init__(directory=directory)
        self.root = directory
        self._hashes: dict[str, str] = {}

    def version(self, path: str) -> str:
        cached = self._hashes.get(path)
        if cached is None:
            target = (self.root / path).resolve()
            if not target.is_relative_to(self.root.resolve()) or not target.is_file():
                raise FileNotFoundError(f"no static file {path!r}")
            cached = hashlib.sha256(target.read_bytes()).hexdigest()[:12]
            self._hashes[path] = cached
        return cached

    def url(self, path: str) -> str:
        return f"/static/{path}?v={self.version(path)}"

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        query = scope.get("query_string", b"").decode("latin-1")
        fresh = False
        if response.status_code == 200 and query.startswith("v="):
            try:
                fresh = query[2:] == self.version(path)
            except FileNotFoundError:
                fresh = False
        response.headers["Cache-Control"] = LONG_CACHE if fresh else "no-cache"
        return response
