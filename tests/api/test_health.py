"""GET /health: 200 when AMI and the database work, 503 (still describing both) otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from api.app import create_app
from store.db import Database
from tests.api.support import Api, FakeAgentControl, FakeQueueView


async def health(db: Database, ami: dict[str, object] | None = None) -> httpx.Response:
    status: dict[str, object] = {"connected": True} if ami is None else ami
    app = create_app(
        db=db, agents=FakeAgentControl(db), queues=FakeQueueView(), ami_status=lambda: status
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        # Bounds a hang so that it fails the test instead of stalling the run.
        async with asyncio.timeout(30):
            return await client.get("/health")


async def test_ok_when_both_work(api: Api) -> None:
    response = await api.client.get("/health")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "ami": {"connected": True, "host": "127.0.0.1:5038"},
        "database": {"ok": True},
        "recordings": None,  # no recording service in the api fixture
    }


async def test_degraded_when_ami_is_down(api: Api) -> None:
    api.ami.update(connected=False, error="Connection refused")

    response = await api.client.get("/health")

    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["ami"]["connected"] is False
    assert response.json()["database"] == {"ok": True}


async def test_degraded_when_ami_status_raises(db: Database) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("link not started")

    app = create_app(db=db, agents=FakeAgentControl(db), queues=FakeQueueView(), ami_status=broken)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hotline.test"
    ) as client:
        response = await client.get("/health")

    assert response.status_code == 503
    assert response.json()["ami"] == {
        "connected": False,
        "error": "RuntimeError: link not started",
    }


@pytest.fixture
async def dead_database(database_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    """A Database of the same kind as ``database_url`` that cannot be used."""
    if make_url(database_url).get_backend_name() == "sqlite":
        path = tmp_path / "corrupt.db"
        path.write_bytes(b"this is not a SQLite database " * 64)
        url = f"sqlite+aiosqlite:///{path}"
    else:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        url = make_url(database_url).set(port=port).render_as_string(hide_password=False)
    database = Database(url)
    yield database
    await database.dispose()


async def test_degraded_when_the_database_is_down(dead_database: Database) -> None:
    response = await health(dead_database)

    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "ami": {"connected": True},
        "database": {"ok": False},
        "recordings": None,
    }


async def test_answers_when_the_database_hangs() -> None:
    """A server that accepts and never replies must not hold the health check."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/x", ping_timeout_s=0.3)
    try:
        response = await health(database)
    finally:
        await database.dispose()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()

    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False}


async def test_recovers_when_the_database_comes_back(api: Api) -> None:
    await api.db.dispose()  # drops pooled connections; the next ping reconnects

    response = await api.client.get("/health")

    assert response.status_code == 200
