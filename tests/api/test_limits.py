"""Every input bounded: ids within the database's integers, bodies within a size, and the
staffing arithmetic off the event loop with a time limit (api/limits.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.limits import ApiLimits
from tests.api.support import Api

TOO_BIG = [2**31, 2**63, 10**40]


@pytest.mark.parametrize("big", TOO_BIG)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/calls/{id}"),
        ("GET", "/calls/{id}/outcome"),
        ("GET", "/incidents/{id}"),
        ("POST", "/incidents/{id}/acknowledge"),
        ("PATCH", "/teams/{id}"),
        ("GET", "/calls?offset={id}"),
        ("GET", "/monitoring/teams?commune_code={id}"),
    ],
)
async def test_ids_and_offsets_beyond_the_database_are_422_not_500(
    api: Api, method: str, path: str, big: int
) -> None:
    response = await api.client.request(
        method, path.format(id=big), json={}, headers=api.auth("admin")
    )

    assert response.status_code == 422, response.text
    body = response.json()
    assert "less than or equal to 2147483647" in body["detail"]
    assert body["errors"][0]["type"] == "less_than_equal"


async def test_a_body_over_the_limit_is_413_and_never_reaches_the_route(api: Api) -> None:
    app = create_app(
        db=api.db,
        agents=api.control,
        queues=api.queues,
        ami_status=lambda: {"connected": True},
        limits=ApiLimits(max_body_bytes=1000),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        big = await client.post(
            "/teams", json={"name": "x" * 2000, "kind": "team"}, headers=api.auth("admin")
        )

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            for _ in range(3):
                yield b" " * 600

        chunked = await client.post(
            "/teams",
            content=chunks(),
            headers={**api.auth("admin"), "Content-Type": "application/json"},
        )
        small = await client.post("/teams", json={}, headers=api.auth("admin"))

    assert big.status_code == 413
    assert big.json() == {
        "detail": "The request body is larger than 1000 bytes (HOTLINE_API_MAX_BODY_BYTES)"
    }
    assert chunked.status_code == 413
    assert small.status_code == 422  # read and validated as before


async def _with_ticker(request: Callable[[], Awaitable[httpx.Response]]) -> tuple[Any, float]:
    """Run ``request`` beside a 10 ms ticker; (its response, the ticker's worst lateness)."""
    worst = 0.0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal worst
        while not done.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - before - 0.01)

    ticker = asyncio.create_task(tick())
    try:
        response = await request()
    finally:
        done.set()
        await ticker
    return response, worst


async def test_a_huge_forecast_is_refused_at_once(api: Api) -> None:
    """The issue's request: 41 s of Erlang loops inside the event loop before the fix."""
    response, lag = await _with_ticker(
        lambda: api.client.get(
            "/staffing", params={"calls_per_day": "1.5e10"}, headers=api.auth("supervisor")
        )
    )

    assert response.status_code == 422
    assert "calls_per_day: Input should be less than or equal to" in response.json()["detail"]
    assert lag < 0.5


async def test_staffing_runs_off_the_loop_and_stops_at_its_time_limit(api: Api) -> None:
    app = create_app(
        db=api.db,
        agents=api.control,
        queues=api.queues,
        ami_status=lambda: {"connected": True},
        limits=ApiLimits(staffing_time_limit_s=0.3),
    )
    transport = httpx.ASGITransport(app=app)
    # Within every bound, and seconds of arithmetic: a million calls a day, an hour each.
    heavy = {
        "calls_per_day": 1_000_000,
        "peak_share": 1,
        "aht_s": 3600,
        "patience_s": 3600,
        "targets": "99:999",
    }
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline.test") as client:
        started = time.monotonic()
        response, lag = await _with_ticker(
            lambda: client.get("/staffing", params=heavy, headers=api.auth("supervisor"))
        )
        took = time.monotonic() - started

    assert response.status_code == 422, response.text[:300]
    assert "took more than 0.3 s (HOTLINE_STAFFING_TIME_LIMIT_S)" in response.json()["detail"]
    assert took < 5
    assert lag < 0.25  # the loop kept ticking while the thread computed
