"""A database that is down answers 503 with Retry-After on every route that needs it, for
PostgreSQL (connection refused) and SQLite (the file cannot be opened): never a 500, and
never a 401 (a token cannot be checked then, which says nothing of the token)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from dispatch.incidents import IncidentService
from queues.routing import RoutingPolicy
from store.db import Database
from tests.api.support import FakeAgentControl, FakeCallbacks, FakeIvr, FakeQueueView


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(params=["postgresql", "sqlite"])
async def client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "postgresql":
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/hotline"
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'no-such-directory' / 'hotline1022.db'}"
    db = Database(url, connect_timeout_s=2, statement_timeout_s=2)
    app = create_app(
        db=db,
        agents=FakeAgentControl(db),
        queues=FakeQueueView(),
        ami_status=lambda: {"connected": True},
        ivr=FakeIvr(),
        routing=RoutingPolicy(districts=(718,)),
        district_names={718: "Thủ Dầu Một"},
        callbacks=FakeCallbacks(db),
        incidents=IncidentService(db),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as c:
        yield c
    await db.dispose()


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/calls"), ("GET", "/incidents/1"), ("POST", "/agents/1/login")],
)
async def test_a_database_that_is_down_answers_503_with_retry_after(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, headers={"Authorization": "Bearer some-token"})

    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert "try again" in response.json()["detail"]


async def test_the_503_is_in_the_document(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert "503" in document["paths"]["/calls"]["get"]["responses"]
