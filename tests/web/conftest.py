"""The pages over a real, migrated SQLite database and the API's PBX fakes: ``site`` runs
them in uvicorn on a free port (in the test's event loop), ``browser`` is Debian's chromium
driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, BrowserContext, async_playwright
from sqlalchemy import select

from api.app import create_app
from api.deps import AuthPolicy
from api.live_feed import LiveFeed
from api.ratelimit import FailureLimiter
from dispatch.incidents import IncidentService
from live.bus import InProcessBus
from live.hub import EventHub
from queues.routing import RoutingPolicy
from store.db import Database
from store.migrate import upgrade_async
from store.models import Agent
from store.seed import ensure_agents
from store.users import create_user
from tests.api.support import FakeAgentControl, FakeCallbacks, FakeIvr, FakeQueueView
from tests.web.support import CHROMIUM, Server, chromium_args
from web import create_pages
from web.session import SESSION_COOKIE

BUFFER = 8  # the event buffer: a reconnect that missed more gets a resync


@dataclass
class Site:
    url: str
    app: FastAPI
    db: Database
    tokens: dict[str, str]  # role -> a session token of that role's user
    agent_id: int
    client: httpx.AsyncClient  # to the running site, no cookie
    feed: LiveFeed
    server: Server

    async def signed_in(self, browser: Browser, role: str) -> BrowserContext:
        """A browser context with ``role``'s session cookie, as ``POST /auth/login`` sets it."""
        context = await browser.new_context(locale="vi-VN")
        await context.add_cookies(
            [
                {
                    "name": SESSION_COOKIE,
                    "value": self.tokens[role],
                    "url": self.url,
                    "httpOnly": True,
                    "sameSite": "Strict",
                }
            ]
        )
        return context


def build_site_app(db: Database, feed: LiveFeed | None = None) -> FastAPI:
    app = create_app(
        db=db,
        agents=FakeAgentControl(db),
        queues=FakeQueueView(),
        ami_status=lambda: {"connected": True},
        ivr=FakeIvr(),
        routing=RoutingPolicy(districts=(718, 724)),
        district_names={718: "Thủ Dầu Một", 724: "Dĩ An"},
        callbacks=FakeCallbacks(db),
        incidents=IncidentService(db),
        auth=AuthPolicy(failures=FailureLimiter(limit=1_000_000, window_s=300)),
        api_docs=False,
        feed=feed,
    )
    create_pages(app)
    return app


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'web.db'}"
    await upgrade_async(url)
    db = Database(url)
    try:
        await ensure_agents(db, 2)
        async with db.session() as session:
            agent_id = await session.scalar(select(Agent.id).where(Agent.endpoint == "agent01"))
        assert agent_id is not None
        tokens = {}
        _, tokens["agent"] = await create_user(
            db, name="Nguyễn Thị Lan", role="agent", agent_id=agent_id
        )
        _, tokens["supervisor"] = await create_user(db, name="Trần Văn Giám", role="supervisor")
        queues = FakeQueueView()
        feed = LiveFeed(
            InProcessBus(EventHub(buffer=BUFFER)),
            db,
            agent_states=None,
            queues=queues,
            district_names={718: "Thủ Dầu Một", 724: "Dĩ An"},
            coalesce_s=0.01,
            heartbeat_s=1.0,
        )
        await feed.start()
        app = build_site_app(db, feed)
        server = Server(app)
        await server.start()
        try:
            # Idle connections are dropped well before uvicorn's 5 s keep-alive ends: with
            # both at 5 s, a request could go out on a connection the server was closing.
            limits = httpx.Limits(keepalive_expiry=1.0)
            async with httpx.AsyncClient(base_url=server.url, limits=limits) as client:
                yield Site(server.url, app, db, tokens, agent_id, client, feed, server)
        finally:
            await server.stop()
            await feed.close()
    finally:
        await db.dispose()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=chromium_args()
        )
        try:
            yield launched
        finally:
            await launched.close()
