"""Helpers for the browser tests (here and in tests/integration): uvicorn in the test's
event loop, and how to launch Debian's chromium."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import uvicorn
from playwright.async_api import BrowserContext, Page
from starlette.types import ASGIApp

__all__ = ["CHROMIUM", "Server", "Watched", "chromium_args", "free_port", "serving", "watch"]

CHROMIUM = "/usr/bin/chromium"


def chromium_args() -> list[str]:
    """Chromium's sandbox cannot start as root (containers, CI)."""
    return ["--no-sandbox"] if os.geteuid() == 0 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``app`` in uvicorn on 127.0.0.1 in this event loop; ``stop()`` and ``start()`` again
    on the same port drop every open connection (the event stream's too), as a restart or
    a network cut would."""

    def __init__(self, app: ASGIApp, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=0.2,
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        for _ in range(250):
            if self._server.started:
                return
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
        raise TimeoutError("uvicorn did not start")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """``app`` in uvicorn on a free port of 127.0.0.1 until the block ends; yields its URL."""
    server = Server(app)
    await server.start()
    try:
        yield server.url
    finally:
        await server.stop()


VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@dataclass
class Watched:
    """What a page asked for and what the browser complained about."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    async def csp_violations(self) -> list[str]:
        seen: list[str] = await self.page.evaluate("window.__csp || []")
        return seen + [m for m in self.console if "Content Security Policy" in m]


async def watch(context: BrowserContext) -> Watched:
    await context.add_init_script(VIOLATIONS)
    page = await context.new_page()
    watched = Watched(page)
    page.on("request", lambda r: watched.requests.append(r.url))
    page.on("console", lambda m: watched.console.append(f"{m.type}: {m.text}"))
    return watched
